"""synack against the Linux kernel through a TUN device (root; see conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.tunhelp import (
    kernel,
    kernel_ss,
    run,
    stop_serve,
    tun_stack,
    unique_netns,
    wait_for_state,
    wait_until,
)
from synack.core.state import State
from synack.drivers.netns import KERNEL_V4, SYNACK_V4
from synack.drivers.streams import open_connection, start_server

pytestmark = pytest.mark.usefixtures("tun_ok")

MB20 = 20 * 1024 * 1024


def _blob(size: int) -> bytes:
    return hashlib.shake_256(b"synack interop").digest(size)


def test_curl_fetches_a_page_from_synack_serve_over_ipv4_and_ipv6(tmp_path: Path) -> None:
    page = _blob(300_000)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "page.bin").write_bytes(page)
    netns = unique_netns()
    pcap = tmp_path / "tun.pcap"
    serve = subprocess.Popen([sys.executable, "-m", "synack.cli", "serve", "--http", str(tmp_path / "www"),
                              "--netns", netns, "--port", "8080", "--pcap", str(pcap)],
                             stderr=subprocess.PIPE, text=True)
    try:
        assert serve.stderr is not None
        assert "serving" in serve.stderr.readline()
        for url in (f"http://{SYNACK_V4}:8080/page.bin", "http://[fd00:5ac::2]:8080/page.bin"):
            got = subprocess.run(["ip", "netns", "exec", netns, "curl", "-sS", "--fail", "-m", "30", url],
                                 capture_output=True, timeout=60, check=True).stdout
            assert hashlib.sha256(got).hexdigest() == hashlib.sha256(page).hexdigest(), url
        table = subprocess.run([sys.executable, "-m", "synack.cli", "ss", "--netns", netns],
                               capture_output=True, text=True, timeout=60, check=True).stdout
        assert "LISTEN" in table and "*:8080" in table and "[fd00:5ac::2]:8080" in table
    finally:
        stop_serve(serve)
    assert not os.path.exists(f"/run/netns/{netns}"), "the namespace it created is removed on exit"
    # The capture of the TUN device: valid for tshark, with the handshake in it.
    def tshark(*args: str) -> str:
        return subprocess.run(["tshark", "-n", "-r", str(pcap), *args], capture_output=True, text=True,
                              timeout=120, check=True).stdout
    assert tshark("-Y", "_ws.malformed || _ws.expert.severity >= error",
                  "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE") == ""
    syns = tshark("-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0").splitlines()
    synacks = tshark("-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 1").splitlines()
    assert len(syns) == 2 and len(synacks) == 2
    assert "fd00:5ac::1" in syns[1] and "fd00:5ac::2" in synacks[1]


_HTTP_REQUEST = b"GET /blob HTTP/1.1\r\nHost: 198.18.0.1\r\nConnection: close\r\n\r\n"


def test_synack_client_downloads_20mb_from_a_kernel_http_server(tmp_path: Path) -> None:
    blob = _blob(MB20)
    (tmp_path / "blob").write_bytes(blob)

    async def main() -> None:
        async with tun_stack() as stack:
            netns = stack.settings.netns
            server = ["-m", "http.server", "--bind", KERNEL_V4, "8000", "--directory", str(tmp_path)]
            proc = await asyncio.create_subprocess_exec("ip", "netns", "exec", netns, sys.executable, *server,
                                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                assert "LISTEN" in await wait_for_state(netns, 8000, "LISTEN")
                reader, writer = await open_connection(KERNEL_V4, 8000, limit=1 << 20)
                writer.write(_HTTP_REQUEST)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.0 200")
                digest = hashlib.sha256()
                while data := await reader.read(1 << 20):
                    digest.update(data)
                assert digest.hexdigest() == hashlib.sha256(blob).hexdigest()
                writer.close()
                await writer.wait_closed()
            finally:
                proc.kill()
                await proc.wait()
    run(main())


_RECEIVER = """
import hashlib, socket, sys
s = socket.socket(); s.bind(("198.18.0.1", 9000)); s.listen(); print("ready", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while data := c.recv(1 << 20):
    h.update(data); n += len(data)
c.sendall(f"{n} {h.hexdigest()}".encode()); c.close(); print("done", flush=True)
"""


@pytest.mark.parametrize("busy_poll_us", [0, 200], ids=["plain", "busy-poll"])
def test_synack_client_uploads_20mb_to_a_kernel_receiver(busy_poll_us: int) -> None:
    blob = _blob(MB20)

    async def main() -> None:
        async with tun_stack(busy_poll_us=busy_poll_us) as stack, \
                kernel(stack.settings.netns, _RECEIVER) as k:
            assert stack.busy_poll_us == busy_poll_us
            assert await k.line() == "ready"
            reader, writer = await open_connection(KERNEL_V4, 9000)
            for i in range(0, len(blob), 1 << 20):
                writer.write(blob[i:i + (1 << 20)])
                await writer.drain()
            writer.write_eof()
            answer = (await reader.read()).decode()
            assert answer == f"{len(blob)} {hashlib.sha256(blob).hexdigest()}"
            writer.close()
            await writer.wait_closed()
    run(main())


_HOLDER = """
import socket, sys
s = socket.socket(); s.bind(("198.18.0.1", 9100)); s.listen(); print("ready", flush=True)
c, _ = s.accept(); print("accepted", flush=True)
if sys.argv[1] == "wait":
    sys.stdin.readline()
c.close(); print("closed", flush=True)
sys.stdin.readline()
"""


def test_synack_closes_first_kernel_goes_close_wait_then_last_ack() -> None:
    async def main() -> None:
        async with tun_stack() as stack, kernel(stack.settings.netns, _HOLDER, "wait") as k:
            netns = stack.settings.netns
            assert await k.line() == "ready"
            _reader, writer = await open_connection(KERNEL_V4, 9100)
            assert await k.line() == "accepted"
            conn = writer.get_extra_info("synack_connection")
            writer.close()  # our FIN first
            assert "CLOSE-WAIT" in await wait_for_state(netns, 9100, "CLOSE-WAIT")
            assert await wait_until(lambda: conn.state is State.FIN_WAIT_2)
            stack.pause_input()  # hold our ACK of the kernel's FIN back
            k.tell("close")
            assert await k.line() == "closed"
            assert "LAST-ACK" in await wait_for_state(netns, 9100, "LAST-ACK")
            stack.resume_input()
            assert await wait_until(lambda: conn.state is State.TIME_WAIT)
            assert await wait_until_gone(netns, 9100)
    run(main())


async def wait_until_gone(netns: str, port: int, timeout: float = 20.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if [s for s in await kernel_ss(netns, port) if s != "LISTEN"] == []:
            return True
        await asyncio.sleep(0.02)
    return False


def test_kernel_closes_first_and_goes_to_time_wait() -> None:
    async def main() -> None:
        async with tun_stack() as stack, kernel(stack.settings.netns, _HOLDER, "now") as k:
            netns = stack.settings.netns
            assert await k.line() == "ready"
            reader, writer = await open_connection(KERNEL_V4, 9100)
            assert await reader.read() == b""  # the kernel's FIN
            conn = writer.get_extra_info("synack_connection")
            assert conn.state is State.CLOSE_WAIT
            writer.close()
            assert "TIME-WAIT" in await wait_for_state(netns, 9100, "TIME-WAIT")
            assert await wait_until(lambda: conn.state is State.CLOSED)
    run(main())


_CONNECTOR = """
import errno, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET); s.settimeout(20)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"ping"); print("connected", s.recv(4).decode(), flush=True)
except OSError as exc:
    print(errno.errorcode.get(exc.errno, str(exc)), flush=True)
