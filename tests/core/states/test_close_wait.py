"""CLOSE-WAIT: the peer's FIN is in; we may still send (RFC 9293 §3.10.7.4, §3.10.4).

Segment text is ignored (a FIN has been received); close() sends our FIN → LAST-ACK.
The RFC 5961 rules (RST, SYN, the ACK's range) are in tests/core/test_rfc5961.py.
"""

from __future__ import annotations

from support.harness import ACK, FIN, PSH, RST, WSCALE, Case, close_wait, established, seconds
from synack.core.config import Config
from synack.core.errors import DropReason
from synack.core.events import Closed, ConnectionTimedOut
from synack.core.state import State
from synack.core.wire import Segment


def ours(c: Case) -> Segment:
    """Our ACK after the peer's FIN: <SEQ=liss+1><ACK=riss+2>."""
    return c.ours._replace(ack=c.rseq(2))


def test_close_wait_close_sends_fin_and_goes_to_last_ack(close_wait: Case) -> None:
    c = close_wait
    c.c.close(c.now)
    c.expect([ours(c)._replace(flags=FIN | ACK)])
    assert c.c.state is State.LAST_ACK
    assert c.transitions()[-1] == (State.CLOSE_WAIT, State.LAST_ACK)


def test_close_wait_shutdown_also_goes_to_last_ack(close_wait: Case) -> None:
    c = close_wait
    c.c.shutdown(c.now)
    c.expect([ours(c)._replace(flags=FIN | ACK)])
    assert c.c.state is State.LAST_ACK


def test_close_wait_can_still_send(close_wait: Case) -> None:
    c = close_wait
    assert c.c.send(b"response") == 8
    c.expect([ours(c)._replace(flags=ACK | PSH, payload=b"response")])
    c.c.close(c.now)
    c.expect([ours(c)._replace(seq=c.lseq(9), flags=FIN | ACK)])


def test_close_wait_send_and_close_fin_rides_on_the_data(close_wait: Case) -> None:
    c = close_wait
    c.c.send(b"bye")
    c.c.close(c.now)
    c.expect([ours(c)._replace(flags=FIN | PSH | ACK, payload=b"bye")])


def test_close_wait_data_is_ignored(close_wait: Case) -> None:
    c = close_wait
    c.deliver(c.peer._replace(seq=c.rseq(2), flags=ACK | PSH, payload=b"after fin"))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.DATA_AFTER_FIN] == 1
    assert c.c.bytes_readable == 0


def test_close_wait_retransmitted_fin_gets_an_ack(close_wait: Case) -> None:
    c = close_wait
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([ours(c)])
    assert c.c.state is State.CLOSE_WAIT
    assert c.c.rcv_nxt == c.rseq(2)


def test_close_wait_second_fin_at_rcv_nxt_does_not_advance_rcv_nxt(close_wait: Case) -> None:
    # Only one FIN per connection: a (forged) second one is ACKed, not consumed.
    c = close_wait
    c.deliver(c.peer._replace(seq=c.rseq(2), flags=FIN | ACK))
    c.expect([ours(c)])
    assert c.c.rcv_nxt == c.rseq(2)
    assert c.c.state is State.CLOSE_WAIT


def test_close_wait_close_with_unread_data_sends_rst(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener)
    c.deliver(c.peer._replace(flags=FIN | PSH | ACK, payload=b"unread"))
    c.expect([c.ours._replace(ack=c.rseq(8), window=(65535 - 6) >> WSCALE)])
    c.c.close(c.now)
    c.expect([c.ours._replace(ack=c.rseq(8), flags=RST | ACK)])
    assert c.c.state is State.CLOSED


def test_close_wait_read_drains_then_eof(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener)
    c.deliver(c.peer._replace(flags=FIN | PSH | ACK, payload=b"abc"))
    c.expect([c.ours._replace(ack=c.rseq(5), window=(65535 - 3) >> WSCALE)])
    assert not c.c.at_eof
    assert c.c.read(2) == b"ab" and c.c.read() == b"c" and c.c.read() == b""
    assert c.c.at_eof


def test_close_wait_data_retransmission_times_out(iss: tuple[int, int], opener: str) -> None:
    c = close_wait(*iss, opener, Config(retries2=1))
    rto = c.c.rto
    c.c.send(b"q")
    c.expect([ours(c)._replace(flags=ACK | PSH, payload=b"q")])
    c.expect([ours(c)._replace(flags=ACK | PSH, payload=b"q")], c.now + rto)
    c.expect_nothing(c.now + 3 * rto)
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_close_wait_waits_for_the_application(close_wait: Case) -> None:
    c = close_wait
    assert c.c.next_timeout() is None
    c.expect_nothing(c.now + seconds(3600))
    assert c.c.state is State.CLOSE_WAIT


def test_close_wait_abort_sends_rst(close_wait: Case) -> None:
    c = close_wait
    c.c.abort(c.now)
    c.expect([ours(c)._replace(flags=RST | ACK)])
    assert c.c.state is State.CLOSED


def test_close_wait_empty_send_sends_nothing(close_wait: Case) -> None:
    c = close_wait
    assert c.c.send(b"") == 0
    c.expect_nothing()


def test_close_wait_fin_ack_delay_lets_our_fin_carry_the_ack(iss: tuple[int, int], opener: str) -> None:
    # Config.fin_ack_delay (Linux tcp_fin pingpong): the ACK of the peer's FIN waits,
    # and our FIN takes it along if the application closes in time (three segments).
    c = established(*iss, opener, Config(fin_ack_delay=40_000))
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect_nothing()
    assert c.c.state is State.CLOSE_WAIT
    c.c.close(c.now + 10_000)
    c.expect([ours(c)._replace(flags=FIN | ACK)], c.now + 10_000)
    c.expect_nothing(c.now + 40_000)


def test_close_wait_fin_ack_delay_expires_into_a_plain_ack(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener, Config(fin_ack_delay=40_000))
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect_nothing(c.now + 39_999)
    c.expect([ours(c)], c.now + 40_000)
    c.c.close(c.now + seconds(1))
    c.expect([ours(c)._replace(flags=FIN | ACK)], c.now + seconds(1))
