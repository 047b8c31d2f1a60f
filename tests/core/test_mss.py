"""The MSS: what we advertise per address family, and the effective send MSS
(RFC 9293 §3.7.1, MUST-15, MUST-16): the peer's MSS less the options every segment
carries, so that a full-sized segment fits the path the MSS came from."""

from __future__ import annotations

import pytest

from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.isn import FixedIsn
from synack.core.wire import ACK, SYN, Options, Segment

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
