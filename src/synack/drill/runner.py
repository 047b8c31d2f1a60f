"""What every drill target does with a script, and the parts they share.

The interface
=============

A target runs one parsed :class:`~synack.drill.script.Script` and says how it went::

    class Target(Protocol):
        name: str                      # "synack", "linux"
        def run(self, script: Script, *, tolerance_us: int | None = None,
                verbose: bool = False) -> ScriptResult: ...

``tolerance_us`` None means the script's ``--tolerance_usecs=N`` option, else
:data:`DEFAULT_TOLERANCE_US` (packetdrill's 4 ms).  A target never raises for what a
script or the stack under test does: every outcome is a :class:`ScriptResult`, made with
:func:`passed`, :func:`failed` or :func:`error`.  :func:`failed` turns a failure into a
declared divergence when the target is ``synack`` and the script has a
``// synack departs: <reason>`` line; on ``linux`` a failure is always a failure (the
kernel is the reference: a script that fails there is a wrong script).

The addresses, ports and sequence spaces (both targets use the same)
--------------------------------------------------------------------

- the tested stack owns :data:`TESTED_V4` 198.18.0.2 (IPv6 :data:`TESTED_V6` fd00::2);
  the script's side is :data:`REMOTE_V4` 198.18.0.1 (fd00::1).  ``--ip_version=ipv6``
  at the top of a script (packetdrill's option) selects IPv6; the default is IPv4.
- ``bind(3, ..., ...)`` binds :data:`BIND_PORT` 8080 (packetdrill's default);
  ``connect(3, ..., ...)`` connects to REMOTE:8080.  The script's side uses port
  :data:`REMOTE_PORT` when it opens (an inbound SYN) and 8080 when the stack connects.
- The script side's ISN is :data:`REMOTE_ISN`; inbound ``start:end`` are relative to it,
  and an inbound ``ack N`` is relative to the tested stack's ISN, learned from the first
  outbound SYN or SYN-ACK (its ``start`` is the relative value; usually 0).  Outbound
  ``start:end`` are relative to the tested stack's ISN and outbound ``ack N`` to
  REMOTE_ISN.  Before the stack has sent a SYN or SYN-ACK (a stray ACK to a
  listener), its ISN counts as 0: inbound acks and outbound seqs are absolute.
  SACK blocks follow their packet's ``ack``.  This is :class:`SeqSpace`;
  :func:`build_inbound` and :func:`match_outbound` use it.
- A packet line that names its ends (packetdrill's ``< 40000>8080 S ...``, or drill's
  ``< 198.18.0.9:40000>198.18.0.2:8080 S ...``) is a connection of its own, with a
  sequence space of its own (the same rules, the same script-side ISN), unless its
  ends are the script's usual ones.  Its inbound packet goes between the addresses
  written (an address the stack does not own, a broadcast one...); an outbound one
  must come from and go to the ends written.  :class:`Flows` keeps the spaces.

Matching an outbound packet (:func:`match_outbound`)
----------------------------------------------------

Compared: the flags (all eight), the relative seq, the payload length, the ack (when
the ACK flag is expected), the window (when ``win`` is written), the urgent pointer (when
``urg`` is written), and the options unless ``<...>``: the same kinds in the same wire
order (NOPs and EOLs included), equal values, except TS val (not checked unless the
script sets ``--tcp_ts_tick_usecs``, as packetdrill) and TS ecr (checked exactly: the
stack echoes what the script sent).  An inbound TS ecr is the script's value of an
earlier outbound TS val and is mapped back to the stack's real value (:class:`SeqSpace`
remembers each outbound TS val seen, as packetdrill does).  Payload bytes are not
compared (writes send zeros).  The result is ``None`` or one line naming what differs.

Time
----

Times are microseconds from the first event (which must be at 0).  A relative time
``+d`` counts from the time the previous event actually happened (an outbound packet's
arrival, a system call's start), except that consecutive inbound packets count from the
previous one's script time (packetdrill's anchoring).  An outbound packet must be seen
within ``[t - tol, t + tol]`` (a range ``a~b``: ``[a - tol, b + tol]``; ``*``: any
time), where ``tol`` is ``max(tolerance_us, 12.5 % of the gap since the previous
event's script time)`` as packetdrill computes it (:func:`time_error`).  Outbound
packets are matched in the order the stack sends them: the next one sent is compared
with the next ``>`` line.  A packet the stack sends that no ``>`` line takes is a
failure if it is sent before the script's last event's time (plus the tolerance); what
the stack sends after the end of the script is not checked.  A blocking system call
(``+0...0.1 read(...)``) must return at its end time within the tolerance; later
lines run while it blocks, and the next system call waits for it.

A failure message is one line: ``expected ... got ...`` or a sentence; the result
carries the script line number of the first mismatch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, Protocol

from synack.core import wire
from synack.core.wire import Options, Segment

from .script import Direction, Ends, PacketLine, Script, TcpOption, TimeKind, TimeSpec

DEFAULT_TOLERANCE_US: Final = 4000  # packetdrill's --tolerance_usecs default
TOLERANCE_PERCENT: Final = 12.5  # packetdrill's --tolerance_percent default

TESTED_V4: Final = "198.18.0.2"
REMOTE_V4: Final = "198.18.0.1"
TESTED_V6: Final = "fd00::2"
REMOTE_V6: Final = "fd00::1"
BIND_PORT: Final = 8080
REMOTE_PORT: Final = 48879
REMOTE_ISN: Final = 0x5EED0000


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    DIVERGED = "declared divergence"  # failed on synack, with `// synack departs:`
    ERROR = "error"  # the script cannot run on this target (unsupported, no root...)


@dataclass(frozen=True, slots=True)
class ScriptResult:
    path: str
    target: str
    outcome: Outcome
    line: int | None = None  # the script line of the first mismatch
    message: str = ""  # one line
    departs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the script passed or its divergence is declared."""
        return self.outcome in (Outcome.PASSED, Outcome.DIVERGED)

    def describe(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        text = f"{self.target}: {where}: {self.outcome.value}"
        if self.outcome is Outcome.DIVERGED:
            text += f" ({'; '.join(self.departs)})"
        if self.message and self.outcome is not Outcome.PASSED:
            text += f": {self.message}"
        return text


class Target(Protocol):
    name: str

    def run(self, script: Script, *, tolerance_us: int | None = None,
            verbose: bool = False) -> ScriptResult: ...


class DrillFailure(Exception):
    """A mismatch, raised inside a target's loop and turned into a result by it."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def passed(script: Script, target: str) -> ScriptResult:
    return ScriptResult(script.path, target, Outcome.PASSED, departs=script.departs)


def failed(script: Script, target: str, line: int | None, message: str) -> ScriptResult:
    outcome = Outcome.DIVERGED if target == "synack" and script.departs else Outcome.FAILED
    return ScriptResult(script.path, target, outcome, line, message, script.departs)


def error(script: Script, target: str, line: int | None, message: str) -> ScriptResult:
    return ScriptResult(script.path, target, Outcome.ERROR, line, message, script.departs)


def tolerance_for(script: Script, tolerance_us: int | None) -> int:
    if tolerance_us is not None:
        return tolerance_us
    value = script.option("tolerance_usecs")
    return int(value) if value is not None and value.isdigit() else DEFAULT_TOLERANCE_US


def addresses(script: Script) -> tuple[str, str]:
    """(the tested stack's address, the script side's address) for this script."""
    if script.option("ip_version") == "ipv6":
        return TESTED_V6, REMOTE_V6
    return TESTED_V4, REMOTE_V4


# -- time ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Clock:
    """Resolves script times to microseconds as packetdrill does (see the module doc)."""

    now: int = 0  # when the previous event actually happened
    last_script: int = 0  # the previous event's script time
    last_inbound: bool = False

    def resolve(self, spec: TimeSpec, inbound: bool) -> tuple[int, int]:
        """(earliest, latest) script time of an event; equal unless a range or ``*``."""
        base = self.last_script if (inbound and self.last_inbound) else self.now
        if spec.kind is TimeKind.ABSOLUTE:
            return spec.usecs, spec.usecs
        if spec.kind is TimeKind.RELATIVE:
            return base + spec.usecs, base + spec.usecs
        if spec.kind is TimeKind.RANGE:
            return spec.usecs, spec.end_usecs or spec.usecs
        if spec.kind is TimeKind.RELATIVE_RANGE:
            return base + spec.usecs, base + (spec.end_usecs or spec.usecs)
        return base, base  # ANY

    def end_time(self, start_spec: TimeSpec, end: TimeSpec, start: int) -> int:
        """A blocking call's expected return.  After a relative start (``+0.1...0.3``) the
        end counts from the same base as the start (packetdrill's rule), else absolute."""
        if start_spec.kind in (TimeKind.RELATIVE, TimeKind.ANY):
            return start - start_spec.usecs + end.usecs
        return end.usecs

    def happened(self, script_time: int, actual: int, inbound: bool) -> None:
        self.last_script = script_time
        self.now = actual
        self.last_inbound = inbound


def tolerance_at(expected: int, last_script: int, tolerance_us: int) -> int:
    dynamic = int(TOLERANCE_PERCENT / 100.0 * (expected - last_script))
    return max(tolerance_us, dynamic)


def time_error(spec: TimeSpec, lo: int, hi: int, actual: int, last_script: int,
               tolerance_us: int, what: str) -> str | None:
    """None when ``actual`` is in ``[lo - tol, hi + tol]``, else one line saying by how much."""
    if spec.kind is TimeKind.ANY:
        return None
    tol = tolerance_at(lo, last_script, tolerance_us)
    if lo - tol <= actual <= hi + tol:
        return None
    want = f"{lo / 1e6:.6f}" if lo == hi else f"{lo / 1e6:.6f}~{hi / 1e6:.6f}"
    return f"{what}: expected at {want} s, happened at {actual / 1e6:.6f} s (tolerance {tol} us)"


# -- sequence spaces -------------------------------------------------------------------------
MOD: Final = 1 << 32


@dataclass(slots=True)
class SeqSpace:
    """One connection's numbering, both ways (see the module doc)."""

    local_port: int = BIND_PORT  # the tested stack's port
    remote_port: int = REMOTE_PORT  # the script side's port
    remote_isn: int = REMOTE_ISN
    local_isn: int | None = None  # learned from the stack's SYN or SYN-ACK
    ts_map: dict[int, int] = field(default_factory=dict)  # script TS val -> actual
    first_ts: tuple[int, int] | None = None  # (script val, actual val) of the first seen

    def learn(self, expected: PacketLine, seg: Segment) -> None:
        if self.local_isn is None and seg.flags & wire.SYN:
            self.local_isn = (seg.seq - expected.start) % MOD

    def rel_local(self, value: int) -> int:
        return (value - (self.local_isn or 0)) % MOD

    def rel_remote(self, value: int) -> int:
        return (value - self.remote_isn) % MOD


FourTuple = tuple[str, int, str, int]  # (script address, script port, stack address, stack port)


@dataclass(slots=True)
class Flows:
    """The script's connections: the usual one (``main``: its ports are the script's
    usual ports, or what ``connect`` chose) and one per other pair of ends a packet
    line names, each with its own :class:`SeqSpace`."""

    tested: str  # the stack's usual address
    remote: str  # the script side's usual address
    main: SeqSpace = field(default_factory=SeqSpace)
    others: dict[FourTuple, SeqSpace] = field(default_factory=dict)

    def _key(self, ends: Ends, direction: Direction) -> FourTuple:
        src = ends.src_addr or (self.remote if direction is Direction.INBOUND else self.tested)
        dst = ends.dst_addr or (self.tested if direction is Direction.INBOUND else self.remote)
        if direction is Direction.INBOUND:
            return src, ends.src_port, dst, ends.dst_port
        return dst, ends.dst_port, src, ends.src_port

    def _is_main(self, key: FourTuple) -> bool:
        main = self.main
        return key == (self.remote, main.remote_port, self.tested, main.local_port)

    def for_line(self, line: PacketLine) -> SeqSpace:
        """The sequence space a packet line counts in (made on first use)."""
        if line.ends is None:
            return self.main
        key = self._key(line.ends, line.direction)
        if self._is_main(key):
            return self.main
        space = self.others.get(key)
        if space is None:
            space = self.others[key] = SeqSpace(local_port=key[3], remote_port=key[1])
        return space

    def for_sent(self, seg: Segment, src: str, dst: str) -> SeqSpace:
        """The sequence space of a segment the stack sent from ``src`` to ``dst``."""
        return self.others.get((dst, seg.dst_port, src, seg.src_port), self.main)

    def addresses(self, line: PacketLine) -> tuple[str, str]:
        """(source, destination) of an inbound line's packet."""
        ends = line.ends
        if ends is None:
            return self.remote, self.tested
        return ends.src_addr or self.remote, ends.dst_addr or self.tested


def ends_problem(line: PacketLine, seg: Segment, src: str, dst: str, flows: Flows) -> str | None:
    """None when a sent segment comes from and goes to the ends ``line`` names (if it
    names them), else one line."""
    ends = line.ends
    if ends is None:
        return None
    want = Ends(ends.src_port, ends.dst_port, ends.src_addr or flows.tested, ends.dst_addr or flows.remote)
    got = Ends(seg.src_port, seg.dst_port, src, dst)
    if (want.src_port, want.dst_port) != (got.src_port, got.dst_port) or \
            ((ends.src_addr is not None or ends.dst_addr is not None) and want != got):
        return f"ends: expected {want} got {got}"
    return None


def option_list(raw: bytes) -> list[TcpOption]:
    """The options of a header, in wire order, as the script writes them."""
    out: list[TcpOption] = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == wire.OPT_EOL:
            out.append(TcpOption("eol"))
            i += 1
            continue
        if kind == wire.OPT_NOP:
            out.append(TcpOption("nop"))
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            out.append(TcpOption(f"kind {kind}"))
            break
        length = raw[i + 1]
        body = raw[i + 2:i + length]
        if kind == wire.OPT_MSS and length == 4:
            out.append(TcpOption("mss", (int.from_bytes(body, "big"),)))
        elif kind == wire.OPT_WSCALE and length == 3:
            out.append(TcpOption("wscale", (body[0],)))
        elif kind == wire.OPT_SACK_PERMITTED and length == 2:
            out.append(TcpOption("sackOK"))
        elif kind == wire.OPT_TIMESTAMPS and length == 10:
            out.append(TcpOption("TS", (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:], "big"))))
        elif kind == wire.OPT_SACK and length >= 10 and (length - 2) % 8 == 0:
            edges = tuple(int.from_bytes(body[j:j + 4], "big") for j in range(0, len(body), 4))
            out.append(TcpOption("sack", edges))
        else:
            out.append(TcpOption(f"kind {kind}", tuple(body)))
        i += length
    return out


