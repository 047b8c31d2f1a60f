"""synack over a TUN device against the kernel, side by side (root needed).

    python bench/tun_bench.py [--quick]

Everything runs in one private namespace made for the run (198.18.0.0/24 and
fd00:5ac::/64 on the TUN, nothing routed out) and removed afterwards:

- ``tun_bulk_in_MBps``: a kernel sender (Python sockets) → synack client, over TUN;
- ``tun_bulk_out_MBps``: synack → a kernel receiver, over TUN;
- ``kernel_bulk_MBps``: kernel → kernel over the namespace's loopback, same programs;
- ``tun_conn_per_s``: a kernel client doing connect, 100-byte request, 100-byte
  reply, close, one after another, against a synack server (streams API);
- ``kernel_conn_per_s``: the same client against the same server code on asyncio's
  own sockets, over the namespace's loopback;
- ``tun_conn_busypoll_per_s``: ``tun_conn_per_s`` with busy polling on
  (``BUSY_POLL_US``): the loop looks at the device rather than sleeping between a
  reply and the client's next packet.

Each function returns its number; :func:`measure_all` returns them all from one run,
the connection rates as the medians of ``CONN_ROUNDS`` rounds taken in turn
(synack, kernel, synack busy-polling, synack, ...): on a shared machine one round of each swings by
±20 %, and their ratio by more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

from synack.drivers.netns import KERNEL_V4, SYNACK_V4, privilege_problem
from synack.drivers.streams import open_connection, start_server
from synack.drivers.tun import TunSettings, TunStack, open_tun

T = TypeVar("T")
MB = 1 << 20
#: The busy poll of ``tun_conn_busypoll_per_s``, µs: longer than the kernel client
#: takes to answer (a wake-up of its own and a little Python).
BUSY_POLL_US = 200
#: Rounds of each connection-rate measurement in measure_all (the median is kept).
CONN_ROUNDS = 3

_SENDER = """
import socket, sys, time
addr, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(); print("ready", flush=True)
c, _ = s.accept(); buf = b"x" * (1 << 20)
for _ in range(total >> 20):
    c.sendall(buf)
c.close()
"""

_RECEIVER = """
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(); print("ready", flush=True)
c, _ = s.accept(); n = 0; t0 = time.perf_counter()
buf = bytearray(1 << 20)
while k := c.recv_into(buf):
    n += k
dt = time.perf_counter() - t0
c.sendall(b"ok"); c.close(); print(n, dt, flush=True)
"""

_KERNEL_CLIENT_BULK = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2]))); buf = b"x" * (1 << 20)
for _ in range(int(sys.argv[3]) >> 20):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR); s.recv(2); s.close()
"""

_CONN_CLIENT = """
import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = b"q" * 100
t0 = time.perf_counter()
for _ in range(n):
    s = socket.create_connection((addr, port))
    s.sendall(req); got = 0
    while got < 100:
        d = s.recv(100 - got)
        if not d: raise SystemExit("short reply")
        got += len(d)
    s.close()
print(n / (time.perf_counter() - t0), flush=True)
"""

