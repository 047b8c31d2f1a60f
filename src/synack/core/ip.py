"""IPv4 and IPv6 packet headers around a TCP segment (for TUN and for pcap).

Only what TCP needs: no IPv4 options are emitted (received ones are skipped), no
fragments (a fragment is dropped as BAD_IP_HEADER), no IPv6 extension headers
(a next-header other than TCP is NOT_TCP).
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from .errors import DropReason, MalformedSegment
from .wire import PROTO_TCP, Segment, internet_checksum, pack_addr, parse_segment, serialize, unpack_addr

_V4: Final = struct.Struct("!BBHHHBBH4s4s")
_V6: Final = struct.Struct("!IHBB16s16s")


class Packet(NamedTuple):
    """A TCP segment with the addresses it travels between, and its flight id when a
    tracing endpoint sent it (:mod:`synack.core.trace`; 0 otherwise)."""

    src: str
    dst: str
    seg: Segment
    flight: int = 0


def is_ipv6(addr: str) -> bool:
    return ":" in addr


def ipv4_header(src: str, dst: str, payload_len: int, ttl: int = 64, ident: int = 0) -> bytes:
    """A 20-byte IPv4 header, DF set, checksum filled in."""
    head = _V4.pack(0x45, 0, 20 + payload_len, ident & 0xFFFF, 0x4000, ttl, PROTO_TCP, 0,
                    pack_addr(src), pack_addr(dst))
    return head[:10] + internet_checksum(head).to_bytes(2, "big") + head[12:]


def ipv6_header(src: str, dst: str, payload_len: int, hop_limit: int = 64) -> bytes:
    """A 40-byte IPv6 header carrying TCP."""
    return _V6.pack(6 << 28, payload_len, PROTO_TCP, hop_limit, pack_addr(src), pack_addr(dst))


def build_packet(seg: Segment, src: str, dst: str, ttl: int = 64, ident: int = 0) -> bytes:
    """The whole IP packet for ``seg`` (IPv4 or IPv6 by the address family)."""
    tcp = serialize(seg, src, dst)
    if is_ipv6(src):
        return ipv6_header(src, dst, len(tcp), ttl) + tcp
    return ipv4_header(src, dst, len(tcp), ttl, ident) + tcp


def split_packet(data: bytes) -> tuple[str, str, bytes]:
    """``(src, dst, tcp_bytes)`` of an IP packet; raises :class:`MalformedSegment`."""
    if not data:
        raise MalformedSegment(DropReason.TRUNCATED, "empty packet")
    version = data[0] >> 4
    if version == 4:
        if len(data) < 20:
            raise MalformedSegment(DropReason.TRUNCATED, f"IPv4 packet of {len(data)} bytes")
        vihl, _tos, total, _ident, frag, _ttl, proto, _c, src, dst = _V4.unpack_from(data)
        ihl = (vihl & 0x0F) * 4
        if ihl < 20 or total < ihl or total > len(data):
            raise MalformedSegment(DropReason.BAD_IP_HEADER, f"ihl {ihl} total {total}")
        if internet_checksum(data[:ihl]) != 0:
            raise MalformedSegment(DropReason.BAD_IP_CHECKSUM)
        if frag & 0x3FFF:
            raise MalformedSegment(DropReason.BAD_IP_HEADER, "fragment")
        if proto != PROTO_TCP:
            raise MalformedSegment(DropReason.NOT_TCP, f"protocol {proto}")
        return unpack_addr(src), unpack_addr(dst), data[ihl:total]
    if version == 6:
        if len(data) < 40:
            raise MalformedSegment(DropReason.TRUNCATED, f"IPv6 packet of {len(data)} bytes")
        _vtf, plen, nxt, _hop, src, dst = _V6.unpack_from(data)
        if 40 + plen > len(data):
            raise MalformedSegment(DropReason.BAD_IP_HEADER, f"payload length {plen}")
        if nxt != PROTO_TCP:
            raise MalformedSegment(DropReason.NOT_TCP, f"next header {nxt}")
        return unpack_addr(src), unpack_addr(dst), data[40:40 + plen]
    raise MalformedSegment(DropReason.BAD_IP_HEADER, f"IP version {version}")


def parse_packet(data: bytes, verify_checksum: bool = True) -> Packet:
    """Parse an IP packet holding TCP, checksum verified unless told otherwise."""
    src, dst, tcp = split_packet(data)
    if verify_checksum:
        return Packet(src, dst, parse_segment(tcp, src, dst))
    return Packet(src, dst, parse_segment(tcp))
