"""The linux target: a drill script run against the Linux kernel, through a TUN device.

Each script gets a network namespace of its own (``drillPID-N``, created here and
removed by that name on the way out, whatever happens), so every sysctl a script sets
and every socket it leaves behind go with it.  In the namespace (:class:`Lab`):

- a TUN device ``drill0`` (``IFF_TUN | IFF_NO_PI``, MTU 1500, no virtio header, no
  offloads): the kernel owns 198.18.0.2/24 and fd00::2/64 on it (the tested stack of
  :mod:`synack.drill.runner`), and 198.18.0.0/15 and fd00::/8 are routed to it, so the
  script's side (198.18.0.1, fd00::1) is reached through the device and nothing leaves
  the namespace.  With no offloads the kernel hands over each segment as it would go
  on the wire: checksums filled in, no GSO/TSO super-segments (a 64 KB write comes out
  as MSS-sized segments); IPv6 is quiet (no DAD, no link-local address, no router
  solicitations);
- inbound packets (``<`` lines) are written to the device at their times;
- a reader thread takes every packet the kernel writes to the device and stamps it with
  CLOCK_MONOTONIC when it is read; ``>`` lines are matched against them in order with
  the runner's :func:`~synack.drill.runner.match_outbound`;
- the system calls are made by a helper process inside the namespace
  (:mod:`synack.drill.sysproc`); a blocking call (``+0...0.1 accept(...)``) runs while
  later lines go on, and is checked when it returns;
- shell lines run inside the namespace (``nsenter --net``), from the script's folder.

The kernel's sequence numbers and timestamps are mapped as packetdrill maps them (the
runner's :class:`~synack.drill.runner.SeqSpace`): its ISN is learned from its SYN or
SYN-ACK; its TSval (Linux adds a random offset per connection) is anchored at the first
``TS val`` an outbound line matches, and later TSvals are checked only when the script
sets ``--tcp_ts_tick_usecs`` (packetdrill's default is not to check them); an inbound
``TS ecr`` naming an outbound line's TS val is given the kernel's real value.  The
connection under test is packetdrill's "socket under test": a ``connect()`` starts a
new one (its port and ISN learned from its SYN); otherwise the first packet starts one
with the runner's ports.  ``socket()`` and ``accept()`` pass with whatever descriptor
the kernel gives when the script expects one, and the script's number is mapped to it
(packetdrill's CHECK_FD).

Times are CLOCK_MONOTONIC microseconds from the script's start, which is placed 250 µs
after a jiffy boundary as packetdrill places it (the kernel's timers run on jiffies).
A system call's time is when it is asked for; the next relative time after a call
or a shell line counts from when it returned (or blocked), as packetdrill reads its
clock when it reaches the next event.  A run has the lowest real-time priority (SCHED_RR), as packetdrill:
otherwise a wake-up on a busy machine can be a jiffy late, as much as the tolerance.
When a ``>`` line waits in vain, the failure names the kernel's nonzero drop counters
(``TcpExtListenDrops=1``...).  SIGTERM, like Ctrl-C, ends a run with its namespace
and helper removed.

Root, ``/dev/net/tun`` and nsenter are needed: without them :class:`LinuxTarget`
raises :class:`LinuxUnavailable`, whose message is one line.
"""

from __future__ import annotations

import errno as errno_mod
import fcntl
import itertools
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from synack.core import wire
from synack.core.errors import MalformedSegment
from synack.core.ip import ipv4_header, ipv6_header, split_packet
from synack.core.wire import Segment, parse_segment, tcp_checksum
from synack.drivers.netns import Namespace, NetnsError, privilege_problem
from synack.drivers.tun import TunDevice, TunSettings

from .runner import (
    BIND_PORT,
    REMOTE_V4,
    REMOTE_V6,
    TESTED_V4,
    TESTED_V6,
    Clock,
    DrillFailure,
    Flows,
    ScriptResult,
    SeqSpace,
    addresses,
    build_inbound,
    describe_segment,
    ends_problem,
    error,
    failed,
    inbound_option_bytes,
    match_outbound,
    passed,
    time_error,
    tolerance_for,
)
from .script import (
    Arg,
    CallArg,
    Direction,
    Ellipsis_,
    ListArg,
    OrArg,
    PacketLine,
    Script,
    ShellLine,
    StringArg,
    StructArg,
    Symbol,
    SyscallLine,
    TimeKind,
    TimeSpec,
)
from .sysproc import HelperError, Reply, SyscallHelper