_KERNEL_SERVER = """
import asyncio, sys
async def handle(reader, writer):
    await reader.readexactly(100); writer.write(b"r" * 100); writer.close()
async def main():
    server = await asyncio.start_server(handle, sys.argv[1], int(sys.argv[2]), backlog=1024)
    print("ready", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


async def _reply_100(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readexactly(100)
        writer.write(b"r" * 100)
    finally:
        writer.close()


class KernelProgram:
    """A Python program on the kernel side of the namespace (``ip netns exec``): its
    lines on standard output, its standard input a pipe (a program may end when it
    closes); killed by its pid on the way out."""

    def __init__(self, netns: str, code: str, *args: object, cpus: Collection[int] | None = None) -> None:
        self.argv = ["ip", "netns", "exec", netns, sys.executable, "-c", code, *map(str, args)]
        if cpus is not None:
            # On these CPUs from its start (taskset, util-linux), whatever this
            # process's own affinity is when it starts the program.
            self.argv = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *self.argv]
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> KernelProgram:
        self.proc = await asyncio.create_subprocess_exec(*self.argv, stdout=subprocess.PIPE,
                                                         stdin=subprocess.PIPE)
        return self

    async def line(self, timeout: float = 120.0) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        text = (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode().strip()
        if not text:
            raise RuntimeError(f"kernel-side program ended early (exit {await self.proc.wait()})")
        return text

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def _bulk_in(stack: TunStack, total: int) -> float:
    async with KernelProgram(stack.settings.netns, _SENDER, KERNEL_V4, 5001, total) as k:
        await k.line()
        t0 = time.perf_counter()
        reader, writer = await open_connection(KERNEL_V4, 5001, stack=stack, limit=4 * MB)
        n = 0
        while data := await reader.read(4 * MB):
            n += len(data)
        dt = time.perf_counter() - t0
        writer.close()
    if n != total:
        raise RuntimeError(f"bulk in: got {n} of {total} bytes")
    return total / dt / 1e6


async def _bulk_out(stack: TunStack, total: int) -> float:
    async with KernelProgram(stack.settings.netns, _RECEIVER, KERNEL_V4, 5002) as k:
        await k.line()
        block = b"y" * MB
        t0 = time.perf_counter()
        reader, writer = await open_connection(KERNEL_V4, 5002, stack=stack)
        for _ in range(total // MB):
            writer.write(block)
            await writer.drain()
        writer.write_eof()
        await reader.read()
        dt = time.perf_counter() - t0
        writer.close()
        n = int((await k.line()).split()[0])
    if n != total:
        raise RuntimeError(f"bulk out: kernel got {n} of {total} bytes")
    return total / dt / 1e6


async def _kernel_bulk(netns: str, total: int) -> float:
    async with KernelProgram(netns, _RECEIVER, "127.0.0.1", 5003) as rx:
        await rx.line()
        async with KernelProgram(netns, _KERNEL_CLIENT_BULK, "127.0.0.1", 5003, total) as tx:
            n_text, dt_text = (await rx.line()).split()
            assert tx.proc is not None
            await tx.proc.wait()
    if int(n_text) != total:
        raise RuntimeError(f"kernel bulk: got {n_text} of {total} bytes")
    return total / float(dt_text) / 1e6


async def _conn_rate(netns: str, addr: str, port: int, n: int) -> float:
    async with KernelProgram(netns, _CONN_CLIENT, addr, port, n) as client:
        return float(await client.line(timeout=300))


async def _tun_conn(stack: TunStack, n: int) -> float:
    server = await start_server(_reply_100, None, 5004, stack=stack, backlog=1024)
    try:
        return await _conn_rate(stack.settings.netns, SYNACK_V4, 5004, n)
    finally:
        server.close()


async def _kernel_conn(netns: str, n: int) -> float:
    async with KernelProgram(netns, _KERNEL_SERVER, "127.0.0.1", 5005) as server:
        await server.line()
        return await _conn_rate(netns, "127.0.0.1", 5005, n)


def _run(body: Callable[[TunStack], Awaitable[T]]) -> T:
    problem = privilege_problem()
    if problem is not None:
        raise SystemExit(f"tun_bench: {problem}")

    async def main() -> T:
        netns = f"skbench{os.getpid()}"
        async with open_tun(TunSettings(netns=netns)) as stack:
            return await asyncio.wait_for(body(stack), 600)
    return asyncio.run(main())


def tun_bulk_in_MBps(total: int = 200 * MB) -> float:
    return _run(lambda s: _bulk_in(s, total))


def tun_bulk_out_MBps(total: int = 200 * MB) -> float:
    return _run(lambda s: _bulk_out(s, total))


def kernel_bulk_MBps(total: int = 200 * MB) -> float:
    return _run(lambda s: _kernel_bulk(s.settings.netns, total))


def tun_conn_per_s(n: int = 2000) -> float:
    return _run(lambda s: _tun_conn(s, n))


def kernel_conn_per_s(n: int = 2000) -> float:
    return _run(lambda s: _kernel_conn(s.settings.netns, n))


def measure_all(quick: bool = False) -> dict[str, float]:
    """Every figure, measured in one run in one namespace, side by side."""
    total = (50 if quick else 200) * MB
    n = 500 if quick else 2000

    async def body(stack: TunStack) -> dict[str, float]:
        netns = stack.settings.netns
        results = {
            "tun_bulk_in_MBps": round(await _bulk_in(stack, total), 1),
            "tun_bulk_out_MBps": round(await _bulk_out(stack, total), 1),
            "kernel_bulk_MBps": round(await _kernel_bulk(netns, total), 1),
        }
        tun: list[float] = []
        kernel: list[float] = []
        polled: list[float] = []
        for _ in range(CONN_ROUNDS):
            tun.append(await _tun_conn(stack, n))
            kernel.append(await _kernel_conn(netns, n))
            stack.busy_poll_us = BUSY_POLL_US
            try:
                polled.append(await _tun_conn(stack, n))
            finally:
                stack.busy_poll_us = 0
        results["tun_conn_per_s"] = round(statistics.median(tun), 1)
        results["kernel_conn_per_s"] = round(statistics.median(kernel), 1)
        results["tun_conn_busypoll_per_s"] = round(statistics.median(polled), 1)
        return results
    return _run(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller transfers and fewer connections")
    args = parser.parse_args()
    results = measure_all(args.quick)
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:>10.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