def _fmt_opts(opts: list[TcpOption] | tuple[TcpOption, ...]) -> str:
    return "<" + ",".join(str(o) for o in opts) + ">"


def match_outbound(expected: PacketLine, seg: Segment, space: SeqSpace, *,
                   raw_options: bytes | None = None, ts_tick_us: int = 0,
                   tolerance_us: int = DEFAULT_TOLERANCE_US, elapsed_us: int = 0) -> str | None:
    """None when ``seg`` (sent by the tested stack) is what ``expected`` describes; else
    one line naming the first field that differs.  ``raw_options`` are the header's option
    bytes as sent (the linux target has them); without them the synack segment's options
    are laid out by :func:`synack.core.wire.encode_options`, which is what synack sends.
    A match teaches ``space`` the stack's ISN (on a SYN) and its TS vals."""
    assert expected.direction is Direction.OUTBOUND
    space.learn(expected, seg)
    want_flags = expected.flag_bits
    if seg.flags != want_flags:
        return (f"flags: expected {wire.flags_str(want_flags)} got {wire.flags_str(seg.flags)} "
                f"(got {describe_segment(seg, space)})")
    rel_seq = space.rel_local(seg.seq)
    if rel_seq != expected.start % MOD or len(seg.payload) != expected.length:
        return (f"seq: expected {expected.start}:{expected.end}({expected.length}) "
                f"got {rel_seq}:{(rel_seq + len(seg.payload)) % MOD}({len(seg.payload)})")
    if want_flags & wire.ACK:
        rel_ack = space.rel_remote(seg.ack)
        want_ack = (expected.ack or 0) % MOD
        if rel_ack != want_ack:
            return f"ack: expected {want_ack} got {rel_ack}"
    if expected.win is not None and seg.window != expected.win:
        return f"win: expected {expected.win} got {seg.window}"
    if expected.urg is not None and seg.urg != expected.urg:
        return f"urg: expected {expected.urg} got {seg.urg}"
    raw = raw_options if raw_options is not None else wire.encode_options(seg.options)
    actual_opts = option_list(raw)
    if expected.options is not None:
        problem = _match_options(expected.options, actual_opts, space, ts_tick_us,
                                 tolerance_us, elapsed_us)
        if problem:
            return problem
    for opt in actual_opts:  # remember the TS val whether or not it was checked
        if opt.kind == "TS" and expected.options is not None:
            for want in expected.options:
                if want.kind == "TS":
                    space.ts_map[want.values[0]] = opt.values[0]
                    if space.first_ts is None:
                        space.first_ts = (want.values[0], opt.values[0])
    return None


