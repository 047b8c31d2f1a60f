"""The send space alone (``synack.core.send.SendSpace``): the send buffer, the
effective MSS, the peer's window (RFC 9293 §3.10.7.4 fifth check), and what leaves
when (full segments, Nagle in Minshall's form, sender SWS avoidance, PSH, FIN,
zero-window probes, retransmission, SACK recovery's resending).

Every space starts with ISS = 2**32 − 100, so the data crosses the wrap in its
first segment.  ``build`` makes plain segments, so the output compares exactly.
"""

from __future__ import annotations

import pytest

from synack.core.config import Config
from synack.core.recovery import Recovery
from synack.core.send import SendSpace
from synack.core.seq import MASK
from synack.core.stats import Stats
from synack.core.wire import ACK, FIN, NO_OPTIONS, PSH, Segment

ISS = 2**32 - 100
IRS = 2**32 - 10
ADDR = "198.18.0.2"
MSS = 1000
NEWRENO = Config(congestion="newreno")
#: The application's bytes: distinct, so that a wrong slice shows.
DATA = bytes(range(256)) * 40


def build(seq: int, flags: int, payload: bytes = b"") -> Segment:
    """What the connection's builder would make, without the ACK, window or options."""
    return Segment(4000, 80, seq, 0, flags, 0, NO_OPTIONS, payload)


def seq(off: int, iss: int = ISS) -> int:
    """The sequence number ``off`` octets into the data (the SYN took ISS)."""
    return (iss + 1 + off) & MASK


def data_seg(start: int, end: int, flags: int = ACK) -> Segment:
    """The segment carrying DATA[start:end]."""
    return build(seq(start), flags, DATA[start:end])


def established(wnd: int = 65535, config: Config = NEWRENO,
                iss: int = ISS) -> tuple[SendSpace, Recovery, Stats]:
    """A send space whose SYN was acknowledged: send MSS 1000, cwnd 10 segments (NewReno),
    the peer's window ``wnd``."""
    stats = Stats()
    rec = Recovery(config, stats)
    snd = SendSpace(config, iss, ADDR, rec, stats)
    snd.set_mss(MSS, config.mss, config.min_snd_mss, ADDR)
    rec.start(snd.mss, 0)
    snd.nxt = snd.max = (iss + 1) & MASK  # our SYN left ...
    assert snd.acked(snd.nxt) == 0        # ... and was acknowledged
    snd.first_window(IRS + 1, snd.una, wnd)
    return snd, rec, stats


def output(snd: SendSpace, now: int = 0, adjust: int = 0) -> tuple[list[Segment], bool]:
    """What ``send`` puts out, and whether the retransmission timer must run."""
    out: list[Segment] = []
    timer = snd.send(out, build, now, adjust)
    return out, timer


# -- the effective MSS --------------------------------------------------------------------
def test_mss_is_the_peers_option_at_most_ours_and_at_least_min_snd_mss() -> None:
    """§3.7.1 MUST-15/16: Eff.snd.MSS = min(SendMSS, our MSS); Linux tcp_min_snd_mss floors it."""
    snd, _, _ = established()
    snd.set_mss(1000, 1460, 48, ADDR)
    assert snd.mss == 1000
    snd.set_mss(9000, 1460, 48, ADDR)
    assert snd.mss == 1460
    snd.set_mss(10, 1460, 48, ADDR)
    assert snd.mss == 48


def test_mss_without_the_peers_option_is_536_or_1220_for_ipv6() -> None:
    """MUST-15: without an MSS option, assume 536 (IPv4) or 1220 (IPv6, RFC 8200 minus 60)."""
    snd, _, _ = established()
    snd.set_mss(None, 1460, 48, "198.18.0.2")
    assert snd.mss == 536
    snd.set_mss(None, 1460, 48, "fd00:5ac::2")
    assert snd.mss == 1220
    snd.set_mss(None, 500, 48, "fd00:5ac::2")
    assert snd.mss == 500


