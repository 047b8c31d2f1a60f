"""200 MB each way between synack and the Linux kernel over a TUN, at the same time,
with Linux's default options (timestamps, SACK, window scaling), checked by sha256.

The defect this guards (issue 9): with timestamps on, a full-sized segment carried the
peer's MSS in payload plus 12 octets of options, more than the IPv4 total length can
hold at the TUN's MTU of 65535; the encoder raised inside an asyncio callback and the
rest of that flush was lost."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from support.tunhelp import kernel, run, tun_stack
from synack.core.connection import Connection
from synack.core.state import State
from synack.drivers.netns import SYNACK_V4
from synack.drivers.streams import start_server

pytestmark = pytest.mark.usefixtures("tun_ok")

SIZE = 200 * 1024 * 1024
CHUNK = 1 << 20
PORT = 9300


def chunk(i: int, seed: bytes) -> bytes:
    """The ``i``-th MiB of a stream: deterministic, different per MiB and per direction."""
    return hashlib.shake_256(seed + i.to_bytes(4, "big")).digest(CHUNK)


def stream_digest(seed: bytes) -> str:
    h = hashlib.sha256()
    for i in range(SIZE // CHUNK):
        h.update(chunk(i, seed))
    return h.hexdigest()


# The kernel's side: connect, send 200 MB while a thread receives 200 MB, report
# both digests and what TCP_INFO says was negotiated (tcpi_options, tcpi_snd_mss).
_CLIENT = f"""
import hashlib, socket, struct, sys, threading
SIZE, CHUNK = {SIZE}, {CHUNK}
def chunk(i, seed):
    return hashlib.shake_256(seed + i.to_bytes(4, "big")).digest(CHUNK)
s = socket.create_connection(("{SYNACK_V4}", {PORT}), timeout=120)
got = {{}}
def receive():
    h, n = hashlib.sha256(), 0
    while data := s.recv(1 << 20):
        h.update(data); n += len(data)
    got["down"] = (n, h.hexdigest())
t = threading.Thread(target=receive); t.start()
for i in range(SIZE // CHUNK):
    s.sendall(chunk(i, b"up"))
s.shutdown(socket.SHUT_WR)
t.join()
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
options, snd_mss = info[5], struct.unpack_from("I", info, 16)[0]
n, digest = got["down"]
print(n, digest, options, snd_mss, flush=True)
s.close()
"""


def test_200_mb_each_way_with_timestamps_sack_and_window_scaling() -> None:
    conns: list[Connection] = []
    up: dict[str, object] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer.get_extra_info("synack_connection"))

        async def receive() -> None:
            h, n = hashlib.sha256(), 0
            while data := await reader.read(1 << 20):
                h.update(data)
                n += len(data)
            up["result"] = (n, h.hexdigest())

        receiving = asyncio.ensure_future(receive())
        for i in range(SIZE // CHUNK):
            writer.write(chunk(i, b"down"))
            await writer.drain()
        writer.write_eof()
        await receiving
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        async with tun_stack() as stack:
            server = await start_server(handle, SYNACK_V4, PORT, stack=stack)
            async with kernel(stack.settings.netns, _CLIENT) as k:
                line = await k.line(timeout=600)
            server.close()
            n, digest, options, snd_mss = line.split()
            assert (int(n), digest) == (SIZE, stream_digest(b"down"))
            assert up["result"] == (SIZE, stream_digest(b"up"))
            # TCPI_OPT_TIMESTAMPS 1, TCPI_OPT_SACK 2, TCPI_OPT_WSCALE 4: all negotiated.
            assert int(options) & 7 == 7
            # Both sides send 65495 − 12 octets per full segment (timestamps in each).
            assert int(snd_mss) == 65495 - 12
            [conn] = conns
            assert conn.ts_ok and conn.sack_ok and conn.snd_mss == 65495 - 12
            assert conn.state in (State.TIME_WAIT, State.CLOSED, State.LAST_ACK, State.FIN_WAIT_2)
    run(main(), timeout=900)