def _match_options(want: tuple[TcpOption, ...], got: list[TcpOption], space: SeqSpace,
                   ts_tick_us: int, tolerance_us: int, elapsed_us: int) -> str | None:
    head = f"options: expected {_fmt_opts(want)} got {_fmt_opts(got)}"
    if [o.kind for o in want] != [o.kind for o in got]:
        return head
    for w, g in zip(want, got, strict=True):
        if w.kind == "TS":
            if w.values[1] != g.values[1]:
                return head + f" (TS ecr {g.values[1]}, expected {w.values[1]})"
            if ts_tick_us and space.first_ts is not None:
                script_first, actual_first = space.first_ts
                mapped = (script_first + (g.values[0] - actual_first)) % MOD
                off = abs(((mapped - w.values[0] + (1 << 31)) % MOD) - (1 << 31))
                tol = max(tolerance_us, int(TOLERANCE_PERCENT / 100.0 * elapsed_us))
                if off * ts_tick_us > tol:
                    return head + f" (TS val {mapped} in script space, expected {w.values[0]})"
        elif w.kind == "sack":
            rel = tuple(space.rel_remote(v) for v in g.values)
            if rel != tuple(v % MOD for v in w.values):
                return f"options: expected {w} got {TcpOption('sack', rel)}"
        elif w != g:
            return head
    return None


