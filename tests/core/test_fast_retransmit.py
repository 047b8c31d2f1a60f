"""Fast retransmit and fast recovery (RFC 5681 §3.2) with NewReno's partial ACKs
(RFC 6582), and limited transmit (RFC 3042): three duplicate ACKs cause exactly one
retransmission, long before the RTO."""

from __future__ import annotations

from support.harness import ACK, PSH, Case, established, ms
from synack.core.config import Config
from synack.core.wire import Segment

MSS = 1460
NEWRENO = Config(congestion="newreno", sack=False)


def sent(c: Case, off: int, payload: bytes, flags: int = ACK) -> Segment:
    return c.ours._replace(seq=c.lseq(1 + off), flags=flags, payload=payload)


def chunk(i: int) -> bytes:
    return bytes([65 + i]) * MSS


def acked(c: Case, off: int) -> Segment:
    """The peer's ACK of our first ``off`` data octets."""
    return c.peer._replace(ack=c.lseq(1 + off))


def five_out(c: Case) -> None:
    c.c.send(b"".join(chunk(i) for i in range(5)))
    c.expect([sent(c, i * MSS, chunk(i)) for i in range(5)])


def test_three_dup_acks_cause_one_retransmission_and_no_rto(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NEWRENO)
    five_out(c)
    t = c.now + ms(20)
    c.deliver(acked(c, MSS), t)          # the first segment arrived; the second was lost
    c.expect_nothing(t)
    for _ in range(2):
        c.deliver(acked(c, MSS), t)      # dup ACKs 1 and 2: nothing to send (no new data)
        c.expect_nothing(t)
    assert not c.c.in_recovery
    c.deliver(acked(c, MSS), t)          # the third: fast retransmit
    c.expect([sent(c, MSS, chunk(1))], t)
    assert c.c.in_recovery
    assert c.ep.stats.fast_retransmits == 1 and c.ep.stats.retransmits == 1
    # RFC 5681 §3.2 steps 2-3: ssthresh = FlightSize / 2, cwnd = ssthresh + 3·SMSS.
    assert c.c.ssthresh == 4 * MSS // 2
    assert c.c.cwnd == c.c.ssthresh + 3 * MSS
    c.deliver(acked(c, MSS), t)          # step 4: inflation
    assert c.c.cwnd == c.c.ssthresh + 4 * MSS
    c.expect_nothing(t)
    c.deliver(acked(c, 5 * MSS), t + ms(20))  # full ACK: leave recovery, deflate to ssthresh
    c.expect_nothing(t + ms(20))
    assert not c.c.in_recovery
    assert c.c.cwnd == c.c.ssthresh == 2 * MSS
    assert c.ep.stats.timeouts == 0 and c.c.next_timeout() is None


def test_full_ack_leaves_recovery_with_cwnd_at_ssthresh(iss: tuple[int, int]) -> None:
    # RFC 6582 step 3's second option, as Linux (tcp_end_cwnd_reduction): cwnd =
    # ssthresh, even with nothing in flight, where the first option,
    # min(ssthresh, max(FlightSize, SMSS) + SMSS), would leave two segments.
    c = established(*iss, config=NEWRENO)
    c.c.send(b"".join(chunk(i) for i in range(10)))
    c.expect([sent(c, i * MSS, chunk(i)) for i in range(10)])
    t = c.now + ms(20)
    c.deliver(acked(c, MSS), t)          # segment 0 arrived, 1 was lost: cwnd 11 segments
    for _ in range(8):                   # one dup ACK for each of segments 2-9
        c.deliver(acked(c, MSS), t)
    c.expect([sent(c, MSS, chunk(1))], t)
    assert c.c.ssthresh == 9 * MSS // 2 and c.c.cwnd == c.c.ssthresh + 8 * MSS
    c.deliver(acked(c, 10 * MSS), t + ms(20))  # full ACK: nothing left in flight
    assert not c.c.in_recovery and c.c.cwnd == c.c.ssthresh == 9 * MSS // 2
    c.c.send(b"".join(chunk(i) for i in range(10, 20)))
    # cwnd 4.5 segments: four full ones leave; the half segment waits (SWS avoidance).
    c.expect([sent(c, i * MSS, chunk(i)) for i in range(10, 14)], t + ms(20))


