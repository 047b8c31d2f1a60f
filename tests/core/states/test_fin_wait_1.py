"""FIN-WAIT-1: our FIN is out, unacknowledged (RFC 9293 §3.10.7.4, §3.10.4).

Our FIN acknowledged → FIN-WAIT-2; the peer's FIN first → CLOSING (simultaneous
close); both in one segment → TIME-WAIT.  Data still arrives and is delivered after
shutdown(); after close() it resets the connection (SHLD-3, Linux).  The FIN is
retransmitted by the RTO like data.
The RFC 5961 rules (RST, SYN, the ACK's range) are in tests/core/test_rfc5961.py.
"""

from __future__ import annotations

import pytest

from support.harness import ACK, FIN, PSH, RST, WSCALE, Case, established, fin_wait_1, ms, seconds
from synack.core.config import Config
from synack.core.errors import ConnectionClosing, DropReason
from synack.core.events import Closed, ConnectionTimedOut, PeerClosed, Readable
from synack.core.state import State
from synack.core.wire import Options, Segment


def fin(c: Case) -> Segment:
    """Our FIN: <SEQ=liss+1><ACK=riss+1><CTL=FIN,ACK>."""
    return c.ours._replace(flags=FIN | ACK)


def test_fin_wait_1_ack_of_fin_goes_to_fin_wait_2(fin_wait_1: Case) -> None:
    c = fin_wait_1
    c.deliver(c.peer._replace(ack=c.lseq(2)))
    c.expect_nothing()
    assert c.c.state is State.FIN_WAIT_2
    assert c.transitions()[-1] == (State.FIN_WAIT_1, State.FIN_WAIT_2)
    # close() (not shutdown()): the orphaned FIN-WAIT-2 timer runs (tcp_fin_timeout).
    assert c.c.next_timeout() == c.now + seconds(60)


def test_fin_wait_1_ack_not_covering_the_fin_stays(fin_wait_1: Case) -> None:
    c = fin_wait_1
    c.deliver(c.peer)
    c.expect_nothing()
    assert c.c.state is State.FIN_WAIT_1


def test_fin_wait_1_fin_first_goes_to_closing(fin_wait_1: Case) -> None:
    c = fin_wait_1
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([c.ours._replace(seq=c.lseq(2), ack=c.rseq(2))])
    assert c.c.state is State.CLOSING
    assert c.events() == [PeerClosed(c.c)]


def test_fin_wait_1_fin_acking_our_fin_goes_to_time_wait(fin_wait_1: Case) -> None:
    c = fin_wait_1
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK), c.now + ms(10))
    c.expect([c.ours._replace(seq=c.lseq(2), ack=c.rseq(2))], c.now + ms(10))
    assert c.c.state is State.TIME_WAIT
    assert c.transitions()[-1] == (State.FIN_WAIT_1, State.TIME_WAIT)
    assert c.c.next_timeout() == c.now + ms(10) + seconds(60)


def test_fin_wait_1_out_of_order_fin_acking_ours_goes_to_fw2(iss: tuple[int, int], opener: str) -> None:
    # The ACK is processed even though the FIN is beyond RCV.NXT (a segment was lost).
    c = established(*iss, opener)
    c.c.shutdown(c.now)
    c.expect([fin(c)])
    c.deliver(c.peer._replace(seq=c.rseq(100), ack=c.lseq(2), flags=FIN | ACK))
    c.expect([c.ours._replace(seq=c.lseq(2))])  # a duplicate ACK for the gap
    assert c.c.state is State.FIN_WAIT_2
    # The FIN was held beyond the hole (as Linux holds it in its out-of-order queue):
    # the data that fills the hole makes it in order, and the FIN is consumed with it.
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=ACK | PSH, payload=b"x" * 99))
    c.expect([c.ours._replace(seq=c.lseq(2), ack=c.rseq(101), window=(65535 - 99) >> WSCALE)])
    assert c.c.state is State.TIME_WAIT
    c.deliver(c.peer._replace(seq=c.rseq(100), ack=c.lseq(2), flags=FIN | ACK))  # resent anyway
    c.expect([c.ours._replace(seq=c.lseq(2), ack=c.rseq(101), window=(65535 - 99) >> WSCALE)])
    assert c.c.state is State.TIME_WAIT