def describe_segment(seg: Segment, space: SeqSpace) -> str:
    """A segment in the script's words (relative numbers): ``S. 0:0(0) ack 1 win 65535 <mss 1460>``."""
    letters = "".join(ch for bit, ch in ((wire.FIN, "F"), (wire.SYN, "S"), (wire.RST, "R"),
                                         (wire.PSH, "P"), (wire.ACK, "."), (wire.URG, "U"),
                                         (wire.ECE, "E"), (wire.CWR, "W")) if seg.flags & bit)
    if space.local_isn is not None:
        rel = space.rel_local(seg.seq)
    else:
        rel = 0 if seg.flags & wire.SYN else seg.seq  # a SYN is 0, as the script would write it
    text = f"{letters or '-'} {rel}:{(rel + len(seg.payload)) % MOD}({len(seg.payload)})"
    if seg.flags & wire.ACK:
        text += f" ack {space.rel_remote(seg.ack)}"
    text += f" win {seg.window}"
    if seg.urg:
        text += f" urg {seg.urg}"
    opts = option_list(wire.encode_options(seg.options))
    if opts:
        text += " " + _fmt_opts([TcpOption("sack", tuple(space.rel_remote(v) for v in o.values))
                                 if o.kind == "sack" else o for o in opts])
    return text


