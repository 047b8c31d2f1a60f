"""The MSS: what we advertise per address family, and the effective send MSS
(RFC 9293 §3.7.1, MUST-15, MUST-16): the peer's MSS less the options every segment
carries, so that a full-sized segment fits the path the MSS came from."""

from __future__ import annotations

import pytest

from synack.core.config import Config
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.isn import FixedIsn
from synack.core.wire import ACK, SYN, Options, Segment, encode_options

V4, PEER4 = "198.18.0.2", "198.18.0.1"
V6, PEER6 = "fd00:5ac::2", "fd00:5ac::1"


def syn_of(ep: Endpoint) -> Segment:
    [pkt] = ep.packets_to_send(0)
    assert pkt.seg.flags & SYN
    return pkt.seg


@pytest.mark.parametrize(("mss", "local", "remote", "advertised"), [
    (1460, V4, PEER4, 1460), (1460, V6, PEER6, 1440),        # MTU 1500: − 40 over IPv4, − 60 over IPv6
    (65495, V4, PEER4, 65495), (65495, V6, PEER6, 65475),    # a TUN's MTU 65535
])
def test_our_syn_advertises_the_mss_of_its_address_family(mss: int, local: str, remote: str,
                                                           advertised: int) -> None:
    ep = Endpoint([local], Config(mss=mss), isn=FixedIsn(1))
    ep.connect(remote, 80, 0)
    assert syn_of(ep).options.mss == advertised


@pytest.mark.parametrize(("local", "remote", "advertised"), [(V4, PEER4, 1460), (V6, PEER6, 1440)])
@pytest.mark.parametrize("cookies", [0, 2])
def test_a_listeners_synack_advertises_the_mss_of_its_address_family(local: str, remote: str, advertised: int,
                                                                      cookies: int) -> None:
    ep = Endpoint([local], Config(syncookies=cookies), isn=FixedIsn(1))
    ep.listen(80)
    ep.receive_segment(Segment(40000, 80, 500, 0, SYN, 64240, Options(mss=1460)), remote, local, 0)
    assert syn_of(ep).options.mss == advertised


def test_over_ipv6_the_send_mss_is_at_most_our_ipv6_mss() -> None:
    ep = Endpoint([V6], Config(), isn=FixedIsn(1000))
    conn = ep.connect(PEER6, 80, 0)
    ep.packets_to_send(0)
    ep.receive_segment(Segment(80, conn.local_port, 9000, 1001, SYN | ACK, 64240, Options(mss=1460)),
                       PEER6, V6, 10_000)
    assert conn.snd_mss == 1440


def established_with_timestamps(peer_mss: int) -> tuple[Endpoint, Connection]:
    """An active open to a peer whose SYN-ACK offers ``peer_mss``, timestamps and SACK."""
    ep = Endpoint([V4], Config(timestamps=True, sack=True, wscale=7), isn=FixedIsn(1000))
    conn = ep.connect(PEER4, 80, 0)
    [syn] = ep.packets_to_send(0)
    assert syn.seg.options.timestamps is not None
    tsval = syn.seg.options.timestamps[0]
    ep.receive_segment(Segment(80, conn.local_port, 9000, 1001, SYN | ACK, 65535,
                               Options(mss=peer_mss, sack_permitted=True, timestamps=(77, tsval), wscale=7)),
                       PEER4, V4, 10_000)
    ep.packets_to_send(10_000)   # the handshake's ACK
    return ep, conn


def test_with_timestamps_a_full_segment_carries_the_mss_less_12_octets() -> None:
    """MUST-16: every segment carries 12 octets of timestamps, so a full one holds
    1460 − 12 = 1448 octets (Linux's tcp_mtu_to_mss); 1460 would make a 1512-octet
    packet on the 1500-octet path the MSS came from."""
    ep, conn = established_with_timestamps(1460)
    assert conn.snd_mss == 1448
    conn.send(b"x" * 3000)
    segs = [p.seg for p in ep.packets_to_send(20_000)]
    assert [len(s.payload) for s in segs] == [1448, 1448, 104]
    assert [s.seq for s in segs] == [1001, 2449, 3897]
    for s in segs:
        assert s.options.timestamps is not None and not s.options.sack_blocks
        assert 20 + 20 + len(encode_options(s.options)) + len(s.payload) <= 1500


def test_the_floor_applies_before_the_timestamps_are_taken() -> None:
    """A tiny MSS is raised to 48 (Linux tcp_min_snd_mss) and then the timestamps'
    12 octets come off, as in Linux's __tcp_mtu_to_mss then tcp_mtu_to_mss."""
    _, conn = established_with_timestamps(20)
    assert conn.snd_mss == 36


@pytest.mark.parametrize(("size", "blocks"),
                         [(1448, 0), (1441, 0), (1436, 1), (1428, 2), (1421, 2), (1420, 3), (100, 3)])
def test_sack_blocks_take_only_the_room_a_segment_has_left(size: int, blocks: int) -> None:
    """A SACK option (4 octets and 8 per block, RFC 2018 §3) rides a data segment only
    in the room its payload leaves under the effective MSS; the blocks it cannot
    carry wait for the next segment (Linux instead shrinks the segment)."""
    ep, conn = established_with_timestamps(1460)
    for k in range(3):   # three islands past a hole at 9001
        seq = 9001 + 100 + 200 * k
        ep.receive_segment(Segment(80, conn.local_port, seq, 1001, ACK, 512,
                                   Options(timestamps=(78 + k, 0)), b"y" * 100), PEER4, V4, 20_000 + k)
    acks = [p.seg for p in ep.packets_to_send(20_010)]
    assert [len(a.options.sack_blocks) for a in acks][-1] == 3 and all(not a.payload for a in acks)
    conn.send(b"x" * size)
    [seg] = [p.seg for p in ep.packets_to_send(20_020)]
    assert len(seg.payload) == size and len(seg.options.sack_blocks) == blocks
    assert len(encode_options(seg.options)) + len(seg.payload) <= 1460
