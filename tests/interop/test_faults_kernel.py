"""synack and the Linux kernel through a TUN path with injected faults: loss,
duplicates, reordering and delay in both directions (root; see conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.tunhelp import kernel, kernel_ss, run, stop_serve, unique_netns, wait_for_state, wait_until
from synack.core.state import State
from synack.drivers.control import query
from synack.drivers.faults import Impairments, TunFaults
from synack.drivers.netns import KERNEL_V4
from synack.drivers.streams import open_connection
from synack.drivers.tun import TunSettings, TunStack, open_tun

pytestmark = pytest.mark.usefixtures("tun_ok")


def _blob(label: str, size: int) -> bytes:
    return hashlib.shake_256(label.encode()).digest(size)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The kernel's side: takes one connection, sends its blob while reading ours, then
# says what it read (on stdout, not over the connection under test) and closes.
_BOTH_WAYS = """
import hashlib, socket, sys, threading
size = int(sys.argv[1])
blob = hashlib.shake_256(b"kernel").digest(size)
s = socket.socket(); s.bind(("198.18.0.1", 9000)); s.listen(); print("ready", flush=True)
c, _ = s.accept()
def send():
    c.sendall(blob); c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
h = hashlib.sha256(); n = 0
while data := c.recv(1 << 20):
    h.update(data); n += len(data)
t.join(); c.close()
print(n, h.hexdigest(), flush=True)
"""


async def _both_ways(stack: TunStack, size: int) -> None:
    ours, theirs = _blob("synack", size), hashlib.shake_256(b"kernel").digest(size)
    netns = stack.settings.netns
    async with kernel(netns, _BOTH_WAYS, str(size)) as k:
        assert await k.line() == "ready"
        reader, writer = await open_connection(KERNEL_V4, 9000, stack=stack, limit=1 << 20)
        conn = writer.get_extra_info("synack_connection")

        async def send() -> None:
            for i in range(0, size, 1 << 16):
                writer.write(ours[i:i + (1 << 16)])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.ensure_future(send())
        digest, n = hashlib.sha256(), 0
        while data := await reader.read(1 << 20):
            digest.update(data)
            n += len(data)
        await sender
        assert (n, digest.hexdigest()) == (size, _sha(theirs)), "kernel -> synack"
        assert await k.line(timeout=60) == f"{size} {_sha(ours)}", "synack -> kernel"
        writer.close()
        await writer.wait_closed()
        # A clean close: FINs both ways and no reset by the time synack's side is done
        # (TIME-WAIT, or CLOSED after LAST-ACK when the kernel's FIN came first; a
        # duplicate arriving after that may still meet a RST, rightly), and the
        # kernel's socket gone or in TIME-WAIT.
        assert await wait_until(lambda: conn.state in (State.TIME_WAIT, State.CLOSED), timeout=20), conn.state
        stats = stack.endpoint.stats
        assert (stats.resets_sent, stats.resets_received) == (0, 0)
        deadline = asyncio.get_running_loop().time() + 20
        while [st for st in await kernel_ss(netns, 9000) if st not in ("TIME-WAIT",)]:
            assert asyncio.get_running_loop().time() < deadline, await kernel_ss(netns, 9000)
            await asyncio.sleep(0.02)
    assert stack.drops == {} and stack.errors == {}, (stack.drops, stack.errors)


def test_a_transfer_both_ways_through_loss_duplicates_reordering_and_delay() -> None:
    """MTU 1500: about 360 data segments each way (and the ACKs), so every fault shows
    up in both directions.  Each loss of synack's data costs it an RTO (200 ms), hence
    the modest loss rate (see docs/FAULTS-TUN.md)."""
    faults = TunFaults.both(Impairments(loss=0.02, delay=2000, duplicate=0.03, reorder=0.03), seed=9293)

    async def main() -> None:
        async with open_tun(TunSettings(netns=unique_netns(), mtu=1500), faults=faults) as stack:
            await _both_ways(stack, 512 << 10)
            assert stack.endpoint.stats.retransmits > 0
            for path in (faults.inbound, faults.outbound):
                assert path is not None
                s = path.stats
                assert s.lost and s.duplicated and s.reordered, (path.name, s)
            assert stack.held == 0
    run(main(), timeout=120)


def test_full_size_segments_with_sack_blocks_fit_the_ipv4_header() -> None:
    """MTU 65535: losses make SACK blocks ride on full-size data segments; with an
    MSS of MTU - 40 those were IPv4 packets of up to 65,575 bytes, dropped as "too-long"."""
    faults = TunFaults.both(Impairments(loss=0.05), seed=3)

    async def main() -> None:
        async with open_tun(TunSettings(netns=unique_netns()), faults=faults) as stack:
            await _both_ways(stack, 2 << 20)
            assert faults.inbound is not None and faults.outbound is not None
            assert faults.inbound.stats.lost + faults.outbound.stats.lost > 0
    run(main(), timeout=120)


_ECHO_CLIENT = """
import hashlib, socket, sys, threading
blob = hashlib.shake_256(b"echo").digest(int(sys.argv[1]))
c = socket.create_connection(("198.18.0.2", 7), timeout=30)
threading.Thread(target=lambda: (c.sendall(blob), c.shutdown(socket.SHUT_WR))).start()
got = bytearray()
while data := c.recv(1 << 20):
    got += data