def test_the_mss_is_bounded_by_half_the_handshakes_window() -> None:
    """Linux tcp_bound_to_half_wnd: half the window (all of it at 536 or less), never
    below 68 octets less the header; a larger window leaves the MSS alone."""
    for window, options, mss in ((65535, 0, 1000), (2000, 12, 1000), (1000, 0, 500), (500, 0, 500),
                                 (80, 0, 80), (40, 0, 48), (40, 12, 40), (20, 12, 36)):
        snd, _, _ = established()
        snd.set_mss(MSS + options, 1460, 48, ADDR, options)
        snd.handshake_window(IRS + 1, snd.una, window)
        assert snd.mss == mss, (window, options)


def test_a_larger_window_lifts_the_bound() -> None:
    """As Linux re-syncs its MSS when max_window grows (tcp_ack_update_window)."""
    snd, _, _ = established()
    snd.handshake_window(IRS + 1, snd.una, 1000)
    assert snd.mss == 500
    assert snd.update_window(IRS + 1, snd.una, 1600)
    assert snd.mss == 800
    assert snd.update_window(IRS + 1, snd.una, 65535)
    assert snd.mss == MSS
    assert snd.update_window(IRS + 1, snd.una, 1000)  # a smaller window: the bound stays lifted
    assert snd.mss == MSS


# -- the buffer ---------------------------------------------------------------------------
def test_queue_takes_what_fits_and_the_writer_hears_of_room_once_a_third_is_free() -> None:
    """Linux sk_stream_write_space: wake the writer when free >= queued / 2."""
    snd, _, _ = established(config=Config(congestion="newreno", snd_buf=3000))
    assert snd.queue(DATA[:2000], False) == 2000
    assert not snd.want_writable
    assert snd.queue(DATA[2000:4000], False) == 1000
    assert snd.want_writable and snd.unacked == 3000 and snd.space == 0
    output(snd)
    assert snd.acked(seq(999)) == 999
    assert not snd.writable() and snd.want_writable  # 2001 queued: 3·2001 > 2·3000
    assert snd.acked(seq(1000)) == 1
    assert snd.writable() and not snd.want_writable
    assert snd.unacked == 2000 and snd.space == 1000


def test_urgent_write_moves_snd_up_to_the_end_of_the_data_until_acknowledged() -> None:
    """§3.8.5: SND.UP points past the urgent data; urgent mode ends when SND.UNA reaches it."""
    snd, _, _ = established()
    snd.queue(DATA[:50], False)
    assert snd.up is None
    snd.queue(DATA[50:150], True)
    assert snd.up == seq(150) == 51  # across the wrap
    output(snd)
    snd.acked(seq(149))
    assert snd.up == 51
    snd.acked(seq(150))
    assert snd.up is None


def test_acked_releases_the_data_and_counts_the_fin() -> None:
    """§3.10.7.4 fifth check: SND.UNA <- SEG.ACK, the acknowledged octets leave the buffer."""
    snd, _, _ = established()
    snd.queue(DATA[:100], False)
    snd.queue_fin()
    assert snd.fin_seq == seq(100)
    output(snd)
    assert snd.acked(seq(60)) == 60
    assert snd.una == seq(60) and snd.data_seq == seq(60) and bytes(snd.buf) == DATA[60:100]
    assert snd.acked(seq(100)) == 40
    assert not snd.fin_acked and snd.unacked == 0
    assert snd.acked(seq(101)) == 1  # the FIN's sequence number
    assert snd.fin_acked and snd.una == seq(101)


def test_the_buffer_keeps_writes_as_chunks_and_segments_cross_them() -> None:
    """Writes are held as written (small ones joined, a bytearray copied), acknowledged
    fronts and whole chunks leave, and a segment, batched or not, takes its octets
    across chunk boundaries; a retransmission takes them again."""
    snd, _, _ = established(wnd=1 << 20, config=Config(congestion="newreno", snd_buf=1 << 20))
    snd._rec.cc.cwnd = 1 << 20
    pieces = [DATA[:700], DATA[700:701], DATA[701:1500], DATA[1500:5000]]
    writes: list[bytes | bytearray] = [*pieces[:3], bytearray(pieces[3])]
    for w in writes:
        assert snd.queue(w, False) == len(w)
    writes[3][:] = b"x" * len(writes[3])  # the caller's bytearray changes: the buffer does not
    assert snd.unacked == 5000 and bytes(snd.buf) == DATA[:5000]
    out, _ = output(snd)
    assert b"".join(s.payload for s in out) == DATA[:5000]
    assert [len(s.payload) for s in out] == [MSS] * 5
    assert snd.acked(seq(1700)) == 1700 and bytes(snd.buf) == DATA[1700:5000]
    resent: list[Segment] = []
    assert snd.retransmit(resent, build, seq(1700), MSS, 0) == MSS
    assert resent == [data_seg(1700, 2700)]
    assert snd.acked(seq(5000)) == 3300 and snd.unacked == 0 and bytes(snd.buf) == b""
    assert snd.queue(DATA[5000:6000], False) == 1000 and bytes(snd.buf) == DATA[5000:6000]
    out, _ = output(snd)
    assert out == [data_seg(5000, 6000, ACK | PSH)]


