"""One endpoint under test, and the tape of every call made to it.

Every input is a *step*, a plain tuple whose ``repr`` is Python (so a tape can be
written out as a reproducer and read back):

    ("listen", port, backlog, now)          ("lclose", port, now)
    ("connect", addr, port, local_port, now) ("accept", port, now)
    ("seg", Segment, src, dst, now)         receive_segment
    ("pkt", bytes, verify, tainting, now)   receive_packet (``tainting``: if it parses,
                                            what it carries may not be what was sent)
    ("time", now)                           handle_timeout
    ("quiesce", now)                        the peers fall silent: handle_timeout at every
                                            deadline (each checked as a "time" step) for up to
                                            six hours, then what is left must be waiting for
                                            its application (``Checker.liveness``)
    ("send", key, n, urgent, now)           the application writes n octets
    ("read", key, n, now)                   ... reads (n = -1: all)
    ("shutdown" | "close" | "abort", key, now)
    ("nodelay" | "keepalive", key, on, now)

``key`` is a connection's 4-tuple (local first): the application's handle from
``connect`` or ``accept``.  :meth:`Driver.step` runs one step, then the checks
(:class:`~synfuzz.check.Checker`); a step is the unit the fuzzer counts as an input.
Replaying a tape runs the same steps and checks, so it fails the same way.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synack.core.config import Config
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.errors import UsageError
from synack.core.ip import Packet
from synack.core.listener import Listener
from synack.core.seq import MASK
from synack.core.state import State
from synack.core.trace import TraceRecord
from synack.core.wire import SYN, Options, Segment

from .check import Checker
from .common import US, Failure, FuzzIsn, pattern

Step = tuple[Any, ...]
#: How long the peers stay silent in a "quiesce" step: more than any connection may
#: outlive a silent peer (keep-alive's 2 h + 9 x 75 s; 15 retransmissions at 120 s).
QUIESCE_HORIZON = 6 * 3600 * 1_000_000
#: ... and at most this many expiries (a timer that keeps coming back is a failure).
QUIESCE_EXPIRIES = 20_000
Key = tuple[str, int, str, int]
_CORE = os.sep + os.path.join("synack", "core") + os.sep
_SYNACK = os.sep + "synack" + os.sep


@dataclass(frozen=True)
class Setup:
    """What the endpoint is made with."""

    config: Config
    isn_base: int
    ts_offset: int
    #: Known failures to count and go past (:data:`synfuzz.known.KNOWN`).
    tolerate: frozenset[str] = frozenset()


class Driver:
    """An endpoint, the application's handles, the tape and the checks."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.records: list[TraceRecord] = []
        self.ep = Endpoint(list(US), setup.config, name="us", isn=FuzzIsn(setup.isn_base, setup.ts_offset),
                           tracer=self.records.append)
        self.checker = Checker(self.ep, self.records, setup.tolerate)
        #: The application's connections (from connect and accept), by 4-tuple.
        self.conns: dict[Key, Connection] = {}
        self.listeners: dict[int, Listener] = {}
        #: Octets the application has written to / read from each connection.
        self.written: dict[Connection, int] = {}
        self.read_off: dict[Connection, int] = {}
        #: A corrupted packet with its checksum made right was taken: the octets read
        #: are no longer known to be the octets sent.
        self.tainted = False
        self.tape: list[Step] = []
        self.now = 0

    # -- running a step ----------------------------------------------------------------------
    def step(self, st: Step) -> list[Packet]:
        """Run ``st`` and check; the packets that left.  Raises :class:`Failure`."""
        self.tape.append(st)
        op = st[0]
        now = st[-1]
        if now > self.now:
            self.now = now
        ep = self.ep
        checker = self.checker
        try:
            if op == "seg":
                ep.receive_segment(st[1], st[2], st[3], now)
            elif op == "time":
                ep.handle_timeout(now)
                checker.after_timeout(now)
            elif op == "quiesce":
                self._quiesce(now)
                now = self.now
            elif op == "pkt":
                before = checker.snapshot()
                ep.receive_packet(st[1], now, st[2])
                if checker.after_packet(before) and st[3]:
                    self.tainted = True
            else:
                self._call(st, op, now)
        except Failure:
            raise
        except Exception as exc:  # (a UsageError too: the user calls catch their own)
            raise _escaped(exc, op) from exc
        try:
            return checker.after(now)
        except Failure:
            raise
        except Exception as exc:
            raise _escaped(exc, "output") from exc

    def _quiesce(self, now: int) -> None:
        """Every deadline in turn, for ``QUIESCE_HORIZON`` (what the peers send in the
        meantime is lost), then the liveness check."""
        ep = self.ep
        checker = self.checker
        horizon = now + QUIESCE_HORIZON
        for _ in range(QUIESCE_EXPIRIES):
            nt = ep.next_timeout()
            if nt is None or nt > horizon:
                break
            self.now = t = max(nt, self.now)
            ep.handle_timeout(t)
            checker.after_timeout(t)
            checker.after(t)
        checker.liveness()

    def _call(self, st: Step, op: str, now: int) -> None:
        ep = self.ep
        try:
            if op == "listen":
                self.listeners[st[1]] = ep.listen(st[1], st[2])
                return
            if op == "connect":
                conn = ep.connect(st[1], st[2], now, local_port=st[3])
                self.conns[conn.key] = conn
                return
            if op == "accept":
                listener = self.listeners.get(st[1])
                if listener is not None and (conn := listener.accept()) is not None:
                    self.conns[conn.key] = conn
                return
            if op == "lclose":
                listener = self.listeners.pop(st[1], None)
                if listener is not None:
                    listener.close(now)
                return
            conn = self.conns.get(st[1])
            if conn is None:
                return
            if op == "send":
                off = self.written.get(conn, 0)
                data = pattern((conn.iss + 1 + off) & MASK, st[2])
                self.written[conn] = off + conn.send(data, urgent=st[3])
            elif op == "read":
                data = conn.read(st[2])
                off = self.read_off.get(conn, 0)
                self.read_off[conn] = off + len(data)
                if data and not self.tainted and data != pattern((conn.irs + 1 + off) & MASK, len(data)):
                    self.checker.fail("read-data-corrupt", f"{conn}: the {len(data)} octets read at offset "
                                      f"{off} are not the octets the peer sent there")
            elif op == "shutdown":
                conn.shutdown(now)
            elif op == "close":
                conn.close(now)
            elif op == "abort":
                conn.abort(now)
            elif op == "nodelay":
                conn.nodelay = st[2]
            elif op == "keepalive":
                conn.set_keepalive(st[2], now)
            else:
                raise ValueError(f"unknown step {st!r}")
        except UsageError:
            pass  # the application's mistake, made on purpose: allowed

    def state_of(self, key: Key) -> State | None:
        conn = self.ep._conns.get(key)
        return conn.state if conn is not None else None


