"""The receive space alone (``synack.core.recv.ReceiveSpace``): acceptability (RFC 9293
§3.10.7.4 Table 6), in-order and out-of-order text, when to ACK (delayed ACK with
Linux's quick-ack start), the advertised window and its SACK blocks, reading and the
window update it may owe, the urgent pointer and the FIN.

Every space starts from IRS = 2**32 − 100, so the receive window crosses the wrap.
"""

from __future__ import annotations

from synack.core.config import Config, ms
from synack.core.errors import DropReason
from synack.core.recv import HELD, READABLE, ReceiveSpace
from synack.core.seq import MASK
from synack.core.stats import Stats
from synack.core.timers import IDLE, Timer, TimerTable
from synack.core.trace import ACCEPTED, trimmed
from synack.core.wire import ACK

IRS = 2**32 - 100
MSS = 1000
RTO = ms(200)
T0 = 10_000_000  # long after the connection began: the first data counts as after idle
DATA_100 = bytes(range(100))


def seq(off: int, irs: int = IRS) -> int:
    """The sequence number ``off`` octets into the peer's data."""
    return (irs + 1 + off) & MASK


def space(config: Config | None = None, irs: int = IRS) -> tuple[ReceiveSpace, TimerTable, Stats]:
    """A receive space that has seen the peer's SYN (ISN ``irs``) and acknowledged it."""
    timers = list(IDLE)
    stats = Stats()
    rcv = ReceiveSpace(config or Config(), timers, stats)
    rcv.start(irs)
    ack_sent(rcv)
    return rcv, timers, stats


def ack_sent(rcv: ReceiveSpace) -> None:
    """Our ACK left (as the connection's output does it: the segment builder advertises)."""
    rcv.ack_now = False
    rcv.advertise(ACK)


# -- the window ---------------------------------------------------------------------------
def test_start_puts_rcv_nxt_past_the_syn_and_remembers_the_syns_edge() -> None:
    """§3.10.7.3: RCV.NXT <- SEG.SEQ + 1; the SYN's window (unscaled, RFC 7323 §2.2) is the edge."""
    rcv = ReceiveSpace(Config(rcv_buf=100_000), list(IDLE), Stats())
    rcv.start(2**32 - 1)
    assert (rcv.irs, rcv.nxt, rcv.adv) == (2**32 - 1, 0, 65535)


def test_syn_window_is_the_free_space_unscaled_and_at_most_65535() -> None:
    """RFC 7323 §2.2: the window field of a SYN is never scaled."""
    rcv, _, _ = space(Config(rcv_buf=100_000))
    rcv.wscale = 7
    assert rcv.syn_window() == 65535 and rcv.adv == seq(65535)
    rcv, _, _ = space(Config(rcv_buf=3000))
    assert rcv.syn_window() == 3000 and rcv.adv == seq(3000)


def test_acceptable_with_an_open_window_is_any_overlap() -> None:
    """§3.10.7.4 Table 6, RCV.WND > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND, or the last octet is."""
    rcv, _, _ = space(Config(rcv_buf=1000))
    assert rcv.acceptable(seq(0), 0) and rcv.acceptable(seq(999), 0)
    assert not rcv.acceptable(seq(1000), 0) and not rcv.acceptable(seq(-1), 0)
    assert rcv.acceptable(seq(-5), 10)       # its last octet is in
    assert not rcv.acceptable(seq(-10), 10)  # ends just below RCV.NXT
    assert rcv.acceptable(seq(999), 10)      # its first octet is in
    assert not rcv.acceptable(seq(1000), 1)


def test_acceptable_with_a_zero_window_is_only_an_empty_segment_at_rcv_nxt() -> None:
    """§3.10.7.4 Table 6, RCV.WND = 0: SEG.LEN = 0 and SEG.SEQ = RCV.NXT; no octet is acceptable."""
    rcv, _, _ = space(Config(rcv_buf=100))
    rcv.process_text(seq(0), bytes(100), T0, RTO, MSS)
    assert rcv.window == 0
    assert rcv.acceptable(seq(100), 0)
    assert not rcv.acceptable(seq(101), 0)
    assert not rcv.acceptable(seq(100), 1)