def test_acked_beyond_a_rewound_snd_nxt_moves_it_forward() -> None:
    """RFC 6298 5.4 go-back-N: an ACK beyond SND.NXT (sent before the RTO) moves SND.NXT too."""
    snd, _, _ = established()
    snd.queue(DATA[:3000], False)
    output(snd)
    snd.nxt = snd.una  # the retransmission timer went back
    snd.persist_backoff = 3
    assert snd.acked(seq(2000)) == 2000
    assert snd.una == snd.nxt == seq(2000) and snd.max == seq(3000)
    assert snd.unacked == 1000 and snd.persist_backoff == 0


# -- the peer's window --------------------------------------------------------------------
def test_first_window_is_the_syns_unscaled_field() -> None:
    """RFC 7323 §2.2: the window of a SYN is never scaled; it sets SND.WL1/WL2."""
    snd, _, _ = established(wnd=1000)
    snd.wscale = 7
    snd.first_window(IRS, snd.una, 65535)
    assert snd.wnd == snd.max_wnd == 65535
    assert (snd.wl1, snd.wl2) == (IRS, seq(0))


def test_update_window_takes_a_newer_segments_window_scaled() -> None:
    """§3.10.7.4 fifth check: SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK."""
    snd, _, _ = established(wnd=5000)
    snd.wscale = 2
    assert snd.update_window(IRS + 1, snd.una, 100)  # same segment numbers: taken
    assert snd.wnd == 400 and snd.max_wnd == 5000
    assert snd.update_window((IRS + 20) & MASK, snd.una, 3000)  # newer SEG.SEQ, across the wrap
    assert snd.wnd == snd.max_wnd == 12000
    assert (snd.wl1, snd.wl2) == (10, seq(0))


def test_update_window_ignores_an_older_segment() -> None:
    """§3.10.7.4 fifth check: an older SEG.SEQ, or the same with an older SEG.ACK, is ignored."""
    snd, _, _ = established(wnd=5000)
    snd.queue(DATA[:1000], False)
    output(snd)
    assert snd.update_window(IRS + 1, seq(500), 4000)
    assert not snd.update_window(IRS + 1, seq(400), 100)  # SND.WL2 > SEG.ACK
    assert not snd.update_window(IRS, seq(1000), 100)     # SND.WL1 > SEG.SEQ
    assert snd.wnd == 4000 and (snd.wl1, snd.wl2) == (IRS + 1, seq(500))


def test_update_window_ignores_an_ack_below_snd_una() -> None:
    """§3.10.7.4 fifth check: the window is updated only "if SND.UNA =< SEG.ACK"."""
    snd, _, _ = established(wnd=5000)
    snd.queue(DATA[:1000], False)
    output(snd)
    snd.acked(seq(1000))
    assert not snd.update_window((IRS + 5) & MASK, seq(999), 100)
    assert snd.wnd == 5000 and snd.wl1 == IRS + 1


def test_ack_seq_is_snd_max_but_never_beyond_the_peers_window() -> None:
    """Linux tcp_acceptable_seq: a pure ACK carries SND.MAX, unless that is beyond SND.UNA + SND.WND."""
    snd, _, _ = established(wnd=5000)
    snd.queue(DATA[:3000], False)
    output(snd)
    snd.nxt = snd.una  # go-back-N after an RTO
    assert snd.ack_seq() == seq(3000)
    snd.update_window(IRS + 1, snd.una, 2000)  # the peer shrank its window
    assert snd.ack_seq() == seq(2000)


