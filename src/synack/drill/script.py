"""A drill script as values: what :mod:`synack.drill.parser` makes of a packetdrill file.

A script is a list of events, each with the line it came from and a time:

- :class:`PacketLine`: ``+0 < S 0:0(0) win 65535 <mss 1460>`` (inbound ``<``, sent by
  the script to the tested stack) or ``+0 > S. 0:0(0) ack 1 <...>`` (outbound ``>``,
  expected from the tested stack);
- :class:`SyscallLine`: ``+0 accept(3, ..., ...) = 4``, with an expected result, an
  errno, and for a call that blocks across later lines (``+0...0.1 read(...)``) the
  time it is expected to return;
- :class:`ShellLine`: a backquoted command (``+0 `sysctl -q net.ipv4.tcp_sack=0```).

Sequence numbers are relative, as packetdrill writes them: an inbound packet's
``start:end`` counts from the script side's ISN and its ``ack`` from the tested
stack's ISN; an outbound packet's the other way round (see :mod:`synack.drill.runner`).
A packet line may name its ports, as packetdrill's ``< 40000>8080 S ...`` (each
script-side port is a connection of its own, with its own relative numbers), and,
beyond packetdrill, its addresses: ``< 198.18.0.9:40000>198.18.0.2:8080 S ...``
(:class:`Ends`).
Times are integer microseconds.  A comment ``// synack departs: <reason>`` anywhere in
the file declares that the synack target is known to differ from Linux on this script.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final


class TimeKind(enum.Enum):
    ABSOLUTE = "absolute"  # 0.100
    RELATIVE = "relative"  # +0.100: after the previous event's time
    ANY = "any"  # *: outbound packets only
    RANGE = "range"  # 0.1~0.2, absolute
    RELATIVE_RANGE = "relative range"  # +0.1~+0.2


@dataclass(frozen=True, slots=True)
class TimeSpec:
    kind: TimeKind
    usecs: int = 0  # the time (or the range's start); 0 for ANY
    end_usecs: int | None = None  # a range's end

    def __str__(self) -> str:
        def fmt(us: int) -> str:
            return f"{us / 1e6:.6f}".rstrip("0").rstrip(".") if us % 1_000_000 else str(us // 1_000_000)

        if self.kind is TimeKind.ANY:
            return "*"
        if self.kind is TimeKind.RELATIVE:
            return "+" + fmt(self.usecs)
        if self.kind is TimeKind.RANGE:
            return f"{fmt(self.usecs)}~{fmt(self.end_usecs or 0)}"
        if self.kind is TimeKind.RELATIVE_RANGE:
            return f"+{fmt(self.usecs)}~+{fmt(self.end_usecs or 0)}"
        return fmt(self.usecs)


class Direction(enum.Enum):
    INBOUND = "<"  # from the script to the tested stack
    OUTBOUND = ">"  # from the tested stack, to be matched


# packetdrill's flag letters: F S R P, '.' for ACK, U E W (URG, ECE, CWR).
FLAG_LETTERS: Final = "FSRP.UEW"


@dataclass(frozen=True, slots=True)
class TcpOption:
    """One option as written: ``mss 1460`` is ``TcpOption("mss", (1460,))``.

    Kinds: ``mss``, ``nop``, ``eol``, ``wscale``, ``sackOK``, ``sack`` (values are the
    blocks' edges, left and right in turn) and ``TS`` (val, ecr).
    """

    kind: str
    values: tuple[int, ...] = ()

    def __str__(self) -> str:
        if self.kind == "TS":
            return f"TS val {self.values[0]} ecr {self.values[1]}"
        if self.kind == "sack":
            edges = self.values
            return "sack " + " ".join(f"{edges[i]}:{edges[i + 1]}" for i in range(0, len(edges), 2))
        if self.values:
            return f"{self.kind} {self.values[0]}"
        return self.kind


@dataclass(frozen=True, slots=True)
class Ends:
    """A packet line's ports (packetdrill's ``SRC>DST``) and, when written, addresses
    (``ADDR:SRC>ADDR:DST``, an IPv6 address in brackets): source first, as on the
    wire, whatever the direction.  None: the script's usual address."""

    src_port: int
    dst_port: int
    src_addr: str | None = None
    dst_addr: str | None = None

    def __str__(self) -> str:
        def end(addr: str | None, port: int) -> str:
            if addr is None:
                return str(port)
            return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"

        return f"{end(self.src_addr, self.src_port)}>{end(self.dst_addr, self.dst_port)}"