__all__ = ["IFNAME", "Lab", "LinuxTarget", "LinuxUnavailable"]

IFNAME: Final = "drill0"
MTU: Final = 1500
#: How long a call written without ``...`` may take before it counts as blocking.
CALL_TIMEOUT_S: Final = 2.0
#: How long past an outbound line's latest time we keep waiting, to say how late it came.
LATE_GRACE_US: Final = 500_000
#: How long an outbound ``*`` line waits for its packet.
ANY_TIME_WAIT_US: Final = 10_000_000
#: How long a shell line may run.
SHELL_TIMEOUT_S: Final = 30.0
_TCP: Final = struct.Struct("!HHIIBBHHH")
RTN_LOCAL: Final = 2  # <linux/rtnetlink.h>: a route to one of our own addresses
_counter = itertools.count()


class LinuxUnavailable(Exception):
    """The linux target cannot run on this machine (message is one line)."""


def _now_ns() -> int:
    return time.monotonic_ns()


# -- the namespace, the device and the helper ---------------------------------------------
class Lab:
    """A namespace with the TUN device, its reader thread and the system-call helper.

    ``with Lab() as lab:`` makes them all; leaving the block ends the helper (by its
    pid), closes the device and removes the namespace by the name it was given here.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"drill{os.getpid()}-{next(_counter)}"
        self.ns: Namespace | None = None
        self.dev: TunDevice | None = None
        self.helper: SyscallHelper | None = None
        self._packets: deque[tuple[int, bytes]] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()  # wakes the reader when the lab closes
        self._reader: threading.Thread | None = None
        #: Why the reader stopped, if it stopped before the lab closed.
        self.read_error: str | None = None

    def __enter__(self) -> Lab:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        self.ns = Namespace.create(self.name)
        settings = TunSettings(netns=self.name, ifname=IFNAME, mtu=MTU, kernel_v4=TESTED_V4,
                               synack_v4=REMOTE_V4, kernel_v6=TESTED_V6, synack_v6=REMOTE_V6,
                               offload=False)
        self.dev = TunDevice.open(self.ns, settings)
        self.ns.run(_add_routes)
        self.ns.run(_wait_until_local)
        self._reader = threading.Thread(target=self._read, name=f"{self.name}-tun", daemon=True)
        self._reader.start()
        self.helper = SyscallHelper.start(self.name)
        # The helper's first answer says it is up (its interpreter has started).
        ident = self.helper.call("fcntl", 0, fcntl.F_GETFD, 0)
        if self.helper.wait(ident, 10.0) is None:
            raise HelperError("the system-call helper did not start within 10 s")

    def close(self) -> None:
        if self.helper is not None:
            self.helper.close()
            self.helper = None
        self._stop.set()
        if self._reader is not None:
            os.write(self._wake_w, b"x")
            self._reader.join(timeout=5)
            self._reader = None
        if self._wake_r >= 0:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1
        if self.dev is not None:
            self.dev.close()
            self.dev = None
        if self.ns is not None:
            self.ns.close()
            self.ns = None

    # -- the device --------------------------------------------------------------------------
    def _read(self) -> None:
        assert self.dev is not None
        fd = self.dev.fd
        while not self._stop.is_set():
            ready, _, _ = select.select([fd, self._wake_r], [], [])
            if fd not in ready:
                continue
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError as exc:
                    with self._cond:
                        self.read_error = f"reading the TUN device failed: {exc}"
                        self._cond.notify_all()
                    return
                with self._cond:
                    self._packets.append((_now_ns(), data))
                    self._cond.notify_all()

    def inject(self, packet: bytes) -> int:
        """Write one IP packet to the device; the time it was written (ns)."""
        assert self.dev is not None
        t = _now_ns()
        os.write(self.dev.fd, packet)
        return t

    def next_packet(self, deadline_ns: int) -> tuple[int, bytes] | None:
        """The next packet the kernel sent (its time, its bytes), waiting until
        ``deadline_ns`` at most."""
        with self._cond:
            while not self._packets:
                left = (deadline_ns - _now_ns()) / 1e9
                if self.read_error is not None:
                    raise OSError(self.read_error)
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._packets.popleft()

    def peek_packet(self) -> tuple[int, bytes] | None:
        with self._cond:
            return self._packets[0] if self._packets else None

    def counters(self) -> dict[str, int]:
        """The namespace's SNMP counters (all since it was made)."""
        done = subprocess.run(["nsenter", f"--net=/run/netns/{self.name}", "cat", "/proc/net/snmp",
                               "/proc/net/netstat", "/proc/net/snmp6"], capture_output=True, text=True,
                              timeout=10, check=False)
        return kernel_counters(done.stdout)

    def shell(self, command: str, cwd: str) -> subprocess.CompletedProcess[str]:
        """``sh -c command`` in the namespace (the net namespace only, as packetdrill's
        commands run in the namespace packetdrill itself runs in)."""
        argv = ["nsenter", f"--net=/run/netns/{self.name}", "sh", "-c", command]
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=SHELL_TIMEOUT_S,
                              check=False)


