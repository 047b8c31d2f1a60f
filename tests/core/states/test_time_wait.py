"""TIME-WAIT: the active closer waits 2MSL (RFC 9293 §3.10.7.4, §3.6.1 MUST-13;
RFC-CHECKLIST §5).

Linux's 60 s by default (``Config.time_wait``; RFC: 240 s).  A retransmitted FIN is
ACKed again and restarts the timer.  A RST at RCV.NXT ends TIME-WAIT early unless
``rfc1337`` (RFC 1337 F1).  A new SYN above the old sequence space may reuse the
4-tuple at once when a listener owns the port (MAY-2; Linux tcp_timewait_state_process).
The RFC 5961 rules, the same here as in the other synchronized states (the exact RST
included), are in tests/core/test_rfc5961.py; what is TIME-WAIT's own stays here.
"""

from __future__ import annotations

from support.harness import (
    ACK,
    FIN,
    PSH,
    SYN,
    Case,
    established,
    fin_wait_2,
    ms,
    our_synack,
    peer_syn,
    seconds,
    time_wait,
)
from synack.core.config import Config
from synack.core.errors import DropReason
from synack.core.events import Closed
from synack.core.state import State
from synack.core.wire import Segment


def ours(c: Case) -> Segment:
    """Our ACK in TIME-WAIT: <SEQ=liss+2><ACK=riss+2>."""
    return c.ours._replace(seq=c.lseq(2), ack=c.rseq(2))


def test_time_wait_expires_after_2msl(time_wait: Case) -> None:
    c = time_wait
    assert c.c.next_timeout() == c.now + seconds(60)
    c.expect_nothing(c.now + seconds(60) - 1)
    assert c.c.state is State.TIME_WAIT
    c.expect_nothing(c.now + seconds(60))
    assert c.c.state is State.CLOSED
    assert c.events() == [Closed(c.c)]
    assert c.ep.connections == []
    assert c.transitions()[-1] == (State.TIME_WAIT, State.CLOSED)


def test_time_wait_rfc_length(iss: tuple[int, int], opener: str) -> None:
    c = time_wait(*iss, opener, Config(time_wait=seconds(240)))
    c.expect_nothing(c.now + seconds(240) - 1)
    assert c.c.state is State.TIME_WAIT
    c.expect_nothing(c.now + seconds(240))
    assert c.c.state is State.CLOSED


def test_time_wait_zero_sends_the_last_ack_and_closes(iss: tuple[int, int], opener: str) -> None:
    c = fin_wait_2(*iss, opener, Config(time_wait=0))
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK))
    c.expect([ours(c)])
    assert c.c.state is State.CLOSED
    assert c.ep.connections == []
    assert c.transitions()[-2:] == [(State.FIN_WAIT_2, State.TIME_WAIT), (State.TIME_WAIT, State.CLOSED)]


def test_time_wait_retransmitted_fin_is_acked_and_restarts_the_timer(time_wait: Case) -> None:
    c = time_wait
    t = c.now + seconds(30)
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK), t)
    c.expect([ours(c)], t)
    assert c.c.next_timeout() == t + seconds(60)
    c.expect_nothing(c.now + seconds(60))
    assert c.c.state is State.TIME_WAIT
    c.expect_nothing(t + seconds(60))
    assert c.c.state is State.CLOSED


def test_time_wait_retransmitted_data_and_fin_is_acked(time_wait: Case) -> None:
    c = time_wait
    c.deliver(c.peer._replace(seq=c.rseq(-9), ack=c.lseq(2), flags=FIN | PSH | ACK, payload=b"x" * 10))
    c.expect([ours(c)])
    assert c.c.next_timeout() == c.now + seconds(60)


def test_time_wait_second_fin_at_rcv_nxt_is_acked_not_consumed(time_wait: Case) -> None:
    c = time_wait
    t = c.now + seconds(10)
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2), flags=FIN | ACK), t)
    c.expect([ours(c)], t)
    assert c.c.rcv_nxt == c.rseq(2)
    assert c.c.next_timeout() == t + seconds(60)


def test_time_wait_duplicate_ack_is_ignored(time_wait: Case) -> None:
    c = time_wait
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)), c.now + seconds(1))
    c.expect_nothing(c.now + seconds(1))
    assert c.c.next_timeout() == c.now + seconds(60)