def test_advertise_scales_the_free_space_and_caps_the_field_at_65535() -> None:
    """RFC 7323 §2.3: SEG.WND = RCV.WND >> Rcv.Wind.Shift, in 16 bits."""
    rcv, _, _ = space(Config(rcv_buf=100_000))
    assert rcv.advertise(0) == 65535
    rcv.wscale = 2
    assert rcv.advertise(0) == 25000
    rcv.process_text(seq(0), bytes(1000), T0, RTO, MSS)
    assert rcv.advertise(0) == 24750


def test_advertise_with_an_ack_stops_the_delayed_ack_and_records_last_ack_sent() -> None:
    """§3.8.6.3: an ACK that leaves is the owed one; Last.ACK.sent (RFC 7323) <- RCV.NXT."""
    rcv, timers, _ = space(Config(quickacks=0))
    rcv.process_text(seq(0), b"abc", T0, RTO, MSS)
    assert timers[Timer.DELAYED_ACK] == T0 + ms(40)
    rcv.advertise(0)  # no ACK flag (a RST): nothing changes
    assert timers[Timer.DELAYED_ACK] == T0 + ms(40) and rcv.wup == seq(0)
    rcv.advertise(ACK)
    assert timers[Timer.DELAYED_ACK] is None and rcv.wup == seq(3)


def test_advertised_right_edge_stays_put_while_data_fills_the_buffer() -> None:
    """§3.8.6 SHLD-14: data arriving takes the window from the left; the right edge never moves back."""
    rcv, _, _ = space(Config(rcv_buf=5000))
    field = rcv.advertise(ACK)
    assert field == 5000 and rcv.adv == seq(5000)
    for i in range(4):
        rcv.process_text(seq(1000 * i), bytes(1000), T0 + i, RTO, MSS)
        field = rcv.advertise(ACK)
        assert (rcv.nxt + field) & MASK == seq(5000) == rcv.adv


def test_a_scaled_window_is_rounded_down_and_every_edge_shown_stays_acceptable() -> None:
    """RFC 7323 §2.3 and App. F: a scaled field can move the edge the peer sees back by
    less than 2**shift (free space rounded down, as FreeBSD; Linux rounds up and never
    shrinks, which lets tiny segments grow the buffer to its memory limit, the reason for its
    tcp_shrink_window).  No octet is refused that any advertised edge covered: the
    acceptable window is the buffer's free space, whose edge never moves back."""
    rcv, _, stats = space(Config(rcv_buf=65535))
    rcv.wscale = 7
    shown = [seq(65535)]  # the SYN's edge (unscaled)
    for i in range(40):
        field = rcv.advertise(ACK)
        shown.append((rcv.nxt + (field << 7)) & MASK)
        rcv.process_text(seq(100 * i), bytes(100), T0 + i, RTO, MSS)
    offsets = [(e - seq(0)) & MASK for e in shown]
    assert offsets[:5] == [65535, 65408, 65508, 65480, 65452]
    assert max(offsets) - min(offsets) < 128 and max(offsets) == 65535
    assert rcv.adv == seq(65535)  # the furthest edge shown
    # The peer fills everything it was ever shown, up to the SYN's edge: all taken.
    fill = 65535 - 4000
    assert rcv.process_text(seq(4000), bytes(fill), T0 + 50, RTO, MSS) == (True, ACCEPTED, 0)
    assert len(rcv.buf) == 65535 and rcv.window == 0 and not any(stats.dropped.values())


# -- text in order ------------------------------------------------------------------------
def test_in_order_data_is_readable_when_it_reaches_an_empty_buffer() -> None:
    """§3.10.7.4 seventh: RCV.NXT advances over the data; the application hears of new data once."""
    rcv, _, _ = space()
    assert rcv.process_text(seq(0), b"abc", T0, RTO, MSS) == (True, ACCEPTED, READABLE)
    assert rcv.process_text(seq(3), b"def", T0, RTO, MSS) == (True, ACCEPTED, 0)
    assert rcv.nxt == seq(6) and bytes(rcv.buf) == b"abcdef"


def test_quick_acks_for_the_first_segments_then_a_delayed_ack_not_pushed_back() -> None:
    """Linux tcp_incr_quickack, then §3.8.6.3 / RFC 5681 §4.2: one delayed-ACK deadline, never moved."""
    rcv, timers, _ = space(Config(quickacks=2))
    for i in range(2):
        rcv.process_text(seq(i), b"x", T0 + ms(100) * i, RTO, MSS)
        assert rcv.ack_now and timers[Timer.DELAYED_ACK] is None
        ack_sent(rcv)
    t = T0 + ms(200)
    rcv.process_text(seq(2), b"x", t, RTO, MSS)
    assert not rcv.ack_now and timers[Timer.DELAYED_ACK] == t + ms(40)
    rcv.process_text(seq(3), b"x", t + ms(10), RTO, MSS)
    assert not rcv.ack_now and timers[Timer.DELAYED_ACK] == t + ms(40)


