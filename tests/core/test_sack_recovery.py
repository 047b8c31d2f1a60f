"""SACK-based loss recovery (RFC 6675): the scoreboard, IsLost, pipe, NextSeg, and a
recovery that resends two holes of one window without waiting for partial ACKs."""

from __future__ import annotations

from support.harness import ACK, Case, established, ms
from synack.core.config import Config
from synack.core.recovery import Scoreboard
from synack.core.wire import Options, Segment

MSS = 1460
NEWRENO = Config(congestion="newreno")


def sent(c: Case, i: int) -> Segment:
    """Our i-th full segment (0-based)."""
    return c.ours._replace(seq=c.lseq(1 + i * MSS), flags=ACK, payload=bytes([65 + i]) * MSS)


def sack_ack(c: Case, ack_segs: int, *blocks: tuple[int, int]) -> Segment:
    """The peer's ACK of ``ack_segs`` segments, SACKing [a, b) in segment numbers."""
    edges = tuple((c.lseq(1 + a * MSS), c.lseq(1 + b * MSS)) for a, b in blocks)
    return c.peer._replace(ack=c.lseq(1 + ack_segs * MSS), options=Options(sack_blocks=edges))


def ten_in_flight(iss: tuple[int, int]) -> Case:
    """ESTABLISHED (NewReno), segments 0-9 sent (full-sized, octets 'A'..'J')."""
    c = established(*iss, config=NEWRENO)
    c.c.send(b"".join(bytes([65 + i]) * MSS for i in range(10)))
    c.expect([sent(c, i) for i in range(10)])
    return c


def segment_1_resent(iss: tuple[int, int]) -> tuple[Case, int]:
    """``ten_in_flight``, then segment 1 is missed: an ACK of 0 and three SACKs of
    2, 3, 4 (DupThresh) at t, which resend it; returns (case, t)."""
    c = ten_in_flight(iss)
    t = c.now + ms(20)
    c.deliver(sack_ack(c, 1), t)
    for b in (3, 4, 5):
        c.deliver(sack_ack(c, 1, (2, b)), t)
    c.expect([sent(c, 1)], t)
    return c, t


def test_sack_recovery_resends_every_lost_hole_in_one_round_trip(iss: tuple[int, int]) -> None:
    c = ten_in_flight(iss)  # segments 1 and 4 will be lost
    t = c.now + ms(20)
    c.deliver(sack_ack(c, 1), t)
    c.deliver(sack_ack(c, 1, (2, 3)), t)
    c.deliver(sack_ack(c, 1, (2, 4)), t)
    c.expect_nothing(t)
    c.deliver(sack_ack(c, 1, (5, 6), (2, 4)), t)  # third duplicate ACK
    c.expect([sent(c, 1)], t)
    assert c.c.in_recovery and c.c.cwnd == c.c.ssthresh == 9 * MSS // 2  # no inflation
    c.deliver(sack_ack(c, 1, (5, 7), (2, 4)), t)
    c.expect_nothing(t)  # 2 segments SACKed above segment 4: not yet deemed lost
    c.deliver(sack_ack(c, 1, (5, 8), (2, 4)), t)
    c.expect([sent(c, 4)], t)  # IsLost: more than 2·SMSS SACKed above it
    assert c.ep.stats.fast_retransmits == 1 and c.ep.stats.retransmits == 2
    c.deliver(sack_ack(c, 1, (5, 10), (2, 4)), t)
    c.expect_nothing(t)
    c.deliver(sack_ack(c, 4, (5, 10)), t + ms(20))  # the first resend arrived
    c.expect_nothing(t + ms(20))  # segment 4 was resent already
    c.deliver(sack_ack(c, 10), t + ms(20))
    c.expect_nothing(t + ms(20))
    assert not c.c.in_recovery and c.c.rec.sb is None
    assert c.ep.stats.timeouts == 0 and c.c.next_timeout() is None