def test_time_wait_data_is_acked_and_restarts_the_timer(time_wait: Case) -> None:
    # Linux's timewait socket answers anything but a bare in-window ACK with an ACK
    # and restarts its timer (tcp_timewait_state_process); the data is not taken.
    # (drill/time-wait/data-in-time-wait.pkt checks the same against the kernel.)
    c = time_wait
    t = c.now + seconds(10)
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2), flags=ACK | PSH, payload=b"?"), t)
    c.expect([ours(c)], t)
    assert c.ep.stats.dropped[DropReason.DATA_AFTER_FIN] == 1
    assert c.c.rcv_nxt == c.rseq(2)
    assert c.c.next_timeout() == t + seconds(60)


def test_time_wait_rfc1337_ignores_rst(iss: tuple[int, int], opener: str) -> None:
    c = time_wait(*iss, opener, Config(rfc1337=True))
    c.deliver(c.rst(c.rseq(2)))
    c.expect_nothing()
    assert c.c.state is State.TIME_WAIT
    assert c.ep.stats.dropped[DropReason.RST_IN_TIME_WAIT] == 1
    c.expect_nothing(c.now + seconds(60))
    assert c.c.state is State.CLOSED


def test_time_wait_new_syn_above_rcv_nxt_reuses_the_4_tuple(iss: tuple[int, int]) -> None:
    c = time_wait(*iss, "passive")
    new_isn = c.rseq(100000)
    # Linux's rule for the new ISS: the old SND.NXT + 65537, above all the old
    # incarnation sent, whatever the ISN source would say.
    new_iss = (c.c.snd_nxt + 65537) & 0xFFFFFFFF
    c.deliver(peer_syn(c)._replace(seq=new_isn), c.now + seconds(5))
    c.expect([our_synack(c)._replace(seq=new_iss, ack=(new_isn + 1) & 0xFFFFFFFF)], c.now + seconds(5))
    assert c.c.state is State.CLOSED
    assert c.transitions()[-2:] == [(State.TIME_WAIT, State.CLOSED), (State.LISTEN, State.SYN_RECEIVED)]
    assert c.listener is not None and c.listener.syn_queue_len == 1
    c.deliver(Segment(c.rport, c.lport, (new_isn + 1) & 0xFFFFFFFF, (new_iss + 1) & 0xFFFFFFFF, ACK, 512),
              c.now + seconds(5))
    c.expect_nothing(c.now + seconds(5))
    conn = c.listener.accept()
    assert conn is not None and conn is not c.c and conn.state is State.ESTABLISHED


def test_time_wait_new_syn_at_or_below_rcv_nxt_is_not_reused(iss: tuple[int, int]) -> None:
    c = time_wait(*iss, "passive")
    c.deliver(peer_syn(c)._replace(seq=c.rseq(2)))
    c.expect([ours(c)])  # challenge ACK (RFC 5961 §4)
    c.deliver(peer_syn(c)._replace(seq=c.rseq(-1000)))
    c.expect([ours(c)])  # out of window: <SEQ=SND.NXT><ACK=RCV.NXT>
    assert c.c.state is State.TIME_WAIT


def test_time_wait_syn_ack_is_not_a_new_connection(iss: tuple[int, int]) -> None:
    c = time_wait(*iss, "passive")
    c.deliver(c.peer._replace(seq=c.rseq(1000), ack=c.lseq(2), flags=SYN | ACK))
    c.expect([ours(c)])
    assert c.c.state is State.TIME_WAIT


def test_time_wait_abort_and_close(time_wait: Case) -> None:
    c = time_wait
    c.c.close(c.now)  # already closed: nothing to do
    c.expect_nothing()
    assert c.c.state is State.TIME_WAIT
    c.c.abort(c.now)  # §3.10.5: "ok", delete the TCB, no RST
    c.expect_nothing()
    assert c.c.state is State.CLOSED


def test_time_wait_after_simultaneous_close_lasts_2msl(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener)
    c.c.close(c.now)
    c.expect([c.ours._replace(flags=FIN | ACK)])
    c.deliver(c.peer._replace(flags=FIN | ACK), c.now + ms(1))
    c.expect([ours(c)], c.now + ms(1))
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)), c.now + ms(20))
    assert c.c.state is State.TIME_WAIT
    c.expect_nothing(c.now + ms(20) + seconds(60) - 1)
    assert c.c.state is State.TIME_WAIT
    c.expect_nothing(c.now + ms(20) + seconds(60))
    assert c.c.state is State.CLOSED


def test_time_wait_segment_without_ack_is_dropped(time_wait: Case) -> None:
    c = time_wait
    c.deliver(c.peer._replace(seq=c.rseq(2), flags=PSH, payload=b"x"))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.NO_ACK_FLAG] == 1
