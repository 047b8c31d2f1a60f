"""The TUN driver's packet fast paths give the core's bytes and the core's parse."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synack.core.errors import MalformedSegment
from synack.core.ip import Packet, build_packet, ipv4_header, ipv6_header, parse_packet
from synack.core.wire import (
    ACK,
    FIN,
    NO_OPTIONS,
    PSH,
    SYN,
    Options,
    Segment,
    encode_options,
    pack_addr,
    unpack_addr,
)
from synack.drivers.tun import (
    _VNET_V4,
    _VNET_V6,
    MAX_MSS,
    VNET_HDR_LEN,
    _addr_pair,
    _packed,
    encode_offloaded,
    parse_common,
    tun_config,
)

V4 = ("198.18.0.2", "198.18.0.1")
V6 = ("fd00:5ac::2", "fd00:5ac::1")

SEGMENTS = [
    Segment(5004, 51096, 1979597274, 1269368723, ACK, 32768),
    Segment(5004, 51096, 1979597274, 1269368723, FIN | PSH | ACK, 32768, NO_OPTIONS, b"r" * 100),
    Segment(5004, 51096, 0xFFFFFFFF, 0, SYN | ACK, 65535, Options(mss=65495, wscale=7, sack_permitted=True,
                                                                  timestamps=(123, 456))),
    Segment(1, 65535, 7, 8, ACK, 0, Options(timestamps=(1, 2), sack_blocks=((10, 20),)), b"x" * 65000),
    Segment(80, 40000, 5, 6, PSH | ACK, 1, NO_OPTIONS, b"odd"),
]


def _reference(p: Packet) -> tuple[bytes, bytes]:
    """The write as first written: core IP headers, TCP header with the pseudo-header sum."""
    seg, src, dst = p.seg, p.src, p.dst
    opts = encode_options(seg.options)
    tcp_len = 20 + len(opts) + len(seg.payload)
    partial = (int.from_bytes(pack_addr(src) + pack_addr(dst), "big") + 6 + tcp_len) % 0xFFFF
    tcph = struct.pack("!HHIIBBHHH", seg.src_port, seg.dst_port, seg.seq, seg.ack, (5 + len(opts) // 4) << 4,
                       seg.flags, seg.window, partial, seg.urg)
    if ":" in src:
        return _VNET_V6 + ipv6_header(src, dst, tcp_len) + tcph + opts, seg.payload
    return _VNET_V4 + ipv4_header(src, dst, tcp_len) + tcph + opts, seg.payload


@pytest.mark.parametrize("addrs", [V4, V6])
@pytest.mark.parametrize("seg", SEGMENTS)
def test_encode_offloaded_matches_the_core_headers(addrs: tuple[str, str], seg: Segment) -> None:
    p = Packet(addrs[0], addrs[1], seg)
    assert encode_offloaded(p) == _reference(p)


def test_encode_offloaded_ipv4_checksum_of_every_length() -> None:
    for n in range(0, 1500, 7):
        p = Packet(*V4, Segment(5004, 51096, 1, 2, ACK, 3, NO_OPTIONS, b"z" * n))
        assert encode_offloaded(p) == _reference(p)


def _read(seg: Segment, src: str, dst: str) -> bytes:
    """What a read from the device gives: a virtio header, then the packet."""
    return b"\x01" + b"\x00" * (VNET_HDR_LEN - 1) + build_packet(seg, src, dst)


def _core(data: bytes) -> Packet | None:
    try:
        return parse_packet(data[VNET_HDR_LEN:], verify_checksum=False)
    except MalformedSegment:
        return None


@pytest.mark.parametrize("addrs", [V4, V6])
@pytest.mark.parametrize("seg", SEGMENTS)
def test_parse_common_matches_the_core(addrs: tuple[str, str], seg: Segment) -> None:
    data = _read(seg, addrs[1], addrs[0])
    assert parse_common(data, VNET_HDR_LEN) == _core(data) == Packet(addrs[1], addrs[0], seg)


def test_parse_common_leaves_the_unusual_to_the_core() -> None:
    base = bytearray(_read(SEGMENTS[1], V4[1], V4[0]))
    ip = VNET_HDR_LEN
    cases = {
        "truncated": bytes(base[:ip + 30]),
        "trailing bytes": bytes(base) + b"\x00",
        "not IPv4 or IPv6": bytes(base[:ip]) + b"\x55" + bytes(base[ip + 1:]),
    }
    for name, (at, value) in {"bad IP checksum": (ip + 10, base[ip + 10] ^ 1), "fragment": (ip + 6, 0x20),
                              "not TCP": (ip + 9, 17), "TCP data offset": (ip + 32, 0xF0)}.items():
        mutated = bytearray(base)
        mutated[at] = value
        cases[name] = bytes(mutated)
    for name, data in cases.items():
        assert parse_common(data, ip) is None, name


def test_parse_common_never_disagrees_with_the_core() -> None:
    """Random corruption: the fast path gives the core's answer, or passes (None)."""
    rng = random.Random(9293)
    print("seed 9293")
    packets = [_read(seg, *addrs) for seg in SEGMENTS[:3] + SEGMENTS[4:] for addrs in (V4, V6)]
    taken = 0
    for _ in range(20000):
        data = bytearray(rng.choice(packets))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(VNET_HDR_LEN, min(len(data), VNET_HDR_LEN + 80))
            data[i] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(VNET_HDR_LEN, len(data)):]
        raw = bytes(data)
        fast = parse_common(raw, VNET_HDR_LEN)
        assert fast is None or fast == _core(raw)
        taken += fast is not None
    assert taken > 1000  # the fast path itself was exercised, not only its refusals


