"""CLOSING: both FINs crossed; waiting for the ACK of ours (RFC 9293 §3.10.7.4).

The ACK of our FIN → TIME-WAIT; anything else is ignored (text) or ACKed.  Our FIN is
retransmitted by the RTO.
The RFC 5961 rules (RST, SYN, the ACK's range) are in tests/core/test_rfc5961.py.
"""

from __future__ import annotations

import pytest

from support.harness import ACK, FIN, PSH, Case, closing, seconds
from synack.core.config import Config
from synack.core.errors import ConnectionClosing, DropReason
from synack.core.events import Closed, ConnectionTimedOut
from synack.core.state import State
from synack.core.wire import Segment


def ours(c: Case) -> Segment:
    """Our ACK: <SEQ=liss+2><ACK=riss+2>."""
    return c.ours._replace(seq=c.lseq(2), ack=c.rseq(2))


def our_fin(c: Case) -> Segment:
    """Our FIN again, now acknowledging the peer's: <SEQ=liss+1><ACK=riss+2><CTL=FIN,ACK>."""
    return c.ours._replace(ack=c.rseq(2), flags=FIN | ACK)


def test_closing_ack_of_fin_goes_to_time_wait(closing: Case) -> None:
    c = closing
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)))
    c.expect_nothing()
    assert c.c.state is State.TIME_WAIT
    assert c.transitions()[-3:] == [(State.ESTABLISHED, State.FIN_WAIT_1), (State.FIN_WAIT_1, State.CLOSING),
                                    (State.CLOSING, State.TIME_WAIT)]
    assert c.c.next_timeout() == c.now + seconds(60)
    c.expect_nothing(c.now + seconds(60))
    assert c.c.state is State.CLOSED


def test_closing_ack_not_covering_our_fin_stays(closing: Case) -> None:
    c = closing
    c.deliver(c.peer._replace(seq=c.rseq(2)))
    c.expect_nothing()
    assert c.c.state is State.CLOSING


def test_closing_fin_is_retransmitted_with_the_new_ack(closing: Case) -> None:
    c = closing
    rto = c.c.rto
    c.expect_nothing(c.now + rto - 1)
    c.expect([our_fin(c)], c.now + rto)
    c.expect([our_fin(c)], c.now + 3 * rto)
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)), c.now + 3 * rto)
    assert c.c.state is State.TIME_WAIT


def test_closing_retransmitted_fin_from_the_peer_gets_an_ack(closing: Case) -> None:
    c = closing
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([ours(c)])
    assert c.c.state is State.CLOSING


def test_closing_retransmitted_fin_acking_ours_is_unacceptable(closing: Case) -> None:
    # The peer's FIN again (at RCV.NXT-1), now also acknowledging ours: Table 6 makes
    # it unacceptable, so it is ACKed and dropped, ACK field included (Linux's
    # tcp_sequence would accept it: its end is RCV.NXT).  Our FIN is retransmitted.
    c = closing
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK))
    c.expect([ours(c)])
    assert c.c.state is State.CLOSING


def test_closing_data_is_ignored(closing: Case) -> None:
    c = closing
    c.deliver(c.peer._replace(seq=c.rseq(2), flags=ACK | PSH, payload=b"x"))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.DATA_AFTER_FIN] == 1


def test_closing_fin_retransmissions_exhausted_time_out(iss: tuple[int, int], opener: str) -> None:
    c = closing(*iss, opener, Config(retries2=1))
    rto = c.c.rto
    c.expect([our_fin(c)], c.now + rto)
    c.expect_nothing(c.now + 3 * rto)
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_closing_abort_sends_nothing(closing: Case) -> None:
    c = closing  # §3.10.5: CLOSING, LAST-ACK, TIME-WAIT: "ok", delete the TCB, no RST
    c.c.abort(c.now)
    c.expect_nothing()
    assert c.c.state is State.CLOSED


def test_closing_send_raises(closing: Case) -> None:
    with pytest.raises(ConnectionClosing):
        closing.c.send(b"x")
