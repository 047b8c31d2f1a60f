"""Helpers for the interop tests.

Every test uses its own namespace (named after the pid and a counter), removed by
the driver on the way out; every process a test starts is killed by its pid.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from synack.drivers.netns import privilege_problem
from synack.drivers.tun import TunDevice, TunSettings, TunStack, open_tun

_counter = itertools.count()


def problem() -> str | None:
    problem = privilege_problem()
    if problem is not None:
        return problem
    for tool in ("ip", "curl", "ss", "tshark"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def unique_netns() -> str:
    return f"skt{os.getpid()}-{next(_counter)}"


def run(coro: Awaitable[None], timeout: float = 120.0) -> None:
    async def main() -> None:
        await asyncio.wait_for(coro, timeout)
    asyncio.run(main())


def socket_device(settings: TunSettings | None = None) -> tuple[TunDevice, socket.socket]:
    """A TunDevice on one end of a datagram socket pair, and the other end (no
    privileges): what the stack writes is read there, what is written there the stack
    reads, a packet per datagram, with the virtio header when ``settings.offload``."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.setblocking(False)
    return TunDevice(ours.detach(), settings or TunSettings(netns="unused")), theirs


@asynccontextmanager
async def tun_stack(pcap: str | None = None, busy_poll_us: int = 0) -> AsyncIterator[TunStack]:
    async with open_tun(TunSettings(netns=unique_netns(), busy_poll_us=busy_poll_us), pcap=pcap) as stack:
        yield stack


class Kernel:
    """A Python program run on the kernel side of the namespace (its own process)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, netns: str, code: str, *args: str) -> Kernel:
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", netns, sys.executable, "-c", code, *args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return cls(proc)

    async def line(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        return (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode().strip()

    def tell(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()  # by its pid
        await self.proc.wait()


@asynccontextmanager
async def kernel(netns: str, code: str, *args: str) -> AsyncIterator[Kernel]:
    k = await Kernel.start(netns, code, *args)
    try:
        yield k
    finally:
        await k.stop()


async def kernel_ss(netns: str, port: int) -> list[str]:
    """States of the kernel's TCP sockets involving ``port`` (ss -tan)."""
    proc = await asyncio.create_subprocess_exec("ip", "netns", "exec", netns, "ss", "-tanH",
                                                stdout=subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    states = []
    for line in out.decode().splitlines():
        fields = line.split()
        if len(fields) >= 5 and (fields[3].endswith(f":{port}") or fields[4].endswith(f":{port}")):
            states.append(fields[0])
    return states


async def wait_for_state(netns: str, port: int, state: str, timeout: float = 20.0) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        states = await kernel_ss(netns, port)
        if state in states or asyncio.get_running_loop().time() > deadline:
            return states
        await asyncio.sleep(0.02)


async def wait_until(cond: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def stop_serve(serve: subprocess.Popen[str]) -> None:
    """Ctrl-C a running ``synack serve``: it must exit with 0; killed (by its pid)
    if it does not."""
    serve.send_signal(signal.SIGINT)
    try:
        assert serve.wait(timeout=30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