def test_a_full_size_segment_with_timestamps_fits_an_ipv4_header() -> None:
    """At MTU 65535 the MSS is 65495 and the core takes the timestamps' 12 octets out
    of every full segment (RFC 9293 §3.7.1): the packet is exactly 65535 octets."""
    assert tun_config().mss == MAX_MSS == 65495 and tun_config().timestamps
    assert tun_config(1500).mss == 1460
    options = Options(timestamps=(1, 2))
    payload_len = MAX_MSS - len(encode_options(options))
    assert payload_len == 65483
    head, payload = encode_offloaded(Packet(*V4, Segment(1, 2, 3, 4, ACK, 5, options, b"x" * payload_len)))
    assert struct.unpack_from("!H", head, VNET_HDR_LEN + 2) == (65535,)  # the IPv4 total length
    assert len(head) - VNET_HDR_LEN + len(payload) == 65535


ADDRESS_PAIRS = (st.tuples(st.ip_addresses(v=4), st.ip_addresses(v=4))
                 | st.tuples(st.ip_addresses(v=6), st.ip_addresses(v=6)))


@given(ADDRESS_PAIRS)
def test_the_drivers_address_text_is_the_cores(pair: tuple[Any, Any]) -> None:
    """The driver's own conversions (``inet_ntoa``, ``inet_pton``) give exactly the
    core's text and bytes, so a connection's addresses compare equal whichever made them;
    hypothesis tries the edges (v4-mapped, single zero groups, ::, 255.255.255.255)."""
    raw = pair[0].packed + pair[1].packed
    _addr_pair.cache_clear()
    text = _addr_pair(raw)
    assert text == (unpack_addr(pair[0].packed), unpack_addr(pair[1].packed)) == (str(pair[0]), str(pair[1]))
    assert _packed(text[0]) + _packed(text[1]) == raw


def test_packed_takes_what_inet_pton_does_not() -> None:
    assert _packed("fe80::1%eth0") == pack_addr("fe80::1%eth0") == bytes.fromhex("fe80" + "0" * 26 + "01")
    with pytest.raises(ValueError):
        _packed("198.18.0.256")
