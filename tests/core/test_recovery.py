"""Loss recovery alone (``synack.core.recovery.Recovery``): the initial window, RTT
samples and the RTO (RFC 6298, RTTM of RFC 7323), duplicate ACKs, fast retransmit and
fast recovery (RFC 5681 §3.2, RFC 6582), SACK recovery's partial ACKs (RFC 6675),
limited transmit (RFC 3042), cwnd growth only when cwnd-limited, and timeouts.

SND.UNA starts at 2**32 − 5000, so the flights cross the wrap.  NewReno (ssthresh =
half the flight) keeps the numbers plain; the Scoreboard has its own tests
(test_sack_recovery.py).
"""

from __future__ import annotations

import pytest

from synack.core.config import Config, ms, seconds
from synack.core.congestion import INITIAL_SSTHRESH
from synack.core.recovery import Recovery
from synack.core.seq import MASK
from synack.core.stats import Stats

MSS = 1000
UNA = 2**32 - 5000
NEWRENO = Config(congestion="newreno")
T = seconds(5)


def seq(off: int) -> int:
    """``off`` octets above the first unacknowledged one."""
    return (UNA + off) & MASK


def recovery(config: Config = NEWRENO, handshake_retransmits: int = 0) -> tuple[Recovery, Stats]:
    """A connection's recovery once the send MSS (1000) is known: cwnd 10 segments."""
    stats = Stats()
    rec = Recovery(config, stats)
    rec.start(MSS, handshake_retransmits)
    return rec, stats


def dup_acks(rec: Recovery, n: int, snd_max: int = seq(10000)) -> None:
    for _ in range(n):
        rec.on_dup_ack(seq(0), snd_max, MSS, T)


# -- the handshake ------------------------------------------------------------------------
@pytest.mark.parametrize(("retransmits", "cwnd"), [(0, 10 * MSS), (1, 10 * MSS), (2, MSS)])
def test_initial_window_is_ten_segments_and_one_after_two_handshake_retransmissions(
        retransmits: int, cwnd: int) -> None:
    """RFC 6928 (Linux TCP_INIT_CWND); RFC 5681 §3.1 one segment after a lost SYN (Linux: after two)."""
    rec, _ = recovery(handshake_retransmits=retransmits)
    assert rec.cc.cwnd == cwnd and rec.cc.ssthresh == INITIAL_SSTHRESH


def test_initial_window_follows_the_configuration() -> None:
    """RFC 5681 §3.1: IW in segments of the send MSS."""
    rec, _ = recovery(Config(congestion="newreno", initial_window=4))
    assert rec.cc.cwnd == 4 * MSS


def test_handshake_rtt_sample_sets_srtt_rttvar_and_rto() -> None:
    """RFC 6298 2.2: SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max(G, 4·RTTVAR), at least min_rto."""
    rec, _ = recovery()
    rec.handshake_rtt(ms(100), True)
    assert (rec.srtt, rec.rttvar, rec.rto) == (ms(100), ms(50), ms(300))
    rec, _ = recovery()
    rec.handshake_rtt(ms(10), False)
    assert rec.rto == ms(200)  # Linux TCP_RTO_MIN


def test_handshake_without_a_sample_after_a_retransmission_falls_back_to_3_seconds() -> None:
    """RFC 6298 5.7 (MUST): RTO = 3 s once data flows after a lost SYN without an RTT sample."""
    rec, _ = recovery()
    rec.handshake_rtt(None, False)
    assert rec.rto == seconds(1)
    rec.handshake_rtt(None, True)
    assert rec.rto == seconds(3)
    rec, _ = recovery()
    rec.back_off()
    rec.back_off()
    rec.handshake_rtt(None, True)  # an RTO of 3 s or more is kept ("less than 3 seconds")
    assert rec.rto == seconds(4)
    rec, _ = recovery()
    rec.handshake_rtt(ms(100), False)
    rec.handshake_rtt(None, True)  # a sample exists: no fallback
    assert rec.rto == ms(300)


