"""An endpoint's output in two parts: ``replies_to_send`` (answers made without a
connection: a listener's SYN-ACKs, RSTs for segments no one owns) and
``packets_to_send`` (those not yet taken, then every connection's own output).
A driver reading a burst of packets sends the replies as each packet is handled
and the connections' output once the burst is done."""

from __future__ import annotations

from support import harness
from support.harness import CLIENT_PORT, LOCAL_ADDR, REMOTE_ADDR, SERVER_PORT, SYN_WIN, deliver
from synack.core.trace import SegmentRecord
from synack.core.wire import ACK, RST, SYN, Segment


def _dup_ack(c: harness.Case) -> Segment:
    """Our duplicate ACK for 100 bytes at RCV.NXT+100, with their SACK block."""
    return c.ours._replace(options=c.ours.options._replace(sack_blocks=((c.rseq(101), c.rseq(201)),)))


def test_replies_leave_alone_and_the_connections_output_waits_for_packets_to_send() -> None:
    c = harness.established(harness.LOCAL_ISS, harness.REMOTE_ISS, "passive")
    sent_before = c.ep.stats.segments_out
    # Data beyond a hole: the connection owes an immediate duplicate ACK (RFC 5681 §4.2).
    c.deliver(c.peer._replace(seq=c.rseq(101), payload=b"x" * 100))
    # A second client's SYN to the listener, and a segment to a port with no one.
    syn = Segment(CLIENT_PORT + 1, SERVER_PORT, 5000, 0, SYN, SYN_WIN, harness.PEER_SYN_OPTS)
    c.deliver(syn)
    stray = Segment(CLIENT_PORT, 81, 7000, 0, ACK, 100)
    c.deliver(stray)

    replies = c.ep.replies_to_send(c.now)
    synack = Segment(SERVER_PORT, CLIENT_PORT + 1, c.liss, 5001, SYN | ACK, c.syn_win,
                     harness.our_syn_options(c, harness.PEER_SYN_OPTS))
    assert [p.seg for p in replies] == [synack, Segment(81, CLIENT_PORT, 0, 0, RST, 0)]
    assert all((p.src, p.dst) == (LOCAL_ADDR, REMOTE_ADDR) for p in replies)
    assert c.ep.replies_to_send(c.now) == []  # taken once

    rest = c.ep.packets_to_send(c.now)
    dup_ack = _dup_ack(c)
    assert [p.seg for p in rest] == [dup_ack]
    # Counted and traced once each, in the order they left, each its own flight.
    assert c.ep.stats.segments_out - sent_before == 3
    sends = [r for r in c.records if isinstance(r, SegmentRecord) and r.event == "send"][-3:]
    assert [r.seg for r in sends] == [synack, Segment(81, CLIENT_PORT, 0, 0, RST, 0), dup_ack]
    assert [p.flight for p in (*replies, *rest)] == [r.flight for r in sends]
    assert len({r.flight for r in sends}) == 3


def test_packets_to_send_returns_replies_not_yet_taken_first() -> None:
    c = harness.established(harness.LOCAL_ISS, harness.REMOTE_ISS, "passive")
    c.deliver(c.peer._replace(seq=c.rseq(101), payload=b"x" * 100))
    deliver(c.ep, Segment(CLIENT_PORT, 81, 7000, 0, ACK, 100), c.now)
    rst = Segment(81, CLIENT_PORT, 0, 0, RST, 0)
    assert [p.seg for p in c.ep.packets_to_send(c.now)] == [rst, _dup_ack(c)]
    assert c.ep.replies_to_send(c.now) == []