# -- new data -----------------------------------------------------------------------------
def test_full_segments_leave_in_one_batch_with_psh_on_the_last() -> None:
    """MUST-61: PSH on the segment that empties the send queue; the flight's first segment is timed."""
    snd, rec, stats = established()
    snd.queue(DATA[:3500], False)
    out, timer = output(snd, now=7)
    assert out == [data_seg(0, 1000), data_seg(1000, 2000), data_seg(2000, 3000),
                   data_seg(3000, 3500, ACK | PSH)]
    assert timer
    assert snd.nxt == snd.max == seq(3500) == 3401
    assert (rec.rtt_seq, rec.rtt_time) == (seq(1000), 7)
    assert stats.retransmits == 0
    assert output(snd) == ([], False)


def test_cwnd_limits_new_data_and_the_rest_waits_for_acks() -> None:
    """RFC 5681 §3.1: no more than cwnd in flight; data waiting keeps the timer running."""
    snd, _, _ = established(config=Config(congestion="newreno", initial_window=2))
    snd.queue(DATA[:5000], False)
    out, timer = output(snd)
    assert out == [data_seg(0, 1000), data_seg(1000, 2000)] and timer
    assert output(snd) == ([], True)
    snd.acked(seq(1000))
    assert output(snd) == ([data_seg(2000, 3000)], True)


def test_sender_sws_avoidance_holds_a_sliver_of_the_window_while_data_flies() -> None:
    """§3.8.6.2.1: less than a segment fits and under half the largest window: wait for the ACK."""
    snd, _, _ = established(wnd=2500)
    snd.queue(DATA[:3000], False)
    out, timer = output(snd)
    assert out == [data_seg(0, 1000), data_seg(1000, 2000)] and timer
    assert snd.nxt == seq(2000)


def test_sender_sws_avoidance_sends_half_the_largest_window() -> None:
    """§3.8.6.2.1 (Fs = 1/2): a segment of at least half the peer's largest window may go."""
    snd, _, _ = established(wnd=1200)
    snd.queue(DATA[:300], False)
    assert output(snd) == ([data_seg(0, 300, ACK | PSH)], True)
    snd.queue(DATA[300:2300], False)
    assert output(snd) == ([data_seg(300, 1200)], True)  # 900 >= 1200 / 2; more follows: no PSH


def test_sender_sws_avoidance_holds_a_sliver_of_cwnd_even_if_half_the_window() -> None:
    """§3.8.6.2.1: Fs = 1/2 is about the peer's window; a sliver that cwnd leaves waits for ACKs."""
    snd, rec, _ = established(wnd=1600)
    rec.cc.cwnd = 1200
    snd.queue(DATA[:300], False)
    assert output(snd) == ([data_seg(0, 300, ACK | PSH)], True)
    snd.queue(DATA[300:2300], False)
    assert output(snd) == ([], False)  # 900 fit cwnd: at least 1600 / 2, but less than the window's 1300


def test_nagle_holds_a_small_segment_only_behind_an_unacknowledged_small_one() -> None:
    """§3.7.4 in Minshall's form (Linux tcp_minshall_check): full segments in flight hold nothing."""
    snd, _, _ = established()
    snd.queue(DATA[:1500], False)
    assert output(snd) == ([data_seg(0, 1000), data_seg(1000, 1500, ACK | PSH)], True)
    snd.queue(DATA[1500:1600], False)
    assert output(snd) == ([], False)
    snd.acked(seq(1000))  # the full segment: the small one is still out
    assert output(snd) == ([], False)
    snd.acked(seq(1500))
    assert output(snd) == ([data_seg(1500, 1600, ACK | PSH)], True)


@pytest.mark.parametrize("release", ["nodelay", "urgent", "fin"])
def test_nagle_does_not_hold_with_nodelay_urgent_data_or_a_fin(release: str) -> None:
    """§3.7.4 SHLD-7 (TCP_NODELAY), MUST-30 (urgent data), and the FIN: they go at once."""
    snd, _, _ = established()
    snd.queue(DATA[:100], False)
    output(snd)
    snd.nodelay = release == "nodelay"
    snd.queue(DATA[100:150], release == "urgent")
    if release == "fin":
        snd.queue_fin()
    flags = ACK | PSH | (FIN if release == "fin" else 0)
    assert output(snd) == ([data_seg(100, 150, flags)], True)


