"""The TCP header and its options: one semantic value, parse and serialise.

:class:`Segment` is the value the rest of the core works with; bytes exist only at
this boundary.  ``parse_segment`` checks everything a segment can get wrong by
itself (length, data offset, options, checksum, ports, flag combinations) and raises
:class:`~synack.core.errors.MalformedSegment` with a :class:`DropReason`; the
endpoint catches that once and counts it.

``Segment`` and ``Options`` are ``NamedTuple``s rather than frozen dataclasses: they
are built for every segment, and a frozen dataclass costs about five times as much to
construct (measured: 1.28 µs against 0.25 µs for nine fields on CPython 3.11).  They
are immutable values all the same; change one with ``seg._replace(...)``.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import struct
from typing import Final, NamedTuple

from .errors import DropReason, MalformedSegment

# -- flags: plain ints on the hot path, TcpFlags for display -----------------------
FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10
URG: Final = 0x20
ECE: Final = 0x40
CWR: Final = 0x80


class TcpFlags(enum.IntFlag):
    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


# tcpdump's letters, in tcpdump's order: F S R P then A; U, E, W after them.
_FLAG_LETTERS: Final = ((FIN, "F"), (SYN, "S"), (RST, "R"), (PSH, "P"), (ACK, "A"),
                        (URG, "U"), (ECE, "E"), (CWR, "W"))
_FLAG_NAMES: Final = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"),
                      (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"))


@functools.lru_cache(maxsize=256)
def flags_str(flags: int) -> str:
    """tcpdump's letters: ``"S"``, ``"SA"``, ``"FA"``, ``"RA"``, ``"PA"``; ``"."`` for none."""
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit) or "."


@functools.lru_cache(maxsize=256)
def flags_names(flags: int) -> str:
    """Readable names for diagrams: ``"SYN,ACK"``, ``"FIN,ACK"``."""
    return ",".join(name for bit, name in _FLAG_NAMES if flags & bit) or "none"


# -- options ------------------------------------------------------------------------
OPT_EOL: Final = 0
OPT_NOP: Final = 1
OPT_MSS: Final = 2
OPT_WSCALE: Final = 3
OPT_SACK_PERMITTED: Final = 4
OPT_SACK: Final = 5
OPT_TIMESTAMPS: Final = 8


class Options(NamedTuple):
    """The TCP options synack understands (RFC 9293, 7323, 2018).

    ``mss`` of 0 on the wire is read as absent (as Linux and smoltcp do).  Unknown
    options are skipped when parsing and never emitted.
    """

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    timestamps: tuple[int, int] | None = None
    sack_blocks: tuple[tuple[int, int], ...] = ()

    def describe(self) -> list[str]:
        """Short human forms, in wire order: ``["mss 1460", "sackOK", "wscale 7"]``."""
        out: list[str] = []
        if self.mss is not None:
            out.append(f"mss {self.mss}")
        if self.sack_permitted:
            out.append("sackOK")
        if self.timestamps is not None:
            out.append(f"TS val {self.timestamps[0]} ecr {self.timestamps[1]}")
        if self.wscale is not None:
            out.append(f"wscale {self.wscale}")
        if self.sack_blocks:
            out.append("sack " + " ".join(f"{a}:{b}" for a, b in self.sack_blocks))
        return out


NO_OPTIONS: Final = Options()


class Segment(NamedTuple):
    """One TCP segment as a value.  ``ack`` is meaningful only when ACK is set."""

    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    options: Options = NO_OPTIONS
    payload: bytes = b""
    urg: int = 0

    @property
    def seg_len(self) -> int:
        """SEG.LEN: payload octets plus one for SYN and one for FIN (RFC 9293 §3.4)."""
        return len(self.payload) + (self.flags & SYN and 1) + (self.flags & FIN and 1)

    def summary(self) -> str:
        """One line, tcpdump-like: ``[S] seq 100 ack 0 win 65535 len 0``."""
        text = f"[{flags_str(self.flags)}] seq {self.seq}"
        if self.flags & ACK:
            text += f" ack {self.ack}"
        text += f" win {self.window} len {len(self.payload)}"
        opts = self.options.describe()
        if opts:
            text += " <" + ",".join(opts) + ">"
        return text


