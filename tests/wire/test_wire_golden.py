"""Golden bytes for the TCP header (core/wire.py) and the IP layer (core/ip.py).

smoltcp's pattern: each literal below is checked in both directions, parse → the
expected ``Segment`` and serialise → the same bytes, and every malformation has its
own test asserting the exact :class:`DropReason`.  The literals were checked once
against scapy 2.8 (``bytes(IP(...)/TCP(...))``) when they were written; the tests
themselves depend on nothing but the bytes.
"""

from __future__ import annotations

import struct

import pytest

from synack.core.errors import DropReason, MalformedSegment
from synack.core.ip import Packet, build_packet, parse_packet
from synack.core.wire import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    Options,
    Segment,
    parse_segment,
    serialize,
    tcp_checksum,
)

CLIENT, SERVER = "198.18.0.1", "198.18.0.2"
CLIENT6, SERVER6 = "fd00::1", "fd00::2"
ISS_C, ISS_S = 0x9A3C5E01, 0x1F2E3D4C
TS_C, TS_S = 3428412345, 12345678


def hexbytes(text: str) -> bytes:
    """Hex with spaces and newlines for readability (one header field per group)."""
    return bytes.fromhex("".join(text.split()))


# -- the golden segments --------------------------------------------------------------
# Each: (src address, dst address, bytes, segment).  The layout comments give
# sport dport / seq / ack / offset+flags window / checksum urg / options / payload.

SYN_BYTES = hexbytes("""
    b26e 0050  9a3c5e01  00000000  a0 02 faf0  ddd7 0000
    020405b4  0402  080a cc596bb9 00000000  01  030307
""")
SYN_SEG = Segment(45678, 80, ISS_C, 0, SYN, 64240, Options(1460, 7, True, (TS_C, 0)))

SYN_ACK_BYTES = hexbytes("""
    0050 b26e  1f2e3d4c  9a3c5e02  a0 12 fe88  1baa 0000
    020405b4  0402  080a 00bc614e cc596bb9  01  030307
""")
SYN_ACK_SEG = Segment(80, 45678, ISS_S, ISS_C + 1, SYN | ACK, 65160,
                      Options(1460, 7, True, (TS_S, TS_C)))

ACK_BYTES = hexbytes("""
    b26e 0050  9a3c5e02  1f2e3d4d  80 10 01f6  4708 0000
    0101  080a cc596bba 00bc614e
""")
ACK_SEG = Segment(45678, 80, ISS_C + 1, ISS_S + 1, ACK, 502, Options(timestamps=(TS_C + 1, TS_S)))

# An odd-length payload, so the checksum's zero padding is exercised.
DATA_PAYLOAD = b"GET / HTTP/1.0\r\n\r\n!"
DATA_BYTES = hexbytes("""
    b26e 0050  9a3c5e02  1f2e3d4d  50 18 01f6  1a83 0000
    474554202f20485454502f312e300d0a0d0a21
""")
DATA_SEG = Segment(45678, 80, ISS_C + 1, ISS_S + 1, PSH | ACK, 502, payload=DATA_PAYLOAD)

FIN_ACK_BYTES = hexbytes("0050 b26e  1f2e3d4d  9a3c5e15  50 11 01fd  1a23 0000")
FIN_ACK_SEG = Segment(80, 45678, ISS_S + 1, ISS_C + 20, FIN | ACK, 509)

RST_ACK_BYTES = hexbytes("0050 b26e  00000000  9a3c5e02  50 14 0000  78ab 0000")
RST_ACK_SEG = Segment(80, 45678, 0, ISS_C + 1, RST | ACK, 0)

SACK_BYTES = hexbytes("""
    0050 b26e  1f2e3d4d  9a3c5e02  d0 10 01fd  e8c4 0000
    0101  080a 00bc6155 cc596bbc
    0101  0512 9a3c61ea 9a3c65d2 9a3c69ba 9a3c6da2
""")
SACK_SEG = Segment(80, 45678, ISS_S + 1, ISS_C + 1, ACK, 509,
                   Options(timestamps=(TS_S + 7, TS_C + 3),
                           sack_blocks=((ISS_C + 1001, ISS_C + 2001), (ISS_C + 3001, ISS_C + 4001))))

