"""Property tests for core/wire.py and core/ip.py, with scapy as an independent reference.

(a) ``parse(serialize(s)) == s`` for random valid segments, over IPv4 and IPv6;
(b) any bytes either parse or raise :class:`MalformedSegment`, never anything else;
(c) our parser and scapy's agree, in both directions, on random segments.

Every test is derandomised and bounded (``max_examples``), so runs repeat exactly.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

from synack.core.errors import DropReason, MalformedSegment
from synack.core.ip import Packet, build_packet, ipv4_header, ipv6_header, parse_packet
from synack.core.wire import (
    FIN,
    RST,
    SYN,
    Options,
    Segment,
    encode_options,
    parse_segment,
    serialize,
    tcp_checksum,
)

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
PORTS = st.integers(1, 0xFFFF)
FLAGS = st.integers(0, 0xFF).filter(lambda f: not (f & SYN and f & (FIN | RST)))


def _addr_pair(version: Literal[4, 6]) -> st.SearchStrategy[tuple[str, str]]:
    addr = st.ip_addresses(v=version).map(str)
    return st.tuples(addr, addr)


ADDRS = st.one_of(_addr_pair(4), _addr_pair(6))


# -- (a) round trip ---------------------------------------------------------------------
def _options_size(mss: int | None, wscale: int | None, sack_ok: bool, ts: object) -> int:
    """Bytes the options take before SACK blocks, in encode_options' layout."""
    size = 4 if mss is not None else 0
    size += 12 if ts is not None else (4 if sack_ok else 0)
    return size + (4 if wscale is not None else 0)


@st.composite
def options(draw: st.DrawFn) -> Options:
    mss = draw(st.none() | st.integers(1, 0xFFFF))  # an MSS of 0 reads back as None
    wscale = draw(st.none() | st.integers(0, 0xFF))
    sack_ok = draw(st.booleans())
    ts = draw(st.none() | st.tuples(U32, U32))
    room = 40 - _options_size(mss, wscale, sack_ok, ts)
    max_blocks = min(4, (room - 4) // 8) if room >= 12 else 0
    blocks = draw(st.lists(st.tuples(U32, U32), max_size=max_blocks))
    return Options(mss, wscale, sack_ok, ts, tuple(blocks))


@st.composite
def segments(draw: st.DrawFn) -> Segment:
    return Segment(
        src_port=draw(PORTS), dst_port=draw(PORTS), seq=draw(U32), ack=draw(U32),
        flags=draw(FLAGS), window=draw(U16), options=draw(options()),
        payload=draw(st.binary(max_size=64)), urg=draw(U16),
    )


@PROPERTY
@given(options())
def test_generated_options_fit_the_header(opts: Options) -> None:
    raw = encode_options(opts)
    assert len(raw) <= 40 and len(raw) % 4 == 0


@PROPERTY
@given(segments(), ADDRS)
def test_segment_round_trip(seg: Segment, addrs: tuple[str, str]) -> None:
    src, dst = addrs
    raw = serialize(seg, src, dst)
    assert parse_segment(raw, src, dst) == seg
    assert parse_segment(raw) == seg


@PROPERTY
@given(segments(), ADDRS)
def test_packet_round_trip(seg: Segment, addrs: tuple[str, str]) -> None:
    src, dst = addrs
    assert parse_packet(build_packet(seg, src, dst)) == Packet(src, dst, seg)


# -- (b) arbitrary bytes never raise anything but MalformedSegment ------------------------
# Random bytes alone rarely get past the version nibble or the data offset, so most
# inputs are built from a rough grammar: real headers around option-like chunks whose
# lengths are often right and sometimes wrong, then mutated, cut or extended.
@st.composite
def _option_chunk(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 8, 30, 254]))
    if kind in (0, 1):
        return bytes([kind])
    body = draw(st.binary(max_size=12))
    length = draw(st.sampled_from([len(body) + 2, len(body) + 2, len(body) + 3, len(body) + 1, 0, 1]))
    return bytes([kind, length & 0xFF]) + body


