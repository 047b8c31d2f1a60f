"""Endpoint.receive_packet(verify_checksum=False): for a TUN with checksum offload."""

from __future__ import annotations

from synack.core.endpoint import Endpoint
from synack.core.errors import DropReason
from synack.core.ip import build_packet
from synack.core.wire import SYN, Options, Segment


def _syn_with_bad_checksum() -> bytes:
    raw = bytearray(build_packet(Segment(40000, 80, 1000, 0, SYN, 65535, Options(mss=1460)),
                                 "198.18.0.1", "198.18.0.2"))
    raw[20 + 16] ^= 0xFF  # the TCP checksum field (after a 20-byte IPv4 header)
    return bytes(raw)


def test_bad_checksum_dropped_by_default() -> None:
    ep = Endpoint(["198.18.0.2"])
    ep.listen(80)
    ep.receive_packet(_syn_with_bad_checksum(), 0)
    assert ep.stats.dropped[DropReason.BAD_CHECKSUM] == 1
    assert ep.packets_to_send(0) == []


def test_checksum_not_verified_when_told() -> None:
    ep = Endpoint(["198.18.0.2"])
    ep.listen(80)
    ep.receive_packet(_syn_with_bad_checksum(), 0, verify_checksum=False)
    assert ep.stats.dropped[DropReason.BAD_CHECKSUM] == 0
    (reply,) = ep.packets_to_send(0)
    assert reply.seg.flags == SYN | 0x10 and reply.seg.ack == 1001
