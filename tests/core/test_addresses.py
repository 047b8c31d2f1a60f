"""An endpoint answers only for its own addresses (RFC 1122 §4.2.3.10, RFC 9293
MUST-57): a segment to an address it does not own, or to a broadcast, multicast or
unspecified one, is dropped, counted, and answered with nothing; one from a
broadcast or multicast source likewise; a listener bound to one address answers
only there.  IPv4 and IPv6."""

from __future__ import annotations

import pytest

from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.errors import DropReason, InvalidAddress
from synack.core.isn import FixedIsn
from synack.core.state import State
from synack.core.trace import SegmentRecord, TraceRecord, Verdict
from synack.core.wire import ACK, RST, SYN, Options, Segment

V4, V4_OTHER = "198.18.0.2", "198.18.0.3"
V6, V6_OTHER = "fd00:5ac::2", "fd00:5ac::3"
PEER4, PEER6 = "198.18.0.1", "fd00:5ac::1"
SYN_SEG = Segment(40000, 80, 1000, 0, SYN, 64240, Options(mss=1460))
STRAY_ACK = Segment(40000, 80, 1000, 5000, ACK, 64240)


def endpoint() -> tuple[Endpoint, list[TraceRecord]]:
    records: list[TraceRecord] = []
    ep = Endpoint([V4, V4_OTHER, V6, V6_OTHER], Config(), isn=FixedIsn(7000), tracer=records.append)
    return ep, records


@pytest.mark.parametrize(("src", "dst"), [
    (PEER4, "198.18.0.77"),        # someone else's (a TUN client connecting to a wrong address)
    (PEER4, "255.255.255.255"),    # limited broadcast
    (PEER4, "224.0.0.1"),          # multicast
    (PEER4, "0.0.0.0"),            # unspecified
    (PEER6, "fd00:5ac::77"),
    (PEER6, "ff02::1"),
    (PEER6, "::"),
])
@pytest.mark.parametrize("seg", [SYN_SEG, STRAY_ACK], ids=["syn", "stray-ack"])
def test_a_segment_to_an_address_not_ours_is_dropped_and_unanswered(src: str, dst: str, seg: Segment) -> None:
    ep, records = endpoint()
    ep.listen(80)
    ep.receive_segment(seg, src, dst, 0, flight=9)
    assert ep.packets_to_send(0) == []
    assert ep.stats.dropped == {DropReason.NOT_OUR_ADDRESS: 1}
    assert ep.connections == [] and ep.listeners[0].syn_queue_len == 0
    drops = [r for r in records if isinstance(r, SegmentRecord) and r.event == "drop"]
    assert [(d.flight, d.verdict, d.reason) for d in drops] == \
        [(9, Verdict.DROPPED, DropReason.NOT_OUR_ADDRESS)]


@pytest.mark.parametrize(("src", "dst"), [
    ("255.255.255.255", V4), ("224.0.0.9", V4), ("ff02::1", V6), ("ff05::2", V6),
])
@pytest.mark.parametrize("seg", [SYN_SEG, STRAY_ACK], ids=["syn", "stray-ack"])
def test_a_segment_from_a_broadcast_or_multicast_source_is_dropped_and_unanswered(
        src: str, dst: str, seg: Segment) -> None:
    ep, _ = endpoint()
    ep.listen(80)
    ep.receive_segment(seg, src, dst, 0)
    assert ep.packets_to_send(0) == []
    assert ep.stats.dropped == {DropReason.BAD_ADDRESS: 1}


@pytest.mark.parametrize(("bound", "other", "peer"), [(V4, V4_OTHER, PEER4), (V6, V6_OTHER, PEER6)])
def test_a_listener_bound_to_one_address_answers_only_there(bound: str, other: str, peer: str) -> None:
    ep, _ = endpoint()
    ep.listen(80, addr=bound)
    ep.receive_segment(SYN_SEG, peer, bound, 0)
    [synack] = ep.packets_to_send(0)
    assert (synack.src, synack.dst, synack.seg.flags, synack.seg.seq, synack.seg.ack) == \
        (bound, peer, SYN | ACK, 7000, 1001)
    # the same SYN to our other address finds no listener: the closed port's RST,ACK
    ep.receive_segment(SYN_SEG, peer, other, 0)
    [rst] = ep.packets_to_send(0)
    assert (rst.src, rst.dst, rst.seg.flags, rst.seg.seq, rst.seg.ack) == (other, peer, RST | ACK, 0, 1001)
    assert ep.stats.dropped == {DropReason.NO_CONNECTION: 1}
    [half] = [row for row in ep.snapshot(0) if row.state == "SYN-RECV"]
    assert half.local.startswith(bound if ":" not in bound else f"[{bound}]")


def test_a_connection_to_our_address_is_served_as_before() -> None:
    ep, _ = endpoint()
    ep.listen(80)
    ep.receive_segment(SYN_SEG, PEER4, V4_OTHER, 0)
    [synack] = ep.packets_to_send(0)
    ep.receive_segment(Segment(40000, 80, 1001, 7001, ACK, 502), PEER4, V4_OTHER, 1000)
    [conn] = ep.connections
    assert (synack.seg.flags, conn.state, conn.local_addr) == (SYN | ACK, State.ESTABLISHED, V4_OTHER)
    assert sum(ep.stats.dropped.values()) == 0


@pytest.mark.parametrize("addr", ["224.0.0.1", "255.255.255.255", "0.0.0.0", "ff02::1", "::"])
def test_an_endpoint_cannot_own_an_address_no_one_can(addr: str) -> None:
    with pytest.raises(InvalidAddress):
        Endpoint([V4, addr])