def _wait_until_local() -> None:
    """Inside the namespace: wait (2 s at most) until both tested addresses route as
    local, so that the first inbound packet finds them (IPv6 makes an address usable
    from a work queue; at once here with no DAD, but not promised)."""
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    deadline = time.monotonic() + 2.0
    with IPRoute() as ipr:
        for addr in (TESTED_V4, TESTED_V6):
            while True:
                try:
                    if ipr.route("get", dst=addr)[0]["type"] == RTN_LOCAL:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise NetnsError(f"{addr} is not a local address of the namespace after 2 s")
                time.sleep(0.001)


def kernel_counters(text: str) -> dict[str, int]:
    """``/proc/net/snmp``- and ``/proc/net/netstat``-style text (a header line of names,
    then a line of values, per group; or ``/proc/net/snmp6``'s name-value lines) as
    ``{"TcpExtListenDrops": 1, ...}``, named as nstat names them."""
    counters: dict[str, int] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        head = lines[i].split()
        if head and head[0].endswith(":") and i + 1 < len(lines):
            values = lines[i + 1].split()
            if values and values[0] == head[0]:
                group = head[0][:-1]
                for name, value in zip(head[1:], values[1:], strict=False):
                    if value.lstrip("-").isdigit():
                        counters[group + name] = int(value)
                i += 2
                continue
        if len(head) == 2 and head[1].isdigit():
            counters[head[0]] = int(head[1])
        i += 1
    return counters


#: Counters that say why a packet went nowhere, shown when a script waits in vain.
_TELLING: Final = ("Drop", "Err", "Fail", "Invalid", "Discard", "Reject", "Overflow", "Csum", "NoRoute",
                   "Abort", "Challenge", "Reset", "Retrans", "Timeout", "PAWS", "Cookies")


def telling_counters(counters: dict[str, int]) -> str:
    """The nonzero counters among those that explain a silence, ``"TcpExtListenDrops=1, ..."``."""
    shown = [f"{name}={value}" for name, value in sorted(counters.items())
             if value and any(word in name for word in _TELLING) and not name.startswith("Icmp")]
    return ", ".join(shown)


def _add_routes() -> None:
    """Inside the namespace: the script side's prefixes go to the TUN device, and the
    namespace is a host, not a router (a new namespace may inherit forwarding from the
    machine's): a packet to an address it does not own is dropped, not sent back out."""
    from pyroute2 import IPRoute

    for knob in ("ipv4/conf/all/forwarding", "ipv6/conf/all/forwarding"):
        with open(f"/proc/sys/net/{knob}", "w") as f:
            f.write("0")
    with IPRoute() as ipr:
        (index,) = ipr.link_lookup(ifname=IFNAME)
        ipr.route("add", dst="198.18.0.0/15", oif=index)
        ipr.route("add", dst="fd00::/8", oif=index, family=socket.AF_INET6)