def test_more_than_one_full_segment_unacknowledged_is_acked_at_once() -> None:
    """RFC 5681 §4.2 / Linux __tcp_ack_snd_check: ACK at once when RCV.NXT − Last.ACK.sent > MSS."""
    rcv, timers, _ = space(Config(quickacks=0))
    rcv.process_text(seq(0), bytes(MSS), T0, RTO, MSS)
    assert not rcv.ack_now and timers[Timer.DELAYED_ACK] == T0 + ms(40)
    rcv.process_text(seq(MSS), b"x", T0 + 1, RTO, MSS)
    assert rcv.ack_now


def test_delayed_ack_timeout_follows_the_gaps_between_arrivals() -> None:
    """Linux tcp_event_data_recv: a gap m < ato makes ato = ato / 2 + m (at least delack_min)."""
    rcv, timers, _ = space(Config(quickacks=0))
    rcv.process_text(seq(0), b"x", T0, RTO, MSS)
    ack_sent(rcv)
    rcv.process_text(seq(1), b"x", T0 + ms(30), RTO, MSS)
    assert rcv.ato == ms(50) and timers[Timer.DELAYED_ACK] == T0 + ms(80)
    rcv.process_text(seq(2), b"x", T0 + ms(40), RTO, MSS)  # a gap of at most delack_min / 2 ...
    assert rcv.ato == ms(25) + ms(20)                       # ... pulls ato towards delack_min


def test_delayed_ack_timeout_is_at_least_delack_min() -> None:
    """Config.delack_min (Linux TCP_DELACK_MIN): ato follows the RTO down, the deadline does not."""
    rcv, timers, _ = space(Config(quickacks=0))
    rcv.process_text(seq(0), b"x", T0, ms(25), MSS)
    ack_sent(rcv)
    rcv.process_text(seq(1), b"x", T0 + ms(22), ms(25), MSS)  # ato = min(20 + 22, RTO)
    assert rcv.ato == ms(25) and timers[Timer.DELAYED_ACK] == T0 + ms(22) + ms(40)


def test_data_after_an_idle_rto_is_quick_acked_again() -> None:
    """Linux tcp_incr_quickack: data after more than an RTO of silence is ACKed at once."""
    rcv, timers, _ = space(Config(quickacks=2))
    for i in range(3):
        rcv.process_text(seq(i), b"x", T0 + i, RTO, MSS)
        ack_sent(rcv)
    rcv.process_text(seq(3), b"x", T0 + 3, RTO, MSS)
    assert not rcv.ack_now and timers[Timer.DELAYED_ACK] is not None
    ack_sent(rcv)
    rcv.process_text(seq(4), b"x", T0 + 3 + RTO + 1, RTO, MSS)
    assert rcv.ack_now and rcv.quick == 1


def test_in_order_data_beyond_the_buffer_is_trimmed_and_counted() -> None:
    """§3.10.7.4 seventh: only what fits RCV.WND is taken; a full buffer owes an ACK of its window."""
    rcv, _, stats = space(Config(rcv_buf=100))
    assert rcv.process_text(seq(0), bytes(150), T0, RTO, MSS) == \
        (False, trimmed(DropReason.RCV_BUFFER_FULL), READABLE)
    assert rcv.nxt == seq(100) and stats.dropped[DropReason.RCV_BUFFER_FULL] == 1
    rcv.ack_now = False
    assert rcv.process_text(seq(100), b"more", T0, RTO, MSS) == \
        (False, trimmed(DropReason.RCV_BUFFER_FULL), 0)
    assert rcv.ack_now and rcv.nxt == seq(100) and stats.dropped[DropReason.RCV_BUFFER_FULL] == 2