"""


def test_kernel_connect_to_a_synack_port_without_listener_is_refused() -> None:
    async def main() -> None:
        async with tun_stack() as stack:
            await start_server(_echo, None, 7000, stack=stack)
            netns = stack.settings.netns
            for addr in (SYNACK_V4, "fd00:5ac::2"):
                async with kernel(netns, _CONNECTOR, addr, "7001") as k:
                    assert await k.line() == "ECONNREFUSED"
                async with kernel(netns, _CONNECTOR, addr, "7000") as k:
                    assert await k.line() == "connected ping"
    run(main())


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
    writer.close()


def test_simultaneous_close_completes() -> None:
    async def main() -> None:
        async with tun_stack() as stack, kernel(stack.settings.netns, _HOLDER, "wait") as k:
            netns = stack.settings.netns
            assert await k.line() == "ready"
            _reader, writer = await open_connection(KERNEL_V4, 9100)
            assert await k.line() == "accepted"
            conn = writer.get_extra_info("synack_connection")
            stack.pause_input()  # the kernel's FIN will wait in the device
            k.tell("close")
            assert await k.line() == "closed"
            assert "FIN-WAIT-1" in await wait_for_state(netns, 9100, "FIN-WAIT-1")
            writer.close()  # our FIN crosses the kernel's
            assert "CLOSING" in await wait_for_state(netns, 9100, "CLOSING")
            assert conn.state is State.FIN_WAIT_1
            stack.resume_input()
            assert await wait_until(lambda: conn.state is State.TIME_WAIT)
            assert "TIME-WAIT" in await wait_for_state(netns, 9100, "TIME-WAIT")
            assert stack.endpoint.stats.retransmits == 0
    run(main())
