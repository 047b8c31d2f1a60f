"""synack and the Linux kernel through a TUN path with injected faults: loss,
duplicates, reordering and delay in both directions (root; see conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from support.tunhelp import kernel, kernel_ss, run, unique_netns, wait_until
from synack.core.state import State
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