def test_fin_wait_1_data_after_shutdown_is_delivered(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener)
    c.c.shutdown(c.now)
    c.expect([fin(c)])
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"reply"))
    c.expect([c.ours._replace(seq=c.lseq(2), ack=c.rseq(6), window=(65535 - 5) >> WSCALE)])
    assert c.c.state is State.FIN_WAIT_1
    assert c.events() == [Readable(c.c)]
    assert c.c.read() == b"reply"


def test_fin_wait_1_data_after_close_resets(fin_wait_1: Case) -> None:
    # SHLD-3 / Linux tcp_rcv_state_process: data after a full close → RST (seq = SEG.ACK).
    c = fin_wait_1
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"too late"))
    c.expect([Segment(c.lport, c.rport, c.lseq(1), 0, RST, 0)])
    assert c.c.state is State.CLOSED
    assert c.ep.stats.dropped[DropReason.DATA_AFTER_CLOSE] == 1


def test_fin_wait_1_fin_is_retransmitted_with_backoff(fin_wait_1: Case) -> None:
    c = fin_wait_1
    rto = c.c.rto
    t = c.now
    for k in range(3):
        t += rto << k
        c.expect_nothing(t - 1)
        c.expect([fin(c)], t)
    c.deliver(c.peer._replace(ack=c.lseq(2)), t + ms(1))
    c.expect_nothing(t + ms(1))
    assert c.c.state is State.FIN_WAIT_2


def test_fin_wait_1_data_and_fin_retransmitted_together(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener)
    rto = c.c.rto
    c.c.send(b"data")
    c.c.close(c.now)
    seg = c.ours._replace(flags=FIN | PSH | ACK, payload=b"data")
    c.expect([seg])
    t = c.now + rto
    c.expect([seg], t)
    c.deliver(c.peer._replace(ack=c.lseq(5)), t)  # the data, not the FIN
    c.expect_nothing(t)
    assert c.c.state is State.FIN_WAIT_1
    # The timer restarted with the backed-off RTO; only the FIN is left.
    c.expect_nothing(t + 2 * rto - 1)
    c.expect([c.ours._replace(seq=c.lseq(5), flags=FIN | ACK)], t + 2 * rto)


def test_fin_wait_1_fin_retransmissions_exhausted_time_out(iss: tuple[int, int], opener: str) -> None:
    c = fin_wait_1(*iss, opener, Config(retries2=2))
    rto = c.c.rto
    c.expect([fin(c)], c.now + rto)
    c.expect([fin(c)], c.now + 3 * rto)
    c.expect_nothing(c.now + 7 * rto)
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_fin_wait_1_unacceptable_segment_gets_an_ack(fin_wait_1: Case) -> None:
    c = fin_wait_1
    c.deliver(c.peer._replace(seq=c.rseq(-5), flags=ACK | PSH, payload=b"old"))
    c.expect([c.ours._replace(seq=c.lseq(2), options=Options(sack_blocks=((c.rseq(-5), c.rseq(-2)),)))],
             exact=True)
    assert c.c.state is State.FIN_WAIT_1


def test_fin_wait_1_send_raises(fin_wait_1: Case) -> None:
    with pytest.raises(ConnectionClosing):
        fin_wait_1.c.send(b"x")


def test_fin_wait_1_close_again_is_a_no_op(fin_wait_1: Case) -> None:
    c = fin_wait_1
    c.c.close(c.now)
    c.c.shutdown(c.now)
    c.expect_nothing()
    assert c.c.state is State.FIN_WAIT_1


def test_fin_wait_1_abort_sends_rst(fin_wait_1: Case) -> None:
    c = fin_wait_1
    c.c.abort(c.now)
    c.expect([c.ours._replace(seq=c.lseq(2), flags=RST | ACK)])
    assert c.c.state is State.CLOSED