def test_sack_recovery_full_ack_leaves_cwnd_at_ssthresh(iss: tuple[int, int]) -> None:
    # RFC 6582 step 3's second option, as Linux (tcp_end_cwnd_reduction): cwnd =
    # ssthresh, not min(ssthresh, max(FlightSize, SMSS) + SMSS) = two segments here.
    c = ten_in_flight(iss)  # segment 1 will be lost
    t = c.now + ms(20)
    c.deliver(sack_ack(c, 1), t)  # cwnd 11 segments
    for b in (3, 4, 5):
        c.deliver(sack_ack(c, 1, (2, b)), t)
    c.expect([sent(c, 1)], t)
    for b in range(6, 11):
        c.deliver(sack_ack(c, 1, (2, b)), t)
    c.expect_nothing(t)
    assert c.c.in_recovery and c.c.cwnd == c.c.ssthresh == 9 * MSS // 2
    c.deliver(sack_ack(c, 10), t + ms(20))  # full ACK: nothing left in flight
    assert not c.c.in_recovery and c.c.rec.sb is None
    assert c.c.cwnd == c.c.ssthresh == 9 * MSS // 2
    c.c.send(b"".join(bytes([65 + i]) * MSS for i in range(10, 20)))
    # cwnd 4.5 segments: four full ones leave; the half segment waits (SWS avoidance).
    c.expect([sent(c, i) for i in range(10, 14)], t + ms(20))


def test_sack_recovery_partial_ack_resends_a_lost_tail(iss: tuple[int, int]) -> None:
    # The last two segments are lost: nothing is SACKed above them, so only the
    # partial ACK tells (RFC 6582's reasoning, kept in SACK recovery).
    c = established(*iss, config=NEWRENO)
    c.c.send(b"".join(bytes([65 + i]) * MSS for i in range(6)))
    c.expect([sent(c, i) for i in range(6)])  # 0 and 4, 5 will be lost
    t = c.now + ms(20)
    for b in (2, 3, 4):
        c.deliver(sack_ack(c, 0, (1, b)), t)
    c.expect([sent(c, 0)], t)
    c.deliver(sack_ack(c, 4), t + ms(20))  # partial ACK
    c.expect([sent(c, 4)], t + ms(20))
    c.deliver(sack_ack(c, 5), t + ms(40))
    c.expect([sent(c, 5)], t + ms(40))
    c.deliver(sack_ack(c, 6), t + ms(60))
    assert not c.c.in_recovery and c.ep.stats.timeouts == 0


def test_sack_recovery_partial_ack_from_a_delayed_original_resends_nothing(iss: tuple[int, int]) -> None:
    # Segment 1 is only held up (reordering): three SACKed segments overtake it and
    # it is resent (DupThresh), then the original fills the hole.  The ACK comes back
    # sooner than SRTT/2 after the retransmission, so it is the original's: the
    # segments above are in flight, not lost, and no partial ACK resends them.
    c, t = segment_1_resent(iss)
    assert c.c.srtt == 11_250  # 10 ms, then a 20 ms sample: 7/8 · 10 + 1/8 · 20
    soon = t + c.c.srtt // 2 - 1
    c.deliver(sack_ack(c, 5), soon)  # covers the retransmission, but too soon for it
    c.expect_nothing(soon)
    for i in range(6, 10):
        c.deliver(sack_ack(c, i), soon + i * ms(1))  # later partial ACKs: nothing new
        c.expect_nothing(soon + i * ms(1))
    assert c.c.in_recovery
    c.deliver(sack_ack(c, 10), soon + ms(10))
    c.expect_nothing(soon + ms(10))
    assert not c.c.in_recovery and c.ep.stats.retransmits == 1


def test_sack_recovery_partial_ack_of_the_retransmission_resends_the_next_hole(iss: tuple[int, int]) -> None:
    # Segments 1, 8 and 9 are lost; nothing is SACKed above 8 and 9.  The partial ACK
    # SRTT/2 or more after the retransmission of 1 is taken for its own: 8, sent
    # before it, should have arrived as well, and is resent; then 9 likewise.
    c, t = segment_1_resent(iss)
    for b in (6, 7, 8):
        c.deliver(sack_ack(c, 1, (2, b)), t)
    c.expect_nothing(t)  # 8 and 9: nothing SACKed above them, not deemed lost
    half = c.c.srtt // 2
    c.deliver(sack_ack(c, 8), t + half)
    c.expect([sent(c, 8)], t + half)
    c.deliver(sack_ack(c, 9), t + 2 * half)
    c.expect([sent(c, 9)], t + 2 * half)
    c.deliver(sack_ack(c, 10), t + 3 * half)
    c.expect_nothing(t + 3 * half)
    assert not c.c.in_recovery and c.ep.stats.retransmits == 3 and c.ep.stats.timeouts == 0


