"""The initial window (RFC 5681 §3.1, RFC 6928): 10 segments, but one segment after a
lost SYN or SYN-ACK -- as Linux (tcp_init_transfer), only when the SYN or SYN-ACK went
out more than twice (more than one retransmission)."""

from __future__ import annotations

import pytest

from support.harness import (
    ACK,
    PEER_SYN_OPTS,
    PSH,
    SYN,
    SYN_WIN,
    T_EST,
    Case,
    listen,
    ms,
    our_syn,
    our_synack,
    peer_syn,
    syn_sent,
)
from synack.core.state import State
from synack.core.wire import Segment

MSS = 1460
BIG = b"w" * (20 * MSS)


def first_flight(c: Case) -> list[Segment]:
    """What goes at once when the application writes 20 segments' worth."""
    c.c.send(BIG)
    return [p.seg for p in c.ep.packets_to_send(c.now)]


def client(iss: tuple[int, int], lost_syns: int) -> Case:
    """An active open whose SYN was retransmitted ``lost_syns`` times."""
    c = syn_sent(*iss)
    t = 0
    for k in range(lost_syns):
        t += ms(1000) << k
        c.expect([our_syn(c)], t)
    c.now = t + T_EST
    c.deliver(Segment(c.rport, c.lport, c.riss, c.lseq(1), SYN | ACK, SYN_WIN, PEER_SYN_OPTS), c.now)
    assert c.c.state is State.ESTABLISHED
    c.expect([c.ours])
    c.deliver(c.peer)  # the peer's first scaled window (512 << 7 = 64 KiB)
    return c


def server(iss: tuple[int, int], lost_synacks: int) -> Case:
    """A passive open whose SYN-ACK was retransmitted ``lost_synacks`` times."""
    c = listen(*iss)
    c.deliver(peer_syn(c), 0)
    c.expect([our_synack(c)], 0)
    t = 0
    for k in range(lost_synacks):
        t += ms(1000) << k
        c.expect([our_synack(c)], t)
    c.now = t + T_EST
    c.deliver(c.peer)
    assert c.listener is not None
    c.conn = c.listener.accept()
    assert c.conn is not None and c.conn.state is State.ESTABLISHED
    return c


@pytest.mark.parametrize("opener", [client, server])
@pytest.mark.parametrize("lost", [0, 1])
def test_initial_window_is_ten_segments(iss: tuple[int, int], opener: object, lost: int) -> None:
    c = opener(iss, lost)  # type: ignore[operator]
    flight = first_flight(c)
    assert [(s.seq, s.flags, len(s.payload)) for s in flight] == [
        (c.lseq(1 + k * MSS), ACK, MSS) for k in range(10)]
    assert c.c.cwnd == 10 * MSS


@pytest.mark.parametrize("opener", [client, server])
def test_initial_window_is_one_segment_after_two_handshake_retransmissions(
        iss: tuple[int, int], opener: object) -> None:
    c = opener(iss, 2)  # type: ignore[operator]
    assert c.c.cwnd == MSS
    assert [(s.seq, s.flags, len(s.payload)) for s in first_flight(c)] == [(c.lseq(1), ACK, MSS)]
    # slow start from there: the ACK of that segment lets two go
    c.deliver(c.peer._replace(ack=c.lseq(1 + MSS)), c.now + ms(20))
    assert [(s.seq, len(s.payload)) for s in (p.seg for p in c.ep.packets_to_send(c.now + ms(20)))] == [
        (c.lseq(1 + MSS), MSS), (c.lseq(1 + 2 * MSS), MSS)]


def test_psh_marks_the_end_of_a_small_write_in_the_first_flight(iss: tuple[int, int]) -> None:
    c = client(iss, 2)
    c.c.send(b"tiny")
    sent = [p.seg for p in c.ep.packets_to_send(c.now)]
    assert [(s.flags, s.payload) for s in sent] == [(ACK | PSH, b"tiny")]