@st.composite
def fuzz_tcp(draw: st.DrawFn, src: str, dst: str) -> bytes:
    """A TCP header with option-like bytes, usually a right data offset and checksum."""
    opts = b"".join(draw(st.lists(_option_chunk(), max_size=8)))[:40]
    opts += draw(st.binary(min_size=(-len(opts)) % 4, max_size=(-len(opts)) % 4))
    offset = draw(st.sampled_from([5 + len(opts) // 4] * 4 + list(range(16))))
    sport = draw(st.sampled_from([draw(PORTS)] * 9 + [0]))
    flags = draw(FLAGS | st.integers(0, 0xFF))
    head = struct.pack("!HHIIBBHHH", sport, draw(PORTS), draw(U32), draw(U32),
                       offset << 4, flags, draw(U16), 0, draw(U16))
    tcp = head + opts + draw(st.binary(max_size=16))
    if draw(st.sampled_from([True] * 9 + [False])):
        tcp = tcp[:16] + tcp_checksum(tcp, src, dst).to_bytes(2, "big") + tcp[18:]
    return tcp


@st.composite
def fuzz_segments(draw: st.DrawFn) -> tuple[bytes, str, str]:
    src, dst = draw(ADDRS)
    return draw(fuzz_tcp(src, dst)), src, dst


@st.composite
def fuzz_packets(draw: st.DrawFn) -> bytes:
    """An IP packet around :func:`fuzz_tcp`, with a few bytes overwritten, cut or added."""
    src, dst = draw(ADDRS)
    tcp = draw(fuzz_tcp(src, dst))
    header = ipv6_header if ":" in src else ipv4_header
    data = bytearray(header(src, dst, len(tcp)) + tcp)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 4]))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 0xFF))
    cut = draw(st.sampled_from([len(data)] * 4 + [draw(st.integers(0, len(data)))]))
    return bytes(data[:cut]) + draw(st.sampled_from([b""] * 4 + [draw(st.binary(max_size=8))]))


def _check_parse_segment(data: bytes, src: str | None, dst: str | None) -> None:
    try:
        seg = parse_segment(data, src, dst)
    except MalformedSegment as exc:
        assert isinstance(exc.reason, DropReason)
        return
    assert isinstance(seg, Segment)
    assert seg.src_port and seg.dst_port
    assert not (seg.flags & SYN and seg.flags & (FIN | RST))
    assert data.endswith(seg.payload) and len(data) >= 20 + len(seg.payload)


def _check_parse_packet(data: bytes, verify_checksum: bool) -> None:
    try:
        pkt = parse_packet(data, verify_checksum)
    except MalformedSegment as exc:
        assert isinstance(exc.reason, DropReason)
        return
    assert isinstance(pkt, Packet) and isinstance(pkt.seg, Segment)
    ipaddress.ip_address(pkt.src)
    ipaddress.ip_address(pkt.dst)


@PROPERTY
@given(st.binary(max_size=80))
def test_parse_segment_random_bytes(data: bytes) -> None:
    _check_parse_segment(data, None, None)
    _check_parse_segment(data, "198.18.0.1", "198.18.0.2")


@PROPERTY
@given(fuzz_segments())
def test_parse_segment_fuzzed_headers(case: tuple[bytes, str, str]) -> None:
    data, src, dst = case
    _check_parse_segment(data, src, dst)
    _check_parse_segment(data, None, None)


@PROPERTY
@given(st.binary(max_size=120), st.booleans())
def test_parse_packet_random_bytes(data: bytes, verify_checksum: bool) -> None:
    _check_parse_packet(data, verify_checksum)


@PROPERTY
@given(fuzz_packets(), st.booleans())
def test_parse_packet_fuzzed_packets(data: bytes, verify_checksum: bool) -> None:
    _check_parse_packet(data, verify_checksum)


# -- (c) agreement with scapy -------------------------------------------------------------
# scapy option tuples, each with the bytes it takes on the wire.
_SCAPY_OPTION = st.one_of(
    st.tuples(st.just("MSS"), U16).map(lambda o: (o, 4)),
    st.tuples(st.just("WScale"), st.integers(0, 0xFF)).map(lambda o: (o, 3)),
    st.just((("SAckOK", b""), 2)),
    st.tuples(st.just("Timestamp"), st.tuples(U32, U32)).map(lambda o: (o, 10)),
    st.lists(U32, min_size=2, max_size=8).filter(lambda e: len(e) % 2 == 0)
    .map(lambda e: (("SAck", tuple(e)), 2 + 4 * len(e))),
    st.just((("NOP", None), 1)),
    st.just((("EOL", None), 1)),
    # Kinds synack does not know: skipped by our parser, kept raw by scapy.
    st.tuples(st.sampled_from([6, 7, 28, 30, 34, 76, 253, 254]), st.binary(max_size=6))
    .map(lambda o: (o, 2 + len(o[1]))),
)