def test_sack_recovery_does_not_resend_a_hole_not_yet_lost(iss: tuple[int, int]) -> None:
    # No NextSeg rule 3 (Linux has none): with room in cwnd and no new data, a hole
    # with one segment SACKed above it waits: it is as likely overtaken as lost.
    c, t = segment_1_resent(iss)  # 1 is lost, 8 held up
    for b in (6, 7, 8):
        c.deliver(sack_ack(c, 1, (2, b)), t)
    c.expect_nothing(t)
    c.deliver(sack_ack(c, 1, (9, 10), (2, 8)), t + ms(1))
    # pipe: segment 1 resent + segment 8 = 2 of cwnd 4.5 segments, no new data.
    assert c.c.cwnd == 9 * MSS // 2
    c.expect_nothing(t + ms(1))
    c.deliver(sack_ack(c, 1, (2, 10)), t + ms(2))  # 8 arrives late
    c.expect_nothing(t + ms(2))
    c.deliver(sack_ack(c, 10), t + ms(20))
    c.expect_nothing(t + ms(20))
    assert not c.c.in_recovery and c.ep.stats.retransmits == 1


def test_scoreboard_merges_and_ignores_invalid_blocks() -> None:
    sb = Scoreboard(1000)
    assert sb.update(1000, 9000, ((2000, 3000), (5000, 6000)))
    assert sb.update(1000, 9000, ((3000, 4000),))
    assert sb.blocks == [(2000, 4000), (5000, 6000)]
    assert not sb.update(1000, 9000, ((500, 900), (8000, 9500), (2500, 2600)))  # D-SACK, beyond, dup
    sb.advance(2500)
    assert sb.blocks == [(2500, 4000), (5000, 6000)]
    sb.advance(6000)
    assert len(sb) == 0


def test_scoreboard_is_lost_and_pipe() -> None:
    mss = 100
    sb = Scoreboard(0)
    sb.update(0, 1000, ((100, 200), (300, 400)))
    assert not sb.is_lost(0, 1000, mss)  # 200 SACKed above: not more than 2·SMSS
    assert sb.pipe(0, 1000, mss) == 100 + 100 + 600
    sb.update(0, 1000, ((500, 600),))
    assert sb.is_lost(0, 1000, mss)      # three blocks above
    assert sb.pipe(0, 1000, mss) == 0 + 100 + 100 + 400  # hole 0 lost; 200-300 has 2 blocks above
    assert sb.next_seg(0, 1000, mss) == (0, 100)
    sb.high_rxt = 100
    assert sb.pipe(0, 1000, mss) == 100 + 100 + 100 + 400
    assert sb.next_seg(0, 1000, mss) is None  # 200-300 is not SACKed, but not lost either
    sb.update(0, 1000, ((700, 800),))
    assert sb.next_seg(0, 1000, mss) == (200, 100)  # three blocks above it now


def test_sacks_of_new_data_count_as_duplicate_acks_whatever_their_window(iss: tuple[int, int]) -> None:
    """RFC 6675 §2: with SACK, a duplicate ACK is one that SACKs octets not SACKed before,
    even if it changes the advertised window (a receiver's window grows as its
    application reads; Linux counts SACKed segments, tcp_fastretrans_alert).  Under RFC
    5681's definition none of these would count, and the loss would wait for the RTO."""
    c = ten_in_flight(iss)  # segment 1 will be lost
    t = c.now + ms(20)
    c.deliver(sack_ack(c, 1), t)
    for k, b in enumerate((3, 4, 5)):
        c.deliver(sack_ack(c, 1, (2, b))._replace(window=c.peer.window + 1 + k), t)
    c.expect([sent(c, 1)], t)
    assert c.c.in_recovery and c.ep.stats.fast_retransmits == 1 and c.ep.stats.timeouts == 0


def test_with_sack_an_ack_that_sacks_nothing_new_is_not_a_duplicate_ack(iss: tuple[int, int]) -> None:
    """RFC 6675 §2: repeating known SACK blocks (a duplicated ACK in the network), or
    carrying none, is no evidence of another segment's arrival."""
    c = ten_in_flight(iss)
    t = c.now + ms(20)
    c.deliver(sack_ack(c, 1), t)
    c.deliver(sack_ack(c, 1, (2, 3)), t)
    for _ in range(3):
        c.deliver(sack_ack(c, 1, (2, 3)), t)
        c.deliver(sack_ack(c, 1), t)
    assert c.c.rec.dupacks == 1 and not c.c.in_recovery
    c.expect_nothing(t)
