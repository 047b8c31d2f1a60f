"""FIN-WAIT-2: our FIN is acknowledged; waiting for the peer's (RFC 9293 §3.10.7.4).

The peer's FIN → TIME-WAIT.  Data is still delivered after shutdown(); after close()
it resets the connection.  After close() (an orphaned connection) Linux bounds the
wait with tcp_fin_timeout (60 s): the connection just disappears.
The RFC 5961 rules (RST, SYN, the ACK's range) are in tests/core/test_rfc5961.py.
"""

from __future__ import annotations

import pytest

from support.harness import ACK, FIN, PSH, RST, WSCALE, Case, established, fin_wait_2, ms, seconds
from synack.core.config import Config
from synack.core.errors import ConnectionClosing, DropReason
from synack.core.events import Closed, PeerClosed, Readable
from synack.core.state import State
from synack.core.wire import Segment


def ours(c: Case) -> Segment:
    """Our ACK once our FIN is sent: <SEQ=liss+2><ACK=riss+1>."""
    return c.ours._replace(seq=c.lseq(2))


def half_closed(iss: tuple[int, int], opener: str) -> Case:
    """FIN-WAIT-2 reached by shutdown(): the application still reads."""
    c = established(*iss, opener)
    c.c.shutdown(c.now)
    c.expect([c.ours._replace(flags=FIN | ACK)])
    c.deliver(c.peer._replace(ack=c.lseq(2)))
    c.expect_nothing()
    assert c.c.state is State.FIN_WAIT_2
    return c


def test_fin_wait_2_fin_goes_to_time_wait(fin_wait_2: Case) -> None:
    c = fin_wait_2
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK), c.now + ms(5))
    c.expect([ours(c)._replace(ack=c.rseq(2))], c.now + ms(5))
    assert c.c.state is State.TIME_WAIT
    assert c.events() == [PeerClosed(c.c)]
    assert c.c.next_timeout() == c.now + ms(5) + seconds(60)


def test_fin_wait_2_fin_with_data_after_shutdown(iss: tuple[int, int], opener: str) -> None:
    c = half_closed(iss, opener)
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | PSH | ACK, payload=b"end"))
    c.expect([ours(c)._replace(ack=c.rseq(5), window=(65535 - 3) >> WSCALE)])
    assert c.c.state is State.TIME_WAIT
    assert c.events() == [Readable(c.c), PeerClosed(c.c)]
    assert c.c.read() == b"end"


def test_fin_wait_2_data_after_shutdown_is_delivered(iss: tuple[int, int], opener: str) -> None:
    c = half_closed(iss, opener)
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=PSH | ACK, payload=b"x" * 10))
    c.expect([ours(c)._replace(ack=c.rseq(11), window=(65535 - 10) >> WSCALE)])
    assert c.c.state is State.FIN_WAIT_2 and c.c.read() == b"x" * 10


def test_fin_wait_2_after_shutdown_waits_forever(iss: tuple[int, int], opener: str) -> None:
    c = half_closed(iss, opener)
    assert c.c.next_timeout() is None
    c.expect_nothing(c.now + seconds(3600))
    assert c.c.state is State.FIN_WAIT_2


def test_fin_wait_2_close_after_shutdown_arms_the_fin_timeout(iss: tuple[int, int], opener: str) -> None:
    c = half_closed(iss, opener)
    c.c.close(c.now + seconds(5))
    c.expect_nothing(c.now + seconds(5))
    assert c.c.next_timeout() == c.now + seconds(65)


def test_fin_wait_2_data_after_close_resets(fin_wait_2: Case) -> None:
    c = fin_wait_2
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=PSH | ACK, payload=b"late"))
    c.expect([Segment(c.lport, c.rport, c.lseq(2), 0, RST, 0)])
    assert c.c.state is State.CLOSED
    assert c.ep.stats.dropped[DropReason.DATA_AFTER_CLOSE] == 1


def test_fin_wait_2_fin_timeout_after_close(fin_wait_2: Case) -> None:
    c = fin_wait_2
    assert c.c.next_timeout() == c.now + seconds(60)
    c.expect_nothing(c.now + seconds(60) - 1)
    assert c.c.state is State.FIN_WAIT_2
    c.expect_nothing(c.now + seconds(60))  # silently (Linux: the FIN-WAIT-2 tw socket expires)
    assert c.c.state is State.CLOSED
    assert c.events() == [Closed(c.c)]
    assert c.ep.stats.timeouts == 1
    assert c.ep.connections == []
    assert c.transitions()[-1] == (State.FIN_WAIT_2, State.CLOSED)


def test_fin_wait_2_fin_timeout_follows_config(iss: tuple[int, int], opener: str) -> None:
    c = fin_wait_2(*iss, opener, Config(fin_timeout=seconds(5)))
    c.expect_nothing(c.now + seconds(5))
    assert c.c.state is State.CLOSED


def test_fin_wait_2_fin_just_before_the_timeout_wins(fin_wait_2: Case) -> None:
    c = fin_wait_2
    t = c.now + seconds(60) - 1
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK), t)
    c.expect([ours(c)._replace(ack=c.rseq(2))], t)
    assert c.c.state is State.TIME_WAIT
    c.expect_nothing(c.now + seconds(60))
    assert c.c.state is State.TIME_WAIT


def test_fin_wait_2_unacceptable_segment_gets_an_ack(fin_wait_2: Case) -> None:
    c = fin_wait_2
    c.deliver(c.peer._replace(seq=c.rseq(100000), ack=c.lseq(2), flags=FIN | ACK))
    c.expect([ours(c)])
    assert c.c.state is State.FIN_WAIT_2


def test_fin_wait_2_send_raises(fin_wait_2: Case) -> None:
    with pytest.raises(ConnectionClosing):
        fin_wait_2.c.send(b"x")


def test_fin_wait_2_abort_sends_rst(fin_wait_2: Case) -> None:
    c = fin_wait_2
    c.c.abort(c.now)
    c.expect([ours(c)._replace(flags=RST | ACK)])
    assert c.c.state is State.CLOSED
