"""The synack target: a script run against synack's core in virtual time.

One :class:`~synack.core.endpoint.Endpoint` is the tested host (198.18.0.2, fd00::2;
the script's side is 198.18.0.1, fd00::1: :mod:`synack.drill.runner`).  The clock is
virtual: the target jumps from one script event or core deadline to the next, so a
script that waits two minutes of TCP time runs in milliseconds, and every run of a
script is the same run.  No privileges, nothing on any network.

System calls map onto the core's user calls, with Linux's results and errno:

=====================  ===================================================================
``socket``             a new descriptor (the lowest free one from 3, as Linux)
``bind``               port 8080 (packetdrill's); ``listen(fd, n)``: ``Endpoint.listen``
                       with ``min(n, somaxconn)``
``accept``             ``Listener.accept``; blocks, or ``EAGAIN`` with ``O_NONBLOCK``
``connect``            ``Endpoint.connect`` to 198.18.0.1:8080; ``EINPROGRESS`` with
                       ``O_NONBLOCK``, else blocks until ``0``, ``ECONNREFUSED`` or
                       ``ETIMEDOUT``
``read``/``recv``      ``Connection.read``; ``0`` at end of file; ``ECONNRESET``,
                       ``ETIMEDOUT`` once after a reset or time-out; blocks or ``EAGAIN``
``write``/``send``     ``Connection.send`` of zeros; ``EPIPE`` after shutdown or a reset
                       already reported; blocks while the send buffer is full
``shutdown``           ``SHUT_WR``: ``Connection.shutdown``; ``SHUT_RD``: reads return 0
``close``              ``Connection.close`` (a reset with unread data, as Linux), or
                       ``abort`` with ``SO_LINGER {l_onoff=1, l_linger=0}``;
                       ``Listener.close`` for a listener
``fcntl``              ``F_SETFL``/``F_GETFL`` with ``O_NONBLOCK``
``setsockopt``         before ``listen``/``connect``: the socket's ``Config`` (``SO_RCVBUF``
                       → ``rcv_buf``, ``SO_SNDBUF`` → ``snd_buf``, ``TCP_MAXSEG`` → ``mss``,
                       ``TCP_NODELAY`` → ``nodelay``, ``SO_KEEPALIVE`` → ``keepalive``,
                       ``TCP_KEEPIDLE``/``KEEPINTVL``/``KEEPCNT`` → ``keepalive_*``,
                       ``TCP_USER_TIMEOUT`` (ms) → ``user_timeout``); on a connection
                       ``TCP_NODELAY``, ``SO_KEEPALIVE``, ``TCP_USER_TIMEOUT`` and the
                       keep-alive times act at once; ``SO_REUSEADDR`` and ``SO_LINGER``
                       are kept for ``close``
``getsockopt``         the same options read back (``SO_RCVBUF``/``SO_SNDBUF`` doubled as
                       Linux reports them), and ``SO_ERROR``
=====================  ===================================================================

Backquoted shell lines go through :mod:`synack.drill.sysctl`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from synack.core import events as ev
from synack.core.config import Config
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.errors import UsageError
from synack.core.ip import build_packet
from synack.core.isn import Rfc6528Isn
from synack.core.listener import Listener
from synack.core.state import State
from synack.core.wire import Segment

from . import runner
from .runner import (
    BIND_PORT,
    Clock,
    DrillFailure,
    Flows,
    ScriptResult,
    build_inbound,
    describe_segment,
    ends_problem,
    match_outbound,
    time_error,
    tolerance_at,
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
    StructArg,
    Symbol,
    SyscallLine,
    TimeKind,
)
from .sysctl import Settings, ShellError, run_shell, with_fields

#: Virtual time of the script's time 0, in the core's microseconds (not 0, so that no
#: timer of the core ever sees a "never" of 0).
EPOCH: Final = 1_000_000_000

ERRNO: Final = {
    "EPERM": 1, "EBADF": 9, "EAGAIN": 11, "EWOULDBLOCK": 11, "EINVAL": 22, "EPIPE": 32,
    "ENOPROTOOPT": 92, "EOPNOTSUPP": 95, "EADDRINUSE": 98, "ECONNABORTED": 103,
    "ECONNRESET": 104, "EISCONN": 106, "ENOTCONN": 107, "ETIMEDOUT": 110,
    "ECONNREFUSED": 111, "EALREADY": 114, "EINPROGRESS": 115,
}
ERRNO_NAME: Final = {v: k for k, v in ERRNO.items() if k != "EWOULDBLOCK"}

SYMBOLS: Final = {
    "AF_INET": 2, "AF_INET6": 10, "PF_INET": 2, "PF_INET6": 10, "SOCK_STREAM": 1,
    "SOCK_NONBLOCK": 0o4000, "IPPROTO_TCP": 6, "IPPROTO_IP": 0, "SOL_SOCKET": 1, "SOL_TCP": 6,
    "F_GETFL": 3, "F_SETFL": 4, "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2, "O_NONBLOCK": 0o4000,
    "SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
    "SO_REUSEADDR": 2, "SO_ERROR": 4, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9,
    "SO_LINGER": 13, "TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5,
    "TCP_KEEPCNT": 6, "TCP_USER_TIMEOUT": 18, "MSG_OOB": 1, "MSG_PEEK": 2, "MSG_DONTWAIT": 0x40,
}
SOCKOPTS: Final = frozenset({
    "SO_REUSEADDR", "SO_LINGER", "SO_RCVBUF", "SO_SNDBUF", "SO_KEEPALIVE", "SO_ERROR",
    "TCP_NODELAY", "TCP_MAXSEG", "TCP_USER_TIMEOUT", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
})
#: How long past its expected return a blocked call is waited for at the end of a script.
HORIZON_US: Final = 600 * 1_000_000


class Unsupported(Exception):
    """The script uses something the synack target cannot do (an ERROR result)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class Sock:
    fd: int
    config: Config
    nonblock: bool = False
    bound: bool = False
    listener: Listener | None = None
    conn: Connection | None = None
    error: int = 0  # pending errno (SO_ERROR): a reset, a refusal, a time-out
    reported: bool = False  # the pending error has been returned once
    shut_rd: bool = False
    shut_wr: bool = False
    connecting: bool = False
    linger: tuple[int, int] = (0, 0)
    reuseaddr: int = 0
    eof: bool = False  # the connection ended and a read returns 0