# -- addresses and the pseudo-header --------------------------------------------------
PROTO_TCP: Final = 6


@functools.lru_cache(maxsize=65536)
def pack_addr(addr: str) -> bytes:
    """``"198.18.0.2"`` → 4 bytes, ``"fd00:5ac::2"`` → 16 bytes (cached)."""
    return ipaddress.ip_address(addr).packed


@functools.lru_cache(maxsize=65536)
def unpack_addr(raw: bytes) -> str:
    """The inverse of :func:`pack_addr` (cached)."""
    return str(ipaddress.ip_address(raw))


@functools.lru_cache(maxsize=65536)
def _pseudo_sum(src: str, dst: str) -> int:
    # The address part of the pseudo-header, as a sum modulo 0xFFFF (see _csum).
    return (int.from_bytes(pack_addr(src) + pack_addr(dst), "big") + PROTO_TCP) % 0xFFFF


def _csum(data: bytes) -> int:
    """The one's-complement sum of ``data`` as 16-bit words, modulo 0xFFFF.

    2**16 ≡ 1 (mod 0xFFFF), so a big-endian integer is congruent to the sum of its
    16-bit words: one ``int.from_bytes`` does the whole sum in C.  A result of 0 means
    the folded one's-complement sum is 0xFFFF ("negative zero").
    """
    if len(data) & 1:
        data += b"\x00"
    return int.from_bytes(data, "big") % 0xFFFF


def internet_checksum(data: bytes) -> int:
    """RFC 1071 checksum of ``data`` (the value to put in a header's checksum field)."""
    r = _csum(data)
    return 0xFFFF - r if r else 0


def tcp_checksum(tcp: bytes, src: str, dst: str) -> int:
    """The TCP checksum of ``tcp`` (checksum field zeroed) for the given addresses."""
    r = (_pseudo_sum(src, dst) + len(tcp) + _csum(tcp)) % 0xFFFF
    return 0xFFFF - r if r else 0


def tcp_checksum_ok(tcp: bytes, src: str, dst: str) -> bool:
    """True when ``tcp``'s checksum field is right for the given addresses."""
    return (_pseudo_sum(src, dst) + len(tcp) + _csum(tcp)) % 0xFFFF == 0


# -- serialise --------------------------------------------------------------------------
_HDR: Final = struct.Struct("!HHIIBBHHH")
_MSS_OPT: Final = struct.Struct("!BBH")
_TS_OPT: Final = struct.Struct("!BBII")
_SACK_EDGE: Final = struct.Struct("!II")


def encode_options(o: Options) -> bytes:
    """Options in Linux's layout (so our SYNs look like the kernel's in a capture)."""
    if o is NO_OPTIONS or o == NO_OPTIONS:
        return b""
    out = bytearray()
    if o.mss is not None:
        out += _MSS_OPT.pack(OPT_MSS, 4, o.mss)
    if o.timestamps is not None:
        if o.sack_permitted:
            out += b"\x04\x02"
        else:
            out += b"\x01\x01"
        out += _TS_OPT.pack(OPT_TIMESTAMPS, 10, o.timestamps[0], o.timestamps[1])
    elif o.sack_permitted:
        out += b"\x01\x01\x04\x02"
    if o.wscale is not None:
        out += bytes((OPT_NOP, OPT_WSCALE, 3, o.wscale))
    if o.sack_blocks:
        out += bytes((OPT_NOP, OPT_NOP, OPT_SACK, 2 + 8 * len(o.sack_blocks)))
        for left, right in o.sack_blocks:
            out += _SACK_EDGE.pack(left, right)
    if len(out) & 3:
        out += b"\x00" * (4 - (len(out) & 3))  # EOL padding (MUST-69)
    if len(out) > 40:
        raise ValueError(f"options need {len(out)} bytes, more than the 40 a header holds")
    return bytes(out)