def test_the_duplicate_front_of_a_segment_is_trimmed_and_dsacked_with_sack() -> None:
    """§3.10.7.4 ("trim to the window") and RFC 2883 §4: the front already received is D-SACKed."""
    rcv, _, _ = space()
    rcv.sack_ok = True
    rcv.process_text(seq(0), DATA_100, T0, RTO, MSS)
    assert rcv.process_text(seq(50), DATA_100, T0, RTO, MSS) == (True, trimmed(None), 0)
    assert rcv.nxt == seq(150) and bytes(rcv.buf) == DATA_100 + DATA_100[50:]
    assert rcv.dsack == (seq(50), seq(100))
    rcv, _, _ = space()
    rcv.process_text(seq(0), DATA_100, T0, RTO, MSS)
    rcv.process_text(seq(50), DATA_100, T0, RTO, MSS)
    assert rcv.dsack is None and rcv.nxt == seq(150)  # no SACK-permitted: no D-SACK


# -- text out of order --------------------------------------------------------------------
def test_out_of_order_data_is_held_then_joined_when_the_hole_fills() -> None:
    """RFC 1122 4.2.2.20: hold data beyond RCV.NXT; RFC 5681 §4.2: ACK a gap fill at once."""
    rcv, timers, stats = space(Config(quickacks=0))
    assert rcv.process_text(seq(100), b"b" * 100, T0, RTO, MSS) == (False, ACCEPTED, HELD)
    assert rcv.nxt == seq(0) and stats.out_of_order == 1
    assert rcv.ooo is not None and rcv.ooo.blocks == [(seq(100), seq(200))]
    assert rcv.process_text(seq(0), b"a" * 100, T0, RTO, MSS) == (True, ACCEPTED, READABLE)
    assert rcv.nxt == seq(200) and bytes(rcv.buf) == b"a" * 100 + b"b" * 100
    assert rcv.ooo is None and rcv.ack_now and timers[Timer.DELAYED_ACK] is None


def test_filling_a_hole_behind_unread_data_is_not_news_to_the_application() -> None:
    """The application heard of the data already in the buffer; the joined data adds to it."""
    rcv, _, _ = space()
    rcv.process_text(seq(0), b"a", T0, RTO, MSS)
    rcv.process_text(seq(2), b"c", T0, RTO, MSS)
    rcv.ack_now = False
    assert rcv.process_text(seq(1), b"b", T0, RTO, MSS) == (True, ACCEPTED, 0)
    assert bytes(rcv.buf) == b"abc" and rcv.nxt == seq(3) and rcv.ack_now


def test_held_data_beyond_the_right_edge_is_trimmed_and_counted() -> None:
    """§3.10.7.4 seventh: octets beyond RCV.NXT + RCV.WND are not kept."""
    rcv, _, stats = space(Config(rcv_buf=1000))
    assert rcv.hold(seq(900), bytes(200)) == trimmed(DropReason.RCV_BUFFER_FULL)
    assert rcv.ooo is not None and rcv.ooo.blocks == [(seq(900), seq(1000))]
    assert stats.dropped[DropReason.RCV_BUFFER_FULL] == 1


def test_held_data_beyond_the_reassembly_budget_is_dropped_and_counted() -> None:
    """RFC 1122 4.2.2.20 (SHOULD queue) within a budget: payload + 256 octets per block."""
    rcv, _, stats = space(Config(ooo_budget=400))
    assert rcv.hold(seq(100), bytes(100)) == ACCEPTED                           # 356 held
    assert rcv.hold(seq(300), bytes(100)) == trimmed(DropReason.OOO_BUDGET)     # 712 > 400
    assert rcv.ooo is not None and rcv.ooo.blocks == [(seq(100), seq(200))]
    assert stats.dropped[DropReason.OOO_BUDGET] == 1 and stats.out_of_order == 1
    rcv, _, stats = space(Config(ooo_budget=300))
    assert rcv.hold(seq(100), bytes(100)) == trimmed(DropReason.OOO_BUDGET)
    assert rcv.ooo is None  # nothing held: no reassembly queue


def test_a_duplicate_of_held_data_is_dsacked_only_with_sack() -> None:
    """RFC 2883 §4: a duplicate out-of-order segment is reported in the first SACK block."""
    for sack_ok, dsack in ((True, (seq(120), seq(150))), (False, None)):
        rcv, _, _ = space()
        rcv.sack_ok = sack_ok
        rcv.hold(seq(100), bytes(100))
        rcv.hold(seq(120), bytes(30))
        assert rcv.dsack == dsack