def build_inbound(line: PacketLine, space: SeqSpace) -> Segment:
    """The segment the script sends for an inbound line, with absolute numbers.

    Raises :class:`DrillFailure` when the line's TS ecr refers to no TS val an
    outbound line matched.
    """
    assert line.direction is Direction.INBOUND
    flags = line.flag_bits
    ack = 0
    if flags & wire.ACK:
        # Before the stack has sent a SYN there is no ISN to count from: the ack is
        # taken as it is written (and outbound numbers are compared likewise).
        ack = ((space.local_isn or 0) + (line.ack or 0)) % MOD
    mss: int | None = None
    wscale: int | None = None
    sack_ok = False
    ts: tuple[int, int] | None = None
    blocks: list[tuple[int, int]] = []
    for opt in line.options or ():
        if opt.kind == "mss":
            mss = opt.values[0]
        elif opt.kind == "wscale":
            wscale = opt.values[0]
        elif opt.kind == "sackOK":
            sack_ok = True
        elif opt.kind == "TS":
            val, ecr = opt.values
            if flags & wire.ACK:
                if ecr in space.ts_map:
                    ecr = space.ts_map[ecr]
                elif space.first_ts is not None:
                    ecr = (ecr - space.first_ts[0] + space.first_ts[1]) % MOD
                else:
                    raise DrillFailure(line.line, f"TS ecr {ecr}: no outbound TS val seen to map it to")
            ts = (val, ecr)
        elif opt.kind == "sack":
            base = space.local_isn or 0
            edges = opt.values
            blocks.extend(((base + edges[i]) % MOD, (base + edges[i + 1]) % MOD)
                          for i in range(0, len(edges), 2))
    options = Options(mss, wscale, sack_ok, ts, tuple(blocks))
    return Segment(space.remote_port, space.local_port, (space.remote_isn + line.start) % MOD, ack,
                   flags, line.win or 0, options, bytes(line.length), line.urg or 0)