def test_fin_rides_on_the_last_data_segment() -> None:
    """§3.10.4 CLOSE: the FIN follows the queued data, on its last segment."""
    snd, _, _ = established()
    snd.queue(DATA[:1500], False)
    snd.queue_fin()
    out, timer = output(snd)
    assert out == [data_seg(0, 1000), data_seg(1000, 1500, ACK | PSH | FIN)] and timer
    assert snd.nxt == snd.max == seq(1501)
    assert output(snd) == ([], False)


def test_fin_alone_is_a_bare_fin_ack() -> None:
    """§3.10.4 CLOSE with nothing queued: <SEQ=SND.NXT><CTL=FIN,ACK>, one sequence number."""
    snd, _, _ = established()
    snd.queue_fin()
    assert output(snd) == ([build(seq(0), ACK | FIN)], True)
    assert snd.nxt == snd.max == seq(1)


def test_after_go_back_resent_segments_are_counted_and_not_timed() -> None:
    """RFC 6298 5.4 and Karn's rule: segments below SND.MAX are retransmissions, never timed."""
    snd, rec, stats = established()
    snd.queue(DATA[:3000], False)
    output(snd)
    rec.back_off()
    rec.cc.cwnd = MSS  # the loss window
    snd.nxt = snd.una
    assert output(snd, now=5) == ([data_seg(0, 1000)], True)
    assert stats.retransmits == 1 and rec.rtt_seq is None
    assert snd.nxt == seq(1000) and snd.max == seq(3000)


def test_limited_transmit_sends_one_new_segment_per_duplicate_ack() -> None:
    """RFC 3042: the first two duplicate ACKs each let one new segment go beyond cwnd."""
    snd, rec, _ = established(config=Config(congestion="newreno", initial_window=2))
    snd.queue(DATA[:4000], False)
    output(snd)
    rec.on_dup_ack(snd.una, snd.max, MSS, 0)
    assert output(snd) == ([data_seg(2000, 3000)], True)
    rec.on_dup_ack(snd.una, snd.max, MSS, 0)
    assert output(snd) == ([data_seg(3000, 4000, ACK | PSH)], True)


def test_adjust_lets_what_was_sacked_out_of_the_flight() -> None:
    """RFC 6675 §5: in SACK recovery the flight is the pipe; ``adjust`` = pipe − (SND.NXT − SND.UNA)."""
    snd, rec, _ = established()
    rec.cc.cwnd = 3000
    snd.queue(DATA[:5000], False)
    assert len(output(snd)[0]) == 3
    assert output(snd) == ([], True)
    assert output(snd, adjust=-2000) == ([data_seg(3000, 4000), data_seg(4000, 5000, ACK | PSH)], True)


# -- zero-window probes -------------------------------------------------------------------
def test_zero_window_probe_is_a_bare_ack_at_snd_una_minus_one() -> None:
    """§3.8.6.1 MUST-36, as Linux tcp_xmit_probe_skb: <SEQ=SND.UNA−1><CTL=ACK>, no data."""
    snd, _, _ = established(wnd=0, iss=2**32 - 1)  # SND.UNA = 0: the probe wraps
    snd.queue(DATA[:10], False)
    assert output(snd) == ([], True)  # data waits for the window: the timer runs
    snd.probe = True
    assert output(snd) == ([build(2**32 - 1, ACK)], True)
    assert not snd.probe and snd.nxt == snd.max == 0


def test_zero_window_probe_in_urgent_mode_first_carries_the_pointer_at_snd_una() -> None:
    """MUST-66 (Linux tcp_write_wakeup): an acceptable bare ACK at SND.UNA brings URG through."""
    snd, _, _ = established(wnd=0)
    snd.queue(DATA[:10], True)
    snd.probe = True
    assert output(snd) == ([build(seq(0), ACK), build(seq(-1), ACK)], True)