GOLDEN: dict[str, tuple[str, str, bytes, Segment]] = {
    "syn": (CLIENT, SERVER, SYN_BYTES, SYN_SEG),
    "syn-ack": (SERVER, CLIENT, SYN_ACK_BYTES, SYN_ACK_SEG),
    "ack": (CLIENT, SERVER, ACK_BYTES, ACK_SEG),
    "data-psh": (CLIENT, SERVER, DATA_BYTES, DATA_SEG),
    "fin-ack": (SERVER, CLIENT, FIN_ACK_BYTES, FIN_ACK_SEG),
    "rst-ack": (SERVER, CLIENT, RST_ACK_BYTES, RST_ACK_SEG),
    "sack": (SERVER, CLIENT, SACK_BYTES, SACK_SEG),
}
GOLDEN_IDS = list(GOLDEN)

# The SYN above inside IPv4 (ident 0x1234, DF, TTL 64), and the SYN-ACK inside IPv6.
IPV4_SYN_BYTES = hexbytes("""
    45 00 003c  1234 4000  40 06 9c60  c6120001  c6120002
""") + SYN_BYTES
IPV6_SYN_ACK_BYTES = hexbytes("""
    60000000  0028 06 40
    fd000000000000000000000000000002
    fd000000000000000000000000000001
    0050 b26e  1f2e3d4c  9a3c5e02  a0 12 fe88  adcd 0000
    020405b4  0402  080a 00bc614e cc596bb9  01  030307
""")


@pytest.mark.parametrize("name", GOLDEN_IDS)
def test_parse_golden(name: str) -> None:
    src, dst, raw, seg = GOLDEN[name]
    assert parse_segment(raw, src, dst) == seg


@pytest.mark.parametrize("name", GOLDEN_IDS)
def test_serialize_golden(name: str) -> None:
    src, dst, raw, seg = GOLDEN[name]
    assert serialize(seg, src, dst) == raw


@pytest.mark.parametrize("name", GOLDEN_IDS)
def test_parse_golden_without_addresses_skips_checksum(name: str) -> None:
    _src, _dst, raw, seg = GOLDEN[name]
    corrupted = raw[:16] + bytes([raw[16] ^ 0xFF]) + raw[17:]
    assert parse_segment(corrupted) == seg


def test_golden_field_details() -> None:
    # A few fields spelled out, so a wrong expectation above cannot hide a wrong parse.
    syn = parse_segment(SYN_BYTES, CLIENT, SERVER)
    assert (syn.src_port, syn.dst_port, syn.seq, syn.window) == (45678, 80, 0x9A3C5E01, 64240)
    assert syn.flags == SYN and syn.seg_len == 1
    assert syn.options.mss == 1460 and syn.options.wscale == 7 and syn.options.sack_permitted
    assert syn.options.timestamps == (3428412345, 0)
    data = parse_segment(DATA_BYTES, CLIENT, SERVER)
    assert data.payload == DATA_PAYLOAD and data.seg_len == 19
    fin = parse_segment(FIN_ACK_BYTES, SERVER, CLIENT)
    assert fin.seg_len == 1 and fin.ack == ISS_C + 20


def test_ipv4_packet_golden() -> None:
    assert build_packet(SYN_SEG, CLIENT, SERVER, ttl=64, ident=0x1234) == IPV4_SYN_BYTES
    assert parse_packet(IPV4_SYN_BYTES) == Packet(CLIENT, SERVER, SYN_SEG)


def test_ipv6_packet_golden() -> None:
    assert build_packet(SYN_ACK_SEG, SERVER6, CLIENT6, ttl=64) == IPV6_SYN_ACK_BYTES
    assert parse_packet(IPV6_SYN_ACK_BYTES) == Packet(SERVER6, CLIENT6, SYN_ACK_SEG)


def test_ipv4_trailing_bytes_beyond_total_length_are_ignored() -> None:
    # Ethernet pads short frames: bytes after the IPv4 total length are not TCP's.
    assert parse_packet(IPV4_SYN_BYTES + b"\x00" * 6) == Packet(CLIENT, SERVER, SYN_SEG)


def test_ipv4_header_options_are_skipped() -> None:
    # IHL 6: one word of options (NOP NOP NOP EOL) before the TCP header.
    head = ipv4_reseal(bytes([0x46]) + IPV4_SYN_BYTES[1:2]
                       + struct.pack("!H", 24 + len(SYN_BYTES)) + IPV4_SYN_BYTES[4:20] + b"\x01\x01\x01\x00")
    assert parse_packet(head + SYN_BYTES) == Packet(CLIENT, SERVER, SYN_SEG)


def test_parse_packet_without_checksum_verification() -> None:
    bad = IPV4_SYN_BYTES[:36] + b"\x00\x00" + IPV4_SYN_BYTES[38:]
    with pytest.raises(MalformedSegment) as exc:
        parse_packet(bad)
    assert exc.value.reason is DropReason.BAD_CHECKSUM
    assert parse_packet(bad, verify_checksum=False) == Packet(CLIENT, SERVER, SYN_SEG)


