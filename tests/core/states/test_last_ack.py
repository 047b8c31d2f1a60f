"""LAST-ACK: the peer closed first; our FIN is out (RFC 9293 §3.10.7.4).

The ACK of our FIN → CLOSED (the TCB is deleted; no TIME-WAIT for the passive closer).
The RFC 5961 rules (RST, SYN, the ACK's range) are in tests/core/test_rfc5961.py.
"""

from __future__ import annotations

import pytest

from support.harness import ACK, FIN, PSH, RST, Case, last_ack, seconds
from synack.core.config import Config
from synack.core.errors import ConnectionClosing, DropReason
from synack.core.events import Closed, ConnectionTimedOut
from synack.core.state import State
from synack.core.wire import Segment


def ours(c: Case) -> Segment:
    """Our ACK with the FIN sent: <SEQ=liss+2><ACK=riss+2>."""
    return c.ours._replace(seq=c.lseq(2), ack=c.rseq(2))


def our_fin(c: Case) -> Segment:
    return c.ours._replace(ack=c.rseq(2), flags=FIN | ACK)


def test_last_ack_ack_of_fin_closes(last_ack: Case) -> None:
    c = last_ack
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)))
    c.expect_nothing()
    assert c.c.state is State.CLOSED
    assert c.events() == [Closed(c.c)]
    assert c.ep.connections == []
    assert c.transitions()[-1] == (State.LAST_ACK, State.CLOSED)
    assert c.c.next_timeout() is None


def test_last_ack_late_segment_after_close_gets_rst(last_ack: Case) -> None:
    c = last_ack
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)))
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2), flags=ACK | PSH, payload=b"?"))
    c.expect([Segment(c.lport, c.rport, c.lseq(2), 0, RST, 0)])


def test_last_ack_ack_not_covering_our_fin_stays(last_ack: Case) -> None:
    c = last_ack
    c.deliver(c.peer._replace(seq=c.rseq(2)))
    c.expect_nothing()
    assert c.c.state is State.LAST_ACK


def test_last_ack_fin_is_retransmitted_with_backoff(last_ack: Case) -> None:
    c = last_ack
    rto = c.c.rto
    c.expect_nothing(c.now + rto - 1)
    c.expect([our_fin(c)], c.now + rto)
    c.expect_nothing(c.now + 3 * rto - 1)
    c.expect([our_fin(c)], c.now + 3 * rto)
    c.expect([our_fin(c)], c.now + 7 * rto)
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)), c.now + 7 * rto)
    assert c.c.state is State.CLOSED


def test_last_ack_retransmissions_exhausted_time_out(iss: tuple[int, int], opener: str) -> None:
    c = last_ack(*iss, opener, Config(retries2=2))
    rto = c.c.rto
    c.expect([our_fin(c)], c.now + rto)
    c.expect([our_fin(c)], c.now + 3 * rto)
    c.expect_nothing(c.now + 7 * rto - 1)
    assert c.c.state is State.LAST_ACK
    c.expect_nothing(c.now + 7 * rto)
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_last_ack_retransmitted_fin_from_the_peer_gets_an_ack(last_ack: Case) -> None:
    c = last_ack
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([ours(c)])
    assert c.c.state is State.LAST_ACK


def test_last_ack_data_is_ignored(last_ack: Case) -> None:
    c = last_ack
    c.deliver(c.peer._replace(seq=c.rseq(2), flags=ACK | PSH, payload=b"x"))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.DATA_AFTER_FIN] == 1


def test_last_ack_segment_without_ack_is_dropped(last_ack: Case) -> None:
    c = last_ack
    c.deliver(c.peer._replace(seq=c.rseq(2), flags=0))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.NO_ACK_FLAG] == 1


def test_last_ack_abort_sends_nothing(last_ack: Case) -> None:
    c = last_ack
    c.c.abort(c.now)
    c.expect_nothing()
    assert c.c.state is State.CLOSED


def test_last_ack_send_raises(last_ack: Case) -> None:
    with pytest.raises(ConnectionClosing):
        last_ack.c.send(b"x")


def test_last_ack_never_waits_2msl(last_ack: Case) -> None:
    c = last_ack
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)))
    c.expect_nothing(c.now + seconds(1))
    assert c.ep.connections == [] and c.c.next_timeout() is None