def test_zero_window_probe_gives_way_to_data_once_the_window_opens() -> None:
    """§3.8.6.1: probing is for a closed window; an open one takes the data itself."""
    snd, _, _ = established(wnd=100)
    snd.queue(DATA[:10], False)
    snd.probe = True
    assert output(snd) == ([data_seg(0, 10, ACK | PSH)], True)
    assert not snd.probe


# -- retransmission -----------------------------------------------------------------------
def test_retransmit_resends_from_seq_up_to_the_limit_and_stops_the_rtt_sample() -> None:
    """RFC 6298 and Karn's rule: a resent segment is never timed; SND.NXT stays."""
    snd, rec, stats = established()
    snd.queue(DATA[:2500], False)
    output(snd)
    out: list[Segment] = []
    assert snd.retransmit(out, build, seq(0), MSS, 9) == 1000
    assert snd.retransmit(out, build, seq(2000), MSS, 9) == 500
    assert out == [data_seg(0, 1000), data_seg(2000, 2500, ACK | PSH)]
    assert stats.retransmits == 2 and rec.rtt_seq is None
    assert snd.nxt == snd.max == seq(2500)


def test_retransmit_never_resends_beyond_snd_max() -> None:
    """Retransmission resends what was sent; unsent data waits for the window and cwnd."""
    snd, _, _ = established(wnd=1500)
    snd.queue(DATA[:3000], False)
    output(snd)
    assert snd.max == seq(1000)
    out: list[Segment] = []
    assert snd.retransmit(out, build, seq(0), 5000, 0) == 1000
    assert out == [data_seg(0, 1000)]  # no PSH: the queue goes on


def test_retransmit_carries_the_fin_once_it_was_sent() -> None:
    """§3.10.4: the FIN occupies a sequence number and is retransmitted like data, once sent."""
    snd, _, _ = established()
    snd.queue(DATA[:100], False)
    output(snd)
    snd.queue_fin()  # (a fast retransmit goes before the new FIN in the same output)
    out: list[Segment] = []
    assert snd.retransmit(out, build, seq(0), MSS, 0) == 100
    assert out == [data_seg(0, 100, ACK | PSH)]
    assert output(snd) == ([build(seq(100), ACK | FIN)], True)
    out = []
    assert snd.retransmit(out, build, seq(0), MSS, 0) == 101
    snd.acked(seq(100))
    assert snd.retransmit(out, build, seq(100), MSS, 0) == 1
    assert out == [data_seg(0, 100, ACK | PSH | FIN), build(seq(100), ACK | FIN)]


def test_retransmit_with_nothing_outstanding_sends_nothing() -> None:
    """Nothing sent and unacknowledged: nothing to resend, nothing counted."""
    snd, _, stats = established()
    snd.queue(DATA[:100], False)
    output(snd)
    snd.acked(seq(100))
    out: list[Segment] = []
    assert snd.retransmit(out, build, seq(100), MSS, 0) == 0
    assert out == [] and stats.retransmits == 0


def test_resend_lost_resends_the_lost_holes_while_cwnd_exceeds_the_pipe() -> None:
    """RFC 6675 §5 (C): while cwnd − pipe >= SMSS, NextSeg() rule 1 resends a lost hole."""
    snd, rec, stats = established()
    snd.queue(DATA[:10000], False)
    output(snd)
    # Segments 0 and 2 lost: 1 and 3-6 SACKed (each hole has > 2·SMSS SACKed above it).
    rec.sack(snd.una, snd.max, ((seq(1000), seq(2000)), (seq(3000), seq(7000))))
    rec.on_dup_ack(snd.una, snd.max, MSS, 0)
    assert rec.in_recovery and rec.cc.cwnd == 5000  # NewReno: half the flight, no inflation
    out: list[Segment] = []
    assert snd.resend_lost(out, build, 3) == 5000 - 10000  # pipe 3000 + 2 resent, minus the flight
    assert out == [data_seg(0, 1000), data_seg(2000, 3000)]
    assert rec.sb is not None and rec.sb.high_rxt == seq(3000) and rec.sb.rxt_at == 3
    assert stats.retransmits == 2 and snd.nxt == seq(10000)