def test_partial_ack_retransmits_the_next_hole_at_once(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NEWRENO)
    five_out(c)
    t = c.now + ms(20)
    for _ in range(4):
        c.deliver(acked(c, MSS), t)
    c.expect([sent(c, MSS, chunk(1))], t)
    c.deliver(acked(c, 3 * MSS), t + ms(20))  # partial: segment 4 was lost as well
    c.expect([sent(c, 3 * MSS, chunk(3))], t + ms(20))
    assert c.c.in_recovery
    c.deliver(acked(c, 5 * MSS), t + ms(40))
    c.expect_nothing(t + ms(40))
    assert not c.c.in_recovery and c.ep.stats.retransmits == 2


def test_limited_transmit_sends_new_data_on_the_first_two_dup_acks(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(congestion="newreno", sack=False, initial_window=2))
    c.c.send(b"".join(chunk(i) for i in range(6)))
    c.expect([sent(c, 0, chunk(0)), sent(c, MSS, chunk(1))])
    t = c.now + ms(20)
    c.deliver(acked(c, MSS), t)          # new ACK: cwnd 3 segments, 2 more leave
    c.expect([sent(c, 2 * MSS, chunk(2)), sent(c, 3 * MSS, chunk(3))], t)
    c.deliver(acked(c, MSS), t)          # dup 1: one new segment (RFC 3042)
    c.expect([sent(c, 4 * MSS, chunk(4))], t)
    c.deliver(acked(c, MSS), t)          # dup 2: another
    c.expect([sent(c, 5 * MSS, chunk(5), ACK | PSH)], t)
    c.deliver(acked(c, MSS), t)          # dup 3: fast retransmit
    c.expect([sent(c, MSS, chunk(1))], t)


def test_dup_acks_after_an_rto_do_not_reenter_recovery(iss: tuple[int, int]) -> None:
    # RFC 6582 step 2: dup ACKs that do not cover "recover" (set at the RTO) are
    # for data sent before it: no second reduction.
    c = established(*iss, config=NEWRENO)
    five_out(c)
    t = c.now + c.c.rto
    c.expect([sent(c, 0, chunk(0))], t)  # RTO: back to SND.UNA, one segment
    for _ in range(3):
        c.deliver(c.peer, t + ms(1))
    c.expect_nothing(t + ms(1))
    assert not c.c.in_recovery and c.ep.stats.fast_retransmits == 0


def test_a_window_update_is_not_a_dup_ack(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NEWRENO)
    five_out(c)
    t = c.now + ms(20)
    for w in (100, 101, 102):
        c.deliver(acked(c, MSS)._replace(window=w), t)
    c.expect_nothing(t)
    assert not c.c.in_recovery


def test_data_segments_are_not_dup_acks(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NEWRENO)
    five_out(c)
    t = c.now + ms(20)
    for i in range(3):
        c.deliver(c.peer._replace(seq=c.rseq(1 + i), flags=ACK | PSH, payload=b"x"), t)
    assert not c.c.in_recovery


def test_pure_ack_after_go_back_carries_snd_max(iss: tuple[int, int]) -> None:
    # After an RTO rewinds SND.NXT, a pure ACK at SND.NXT would sit below the peer's
    # RCV.NXT (it got the later segments) and be dropped as unacceptable with the ACK
    # it carries; pure ACKs go at SND.MAX (Linux's SND.NXT, never rewound).
    c = established(*iss, config=NEWRENO)
    five_out(c)
    t = c.now + c.c.rto
    c.expect([sent(c, 0, chunk(0))], t)  # go-back-N: SND.NXT = SND.UNA + 1 segment
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"data"), t + ms(1))
    c.expect([c.ours._replace(seq=c.lseq(1 + 5 * MSS), ack=c.rseq(5), window=(65535 - 4) >> 7)],
             t + ms(1))


def test_a_resent_segment_carries_psh_as_it_first_did(iss: tuple[int, int]) -> None:
    # Five writes, each drained at once: each segment leaves with PSH (MUST-61).  The
    # fast retransmission of the second has PSH as the original had, though the
    # buffer no longer ends there (Linux resends the same skb); an RTO's resend of
    # data first sent without PSH has none.
    c = established(*iss, config=NEWRENO)
    for i in range(5):
        c.c.send(chunk(i))
        c.expect([sent(c, i * MSS, chunk(i), ACK | PSH)], exact=True)
    t = c.now + ms(20)
    for _ in range(4):
        c.deliver(acked(c, MSS), t)
    c.expect([sent(c, MSS, chunk(1), ACK | PSH)], t, exact=True)
    c = established(*iss, config=NEWRENO)
    five_out(c)                          # one write: PSH on the last segment only
    c.expect([sent(c, 0, chunk(0))], c.now + ms(1000), exact=True)   # the RTO resends the first