# -- packets ----------------------------------------------------------------------------------
def inbound_packet(line: PacketLine, seg: Segment, src: str, dst: str) -> bytes:
    """The IP packet for an inbound line: ``seg``'s fields (absolute numbers), the
    line's options in the order written, zeros as payload, checksums filled in."""
    opts = inbound_option_bytes(line, seg)
    head = _TCP.pack(seg.src_port, seg.dst_port, seg.seq, seg.ack, (5 + len(opts) // 4) << 4,
                     seg.flags & 0xFF, seg.window, 0, seg.urg)
    tcp = head + opts + seg.payload
    tcp = tcp[:16] + tcp_checksum(tcp, src, dst).to_bytes(2, "big") + tcp[18:]
    if ":" in src:
        return ipv6_header(src, dst, len(tcp)) + tcp
    return ipv4_header(src, dst, len(tcp)) + tcp


@dataclass(frozen=True, slots=True)
class Sent:
    """A TCP packet the kernel sent: when (µs from the script's start) and what."""

    at: int
    seg: Segment
    options: bytes
    src: str
    dst: str


def parse_outbound(at: int, data: bytes) -> Sent | str | None:
    """A packet read from the device: :class:`Sent`, None when it is not TCP (ICMP,
    IPv6's own traffic: not the script's business), or one line saying why it is bad."""
    version = data[0] >> 4 if data else 0
    if version == 4 and len(data) >= 20 and data[9] != wire.PROTO_TCP:
        return None
    if version == 6 and len(data) >= 40 and data[6] != wire.PROTO_TCP:
        return None
    try:
        src, dst, tcp = split_packet(data)
        seg = parse_segment(tcp, src, dst)
    except MalformedSegment as exc:
        return f"malformed packet from the kernel ({exc})"
    hlen = (tcp[12] >> 4) * 4
    return Sent(at, seg, bytes(tcp[20:hlen]), src, dst)


# -- system calls ------------------------------------------------------------------------------
_SYMBOL_PREFIXES: Final = ("AF_", "SOCK_", "IPPROTO_", "SOL_", "SO_", "TCP_", "F_", "O_", "SHUT_",
                           "MSG_", "FD_")


def symbol_value(name: str) -> int | None:
    """The value of a C constant a script names (``SOCK_STREAM``, ``O_NONBLOCK``)."""
    if not name.startswith(_SYMBOL_PREFIXES):
        return None
    for module in (socket, os, fcntl):
        value = getattr(module, name, None)
        if isinstance(value, int):
            return int(value)
    return None


class _Unsupported(Exception):
    """A system call or argument the linux target cannot make (an error, not a failure)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _int(arg: Arg, what: str) -> int:
    if isinstance(arg, bool):
        raise _Unsupported(f"{what}: expected an integer")
    if isinstance(arg, int):
        return arg
    if isinstance(arg, Symbol):
        value = symbol_value(arg.name)
        if value is None:
            raise _Unsupported(f"{what}: unknown name {arg.name}")
        return value
    if isinstance(arg, OrArg):
        value = 0
        for item in arg.items:
            value |= _int(item, what)
        return value
    if isinstance(arg, CallArg) and arg.name in ("htons", "htonl") and len(arg.args) == 1:
        return _int(arg.args[0], what)
    if isinstance(arg, ListArg) and len(arg.items) == 1:
        return _int(arg.items[0], what)
    raise _Unsupported(f"{what}: {arg} is not an integer")


def _address(arg: Arg, default_host: str, default_port: int) -> tuple[str, int]:
    """``...`` or ``{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("...")}``."""
    if isinstance(arg, Ellipsis_):
        return default_host, default_port
    if isinstance(arg, StructArg):
        host, port = default_host, default_port
        for key, value in arg.fields:
            if key in ("sin_port", "sin6_port"):
                port = _int(value, key)
            elif key in ("sin_addr", "sin6_addr"):
                if isinstance(value, CallArg) and value.args and isinstance(value.args[0], StringArg):
                    host = value.args[0].text
                elif isinstance(value, StringArg):
                    host = value.text
                else:
                    raise _Unsupported(f"{key}: {value} is not an address")
        return host, port
    raise _Unsupported(f"address {arg} (write ... or a sockaddr struct)")


def _linger(arg: Arg) -> list[int] | None:
    if isinstance(arg, StructArg) and arg.get("l_onoff") is not None:
        return [_int(arg.get("l_onoff") or 0, "l_onoff"), _int(arg.get("l_linger") or 0, "l_linger")]
    return None


@dataclass(slots=True)
class _Pending:
    """A blocking call under way: its line, its helper id, when it must return."""

    line: SyscallLine
    ident: int
    start_script: int
    end_script: int
    fd_result: bool


# -- the run ------------------------------------------------------------------------------------
class _Run:
    def __init__(self, script: Script, lab: Lab, tolerance_us: int, verbose: bool) -> None:
        self.script = script
        self.lab = lab
        self.tol = tolerance_us
        self.verbose = verbose
        self.tested, self.remote = addresses(script)
        self.family = socket.AF_INET6 if ":" in self.tested else socket.AF_INET
        self.clock = Clock()
        self.start_ns = 0
        self.flows = Flows(self.tested, self.remote)
        self.fds: dict[int, int] = {}  # script fd -> the helper's fd
        self.pending: _Pending | None = None
        tick = script.option("tcp_ts_tick_usecs")
        self.ts_tick_us = int(tick) if tick is not None and tick.isdigit() else 0
        self.last_script = 0

    # -- time ---------------------------------------------------------------------------------
    def rel(self, t_ns: int) -> int:
        return (t_ns - self.start_ns) // 1000

    def sleep_until(self, script_us: int) -> None:
        deadline = self.start_ns + script_us * 1000
        while True:
            left = deadline - _now_ns()
            if left <= 0:
                return
            if left > 1_500_000:
                time.sleep((left - 1_000_000) / 1e9)
            # the last millisecond is spun, as packetdrill spins it

    def log(self, text: str) -> None:
        if self.verbose:
            when = f"{self.rel(_now_ns()) / 1e6:10.6f}" if self.start_ns else "    before"
            print(f"  linux {when}  {text}", file=sys.stderr)

    # -- the loop -------------------------------------------------------------------------------
    def go(self) -> ScriptResult:
        name = "linux"
        try:
            if self.script.init is not None:
                self.shell(self.script.init, timed=False)
            events = self.script.events
            if events and (events[0].time.kind is not TimeKind.ABSOLUTE or events[0].time.usecs):
                raise DrillFailure(events[0].line, "the first event should be at time 0")
            self.start_ns = _align_to_jiffy()
            for event in events:
                self.check_pending(block=False)
                if isinstance(event, PacketLine) and event.direction is Direction.OUTBOUND:
                    self.outbound(event)
                elif isinstance(event, PacketLine):
                    self.inbound(event)
                elif isinstance(event, SyscallLine):
                    self.syscall(event)
                else:
                    self.shell(event, timed=True)
            self.finish()
        except DrillFailure as exc:
            return failed(self.script, name, exc.line, exc.message)
        except _Unsupported as exc:
            return error(self.script, name, exc.line, f"not supported on linux: {exc.message}")
        return passed(self.script, name)

    def finish(self) -> None:
        if self.pending is not None:
            self.check_pending(block=True)
        end = self.last_script + self.tol
        self.sleep_until(end)
        self.unexpected(end, self.script.events[-1].line if self.script.events else None)

    def unexpected(self, before_us: int, line: int | None) -> None:
        """Fail on a packet the kernel sent before ``before_us`` that no line took."""
        while True:
            head = self.lab.peek_packet()
            if head is None or self.rel(head[0]) > before_us:
                return
            self.lab.next_packet(0)
            sent = parse_outbound(self.rel(head[0]), head[1])
            if sent is None:
                continue
            if isinstance(sent, str):
                raise DrillFailure(line, sent)
            space = self.flows.for_sent(sent.seg, sent.src, sent.dst)
            raise DrillFailure(line, f"unexpected packet at {sent.at / 1e6:.6f} s: "
                                     f"{describe_segment(sent.seg, space)}")

    def resolve(self, spec: TimeSpec, inbound: bool) -> tuple[int, int]:
        return self.clock.resolve(spec, inbound)

    def check_start(self, spec: TimeSpec, lo: int, hi: int, actual: int, line: int, what: str) -> None:
        problem = time_error(spec, lo, hi, actual, self.clock.last_script, self.tol, what)
        if problem:
            raise DrillFailure(line, problem)

    # -- packets -------------------------------------------------------------------------------
    def inbound(self, line: PacketLine) -> None:
        lo, _ = self.resolve(line.time, inbound=True)
        self.sleep_until(lo)
        self.unexpected(lo - self.tol, line.line)
        seg = build_inbound(line, self.flows.for_line(line))
        src, dst = self.flows.addresses(line)
        packet = inbound_packet(line, seg, src, dst)
        actual = self.rel(self.lab.inject(packet))
        self.log(f"< {line}")
        self.check_start(line.time, lo, lo, actual, line.line, "inbound packet")
        self.clock.happened(lo, actual, inbound=True)
        self.last_script = lo

    def outbound(self, line: PacketLine) -> None:
        lo, hi = self.resolve(line.time, inbound=False)
        if line.time.kind is TimeKind.ANY:
            wait_until = self.rel(_now_ns()) + ANY_TIME_WAIT_US
        else:
            wait_until = hi + max(self.tol, int(0.125 * (hi - self.clock.last_script))) + LATE_GRACE_US
        while True:
            got = self.lab.next_packet(self.start_ns + wait_until * 1000)
            if got is None:
                why = telling_counters(self.lab.counters())
                raise DrillFailure(line.line, f"expected {line} but nothing was sent "
                                              f"by {wait_until / 1e6:.6f} s"
                                              + (f" (kernel counters: {why})" if why else ""))
            sent = parse_outbound(self.rel(got[0]), got[1])
            if sent is None:
                continue
            if isinstance(sent, str):
                raise DrillFailure(line.line, sent)
            break
        space = self.flows.for_line(line)
        if line.ends is None:
            if space.local_port == 0 and sent.seg.flags & wire.SYN:
                space.local_port = sent.seg.src_port
            ports = (sent.seg.src_port, sent.seg.dst_port)
            if ports != (space.local_port, space.remote_port):
                raise DrillFailure(line.line, f"expected {_packet_text(line)} on ports {space.local_port}->"
                                              f"{space.remote_port}, got {describe_segment(sent.seg, space)} "
                                              f"on ports {ports[0]}->{ports[1]}")
        else:
            wrong = ends_problem(line, sent.seg, sent.src, sent.dst, self.flows)
            if wrong:
                raise DrillFailure(line.line, wrong)
        problem = match_outbound(line, sent.seg, space, raw_options=sent.options, ts_tick_us=self.ts_tick_us,
                                 tolerance_us=self.tol, elapsed_us=lo)
        self.log(f"> {describe_segment(sent.seg, space)}  (at {sent.at / 1e6:.6f})")
        if problem:
            raise DrillFailure(line.line, problem)
        self.check_start(line.time, lo, hi, sent.at, line.line, f"packet {describe_segment(sent.seg, space)}")
        self.clock.happened(lo if line.time.kind is not TimeKind.ANY else sent.at, sent.at, inbound=False)
        self.last_script = max(self.last_script, self.clock.last_script)

    # -- shell lines ----------------------------------------------------------------------------
    def shell(self, line: ShellLine, timed: bool) -> None:
        lo = 0
        if timed:
            lo, _ = self.resolve(line.time, inbound=False)
            self.sleep_until(lo)
            self.unexpected(lo - self.tol, line.line)
        start = self.rel(_now_ns())
        try:
            done = self.lab.shell(line.command, self.cwd())
        except subprocess.TimeoutExpired:
            raise DrillFailure(line.line, f"command did not finish in {SHELL_TIMEOUT_S:.0f} s: "
                                          f"{line.command}") from None
        self.log(f"`{line.command}` -> {done.returncode}")
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip()).splitlines()
            detail = f": {said[-1]}" if said else ""
            raise DrillFailure(line.line, f"command exited with {done.returncode}{detail}: {line.command}")
        if timed:
            # The next relative time counts from the command's end, as packetdrill's
            # does (it reads the clock when it comes to the next event): a command
            # takes milliseconds here, nothing on the synack target.
            self.check_start(line.time, lo, lo, start, line.line, "command")
            self.clock.happened(lo, self.rel(_now_ns()), inbound=False)
            self.last_script = lo

    def cwd(self) -> str:
        """Where shell lines run: the script's folder, as packetdrill's scripts expect
        (``../common/defaults.sh``)."""
        if self.script.source_dir not in ("", "."):
            return self.script.source_dir
        if os.path.isfile(self.script.path):
            return os.path.dirname(os.path.abspath(self.script.path))
        return "."

    # -- system calls ---------------------------------------------------------------------------
    def syscall(self, line: SyscallLine) -> None:
        lo, _ = self.resolve(line.time, inbound=False)
        if self.pending is not None:
            self.check_pending(block=True)
        self.sleep_until(lo)
        self.unexpected(lo - self.tol, line.line)
        op, args, fd_result = self.translate(line)
        helper = self.lab.helper
        assert helper is not None
        if op == "connect":
            self.flows.main = SeqSpace(local_port=0, remote_port=BIND_PORT)
        # The call's time is when it is asked for, as packetdrill reads the clock just
        # before it makes a call: the helper's latency (a few hundred µs, more on a
        # busy machine) is not the script's business.
        start = self.rel(_now_ns())
        ident = helper.call(op, *args)
        if line.blocking:
            reply = helper.wait(ident, CALL_TIMEOUT_S, blocked_ok=True)
        else:
            reply = helper.wait(ident, CALL_TIMEOUT_S)
        if reply is None:
            raise DrillFailure(line.line, f"{line.name}() blocked; the script expected it to return at once "
                                          "(write 'T...END' for a blocking call)")
        self.log(f"{line.name}({', '.join(str(a) for a in line.args)}) "
                 f"{'blocks' if reply['event'] == 'blocked' else '= ' + _result_text(reply)}")
        self.check_start(line.time, lo, lo, start, line.line, "system call start")
        if line.blocking:
            assert line.end_time is not None
            end = self.clock.end_time(line.time, line.end_time, lo)
            self.pending = _Pending(line, ident, lo, end, fd_result)
        # The next relative time counts from now, once the call has returned (or
        # blocked): packetdrill reads its clock when it comes to the next event, so the
        # helper's latency never makes the next line late.
        self.clock.happened(lo, self.rel(_now_ns()), inbound=False)
        self.last_script = max(self.last_script, lo)
        if reply["event"] == "done":
            if self.pending is not None:
                self.check_pending(block=True)
            else:
                self.check_result(line, reply, fd_result)

    def check_pending(self, block: bool) -> None:
        pending = self.pending
        if pending is None:
            return
        helper = self.lab.helper
        assert helper is not None
        if block:
            limit = (pending.end_script + self.tol + LATE_GRACE_US) * 1000 + self.start_ns
            reply = helper.wait(pending.ident, max(0.0, (limit - _now_ns()) / 1e9))
            if reply is None:
                raise DrillFailure(pending.line.line, f"{pending.line.name}() never returned (expected at "
                                                      f"{pending.end_script / 1e6:.6f} s)")
        else:
            reply = helper.done(pending.ident)
            if reply is None:
                return
        self.pending = None
        end = self.rel(int(reply["t1"]))
        self.log(f"{pending.line.name}() returned {_result_text(reply)} at {end / 1e6:.6f}")
        self.check_result(pending.line, reply, pending.fd_result)
        spec = TimeSpec(TimeKind.ABSOLUTE, pending.end_script)
        problem = time_error(spec, pending.end_script, pending.end_script, end, pending.start_script,
                             self.tol, f"{pending.line.name}() returned")
        if problem:
            raise DrillFailure(pending.line.line, problem)
        self.last_script = max(self.last_script, pending.end_script)

    def check_result(self, line: SyscallLine, reply: Reply, fd_result: bool) -> None:
        ret = int(reply["ret"])
        got_errno = reply.get("errno")
        want = line.result
        if isinstance(want, Ellipsis_):
            return
        try:
            want_ret = _int(want, "the expected result")
        except _Unsupported as exc:
            raise _Unsupported(exc.message, line.line) from None
        # A call that makes a descriptor (socket, accept) passes with any descriptor
        # when the script expects one, and the script's number is mapped to it, as
        # packetdrill does (CHECK_FD); other results must be equal.
        same = (ret >= 0) if fd_result and want_ret >= 0 else ret == want_ret
        if not same or (line.errno is not None and got_errno != line.errno):
            want_text = f"{want_ret}" + (f" {line.errno}" if line.errno else "")
            got_text = _result_text(reply)
            raise DrillFailure(line.line, f"{line.name}(): expected = {want_text}, got = {got_text}")
        if fd_result and ret >= 0:
            self.fds[want_ret] = ret
        if line.name == "getsockopt" and len(line.args) >= 4:
            self.check_getsockopt(line, reply)

    def check_getsockopt(self, line: SyscallLine, reply: Reply) -> None:
        want_arg = line.args[3]
        value = reply.get("value")
        linger = _linger(want_arg)
        if linger is not None:
            if value != linger:
                got = (f"{{l_onoff={value[0]}, l_linger={value[1]}}}" if isinstance(value, list)
                       else str(value))
                raise DrillFailure(line.line, f"getsockopt SO_LINGER: expected {want_arg}, got {got}")
            return
        if isinstance(want_arg, Ellipsis_):
            return
        want = _int(want_arg, "getsockopt's value")
        if value != want:
            name = line.args[2]
            raise DrillFailure(line.line, f"getsockopt {name}: expected [{want}], got [{value}]")

    def fd(self, arg: Arg, line: SyscallLine) -> int:
        return self.fds.get(_int(arg, "fd"), -1)  # an fd the script never got: EBADF

    def translate(self, line: SyscallLine) -> tuple[str, list[object], bool]:
        """The helper's operation and arguments for a line; whether it returns an fd."""
        try:
            return self._translate(line)
        except _Unsupported as exc:
            raise _Unsupported(exc.message, line.line) from None
        except IndexError:
            raise _Unsupported(f"{line.name}() with {len(line.args)} arguments", line.line) from None

    def _translate(self, line: SyscallLine) -> tuple[str, list[object], bool]:
        name, a = line.name, line.args
        if name == "socket":
            family = self.family if isinstance(a[0], Ellipsis_) else _int(a[0], "domain")
            return "socket", [family, _int(a[1], "type"), _int(a[2], "protocol")], True
        if name == "bind":
            host, port = _address(a[1], self.tested, BIND_PORT)
            return "bind", [self.fd(a[0], line), host, port], False
        if name == "listen":
            return "listen", [self.fd(a[0], line), _int(a[1], "backlog")], False
        if name == "accept":
            return "accept", [self.fd(a[0], line)], True
        if name == "connect":
            host, port = _address(a[1], self.remote, BIND_PORT)
            return "connect", [self.fd(a[0], line), host, port], False
        if name in ("read", "recv"):
            size = _int(a[2], "count")
            if name == "recv":
                return "recv", [self.fd(a[0], line), size, _int(a[3], "flags")], False
            return "read", [self.fd(a[0], line), size], False
        if name in ("write", "send"):
            data = bytes(_int(a[2], "count")).hex()
            if name == "send":
                return "send", [self.fd(a[0], line), data, _int(a[3], "flags")], False
            return "write", [self.fd(a[0], line), data], False
        if name == "shutdown":
            return "shutdown", [self.fd(a[0], line), _int(a[1], "how")], False
        if name == "close":
            return "close", [self.fd(a[0], line)], False
        if name == "fcntl":
            arg = _int(a[2], "arg") if len(a) > 2 else 0
            return "fcntl", [self.fd(a[0], line), _int(a[1], "cmd"), arg], False
        if name == "setsockopt":
            linger = _linger(a[3])
            value: int | list[int] = linger if linger is not None else _int(a[3], "optval")
            return "setsockopt", [self.fd(a[0], line), _int(a[1], "level"), _int(a[2], "optname"),
                                  value], False
        if name == "getsockopt":
            return "getsockopt", [self.fd(a[0], line), _int(a[1], "level"), _int(a[2], "optname")], False
        raise _Unsupported(f"the system call {name}()")


def _packet_text(line: PacketLine) -> str:
    text = str(line)
    return text.split(" ", 1)[1] if " " in text else text


def _result_text(reply: Reply) -> str:
    if reply.get("event") != "done":
        return "(blocked)"
    if reply.get("errno"):
        return f"{reply['ret']} {reply['errno']}"
    return str(reply["ret"])


def _align_to_jiffy() -> int:
    """A start time 250 µs after a jiffy boundary (packetdrill's: the kernel's timers
    and timestamps tick on jiffies, and events on whole milliseconds should not sit on
    an edge).  times(2) moves only at a jiffy boundary; two moves are watched."""
    moves = 0
    last = os.times().elapsed
    start = _now_ns()
    while moves < 2 and _now_ns() - start < 100_000_000:
        now = os.times().elapsed
        if now != last:
            moves += 1
            last = now
            edge = _now_ns()
    if moves == 0:
        return _now_ns()
    return edge + 250_000


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while a script runs, so that the namespace and the
    helper are removed on the way out as on Ctrl-C (Python's default for SIGTERM is to
    die at once, leaving the namespace behind).  Only on the main thread, where Python
    runs signal handlers; the previous handler is put back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _realtime() -> Iterator[None]:
    """Run with the lowest real-time priority (SCHED_RR), as packetdrill does on a machine
    with more than one CPU: on a busy machine a normal task can wake a whole jiffy late
    (4 ms at HZ=250), as much as the default tolerance.  The threads and the helper
    process started inside inherit it; the caller's policy is restored after."""
    if (os.cpu_count() or 1) <= 1:
        yield
        return
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(os.sched_get_priority_min(os.SCHED_RR)))
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.sched_setscheduler(0, policy, param)


# -- the target -----------------------------------------------------------------------------------
class LinuxTarget:
    """The Linux kernel as the tested stack (see the module doc).  Raises
    :class:`LinuxUnavailable` when the machine cannot run it (not root, no TUN)."""

    name = "linux"

    def __init__(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise LinuxUnavailable(f"the linux target {problem}")

    @staticmethod
    def problem() -> str | None:
        """Why the linux target cannot run here, or None."""
        problem = privilege_problem()
        if problem is not None:
            return problem
        if shutil.which("nsenter") is None:
            return "needs nsenter (util-linux)"
        return None

    def run(self, script: Script, *, tolerance_us: int | None = None, verbose: bool = False) -> ScriptResult:
        tol = tolerance_for(script, tolerance_us)
        try:
            with _terminate_as_interrupt(), _realtime(), Lab() as lab:
                return _Run(script, lab, tol, verbose).go()
        except (NetnsError, HelperError) as exc:
            return error(script, self.name, None, str(exc))
        except OSError as exc:
            code = errno_mod.errorcode.get(exc.errno or 0, "")
            return error(script, self.name, None, f"{exc.strerror or exc} ({code})")
