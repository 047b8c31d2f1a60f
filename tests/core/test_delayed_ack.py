"""Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2, RFC 1122 4.2.3.2), as Linux does it:
quick-ack mode for the first segments (TCP_MAX_QUICKACKS 16, bounded by
RCV.WND / 2·MSS), then an ACK for at least every second full-sized segment and
otherwise within the delayed-ACK timeout (TCP_DELACK_MIN 40 ms .. TCP_DELACK_MAX
200 ms); out-of-order data and gap fills are ACKed at once."""

from __future__ import annotations

from support.harness import ACK, PSH, WSCALE, Case, established, ms
from synack.core.config import Config
from synack.core.wire import Segment

DELAYED = Config(quickacks=0, sack=False)
MSS = 1460


def data(c: Case, off: int, payload: bytes) -> Segment:
    return c.peer._replace(seq=c.rseq(1 + off), flags=ACK | PSH, payload=payload)


def ack_for(c: Case, n: int) -> Segment:
    return c.ours._replace(ack=c.rseq(1 + n), window=(65535 - n) >> WSCALE)


def test_quickack_count_follows_linux() -> None:
    assert Config().quickack_start == 16                # 65535 // 2920 = 22, capped at 16
    assert Config(rcv_buf=8000).quickack_start == 2     # 8000 // 2920 = 2
    assert Config(rcv_buf=1000).quickack_start == 2     # never below 2
    assert Config(quickacks=0).quickack_start == 0


def test_delayed_ack_single_segment_waits_40ms(iss: tuple[int, int]) -> None:
    c = established(*iss, config=DELAYED)
    t = c.now
    c.deliver(data(c, 0, b"abc"), t)
    c.expect_nothing(t)
    c.expect_nothing(t + ms(39))
    assert c.c.next_timeout() == t + ms(40)
    c.expect([ack_for(c, 3)], t + ms(40))
    c.expect_nothing(t + ms(400))


def test_delayed_ack_every_second_full_sized_segment(iss: tuple[int, int]) -> None:
    c = established(*iss, config=DELAYED)
    t = c.now
    c.deliver(data(c, 0, b"a" * MSS), t)
    c.expect_nothing(t)
    c.deliver(data(c, MSS, b"b" * MSS), t + ms(1))
    c.expect([ack_for(c, 2 * MSS)], t + ms(1))
    c.deliver(data(c, 2 * MSS, b"c" * MSS), t + ms(2))
    c.expect_nothing(t + ms(2))
    c.expect([ack_for(c, 3 * MSS)], t + ms(42))


def test_delayed_ack_quickack_start_acks_the_first_segments_at_once(iss: tuple[int, int]) -> None:
    c = established(*iss)  # default: 16 quick ACKs
    t = c.now
    for i in range(16):
        c.deliver(data(c, i, b"x"), t)
        c.expect([ack_for(c, i + 1)], t)
    c.deliver(data(c, 16, b"x"), t)
    c.expect_nothing(t)  # the seventeenth waits
    c.expect([ack_for(c, 17)], t + ms(40))


def test_delayed_ack_out_of_order_and_gap_fill_are_immediate(iss: tuple[int, int]) -> None:
    c = established(*iss, config=DELAYED)
    t = c.now
    c.deliver(data(c, 0, b"abc"), t)
    c.expect_nothing(t)
    c.deliver(data(c, 6, b"ghi"), t)
    c.expect([ack_for(c, 3)], t)  # out of order: a duplicate ACK at once
    c.deliver(data(c, 3, b"def"), t)
    c.expect([ack_for(c, 9)], t)  # fills the hole: at once
    c.expect_nothing(t + ms(100))


def test_delayed_ack_rides_on_our_data(iss: tuple[int, int]) -> None:
    c = established(*iss, config=DELAYED)
    t = c.now
    c.deliver(data(c, 0, b"request"), t)
    c.expect_nothing(t)
    c.c.send(b"reply")
    c.expect([ack_for(c, 7)._replace(flags=ACK | PSH, payload=b"reply")], t + ms(5))
    c.expect_nothing(t + ms(40))  # nothing left to ACK


def test_delayed_ack_timeout_adapts_up_to_delack_max(iss: tuple[int, int]) -> None:
    # Linux tcp_event_data_recv: ato = ato/2 + m for an inter-arrival time m < ato;
    # the timer never exceeds TCP_DELACK_MAX (200 ms).
    c = established(*iss, config=DELAYED)
    t = c.now
    deadlines = []
    for i in range(8):
        c.deliver(data(c, i, b"x"), t)
        c.expect_nothing(t)
        timeout = c.c.next_timeout()
        assert timeout is not None
        deadlines.append(timeout - t)
        c.expect([ack_for(c, i + 1)], timeout)
        t = timeout - ms(1)  # the next segment arrives just before the timer would fire
    assert deadlines[0] == ms(40)
    assert deadlines == sorted(deadlines) and deadlines[-1] == ms(200)


def test_delayed_ack_quickack_again_after_idle(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(quickacks=2, sack=False))
    t = c.now
    for i in range(2):
        c.deliver(data(c, i, b"x"), t)
        c.expect([ack_for(c, i + 1)], t)
    c.deliver(data(c, 2, b"x"), t)
    c.expect_nothing(t)
    c.expect([ack_for(c, 3)], t + ms(40))
    t += ms(5000)  # idle for longer than an RTO: quick-ack mode again
    c.deliver(data(c, 3, b"x"), t)
    c.expect([ack_for(c, 4)], t)