def serialize(seg: Segment, src: str, dst: str) -> bytes:
    """The TCP header and payload, checksum filled in for ``src``→``dst``."""
    opts = encode_options(seg.options)
    head = _HDR.pack(seg.src_port, seg.dst_port, seg.seq, seg.ack,
                     (5 + len(opts) // 4) << 4, seg.flags, seg.window, 0, seg.urg)
    tcp = head + opts + seg.payload
    csum = tcp_checksum(tcp, src, dst)
    return tcp[:16] + csum.to_bytes(2, "big") + tcp[18:]


# -- parse ------------------------------------------------------------------------------
def decode_options(raw: bytes) -> Options:
    """Parse an option block; unknown kinds are skipped, malformed ones raise."""
    mss: int | None = None
    wscale: int | None = None
    sack_permitted = False
    timestamps: tuple[int, int] | None = None
    sack_blocks: tuple[tuple[int, int], ...] = ()
    i, n = 0, len(raw)
    while i < n:
        kind = raw[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= n:
            raise MalformedSegment(DropReason.BAD_OPTION, f"option {kind} has no length byte")
        length = raw[i + 1]
        if length < 2 or i + length > n:
            raise MalformedSegment(DropReason.BAD_OPTION, f"option {kind} length {length}")
        if kind == OPT_MSS:
            if length != 4:
                raise MalformedSegment(DropReason.BAD_OPTION, f"mss length {length}")
            value = (raw[i + 2] << 8) | raw[i + 3]
            mss = value or None
        elif kind == OPT_WSCALE:
            if length != 3:
                raise MalformedSegment(DropReason.BAD_OPTION, f"wscale length {length}")
            wscale = raw[i + 2]
        elif kind == OPT_SACK_PERMITTED:
            if length != 2:
                raise MalformedSegment(DropReason.BAD_OPTION, f"sackOK length {length}")
            sack_permitted = True
        elif kind == OPT_TIMESTAMPS:
            if length != 10:
                raise MalformedSegment(DropReason.BAD_OPTION, f"timestamps length {length}")
            _, _, val, ecr = _TS_OPT.unpack_from(raw, i)
            timestamps = (val, ecr)
        elif kind == OPT_SACK:
            if length < 10 or (length - 2) % 8:
                raise MalformedSegment(DropReason.BAD_OPTION, f"sack length {length}")
            sack_blocks = tuple(_SACK_EDGE.unpack_from(raw, j) for j in range(i + 2, i + length, 8))
        i += length
    return Options(mss, wscale, sack_permitted, timestamps, sack_blocks)


def parse_segment(data: bytes, src: str | None = None, dst: str | None = None) -> Segment:
    """Parse TCP bytes.  With ``src`` and ``dst`` the checksum is verified too.

    Raises :class:`MalformedSegment` for: fewer than 20 bytes, a data offset below 5
    or beyond the data, malformed options, a bad checksum, port 0, and the flag
    combinations SYN+RST and SYN+FIN (never legitimate; dropped as many stacks do).
    """
    if len(data) < 20:
        raise MalformedSegment(DropReason.TRUNCATED, f"{len(data)} bytes")
    sport, dport, seq, ack, off, flags, window, _csum_field, urg = _HDR.unpack_from(data)
    hlen = (off >> 4) * 4
    if hlen < 20 or hlen > len(data):
        raise MalformedSegment(DropReason.BAD_DATA_OFFSET, f"data offset {off >> 4}")
    if src is not None and dst is not None and not tcp_checksum_ok(data, src, dst):
        raise MalformedSegment(DropReason.BAD_CHECKSUM)
    if sport == 0 or dport == 0:
        raise MalformedSegment(DropReason.BAD_PORT, f"{sport}->{dport}")
    if flags & SYN and flags & (RST | FIN):
        raise MalformedSegment(DropReason.BAD_FLAGS, flags_str(flags))
    options = decode_options(data[20:hlen]) if hlen > 20 else NO_OPTIONS
    # The four reserved bits (the low nibble of `off`) are ignored (RFC 9293 §3.1).
    return Segment(sport, dport, seq, ack, flags, window, options, bytes(data[hlen:]), urg)