@dataclass(slots=True)
class Pending:
    """A system call that blocks: retried after every step until it returns."""

    line: SyscallLine
    started: int
    expect_end: int
    remaining: int = 0  # a write's bytes still to queue


def _value(arg: Arg, line: int) -> int:
    """An argument as an integer: numbers, known symbols, ``A|B``, ``[n]``, ``htons(n)``."""
    if isinstance(arg, int):
        return arg
    if isinstance(arg, Symbol):
        if arg.name not in SYMBOLS:
            raise Unsupported(f"unknown symbol {arg.name}")
        return SYMBOLS[arg.name]
    if isinstance(arg, OrArg):
        total = 0
        for item in arg.items:
            total |= _value(item, line)
        return total
    if isinstance(arg, ListArg) and len(arg.items) == 1:
        return _value(arg.items[0], line)
    if isinstance(arg, CallArg) and arg.name in ("htons", "htonl", "ntohs", "ntohl") and len(arg.args) == 1:
        return _value(arg.args[0], line)
    raise Unsupported(f"cannot use {arg} as a number")


@dataclass(slots=True)
class _Run:
    script: Script
    tolerance: int
    verbose: bool
    settings: Settings
    local: str
    remote: str
    ep: Endpoint = field(init=False)
    now: int = 0  # script time (µs from the first event)
    out: list[tuple[int, Segment, str, str]] = field(default_factory=list)  # (when, seg, src, dst)
    socks: dict[int, Sock] = field(default_factory=dict)
    by_conn: dict[Connection, Sock] = field(default_factory=dict)
    flows: Flows = field(init=False)
    pending: Pending | None = None
    clock: Clock = field(default_factory=Clock)
    log: list[str] = field(default_factory=list)
    #: Errors of connections still in an accept queue (a reset before accept()).
    unaccepted: dict[Connection, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.flows = Flows(self.local, self.remote)
        self.ep = Endpoint([self.local], self.settings.config, name="tested",
                           isn=Rfc6528Isn(b"synack drill"))

    # -- time ------------------------------------------------------------------------------
    def drain(self) -> None:
        core = EPOCH + self.now
        for pkt in self.ep.packets_to_send(core):
            self.out.append((self.now, pkt.seg, pkt.src, pkt.dst))
            if self.verbose:
                space = self.flows.for_sent(pkt.seg, pkt.src, pkt.dst)
                self.log.append(f"{self.now / 1e6:.6f} > {describe_segment(pkt.seg, space)}")
        while (event := self.ep.next_event()) is not None:
            self.on_event(event)
        if self.pending is not None:
            self.try_pending()

    def advance(self, to: int, *, until_packet: bool = False) -> None:
        """Run the core's timers up to script time ``to`` (stopping at the first packet
        sent, with ``until_packet``)."""
        while True:
            if until_packet and self.out:
                return
            deadline = self.ep.next_timeout()
            if deadline is None or deadline - EPOCH > to:
                break
            self.now = max(self.now, deadline - EPOCH)
            self.ep.handle_timeout(EPOCH + self.now)
            self.drain()
        self.now = max(self.now, to)
        self.drain()

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.AcceptReady):
            return
        sock = self.by_conn.get(event.conn)
        if sock is None:
            if isinstance(event, ev.ConnectionReset):
                self.unaccepted[event.conn] = ERRNO["ECONNRESET"]  # reported after accept()
            return
        errno = {ev.ConnectionRefused: ERRNO["ECONNREFUSED"], ev.ConnectionReset: ERRNO["ECONNRESET"],
                 ev.ConnectionTimedOut: ERRNO["ETIMEDOUT"]}.get(type(event))
        if isinstance(event, ev.ConnectionReset) and event.conn.peer_closed and not sock.shut_wr:
            errno = ERRNO["EPIPE"]  # a reset in CLOSE-WAIT: Linux tcp_reset's EPIPE
        if errno is not None and not sock.error:
            sock.error = errno
        if isinstance(event, ev.Closed):
            sock.eof = True

    # -- the script ------------------------------------------------------------------------
    def run(self) -> None:
        script = self.script
        if script.init is not None:
            try:
                self.shell(script.init)
            except Unsupported as exc:
                raise Unsupported(exc.message, script.init.line) from None
        events = script.events
        if events and (events[0].time.kind is not TimeKind.ABSOLUTE or events[0].time.usecs):
            raise DrillFailure(events[0].line, "the first event should be at time 0")
        last_time = 0
        for event in events:
            try:
                self.step(event)
            except Unsupported as exc:
                raise Unsupported(exc.message, exc.line or event.line) from None
            except DrillFailure:
                raise
            except Exception as exc:
                # The stack under test raised (a bug to find, not a script's fault): a
                # failure at this line, never a traceback.
                raise DrillFailure(event.line, f"synack raised {type(exc).__name__}: {exc}") from exc
            last_time = max(last_time, self.clock.last_script)
        if self.pending is not None:
            self.finish_pending(self.pending.line.line)
        limit = last_time + self.tolerance
        for when, seg, src, dst in self.out:
            if when <= limit:
                raise DrillFailure(events[-1].line if events else 0,
                                   f"unexpected packet at {when / 1e6:.6f} s: "
                                   f"{describe_segment(seg, self.flows.for_sent(seg, src, dst))}")

    def step(self, event: PacketLine | SyscallLine | ShellLine) -> None:
        inbound = isinstance(event, PacketLine) and event.direction is Direction.INBOUND
        lo, hi = self.clock.resolve(event.time, inbound)
        if isinstance(event, SyscallLine) and self.pending is not None:
            self.finish_pending(event.line)
        if isinstance(event, PacketLine) and event.direction is Direction.OUTBOUND:
            self.expect(event, lo, hi)
        else:
            if lo < self.now and event.time.kind is TimeKind.ABSOLUTE:
                raise DrillFailure(event.line, f"the script's time {lo / 1e6:.6f} s is already past "
                                   f"({self.now / 1e6:.6f} s)")
            self.advance(lo)
            if isinstance(event, PacketLine):
                seg = build_inbound(event, self.flows.for_line(event))
                src, dst = self.flows.addresses(event)
                if self.verbose:
                    self.log.append(f"{self.now / 1e6:.6f} < {event}")
                # As bytes, through the endpoint's parser: what a real stack would drop as
                # malformed (SYN+FIN, SYN+RST) is dropped here too.
                self.ep.receive_packet(build_packet(seg, src, dst), EPOCH + self.now)
                self.drain()
            elif isinstance(event, ShellLine):
                self.shell(event)
            else:
                self.syscall(event)
            self.clock.happened(lo, self.now, inbound)

    def expect(self, line: PacketLine, lo: int, hi: int) -> None:
        tol = tolerance_at(lo, self.clock.last_script, self.tolerance)
        horizon = hi + tol if line.time.kind is not TimeKind.ANY else self.now + HORIZON_US
        if not self.out:
            self.advance(horizon, until_packet=True)
        if not self.out:
            raise DrillFailure(line.line, f"expected {line} but nothing was sent "
                               f"by {horizon / 1e6:.6f} s")
        when, seg, src, dst = self.out.pop(0)
        space = self.flows.for_line(line)
        problem = ends_problem(line, seg, src, dst, self.flows) or \
            match_outbound(line, seg, space, ts_tick_us=self.ts_tick(), tolerance_us=self.tolerance,
                           elapsed_us=when)
        if problem:
            raise DrillFailure(line.line, problem)
        late = time_error(line.time, lo, hi, when, self.clock.last_script, self.tolerance,
                          f"packet {describe_segment(seg, space)}")
        if late:
            raise DrillFailure(line.line, late)
        script_time = lo if line.time.kind is not TimeKind.ANY else when
        self.clock.happened(script_time, when, False)

    def ts_tick(self) -> int:
        value = self.script.option("tcp_ts_tick_usecs")
        return int(value) if value is not None and value.isdigit() else 0

    def shell(self, line: ShellLine) -> None:
        before = self.settings.config
        try:
            run_shell(self.settings, line.command, Path(self.script.source_dir))
        except ShellError as exc:
            raise Unsupported(str(exc)) from None
        after = self.settings.config
        self.ep.config = after
        # Linux reads its sysctls when it needs them: what changed reaches the
        # connections and listeners that exist already (their own options stay).
        changed = {f.name: getattr(after, f.name) for f in dataclasses.fields(Config)
                   if f.init and getattr(after, f.name) != getattr(before, f.name)}
        if changed:
            for conn in self.ep.connections:
                conn.config = with_fields(conn.config, changed)
            for listener in self.ep.listeners:
                listener.config = with_fields(listener.config, changed)
        for sock in self.socks.values():
            if sock.conn is None and sock.listener is None:
                sock.config = self.settings.config

    # -- system calls ----------------------------------------------------------------------
    def syscall(self, line: SyscallLine) -> None:
        if self.verbose:
            self.log.append(f"{self.now / 1e6:.6f}   {line}")
        if line.blocking:
            assert line.end_time is not None
            expect_end = self.clock.end_time(line.time, line.end_time, self.now)
        else:
            expect_end = self.now
        self.pending = Pending(line, self.now, expect_end)
        if line.name in ("write", "send") and len(line.args) > 2:
            self.pending.remaining = _value(line.args[2], line.line)
        self.try_pending()
        self.drain()
        if self.pending is not None and not line.blocking:
            # It blocks, and the script said it would not: give it the tolerance.
            self.advance(self.now + self.tolerance)
            if self.pending is not None:
                raise DrillFailure(line.line, f"{line.name}() blocked; the script expected it to "
                                   "return at once (write 'T...END' for a blocking call)")

    def try_pending(self) -> None:
        p = self.pending
        assert p is not None
        result = self.call(p)
        if result is None:
            return
        self.pending = None
        got_value, got_errno = result
        line = p.line
        want_errno = line.errno
        got = str(got_value) + (f" {ERRNO_NAME.get(got_errno, str(got_errno))}" if got_value == -1 else "")
        if not isinstance(line.result, Ellipsis_):
            want = _value(line.result, line.line)
            if want != got_value or (want == -1 and want_errno is not None
                                     and ERRNO.get(want_errno, -1) != got_errno):
                shown = f"{want}" + (f" {want_errno}" if want_errno else "")
                raise DrillFailure(line.line, f"{line.name}(): expected = {shown}, got = {got}")
        if line.blocking or self.now != p.started:
            spec = dataclasses.replace(line.time, kind=TimeKind.ABSOLUTE)
            late = time_error(spec, p.expect_end, p.expect_end, self.now, p.started, self.tolerance,
                              f"{line.name}() returned")
            if late:
                raise DrillFailure(line.line, late)

    def finish_pending(self, at_line: int) -> None:
        p = self.pending
        assert p is not None
        horizon = p.expect_end + max(self.tolerance, HORIZON_US)
        while self.pending is not None:
            deadline = self.ep.next_timeout()
            if deadline is None or deadline - EPOCH > horizon:
                raise DrillFailure(p.line.line, f"{p.line.name}() never returned")
            self.advance(deadline - EPOCH)

    def sock(self, line: SyscallLine, index: int = 0) -> Sock:
        if not line.args:
            raise Unsupported(f"{line.name}() needs a descriptor")
        fd = _value(line.args[index], line.line)
        if fd not in self.socks:
            raise DrillFailure(line.line, f"{line.name}(): descriptor {fd} is not open")
        return self.socks[fd]

    def new_fd(self) -> int:
        fd = 3
        while fd in self.socks:
            fd += 1
        return fd

    def call(self, p: Pending) -> tuple[int, int] | None:
        """(result, errno) of the call, or None while it blocks."""
        line = p.line
        name = line.name
        if name == "socket":
            fd = self.new_fd()
            nonblock = bool(_value(line.args[1], line.line) & SYMBOLS["SOCK_NONBLOCK"]) \
                if len(line.args) > 1 and not isinstance(line.args[1], Ellipsis_) else False
            self.socks[fd] = Sock(fd, self.settings.config, nonblock=nonblock)
            return fd, 0
        if name == "fcntl":
            return self.fcntl(line)
        if name in ("setsockopt", "getsockopt"):
            return self.sockopt(line)
        sock = self.sock(line)
        if name == "bind":
            sock.bound = True
            return 0, 0
        if name == "listen":
            return self.listen(sock, line)
        if name == "accept":
            return self.accept(sock)
        if name == "connect":
            return self.connect(sock)
        if name in ("read", "recv"):
            return self.read(sock, line)
        if name in ("write", "send"):
            return self.write(sock, line, p)
        if name == "shutdown":
            return self.shutdown(sock, line)
        if name == "close":
            return self.close(sock)
        raise Unsupported(f"system call {name}() is not supported")

    def listen(self, sock: Sock, line: SyscallLine) -> tuple[int, int]:
        if sock.conn is not None:
            return -1, ERRNO["EINVAL"]
        backlog = min(_value(line.args[1], line.line), self.settings.somaxconn)
        if sock.listener is not None:
            sock.listener.backlog = backlog
            return 0, 0
        self.ep.config = sock.config
        try:
            sock.listener = self.ep.listen(BIND_PORT, max(backlog, 0))
        except UsageError:
            return -1, ERRNO["EADDRINUSE"]
        finally:
            self.ep.config = self.settings.config
        return 0, 0

    def accept(self, sock: Sock) -> tuple[int, int] | None:
        if sock.listener is None:
            return -1, ERRNO["EINVAL"]
        conn = sock.listener.accept()
        if conn is None:
            return (-1, ERRNO["EAGAIN"]) if sock.nonblock else None
        fd = self.new_fd()
        new = Sock(fd, conn.config, conn=conn, linger=sock.linger,
                   error=self.unaccepted.pop(conn, 0))
        if conn.state is State.CLOSED:
            new.eof = True
        self.socks[fd] = new
        self.by_conn[conn] = new
        return fd, 0

    def connect(self, sock: Sock) -> tuple[int, int] | None:
        if sock.listener is not None:
            return -1, ERRNO["EISCONN"]
        if sock.conn is None:
            self.ep.config = sock.config
            try:
                conn = self.ep.connect(self.remote, BIND_PORT, EPOCH + self.now,
                                       local_port=BIND_PORT if sock.bound else None)
            finally:
                self.ep.config = self.settings.config
            sock.conn = conn
            sock.connecting = True
            self.by_conn[conn] = sock
            self.flows.main.local_port = conn.local_port
            self.flows.main.remote_port = BIND_PORT
            if sock.nonblock:
                return -1, ERRNO["EINPROGRESS"]
        conn = sock.conn
        if sock.error and not sock.reported:
            sock.reported = True
            return -1, sock.error
        if conn.state in (State.SYN_SENT, State.SYN_RECEIVED):
            return (-1, ERRNO["EALREADY"]) if sock.nonblock else None
        if sock.connecting:
            sock.connecting = False
            return 0, 0
        return -1, ERRNO["EISCONN"]

    def take_error(self, sock: Sock) -> int:
        if sock.error and not sock.reported:
            sock.reported = True
            return sock.error
        return 0

    def read(self, sock: Sock, line: SyscallLine) -> tuple[int, int] | None:
        conn = sock.conn
        if conn is None:
            return -1, ERRNO["ENOTCONN"]
        want = _value(line.args[2], line.line) if len(line.args) > 2 else 0
        if conn.bytes_readable and not sock.shut_rd:
            return len(conn.read(want)), 0
        err = self.take_error(sock)
        if err:
            return -1, err
        if sock.shut_rd or conn.at_eof or sock.eof or conn.state is State.CLOSED:
            return 0, 0
        if conn.state in (State.SYN_SENT, State.SYN_RECEIVED) and sock.nonblock:
            return -1, ERRNO["EAGAIN"]
        return (-1, ERRNO["EAGAIN"]) if sock.nonblock else None

    def write(self, sock: Sock, line: SyscallLine, p: Pending) -> tuple[int, int] | None:
        conn = sock.conn
        if conn is None:
            return -1, ERRNO["EPIPE"] if sock.listener is None else ERRNO["ENOTCONN"]
        size = _value(line.args[2], line.line) if len(line.args) > 2 else 0
        err = self.take_error(sock)
        if err:
            return -1, err
        if sock.shut_wr or sock.error or conn.state in (State.CLOSED, State.FIN_WAIT_1, State.FIN_WAIT_2,
                                                        State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            return -1, ERRNO["EPIPE"]
        if conn.state in (State.SYN_SENT, State.SYN_RECEIVED):
            return (-1, ERRNO["EAGAIN"]) if sock.nonblock else None
        taken = conn.send(bytes(p.remaining)) if p.remaining else 0
        p.remaining -= taken
        if p.remaining == 0:
            return size, 0
        if sock.nonblock:
            done = size - p.remaining
            return (done, 0) if done else (-1, ERRNO["EAGAIN"])
        return None

    def shutdown(self, sock: Sock, line: SyscallLine) -> tuple[int, int]:
        conn = sock.conn
        how = _value(line.args[1], line.line) if len(line.args) > 1 else 2
        if conn is None or (conn.state in (State.CLOSED, State.SYN_SENT) and not sock.connecting):
            return -1, ERRNO["ENOTCONN"]
        if how in (0, 2):
            sock.shut_rd = True
        if how in (1, 2) and not sock.shut_wr:
            sock.shut_wr = True
            conn.shutdown(EPOCH + self.now)
        return 0, 0

    def close(self, sock: Sock) -> tuple[int, int]:
        del self.socks[sock.fd]
        now = EPOCH + self.now
        if sock.listener is not None:
            sock.listener.close(now)
        elif sock.conn is not None and sock.conn.state is not State.CLOSED:
            if sock.linger == (1, 0):
                sock.conn.abort(now)
            else:
                sock.conn.close(now)
        return 0, 0

    def fcntl(self, line: SyscallLine) -> tuple[int, int]:
        sock = self.sock(line)
        cmd = _value(line.args[1], line.line)
        if cmd == SYMBOLS["F_GETFL"]:
            return SYMBOLS["O_RDWR"] | (SYMBOLS["O_NONBLOCK"] if sock.nonblock else 0), 0
        if cmd == SYMBOLS["F_SETFL"]:
            sock.nonblock = bool(_value(line.args[2], line.line) & SYMBOLS["O_NONBLOCK"])
            return 0, 0
        raise Unsupported(f"fcntl command {line.args[1]} is not supported")

    def sockopt(self, line: SyscallLine) -> tuple[int, int]:
        sock = self.sock(line)
        if len(line.args) < 4 or not isinstance(line.args[2], Symbol):
            raise Unsupported(f"{line.name}() needs (fd, level, OPTION, value, len)")
        opt = line.args[2].name
        if opt not in SOCKOPTS:
            raise Unsupported(f"socket option {opt} is not supported")
        if line.name == "getsockopt":
            return self.getsockopt(sock, opt, line)
        arg = line.args[3]
        conn = sock.conn
        now = EPOCH + self.now
        if opt == "SO_LINGER":
            if not isinstance(arg, StructArg):
                raise Unsupported("SO_LINGER takes {l_onoff=N, l_linger=N}")
            onoff, linger = arg.get("l_onoff"), arg.get("l_linger")
            sock.linger = (_value(onoff if onoff is not None else 0, line.line),
                           _value(linger if linger is not None else 0, line.line))
            return 0, 0
        value = _value(arg, line.line)
        if opt == "SO_REUSEADDR":
            sock.reuseaddr = value
            return 0, 0
        if opt == "SO_ERROR":
            return -1, ERRNO["ENOPROTOOPT"]
        field_of = {"SO_RCVBUF": ("rcv_buf", value), "SO_SNDBUF": ("snd_buf", value),
                    "TCP_MAXSEG": ("mss", value), "TCP_NODELAY": ("nodelay", bool(value)),
                    "SO_KEEPALIVE": ("keepalive", bool(value)),
                    "TCP_KEEPIDLE": ("keepalive_time", value * 1_000_000),
                    "TCP_KEEPINTVL": ("keepalive_intvl", value * 1_000_000),
                    "TCP_KEEPCNT": ("keepalive_probes", value),
                    "TCP_USER_TIMEOUT": ("user_timeout", value * 1000 if value else None)}
        name, converted = field_of[opt]
        if conn is not None and opt in ("SO_RCVBUF", "SO_SNDBUF", "TCP_MAXSEG"):
            raise Unsupported(f"{opt} on a connected socket: synack sets it only before connect/listen")
        if opt in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT") and value < 1:
            return -1, ERRNO["EINVAL"]
        if opt == "TCP_USER_TIMEOUT" and value < 0:
            return -1, ERRNO["EINVAL"]
        if opt == "TCP_MAXSEG" and not 88 <= value <= 32767:
            return -1, ERRNO["EINVAL"]
        try:
            sock.config = with_fields(sock.config, {name: converted})
        except ValueError:
            return -1, ERRNO["EINVAL"]
        if conn is not None:
            conn.config = with_fields(conn.config, {name: converted})
            if opt == "TCP_NODELAY":
                conn.nodelay = bool(value)
            elif opt == "SO_KEEPALIVE" or (opt == "TCP_KEEPIDLE" and conn.keepalive):
                # (a new idle time re-arms a running keep-alive timer, as Linux's
                # keepalive_time_when on TCP_KEEPIDLE)
                conn.set_keepalive(bool(value) if opt == "SO_KEEPALIVE" else True, now)
            elif opt == "TCP_USER_TIMEOUT":
                conn.user_timeout = value * 1000 if value else None
        return 0, 0

    def getsockopt(self, sock: Sock, opt: str, line: SyscallLine) -> tuple[int, int]:
        cfg = sock.config
        conn = sock.conn
        if opt == "SO_ERROR":
            got = sock.error if not sock.reported else 0
            sock.reported = True if sock.error else sock.reported
        elif opt == "SO_LINGER":
            raise Unsupported("getsockopt SO_LINGER is not supported")
        else:
            got = {"SO_REUSEADDR": sock.reuseaddr, "SO_RCVBUF": 2 * cfg.rcv_buf, "SO_SNDBUF": 2 * cfg.snd_buf,
                   "TCP_NODELAY": int(conn.nodelay if conn else cfg.nodelay),
                   "TCP_MAXSEG": conn.snd_mss if conn and conn.state is not State.SYN_SENT else cfg.mss,
                   "SO_KEEPALIVE": int(conn.keepalive if conn else cfg.keepalive),
                   "TCP_KEEPIDLE": cfg.keepalive_time // 1_000_000,
                   "TCP_KEEPINTVL": cfg.keepalive_intvl // 1_000_000,
                   "TCP_KEEPCNT": cfg.keepalive_probes,
                   "TCP_USER_TIMEOUT": ((conn.user_timeout if conn else cfg.user_timeout) or 0) // 1000,
                   }[opt]
        want = line.args[3]
        if not isinstance(want, Ellipsis_):
            expected = _value(want, line.line)
            if expected != got:
                raise DrillFailure(line.line, f"getsockopt {opt}: expected [{expected}], got [{got}]")
        return 0, 0


class SynackTarget:
    """Runs scripts against synack's core in virtual time (see the module doc)."""

    name = "synack"

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else Config()
        #: The last run's verbose log (one line per packet and call).
        self.log: list[str] = []

    def run(self, script: Script, *, tolerance_us: int | None = None,
            verbose: bool = False) -> ScriptResult:
        local, remote = runner.addresses(script)
        run = _Run(script, tolerance_for(script, tolerance_us), verbose, Settings(self.config),
                   local, remote)
        try:
            run.run()
        except DrillFailure as exc:
            self.log = run.log
            return runner.failed(script, self.name, exc.line, exc.message)
        except Unsupported as exc:
            self.log = run.log
            return runner.error(script, self.name, exc.line, exc.message)
        self.log = run.log
        return runner.passed(script, self.name)