@st.composite
def scapy_options(draw: st.DrawFn) -> list[tuple[Any, Any]]:
    """A list of scapy options that fits in 40 bytes (scapy pads it with EOL)."""
    out: list[tuple[Any, Any]] = []
    used = 0
    for opt, size in draw(st.lists(_SCAPY_OPTION, max_size=8)):
        if used + size <= 40:
            out.append(opt)
            used += size
    return out


@st.composite
def scapy_packets(draw: st.DrawFn) -> ScapyPacket:
    src, dst = draw(ADDRS)
    ip: ScapyPacket = IP(src=src, dst=dst) if ":" not in src else IPv6(src=src, dst=dst)
    sport = draw(st.sampled_from([draw(PORTS)] * 19 + [0]))
    dport = draw(st.sampled_from([draw(PORTS)] * 19 + [0]))
    # Mostly legal flags, sometimes SYN with FIN or RST; bit 8 is NS (ignored, RFC 9293 §3.1).
    flags = draw(FLAGS | FLAGS | st.integers(0, 0xFF)) | draw(st.sampled_from([0, 0x100]))
    tcp = TCP(sport=sport, dport=dport, seq=draw(U32), ack=draw(U32),
              flags=flags, window=draw(U16), urgptr=draw(U16),
              reserved=draw(st.integers(0, 7)), options=draw(scapy_options()))
    payload = draw(st.binary(max_size=48))
    return ip / tcp / Raw(payload) if payload else ip / tcp


def _options_from_scapy(opts: list[tuple[Any, Any]]) -> Options:
    """scapy's dissected option list, read with synack's rules (last one wins)."""
    mss: int | None = None
    wscale: int | None = None
    sack_ok = False
    ts: tuple[int, int] | None = None
    blocks: tuple[tuple[int, int], ...] = ()
    for name, value in opts:
        if name == "EOL":
            break
        if name == "MSS":
            mss = value or None
        elif name == "WScale":
            wscale = value
        elif name == "SAckOK":
            sack_ok = True
        elif name == "Timestamp":
            ts = (value[0], value[1])
        elif name == "SAck":
            edges = (value,) if isinstance(value, int) else tuple(value)
            blocks = tuple(zip(edges[::2], edges[1::2], strict=True))
    return Options(mss, wscale, sack_ok, ts, blocks)


def _segment_from_scapy(tcp: ScapyPacket) -> Segment:
    return Segment(
        src_port=tcp.sport, dst_port=tcp.dport, seq=tcp.seq, ack=tcp.ack,
        flags=int(tcp.flags) & 0xFF, window=tcp.window, options=_options_from_scapy(tcp.options),
        payload=bytes(tcp.payload), urg=tcp.urgptr,
    )


def _addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def _dissect(raw: bytes) -> ScapyPacket:
    return IPv6(raw) if raw[0] >> 4 == 6 else IP(raw)


@PROPERTY
@given(scapy_packets())
def test_parser_agrees_with_scapy(pkt: ScapyPacket) -> None:
    raw = bytes(pkt)
    theirs = _dissect(raw)
    expected = _segment_from_scapy(theirs[TCP])
    expected_reason: DropReason | None = None
    if expected.src_port == 0 or expected.dst_port == 0:
        expected_reason = DropReason.BAD_PORT
    elif expected.flags & SYN and expected.flags & (FIN | RST):
        expected_reason = DropReason.BAD_FLAGS
    try:
        ours = parse_packet(raw)
    except MalformedSegment as exc:
        assert exc.reason is expected_reason
        return
    assert expected_reason is None
    # Addresses compared as values: scapy writes "::ffff:0.0.0.0" where we write "::ffff:0:0".
    assert _addr(ours.src) == _addr(theirs.src) and _addr(ours.dst) == _addr(theirs.dst)
    assert ours.seg == expected


@PROPERTY
@given(segments(), ADDRS)
def test_scapy_reads_our_packets(seg: Segment, addrs: tuple[str, str]) -> None:
    src, dst = addrs
    raw = build_packet(seg, src, dst)
    theirs = _dissect(raw)
    assert (_addr(theirs.src), _addr(theirs.dst)) == (_addr(src), _addr(dst))
    assert _segment_from_scapy(theirs[TCP]) == seg
    # scapy recomputes both checksums (and lengths) and gets exactly our bytes.
    del theirs[TCP].chksum
    if isinstance(theirs, IP):
        del theirs.chksum
        del theirs.len
    else:
        del theirs.plen
    assert bytes(theirs) == raw