# -- helpers for the malformations ----------------------------------------------------
def tcp_reseal(tcp: bytes, src: str = CLIENT, dst: str = SERVER) -> bytes:
    """``tcp`` with a correct checksum, so a test fails for its own reason only."""
    zeroed = tcp[:16] + b"\x00\x00" + tcp[18:]
    return zeroed[:16] + tcp_checksum(zeroed, src, dst).to_bytes(2, "big") + zeroed[18:]


def ones_complement_checksum(data: bytes) -> int:
    """RFC 1071, written out word by word (independent of wire.internet_checksum)."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_reseal(head: bytes) -> bytes:
    """An IPv4 header with its checksum recomputed."""
    zeroed = head[:10] + b"\x00\x00" + head[12:]
    return zeroed[:10] + ones_complement_checksum(zeroed).to_bytes(2, "big") + zeroed[12:]


def with_options(opts: bytes, flags: int = SYN, payload: bytes = b"") -> bytes:
    """A client→server segment carrying ``opts`` (a multiple of 4 bytes), checksum right."""
    assert len(opts) % 4 == 0 and len(opts) <= 40
    head = struct.pack("!HHIIBBHHH", 45678, 80, ISS_C, 0, (5 + len(opts) // 4) << 4, flags, 64240, 0, 0)
    return tcp_reseal(head + opts + payload)


def drop_reason_of_segment(raw: bytes, src: str | None = CLIENT, dst: str | None = SERVER) -> DropReason:
    with pytest.raises(MalformedSegment) as exc:
        parse_segment(raw, src, dst)
    return exc.value.reason


def drop_reason_of_packet(raw: bytes) -> DropReason:
    with pytest.raises(MalformedSegment) as exc:
        parse_packet(raw)
    return exc.value.reason


def test_helpers_build_valid_segments() -> None:
    # The helpers themselves: what they build is accepted, so a test using them fails
    # only for the malformation it introduces.
    assert parse_segment(with_options(b"\x02\x04\x05\xb4"), CLIENT, SERVER).options.mss == 1460
    assert ipv4_reseal(IPV4_SYN_BYTES[:20]) == IPV4_SYN_BYTES[:20]
    assert tcp_reseal(SYN_BYTES) == SYN_BYTES


# -- malformed TCP --------------------------------------------------------------------
@pytest.mark.parametrize("length", [0, 1, 19])
def test_truncated_segment(length: int) -> None:
    assert drop_reason_of_segment(SYN_BYTES[:length]) is DropReason.TRUNCATED


@pytest.mark.parametrize("offset", [0, 4])
def test_data_offset_below_five(offset: int) -> None:
    raw = tcp_reseal(FIN_ACK_BYTES[:12] + bytes([offset << 4]) + FIN_ACK_BYTES[13:], SERVER, CLIENT)
    assert drop_reason_of_segment(raw, SERVER, CLIENT) is DropReason.BAD_DATA_OFFSET


def test_data_offset_beyond_data() -> None:
    # Offset 10 (40 bytes) but only 32 bytes arrived.
    raw = tcp_reseal(SYN_BYTES[:32])
    assert drop_reason_of_segment(raw) is DropReason.BAD_DATA_OFFSET


def test_option_without_length_byte() -> None:
    # Three NOPs, then an MSS kind in the last byte of the header.
    assert drop_reason_of_segment(with_options(b"\x01\x01\x01\x02")) is DropReason.BAD_OPTION


@pytest.mark.parametrize("opts", [
    b"\x08\x00\x00\x00",          # timestamps, length 0
    b"\x08\x01\x00\x00",          # timestamps, length 1
    b"\x1e\x00\x01\x01",          # unknown kind 30, length 0: still malformed
    b"\x1e\x01\x01\x01",          # unknown kind 30, length 1
], ids=["ts-len0", "ts-len1", "unknown-len0", "unknown-len1"])
def test_option_length_below_two(opts: bytes) -> None:
    assert drop_reason_of_segment(with_options(opts)) is DropReason.BAD_OPTION


@pytest.mark.parametrize("opts", [
    b"\x02\x08\x05\xb4",                       # MSS claims 8 bytes in a 4-byte block
    b"\x01\x01\x1e\x05",                       # unknown kind runs past the header
    b"\x01\x01\x08\x0a\x00\x00\x00\x01",       # timestamps cut short by the header end
], ids=["mss", "unknown", "timestamps"])
def test_option_overrunning_header(opts: bytes) -> None:
    assert drop_reason_of_segment(with_options(opts, payload=b"\x00" * 8)) is DropReason.BAD_OPTION


@pytest.mark.parametrize("opts", [
    b"\x02\x03\x05\x01",                                   # MSS length 3
    b"\x02\x06\x05\xb4\x00\x00\x01\x01",                   # MSS length 6
    b"\x03\x02\x01\x01",                                   # wscale length 2
    b"\x03\x04\x07\x00",                                   # wscale length 4
    b"\x04\x03\x00\x01",                                   # sackOK length 3
    b"\x04\x04\x00\x00",                                   # sackOK length 4
    b"\x08\x08" + b"\x00" * 6,                             # timestamps length 8
    b"\x08\x0c" + b"\x00" * 10,                            # timestamps length 12
    b"\x05\x02\x01\x01",                                   # SACK with no block
    b"\x05\x08" + b"\x00" * 6,                             # SACK length 8 (< one block)
    b"\x05\x0e" + b"\x00" * 12 + b"\x01\x01",              # SACK length 14 (not 2 + 8n)
], ids=["mss3", "mss6", "ws2", "ws4", "sackok3", "sackok4", "ts8", "ts12", "sack2", "sack8", "sack14"])
def test_option_wrong_length_for_kind(opts: bytes) -> None:
    assert drop_reason_of_segment(with_options(opts)) is DropReason.BAD_OPTION


def test_bad_checksum_in_payload() -> None:
    raw = DATA_BYTES[:-1] + bytes([DATA_BYTES[-1] ^ 0x01])
    assert drop_reason_of_segment(raw) is DropReason.BAD_CHECKSUM


def test_bad_checksum_for_other_addresses() -> None:
    # Right bytes, wrong pseudo-header: the checksum covers the addresses.
    assert drop_reason_of_segment(SYN_BYTES, CLIENT, "198.18.0.3") is DropReason.BAD_CHECKSUM
    assert drop_reason_of_segment(DATA_BYTES, CLIENT, "198.18.0.3") is DropReason.BAD_CHECKSUM


@pytest.mark.parametrize("ports", [(0, 80), (45678, 0), (0, 0)])
def test_port_zero(ports: tuple[int, int]) -> None:
    raw = tcp_reseal(struct.pack("!HH", *ports) + FIN_ACK_BYTES[4:])
    assert drop_reason_of_segment(raw) is DropReason.BAD_PORT


@pytest.mark.parametrize("flags", [SYN | FIN, SYN | RST, SYN | FIN | ACK, SYN | RST | ACK],
                         ids=["SF", "SR", "SFA", "SRA"])
def test_illegal_flag_combinations(flags: int) -> None:
    raw = tcp_reseal(SYN_BYTES[:13] + bytes([flags]) + SYN_BYTES[14:])
    assert drop_reason_of_segment(raw) is DropReason.BAD_FLAGS


# -- TCP options that parse ------------------------------------------------------------
def test_unknown_option_kinds_are_skipped() -> None:
    # Kind 30 (MPTCP) with 6 bytes, kind 254 (experimental) with 2, then an MSS.
    opts = b"\x1e\x06\x00\x01\x02\x03" + b"\xfe\x02" + b"\x02\x04\x05\xb4"
    seg = parse_segment(with_options(opts + b"\x00" * 4), CLIENT, SERVER)
    assert seg.options == Options(mss=1460)


def test_mss_zero_reads_as_absent() -> None:
    seg = parse_segment(with_options(b"\x02\x04\x00\x00"), CLIENT, SERVER)
    assert seg.options.mss is None
    assert seg.options == Options()


def test_eol_stops_option_parsing() -> None:
    # After EOL the rest of the header is padding, even when it looks like options
    # (here: a malformed timestamps option and a valid MSS, both ignored).
    opts = b"\x03\x03\x07" + b"\x00" + b"\x08\x01\x02\x04\x05\xb4\x00\x00"
    seg = parse_segment(with_options(opts), CLIENT, SERVER)
    assert seg.options == Options(wscale=7)


def test_options_need_not_be_word_aligned() -> None:
    # MUST-64: an option may begin on any octet boundary.
    opts = (b"\x03\x03\x0e" + b"\x02\x04\x05\x78" + b"\x04\x02"
            + b"\x08\x0a\x00\x00\x00\x05\x00\x00\x00\x06" + b"\x01")
    seg = parse_segment(with_options(opts), CLIENT, SERVER)
    assert seg.options == Options(mss=1400, wscale=14, sack_permitted=True, timestamps=(5, 6))


def test_options_header_of_nops_only() -> None:
    seg = parse_segment(with_options(b"\x01" * 40), CLIENT, SERVER)
    assert seg.options == Options()


def test_reserved_bits_are_ignored() -> None:
    # RFC 9293 §3.1: the reserved bits are ignored on receipt.
    raw = tcp_reseal(FIN_ACK_BYTES[:12] + b"\x5f" + FIN_ACK_BYTES[13:], SERVER, CLIENT)
    assert parse_segment(raw, SERVER, CLIENT) == FIN_ACK_SEG


# -- malformed IP -----------------------------------------------------------------------
def test_empty_packet_is_truncated() -> None:
    assert drop_reason_of_packet(b"") is DropReason.TRUNCATED


def test_short_ipv4_header_is_truncated() -> None:
    assert drop_reason_of_packet(IPV4_SYN_BYTES[:19]) is DropReason.TRUNCATED


def test_short_ipv6_header_is_truncated() -> None:
    assert drop_reason_of_packet(IPV6_SYN_ACK_BYTES[:39]) is DropReason.TRUNCATED


def test_ipv4_bad_header_checksum() -> None:
    raw = IPV4_SYN_BYTES[:10] + b"\x9c\x61" + IPV4_SYN_BYTES[12:]
    assert drop_reason_of_packet(raw) is DropReason.BAD_IP_CHECKSUM


def test_ipv4_total_length_beyond_data() -> None:
    head = ipv4_reseal(IPV4_SYN_BYTES[:2] + struct.pack("!H", len(IPV4_SYN_BYTES) + 1) + IPV4_SYN_BYTES[4:20])
    assert drop_reason_of_packet(head + SYN_BYTES) is DropReason.BAD_IP_HEADER


@pytest.mark.parametrize("ihl", [0, 4])
def test_ipv4_header_length_below_five(ihl: int) -> None:
    head = ipv4_reseal(bytes([0x40 | ihl]) + IPV4_SYN_BYTES[1:20])
    assert drop_reason_of_packet(head + SYN_BYTES) is DropReason.BAD_IP_HEADER


@pytest.mark.parametrize("frag", [0x2000, 0x0001, 0x6001], ids=["MF", "offset", "DF+offset"])
def test_ipv4_fragment(frag: int) -> None:
    head = ipv4_reseal(IPV4_SYN_BYTES[:6] + struct.pack("!H", frag) + IPV4_SYN_BYTES[8:20])
    assert drop_reason_of_packet(head + SYN_BYTES) is DropReason.BAD_IP_HEADER


@pytest.mark.parametrize("proto", [1, 17, 41])
def test_ipv4_not_tcp(proto: int) -> None:
    head = ipv4_reseal(IPV4_SYN_BYTES[:9] + bytes([proto]) + IPV4_SYN_BYTES[10:20])
    assert drop_reason_of_packet(head + SYN_BYTES) is DropReason.NOT_TCP


@pytest.mark.parametrize("nxt", [0, 17, 44, 58])
def test_ipv6_not_tcp(nxt: int) -> None:
    # Extension headers (0 hop-by-hop, 44 fragment) are not followed: NOT_TCP too.
    raw = IPV6_SYN_ACK_BYTES[:6] + bytes([nxt]) + IPV6_SYN_ACK_BYTES[7:]
    assert drop_reason_of_packet(raw) is DropReason.NOT_TCP


def test_ipv6_payload_length_overrun() -> None:
    raw = IPV6_SYN_ACK_BYTES[:4] + struct.pack("!H", 41) + IPV6_SYN_ACK_BYTES[6:]
    assert drop_reason_of_packet(raw) is DropReason.BAD_IP_HEADER


def test_ipv6_payload_length_short_truncates_tcp() -> None:
    # A payload length shorter than the TCP header leaves TCP truncated.
    raw = IPV6_SYN_ACK_BYTES[:4] + struct.pack("!H", 12) + IPV6_SYN_ACK_BYTES[6:]
    assert drop_reason_of_packet(raw) is DropReason.TRUNCATED


@pytest.mark.parametrize("version", [0, 5, 7, 15])
def test_bad_ip_version(version: int) -> None:
    raw = bytes([(version << 4) | 5]) + IPV4_SYN_BYTES[1:]
    assert drop_reason_of_packet(raw) is DropReason.BAD_IP_HEADER


def test_tcp_checksum_error_inside_ipv6() -> None:
    raw = IPV6_SYN_ACK_BYTES[:-1] + bytes([IPV6_SYN_ACK_BYTES[-1] ^ 0x80])
    assert drop_reason_of_packet(raw) is DropReason.BAD_CHECKSUM