# -- RTT samples --------------------------------------------------------------------------
def test_the_timed_segment_gives_a_sample_only_when_its_ack_covers_it() -> None:
    """RFC 6298 2.3: a sample R' once the timed segment is acknowledged (SRTT 7/8, RTTVAR 3/4)."""
    rec, _ = recovery(Config(congestion="newreno", min_rto=1))
    rec.time_syn(seq(1), T)
    rec.on_new_ack(seq(0), seq(1), seq(1), 0, None, MSS, False, T + ms(50))
    assert (rec.srtt, rec.rttvar, rec.rtt_seq) == (ms(50), ms(25), None)
    rec.rtt_seq, rec.rtt_time = seq(2001), T + ms(100)  # as the send space times a flight
    rec.on_new_ack(seq(1), seq(1001), seq(3001), 1000, None, MSS, True, T + ms(150))
    assert rec.srtt == ms(50) and rec.rtt_seq == seq(2001)
    rec.on_new_ack(seq(1001), seq(2001), seq(3001), 1000, None, MSS, True, T + ms(190))
    assert (rec.srtt, rec.rttvar, rec.rto) == (55_000, 28_750, 55_000 + 4 * 28_750)
    assert rec.rtt_seq is None


def test_resent_data_is_never_timed() -> None:
    """Karn's rule (RFC 6298 §3): no sample from an ACK that may answer a retransmission."""
    rec, _ = recovery()
    rec.rtt_seq, rec.rtt_time = seq(1000), T
    rec.resent(T + ms(10))
    rec.on_new_ack(seq(0), seq(1000), seq(1000), 1000, None, MSS, True, T + ms(60))
    assert rec.srtt is None and rec.rto == seconds(1)


