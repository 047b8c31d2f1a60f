"""Private network namespaces for the TUN driver, its demos and its tests.

A :class:`Namespace` is a named Linux network namespace (``/run/netns/NAME``, the
ones ``ip netns`` manages), created with pyroute2.  The TUN device lives inside it,
so the kernel stack synack talks to is the namespace's own: nothing is routed out.
Run any program on the kernel side with ``ip netns exec NAME PROGRAM``.

Defaults (see the README, "Real network (TUN)"): namespace ``synack``; kernel side
198.18.0.1 and fd00:5ac::1, synack side 198.18.0.2 and fd00:5ac::2 (RFC 2544's
benchmarking range and a unique-local IPv6 prefix).

Code runs "inside" a namespace on a short-lived thread that joins it with
``setns(2)``, which moves only that thread: the calling process keeps its own
namespace, and file descriptors opened there (a TUN, a netlink socket) stay bound
to the namespace they were opened in.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Final, TypeVar

__all__ = ["DEFAULT_NETNS", "KERNEL_V4", "KERNEL_V6", "SYNACK_V4", "SYNACK_V6", "Namespace", "NetnsError",
           "privilege_problem"]

DEFAULT_NETNS: Final = "synack"
KERNEL_V4: Final = "198.18.0.1"
SYNACK_V4: Final = "198.18.0.2"
V4_PREFIXLEN: Final = 24
KERNEL_V6: Final = "fd00:5ac::1"
SYNACK_V6: Final = "fd00:5ac::2"
V6_PREFIXLEN: Final = 64

NETNS_DIR: Final = "/run/netns"
_NAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")

T = TypeVar("T")


class NetnsError(Exception):
    """A namespace could not be created, joined or set up (message is one line)."""


def privilege_problem() -> str | None:
    """Why TUN namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and TUN devices); run with sudo"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no TUN support on this machine)"
    return None


def write_sysctl(key: str, value: str | int) -> None:
    """Set ``net.ipv4.ip_forward``-style ``key`` for the calling thread's namespace."""
    path = "/proc/sys/" + key.replace(".", "/")
    with open(path, "w", encoding="ascii") as f:
        f.write(f"{value}\n")


class Namespace:
    """A named network namespace; removed by :meth:`close` only if we created it."""

    def __init__(self, name: str, created: bool) -> None:
        self.name = name
        self.created = created
        self._removed = False

    def __repr__(self) -> str:
        return f"<Namespace {self.name}{' (ours)' if self.created else ''}>"

    @property
    def path(self) -> str:
        return f"{NETNS_DIR}/{self.name}"

    @staticmethod
    def check_name(name: str) -> str:
        if not _NAME.match(name):
            raise NetnsError(f"bad namespace name {name!r} (letters, digits, '_', '.', '-')")
        return name

    @staticmethod
    def exists(name: str) -> bool:
        return os.path.exists(f"{NETNS_DIR}/{Namespace.check_name(name)}")

    @classmethod
    def create(cls, name: str) -> Namespace:
        """A new namespace named ``name`` (an error if it exists), loopback up, IPv4
        forwarding off, rp_filter strict."""
        from pyroute2 import netns  # type: ignore[import-untyped]

        cls.check_name(name)
        if cls.exists(name):
            raise NetnsError(f"network namespace {name!r} already exists")
        try:
            netns.create(name)
        except OSError as exc:
            raise NetnsError(f"cannot create network namespace {name!r}: {exc}") from None
        ns = cls(name, created=True)
        try:
            ns.run(_setup_namespace)
        except BaseException:
            ns.close()
            raise
        return ns

    @classmethod
    def join_or_create(cls, name: str) -> Namespace:
        """The namespace ``name``: joined if it exists (and kept on close), else created."""
        if cls.exists(name):
            ns = cls(name, created=False)
            ns.run(_setup_namespace)
            return ns
        return cls.create(name)

    def run(self, fn: Callable[[], T]) -> T:
        """Call ``fn`` on a thread inside this namespace and return its result."""
        result: list[T] = []
        error: list[BaseException] = []

        def worker() -> None:
            from pyroute2 import netns

            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    netns.setns(fd)
                finally:
                    os.close(fd)
                result.append(fn())
            except BaseException as exc:
                error.append(exc)

        thread = threading.Thread(target=worker, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join()
        if error:
            raise error[0]
        return result[0]

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace: ``["ip", "netns", "exec", NAME, *argv]``."""
        return ["ip", "netns", "exec", self.name, *argv]

    def close(self) -> None:
        """Remove the namespace if we created it (and only by its exact name)."""
        if not self.created or self._removed:
            return
        self._removed = True
        from pyroute2 import netns

        if os.path.exists(self.path):
            netns.remove(self.name)

    def __enter__(self) -> Namespace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _setup_namespace() -> None:
    """Inside the namespace: loopback up; no forwarding; strict reverse-path filter
    (set explicitly: a new namespace may inherit the host's defaults)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        (lo,) = ipr.link_lookup(ifname="lo")
        ipr.link("set", index=lo, state="up")
    write_sysctl("net.ipv4.ip_forward", 0)
    write_sysctl("net.ipv6.conf.all.forwarding", 0)
    write_sysctl("net.ipv4.conf.all.rp_filter", 1)
    write_sysctl("net.ipv4.conf.default.rp_filter", 1)