@dataclass(frozen=True, slots=True)
class PacketLine:
    line: int
    time: TimeSpec
    direction: Direction
    flags: str  # as written, "S", "S.", "P.", "F.", "R.", ""; letters from FLAG_LETTERS
    start: int  # relative sequence number of the first octet (or of the SYN/FIN)
    end: int
    length: int  # payload octets
    ack: int | None = None  # `ack N` (relative); None when not written
    win: int | None = None  # `win N`: the raw 16-bit field; None: not checked (outbound only)
    urg: int | None = None  # `urg N`: the urgent pointer field
    options: tuple[TcpOption, ...] | None = ()  # None: `<...>`, not checked (outbound only)
    ends: Ends | None = None  # `40000>8080` or `ADDR:PORT>ADDR:PORT`; None: the script's usual

    @property
    def flag_bits(self) -> int:
        from synack.core import wire

        bits = 0
        for letter, bit in (("F", wire.FIN), ("S", wire.SYN), ("R", wire.RST), ("P", wire.PSH),
                            (".", wire.ACK), ("U", wire.URG), ("E", wire.ECE), ("W", wire.CWR)):
            if letter in self.flags:
                bits |= bit
        return bits

    def __str__(self) -> str:
        text = f"{self.time} {self.direction.value} "
        if self.ends is not None:
            text += f"{self.ends} "
        text += f"{self.flags or '-'} "
        text += f"{self.start}:{self.end}({self.length})"
        if self.ack is not None:
            text += f" ack {self.ack}"
        if self.win is not None:
            text += f" win {self.win}"
        if self.urg is not None:
            text += f" urg {self.urg}"
        if self.options is None:
            text += " <...>"
        elif self.options:
            text += " <" + ",".join(str(o) for o in self.options) + ">"
        return text


# -- system call arguments ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ellipsis_:
    """``...``: an argument the script does not care about (packetdrill fills it in)."""

    def __str__(self) -> str:
        return "..."


ELLIPSIS: Final = Ellipsis_()


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name: ``SOCK_STREAM``, ``O_NONBLOCK``, ``SO_LINGER``."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class StringArg:
    text: str

    def __str__(self) -> str:
        return f'"{self.text}"'


@dataclass(frozen=True, slots=True)
class ListArg:
    """``[1]``, ``[1000]``: packetdrill's arrays (an int passed by pointer)."""

    items: tuple[Arg, ...]

    def __str__(self) -> str:
        return "[" + ", ".join(str(i) for i in self.items) + "]"


@dataclass(frozen=True, slots=True)
class StructArg:
    """``{l_onoff=1, l_linger=0}`` and ``{sa_family=AF_INET, ...}``."""

    fields: tuple[tuple[str, Arg], ...]

    def get(self, name: str) -> Arg | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={v}" for k, v in self.fields) + "}"


@dataclass(frozen=True, slots=True)
class OrArg:
    """``O_RDWR|O_NONBLOCK``."""

    items: tuple[Arg, ...]

    def __str__(self) -> str:
        return "|".join(str(i) for i in self.items)


@dataclass(frozen=True, slots=True)
class CallArg:
    """``htons(8080)``, ``inet_addr("192.0.2.1")``."""

    name: str
    args: tuple[Arg, ...]

    def __str__(self) -> str:
        return f"{self.name}(" + ", ".join(str(a) for a in self.args) + ")"


Arg = int | Ellipsis_ | Symbol | StringArg | ListArg | StructArg | OrArg | CallArg


@dataclass(frozen=True, slots=True)
class SyscallLine:
    line: int
    time: TimeSpec
    name: str
    args: tuple[Arg, ...]
    result: Arg  # usually an int; `...` for "any"
    errno: str | None = None  # "EINPROGRESS"
    note: str | None = None  # "(Operation now in progress)", without the parentheses
    end_time: TimeSpec | None = None  # set for a blocking call: `+0...0.1 read(...)`

    @property
    def blocking(self) -> bool:
        return self.end_time is not None

    def __str__(self) -> str:
        text = f"{self.time}"
        if self.end_time is not None:
            text += f"...{self.end_time}"
        text += f" {self.name}(" + ", ".join(str(a) for a in self.args) + f") = {self.result}"
        if self.errno:
            text += f" {self.errno}"
        return text


@dataclass(frozen=True, slots=True)
class ShellLine:
    line: int
    time: TimeSpec
    command: str  # the text between the backquotes

    def __str__(self) -> str:
        return f"{self.time} `{self.command}`"


Event = PacketLine | SyscallLine | ShellLine


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed script.  ``options`` are packetdrill's ``--name=value`` lines at the top
    (``--tolerance_usecs=10000``, ``--ip_version=ipv6``); ``departs`` are the reasons
    given on ``// synack departs: <reason>`` lines; ``init`` is a backquoted command
    before the first event (packetdrill runs it first: an include of sysctls)."""

    path: str
    events: tuple[Event, ...]
    departs: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    init: ShellLine | None = None
    source_dir: str = field(default=".")

    def option(self, name: str) -> str | None:
        for key, value in self.options:
            if key == name:
                return value
        return None