def test_rttm_samples_every_ack_weighted_by_the_flight() -> None:
    """RFC 7323 §4 and App. G: α and β divided by ExpectedSamples = ceil(FlightSize / (2·SMSS))."""
    rec, _ = recovery()
    rec.handshake_rtt(ms(100), False)
    rec.rtt_seq = seq(5000)
    rec.on_new_ack(seq(0), seq(1000), seq(8000), 1000, 20, MSS, True, T)  # 4 samples per round trip
    assert (rec.srtt, rec.rttvar) == ((31 * 100_000 + 20_000) // 32, (15 * 50_000 + 80_000) // 16)
    assert rec.rto == 97_500 + 4 * 51_875
    assert rec.rtt_seq is None  # the echo replaced the timed segment


def test_rttm_echo_of_zero_milliseconds_counts_as_one() -> None:
    """Linux tcp_rtt_tsopt_us: a sample is at least 1 ms (the clock's granularity)."""
    rec, _ = recovery()
    rec.on_new_ack(seq(0), seq(1000), seq(1000), 1000, 0, MSS, True, T)
    assert rec.srtt == ms(1)


# -- duplicate ACKs and fast recovery -----------------------------------------------------
@pytest.mark.parametrize(("congestion", "ssthresh"), [("newreno", 5000), ("cubic", 7000)])
def test_third_duplicate_ack_enters_fast_recovery_with_cwnd_ssthresh_plus_three(
        congestion: str, ssthresh: int) -> None:
    """RFC 5681 §3.2 steps 2-4: ssthresh from the controller (NewReno FlightSize/2, CUBIC 0.7·cwnd)."""
    rec, stats = recovery(Config(congestion=congestion))
    dup_acks(rec, 2)
    assert not rec.in_recovery and not rec.rexmit and rec.cc.cwnd == 10 * MSS
    dup_acks(rec, 1)
    assert rec.in_recovery and rec.rexmit and rec.recover == seq(10000)
    assert rec.cc.ssthresh == ssthresh and rec.cc.cwnd == ssthresh + 3 * MSS
    assert stats.fast_retransmits == 1
    dup_acks(rec, 1)
    assert rec.cc.cwnd == ssthresh + 4 * MSS and stats.fast_retransmits == 1


def test_newreno_partial_ack_deflates_cwnd_and_resends_the_next_hole() -> None:
    """RFC 6582 §3.2 step 3 (partial ACK): deflate by the amount acked, add back SMSS if >= SMSS."""
    rec, _ = recovery()
    dup_acks(rec, 5)
    assert rec.cc.cwnd == 10 * MSS
    rec.rexmit = False  # (the output resent SND.UNA's segment)
    rec.on_new_ack(seq(0), seq(1500), seq(10000), 1500, None, MSS, True, T)
    assert rec.in_recovery and rec.rexmit and rec.dupacks == 0
    assert rec.cc.cwnd == 10 * MSS - 1500 + MSS
    rec.on_new_ack(seq(1500), seq(2000), seq(10000), 500, None, MSS, True, T)
    assert rec.cc.cwnd == 9500 - 500  # less than SMSS acknowledged: nothing added back


def test_full_ack_leaves_fast_recovery_with_cwnd_at_ssthresh() -> None:
    """RFC 6582 §3.2 step 3 (full ACK), the option Linux takes: cwnd = ssthresh."""
    rec, _ = recovery()
    dup_acks(rec, 6)
    rec.on_new_ack(seq(0), seq(10000), seq(10000), 10000, None, MSS, True, T)
    assert not rec.in_recovery and rec.recover is None
    assert rec.cc.cwnd == rec.cc.ssthresh == 5000


def test_duplicate_acks_after_a_timeout_do_not_enter_recovery_until_snd_una_passes_recover() -> None:
    """RFC 6582 §3.2 step 2: duplicate ACKs for data sent before the RTO start no fast retransmit."""
    rec, stats = recovery()
    rec.on_timeout(10000, True, seq(10000), T)
    dup_acks(rec, 3, snd_max=seq(12000))
    assert not rec.in_recovery and stats.fast_retransmits == 0
    rec.on_new_ack(seq(0), seq(9000), seq(12000), 9000, None, MSS, True, T)
    assert rec.recover == seq(10000)
    rec.on_new_ack(seq(9000), seq(10000), seq(12000), 1000, None, MSS, True, T)
    assert rec.recover is None
    for _ in range(3):
        rec.on_dup_ack(seq(10000), seq(12000), MSS, T)
    assert rec.in_recovery and stats.fast_retransmits == 1


def test_sack_shows_the_first_segment_lost_recovery_starts_without_inflation() -> None:
    """RFC 6675 §5: IsLost(SND.UNA) starts recovery before three dup ACKs; cwnd = ssthresh, the pipe rules."""
    rec, _ = recovery()
    rec.sack(seq(0), seq(10000), ((seq(1000), seq(4000)),))  # more than 2·SMSS SACKed above SND.UNA
    dup_acks(rec, 1)
    assert rec.in_recovery and rec.rexmit and rec.cc.cwnd == rec.cc.ssthresh == 5000
    dup_acks(rec, 3)
    assert rec.cc.cwnd == 5000


@pytest.mark.parametrize(("delay", "resend"), [(ms(50) - 1, False), (ms(50), True)])
def test_sack_partial_ack_of_the_retransmission_resends_at_snd_una_after_half_an_srtt(
        delay: int, resend: bool) -> None:
    """RFC 6675, RFC 8985 §6.2's reasoning: an ACK sooner than SRTT/2 after a resend is the original's."""
    rec, _ = recovery()
    rec.handshake_rtt(ms(100), False)
    rec.sack(seq(0), seq(10000), ((seq(2000), seq(5000)),))
    dup_acks(rec, 3)
    rec.rexmit = False
    rec.resent(T)                      # SND.UNA's segment left again at T ...
    rec.retransmitted(seq(0), MSS)     # ... HighRxt past it
    rec.on_new_ack(seq(0), seq(1000), seq(10000), 1000, None, MSS, True, T + delay)
    assert rec.in_recovery and rec.rexmit is resend
    assert rec.sb is not None and rec.sb.rxt_at is None  # later partial ACKs tell nothing new


def test_retransmitted_moves_high_rxt_past_what_was_resent() -> None:
    """RFC 6675 §2: HighRxt, the highest octet retransmitted in this recovery."""
    rec, _ = recovery()
    rec.retransmitted(seq(2000), MSS)  # no scoreboard: nothing to note
    rec.sack(seq(0), seq(10000), ((seq(5000), seq(6000)),))
    rec.retransmitted(seq(2000), MSS)
    assert rec.sb is not None and rec.sb.high_rxt == seq(3000)


def test_scoreboard_is_dropped_once_its_blocks_are_acknowledged_outside_recovery() -> None:
    """RFC 6675 §5: SACK information at or below SND.UNA is forgotten; without any, no scoreboard."""
    rec, _ = recovery()
    rec.sack(seq(0), seq(10000), ((seq(2000), seq(3000)),))
    rec.on_new_ack(seq(0), seq(2500), seq(10000), 2500, None, MSS, True, T)
    assert rec.sb is not None and rec.sb.blocks == [(seq(2500), seq(3000))]
    rec.on_new_ack(seq(2500), seq(3000), seq(10000), 500, None, MSS, True, T)
    assert rec.sb is None


def test_limited_transmit_adds_a_segment_per_duplicate_ack_for_new_data_only() -> None:
    """RFC 3042: the first two duplicate ACKs each allow one new segment beyond cwnd."""
    rec, _ = recovery()
    assert rec.congestion_window(seq(10000), seq(10000), MSS) == 10 * MSS
    dup_acks(rec, 1)
    assert rec.congestion_window(seq(10000), seq(10000), MSS) == 11 * MSS
    dup_acks(rec, 1)
    assert rec.congestion_window(seq(10000), seq(10000), MSS) == 12 * MSS
    assert rec.congestion_window(seq(0), seq(10000), MSS) == 10 * MSS  # after go-back: old data
    dup_acks(rec, 1)
    assert rec.congestion_window(seq(10000), seq(10000), MSS) == rec.cc.cwnd == 8 * MSS


# -- growth -------------------------------------------------------------------------------
@pytest.mark.parametrize(("snd_max", "grown"), [(5001, 11000), (5000, 10000)])
def test_slow_start_grows_cwnd_only_when_the_flight_exceeds_half_of_it(snd_max: int, grown: int) -> None:
    """RFC 7661 / RFC 9438 §4.6 (Linux tcp_is_cwnd_limited): an application-limited flow does not grow."""
    rec, _ = recovery()
    rec.on_new_ack(seq(0), seq(1000), seq(snd_max), 1000, None, MSS, True, T)
    assert rec.cc.cwnd == grown


@pytest.mark.parametrize(("snd_max", "grown"), [(9001, 10100), (9000, 10000)])
def test_congestion_avoidance_grows_cwnd_only_when_the_flight_is_within_a_segment_of_it(
        snd_max: int, grown: int) -> None:
    """RFC 5681 §3.1 eq. 3 (SMSS·SMSS/cwnd), only when cwnd-limited (Linux tcp_is_cwnd_limited)."""
    rec, _ = recovery()
    rec.cc.ssthresh = 5000
    rec.on_new_ack(seq(0), seq(1000), seq(snd_max), 1000, None, MSS, True, T)
    assert rec.cc.cwnd == grown


def test_an_ack_in_syn_sent_does_not_grow_cwnd() -> None:
    """RFC 5681 §3.1: cwnd grows with ACKs of new data, not with the ACK of our SYN (``grow`` False)."""
    rec, _ = recovery()
    rec.on_new_ack(seq(0), seq(1000), seq(10000), 1000, None, MSS, False, T)  # cwnd-limited, yet
    assert rec.cc.cwnd == 10 * MSS


# -- timeouts -----------------------------------------------------------------------------
def test_timeout_ends_recovery_with_one_segment_and_halves_ssthresh_once() -> None:
    """RFC 5681 §3.1 eq. 4 (once per loss episode) and LW = 1 SMSS; RFC 6582 step 4: recover = SND.MAX."""
    rec, _ = recovery()
    rec.sack(seq(0), seq(10000), ((seq(1000), seq(4000)),))
    dup_acks(rec, 1)
    rec.on_timeout(10000, True, seq(10000), T)
    assert (rec.cc.cwnd, rec.cc.ssthresh) == (MSS, 5000)
    assert not rec.in_recovery and not rec.rexmit and rec.dupacks == 0 and rec.sb is None
    assert rec.recover == seq(10000)
    rec.on_timeout(1000, False, seq(10000), T + seconds(1))
    assert (rec.cc.cwnd, rec.cc.ssthresh) == (MSS, 5000)


def test_back_off_doubles_the_rto_up_to_max_rto_and_stops_timing() -> None:
    """RFC 6298 5.5: RTO <- RTO · 2, bounded by the maximum (2.5); Karn: no sample from a resend."""
    rec, _ = recovery(Config(congestion="newreno", max_rto=seconds(3)))
    rec.rtt_seq = seq(1000)
    rtos = []
    for _ in range(3):
        rec.back_off()
        rtos.append(rec.rto)
    assert rtos == [seconds(2), seconds(3), seconds(3)] and rec.rtt_seq is None