print("exact" if got == blob else f"differs {len(got)}", flush=True)
"""


def test_synack_serve_with_faults_echoes_exactly_and_reports_them() -> None:
    netns = unique_netns()
    faults = ["--loss", "3%", "--delay", "1", "--duplicate", "0.03", "--reorder", "0.03", "--seed", "5"]
    serve = subprocess.Popen([sys.executable, "-m", "synack.cli", "serve", "--echo", "--port", "7", "--netns",
                              netns, *faults], stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stderr is not None
        banner = [serve.stderr.readline() for _ in range(3)]
        assert banner[0].startswith("synack: faults, inbound (kernel -> synack): loss 0.03, delay 1 ms")
        assert banner[1].startswith("synack: faults, outbound (synack -> kernel): loss 0.03")
        assert "serving echo" in banner[2]
        out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", _ECHO_CLIENT, str(1 << 20)],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        assert out.strip() == "exact"
        doc = query(netns)[2]["driver"]
        assert doc["drops"] == {} and doc["errors"] == {}
        assert doc["faults"]["inbound"]["seen"] > 0 and doc["faults"]["outbound"]["seen"] > 0
        json.dumps(doc)
    finally:
        stop_serve(serve)
    assert serve.stderr is not None
    rest = serve.stderr.read()
    assert "synack: faults: inbound " in rest and "outbound " in rest


_ECHO_SERVER = """
import socket
s = socket.socket(); s.bind(("198.18.0.1", 9001)); s.listen(); print("ready", flush=True)
c, _ = s.accept()
while data := c.recv(1 << 20):
    c.sendall(data)
c.close()
"""


def test_synack_connect_with_faults_sends_and_receives_exactly(tmp_path: Path) -> None:
    blob = _blob("connect", 1 << 20)
    (tmp_path / "in").write_bytes(blob)

    async def main() -> None:
        netns = unique_netns()
        proc = await asyncio.create_subprocess_exec("ip", "netns", "add", netns)
        assert await proc.wait() == 0
        try:
            async with kernel(netns, _ECHO_SERVER) as k:
                assert await k.line() == "ready"
                assert "LISTEN" in await wait_for_state(netns, 9001, "LISTEN")
                connect = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "synack.cli", "connect", KERNEL_V4, "9001", "--netns", netns,
                    "--send", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--loss", "0.03",
                    "--delay", "1", "--duplicate", "0.03", "--reorder", "0.03", stderr=subprocess.PIPE)
                _, err = await asyncio.wait_for(connect.communicate(), 60)
                assert connect.returncode == 0, err
                assert b"synack: faults: inbound " in err
        finally:
            proc = await asyncio.create_subprocess_exec("ip", "netns", "del", netns)
            await proc.wait()
        assert _sha((tmp_path / "out").read_bytes()) == _sha(blob)
    run(main(), timeout=120)