def test_sack_blocks_put_the_dsack_block_first_once_then_the_most_recent_within_room() -> None:
    """RFC 2018 §4 (the most recently changed block first) and RFC 2883 §4 (the D-SACK block, once)."""
    rcv, _, _ = space()
    rcv.sack_ok = True
    for off in (100, 300, 500):
        rcv.hold(seq(off), bytes(50))
    rcv.dsack = (seq(-20), seq(-10))
    assert rcv.sack_blocks(3) == ((seq(-20), seq(-10)), (seq(500), seq(550)), (seq(300), seq(350)))
    assert rcv.sack_blocks(3) == ((seq(500), seq(550)), (seq(300), seq(350)), (seq(100), seq(150)))
    assert rcv.sack_blocks(2) == ((seq(500), seq(550)), (seq(300), seq(350)))


# -- reading ------------------------------------------------------------------------------
def test_read_takes_what_is_asked_or_everything_with_minus_one() -> None:
    """§3.10.3 RECEIVE: the buffered data, in order."""
    rcv, _, _ = space()
    rcv.process_text(seq(0), b"abcdef", T0, RTO, MSS)
    assert rcv.read(2, MSS, True) == b"ab"
    assert rcv.read(-1, MSS, True) == b"cdef"
    assert rcv.read(-1, MSS, True) == b"" and rcv.window == 65535


def test_read_owes_a_window_update_only_when_it_matters() -> None:
    """§3.8.6.2.2 receiver SWS avoidance as Linux tcp_cleanup_rbuf: the window doubled and grew by an MSS."""
    rcv, _, _ = space(Config(rcv_buf=4000))
    rcv.process_text(seq(0), bytes(3000), T0, RTO, MSS)
    ack_sent(rcv)  # advertised 1000: at most half the buffer
    rcv.read(500, MSS, True)
    assert not rcv.ack_now  # 1500 free: not twice the 1000 advertised
    rcv.read(500, MSS, False)
    assert not rcv.ack_now  # (a state that receives no more owes no update)
    rcv.read(500, MSS, True)
    assert rcv.ack_now      # 2500 free: twice 1000, and 1500 more >= min(2000, MSS)


def test_a_buffer_beyond_64k_without_window_scaling_owes_no_update_it_cannot_show() -> None:
    """Without scaling the field shows 65,535 at most (Linux's window_clamp): after a
    full window of data is read from a 1 MB buffer the window shown is 65,535 as
    before, so no update is owed; one is once the window shown has fallen to half."""
    rcv, _, _ = space(Config(rcv_buf=1_000_000))
    assert rcv.advertise(ACK) == 65535
    rcv.process_text(seq(0), bytes(65535), T0, RTO, MSS)
    rcv.ack_now = False  # (its ACK left)
    assert rcv.advertise(ACK) == 65535  # 934,465 free: the field is full all the same
    rcv.read(-1, MSS, True)
    assert not rcv.ack_now
    rcv, _, _ = space(Config(rcv_buf=100_000))
    rcv.process_text(seq(0), bytes(70_000), T0, RTO, MSS)
    rcv.ack_now = False
    assert rcv.advertise(ACK) == 30_000   # at most half of 65,535
    rcv.read(-1, MSS, True)
    assert rcv.ack_now                     # 65,535 can be shown now: more than twice 30,000


# -- urgent data and the FIN --------------------------------------------------------------
def test_urgent_pointer_only_moves_forward_and_counts_down_as_read() -> None:
    """§3.10.7.4 sixth: RCV.UP <- max(RCV.UP, SEG.UP); MUST-32/33: tell the application, count down."""
    rcv, _, _ = space()
    assert not rcv.urgent(seq(0))  # nothing ahead of what was read
    assert rcv.urgent(seq(50)) and rcv.urgent_pending == 50
    assert not rcv.urgent(seq(40)) and not rcv.urgent(seq(50))
    assert rcv.urgent(seq(60)) and rcv.up == seq(60)
    rcv.process_text(seq(0), bytes(100), T0, RTO, MSS)
    rcv.read(30, MSS, True)
    assert rcv.urgent_pending == 30
    rcv.read(30, MSS, True)
    assert rcv.up is None and rcv.urgent_pending == 0


def test_take_fin_occupies_one_sequence_number() -> None:
    """§3.10.7.4 eighth: the FIN advances RCV.NXT by one (here across the wrap)."""
    rcv, _, _ = space(irs=2**32 - 2)
    rcv.ooo_fin = 5
    rcv.take_fin()
    assert rcv.nxt == 0 and rcv.peer_fin and rcv.ooo_fin is None