def inbound_option_bytes(line: PacketLine, built: Segment) -> bytes:
    """The option bytes of an inbound line in the order written (nop and eol included),
    with the values of ``built`` (its mapped TS ecr and absolute SACK edges): what the
    linux target writes to the wire.  synack's own Options value loses the order, which
    synack does not look at."""
    out = bytearray()
    blocks = iter(built.options.sack_blocks)
    for opt in line.options or ():
        if opt.kind == "nop":
            out.append(wire.OPT_NOP)
        elif opt.kind == "eol":
            out.append(wire.OPT_EOL)
        elif opt.kind == "mss":
            out += bytes((wire.OPT_MSS, 4)) + opt.values[0].to_bytes(2, "big")
        elif opt.kind == "wscale":
            out += bytes((wire.OPT_WSCALE, 3, opt.values[0]))
        elif opt.kind == "sackOK":
            out += bytes((wire.OPT_SACK_PERMITTED, 2))
        elif opt.kind == "TS":
            val, ecr = built.options.timestamps or (0, 0)
            out += bytes((wire.OPT_TIMESTAMPS, 10)) + val.to_bytes(4, "big") + ecr.to_bytes(4, "big")
        elif opt.kind == "sack":
            n = len(opt.values) // 2
            out += bytes((wire.OPT_SACK, 2 + 8 * n))
            for _ in range(n):
                left, right = next(blocks)
                out += left.to_bytes(4, "big") + right.to_bytes(4, "big")
    while len(out) % 4:
        out.append(wire.OPT_EOL)
    return bytes(out)