def _escaped(exc: BaseException, op: str) -> Failure:
    """An exception that escaped the core, named by its type and the core's line.  (One
    raised by the fuzzer's own code is re-raised: a bug of the fuzzer's, not a finding.)"""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and _SYNACK not in frames[-1].filename:
        raise exc
    core = [f for f in frames if _CORE in f.filename]
    where = type(exc).__name__
    if core:
        f = core[-1]
        where += f"@{Path(f.filename).name}:{f.lineno}"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6))
    failure = Failure("exception", f"{type(exc).__name__}: {exc} (in {op})\n{text}", where)
    return failure


# -- replay, shrinking ---------------------------------------------------------------------------
def replay(setup: Setup, steps: Sequence[Step]) -> Driver:
    """Run ``steps`` on a new endpoint with every check (raises the first Failure)."""
    d = Driver(setup)
    for st in steps:
        d.step(st)
    return d


def fails_as(setup: Setup, steps: Sequence[Step], signature: str) -> bool:
    try:
        replay(setup, steps)
    except Failure as f:
        return f.signature == signature
    return False


def shrink(setup: Setup, steps: list[Step], signature: str, seconds: float) -> list[Step]:
    """The shortest tape found (removing chunks, then single steps) that still fails
    with ``signature``, within ``seconds``."""
    deadline = time.monotonic() + seconds
    chunk = max(len(steps) // 2, 1)
    while chunk >= 1 and time.monotonic() < deadline:
        i = 0
        removed = False
        while i < len(steps) and time.monotonic() < deadline:
            candidate = steps[:i] + steps[i + chunk:]
            if candidate and fails_as(setup, candidate, signature):
                steps = candidate
                removed = True
            else:
                i += chunk
        if not removed:
            chunk //= 2
    return steps


# -- the reproducer file ----------------------------------------------------------------------------
def _fmt_options(o: Options) -> str:
    if o == Options():
        return "Options()"
    parts = []
    for name, value in zip(o._fields, o, strict=True):
        if value != Options._field_defaults[name]:
            parts.append(f"{name}={value!r}")
    return f"Options({', '.join(parts)})"


def _fmt_segment(seg: Segment) -> str:
    payload = seg.payload
    if not payload:
        data = "b''"
    else:
        first = (seg.seq + 1) & MASK if seg.flags & SYN else seg.seq
        data = f"P({first}, {len(payload)})" if payload == pattern(first, len(payload)) else repr(payload)
    return (f"Segment({seg.src_port}, {seg.dst_port}, {seg.seq}, {seg.ack}, {seg.flags:#04x}, {seg.window}, "
            f"{_fmt_options(seg.options)}, {data}, {seg.urg})")


def format_step(st: Step) -> str:
    if st[0] == "seg":
        return f"(\"seg\", {_fmt_segment(st[1])}, {st[2]!r}, {st[3]!r}, {st[4]})"
    if st[0] == "pkt":
        return f"(\"pkt\", bytes.fromhex(\"{st[1].hex()}\"), {st[2]}, {st[3]}, {st[4]})"
    return repr(st)


def describe_step(st: Step) -> str:
    """One line for people: what the step does."""
    op = st[0]
    if op == "seg":
        return f"t={st[4]}: {st[2]} -> {st[3]} {st[1].summary()}"
    if op == "pkt":
        return f"t={st[4]}: raw packet, {len(st[1])} octets"
    if op == "time":
        return f"t={st[1]}: handle_timeout"
    return f"t={st[-1]}: {op}{st[1:-1]!r}"


def write_reproducer(path: Path, setup: Setup, steps: Sequence[Step], failure: Failure, found_by: str,
                     original_length: int) -> None:
    """A runnable reproducer: ``python FILE`` or ``pytest FILE`` replays the steps."""
    scripts = Path(__file__).resolve().parent.parent
    lines = [
        '"""synack fuzz reproducer (written by scripts/fuzz.py).',
        "",
        f"Failure: {failure.kind} [{failure.where}]",
        *["    " + line for line in failure.detail.splitlines()[:12]],
        "",
        f"Found by: {found_by}",
        f"Steps: {len(steps)} (shrunk from {original_length}); the last one fails:",
        *["    " + describe_step(st) for st in steps[-12:]],
        '"""',
        "",
        "import sys",
        "from pathlib import Path",
        "",
        "for _dir in [Path(__file__).resolve().parent, *Path(__file__).resolve().parents,",
        f"             Path({str(scripts)!r})]:",
        "    if (_dir / 'synfuzz').is_dir() or (_dir / 'scripts' / 'synfuzz').is_dir():",
        "        sys.path.insert(0, str(_dir if (_dir / 'synfuzz').is_dir() else _dir / 'scripts'))",
        "        break",
        "",
        "from synack.core.config import Config  # noqa: E402",
        "from synack.core.wire import Options, Segment  # noqa: E402",
        "from synfuzz.common import Failure, pattern as P  # noqa: E402",
        "from synfuzz.driver import Setup, replay  # noqa: E402",
        "",
        f"SETUP = Setup({setup.config!r}, {setup.isn_base}, {setup.ts_offset}, {setup.tolerate!r})",
        "STEPS = [",
        *[f"    {format_step(st)}," for st in steps],
        "]",
        f"SIGNATURE = {failure.signature!r}",
        "",
        "",
        "def test_reproduces() -> None:",
        "    replay(SETUP, STEPS)  # raises the failure while the bug is there",
        "",
        "",
        "if __name__ == '__main__':",
        "    try:",
        "        replay(SETUP, STEPS)",
        "    except Failure as f:",
        "        print('reproduced:', f)",
        "        sys.exit(1 if f.signature == SIGNATURE else 2)",
        "    print('no failure: fixed?')",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def load_reproducer(path: Path) -> tuple[Setup, list[Step], str]:
    """SETUP, STEPS and SIGNATURE of a reproducer file."""
    scope: dict[str, Any] = {"__file__": str(path), "__name__": "synfuzz_reproducer"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), scope)  # our own file
    return scope["SETUP"], scope["STEPS"], scope["SIGNATURE"]


if __name__ == "__main__":  # pragma: no cover
    print("run scripts/fuzz.py", file=sys.stderr)
