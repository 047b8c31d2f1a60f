"""CLOSED: no TCB for the segment's 4-tuple (RFC 9293 §3.10.7.1, §3.5.2 group 1).

Anything but a RST is answered with a RST: ``<SEQ=SEG.ACK><CTL=RST>`` when the
segment had an ACK, else ``<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>``.  A RST is
dropped (a RST is never answered with a RST).
"""

from __future__ import annotations

import pytest

from support.harness import (
    ACK,
    CLIENT_PORT,
    FIN,
    PEER_SYN_OPTS,
    PSH,
    REMOTE_ADDR,
    RST,
    SERVER_PORT,
    SYN,
    SYN_WIN,
    Case,
    add,
    deliver,
    expect,
    expect_nothing,
    syn_sent,
)
from synack.core.errors import ConnectionClosing, ConnectionDoesNotExist, DropReason
from synack.core.events import Closed
from synack.core.state import State
from synack.core.wire import Options, Segment


def rst(seq: int, ack: int = 0, flags: int = RST) -> Segment:
    return Segment(SERVER_PORT, CLIENT_PORT, seq, ack, flags, 0)


def test_closed_syn_gets_rst_ack_for_seq_plus_one(closed: Case) -> None:
    c = closed
    c.deliver(Segment(CLIENT_PORT, SERVER_PORT, c.riss, 0, SYN, SYN_WIN, PEER_SYN_OPTS))
    c.expect([rst(0, c.rseq(1), RST | ACK)])
    assert c.ep.stats.dropped[DropReason.NO_CONNECTION] == 1
    assert c.ep.stats.resets_sent == 1
    assert c.ep.connections == []


def test_closed_syn_with_data_rst_acks_all_of_it(closed: Case) -> None:
    c = closed
    c.deliver(Segment(CLIENT_PORT, SERVER_PORT, c.riss, 0, SYN, SYN_WIN, payload=b"hello"))
    c.expect([rst(0, c.rseq(6), RST | ACK)])


def test_closed_ack_gets_rst_at_seg_ack(closed: Case) -> None:
    c = closed
    c.deliver(c.peer)
    c.expect([rst(c.lseq(1))])
    assert c.ep.stats.dropped[DropReason.NO_CONNECTION] == 1


def test_closed_ack_with_data_gets_rst_at_seg_ack(closed: Case) -> None:
    c = closed
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"x" * 300))
    c.expect([rst(c.lseq(1))])


def test_closed_fin_ack_gets_rst_at_seg_ack(closed: Case) -> None:
    c = closed
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([rst(c.lseq(1))])


def test_closed_fin_without_ack_gets_rst_ack_for_seq_plus_one(closed: Case) -> None:
    c = closed
    c.deliver(c.peer._replace(flags=FIN, ack=0))
    c.expect([rst(0, c.rseq(2), RST | ACK)])


def test_closed_bare_data_gets_rst_ack_for_seq_plus_len(closed: Case) -> None:
    c = closed
    c.deliver(c.peer._replace(flags=0, ack=0, payload=b"abc"))
    c.expect([rst(0, c.rseq(4), RST | ACK)])


def test_closed_rst_ack_for_wraps_around(closed: Case) -> None:
    c = closed
    c.deliver(Segment(CLIENT_PORT, SERVER_PORT, 2**32 - 1, 0, SYN, SYN_WIN))
    c.expect([rst(0, 0, RST | ACK)])


@pytest.mark.parametrize("flags", [RST, RST | ACK, RST | FIN, RST | PSH | ACK])
def test_closed_rst_is_dropped_silently(closed: Case, flags: int) -> None:
    c = closed
    c.deliver(c.peer._replace(flags=flags))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.NO_CONNECTION] == 1
    assert c.ep.stats.resets_sent == 0


@pytest.mark.parametrize("src", ["224.0.0.1", "255.255.255.255", "0.0.0.0"])
def test_closed_segment_from_invalid_source_is_dropped_without_rst(closed: Case, src: str) -> None:
    # MUST-57, MUST-63: never answer a broadcast/multicast/unspecified source.
    c = closed
    deliver(c.ep, c.peer._replace(flags=SYN, ack=0), c.now, src=src)
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.BAD_ADDRESS] == 1


def test_closed_wrong_port_of_a_connection_gets_rst(iss: tuple[int, int]) -> None:
    # A segment for a port with neither a connection nor a listener, on a host that
    # has another connection: still CLOSED.
    c = syn_sent(*iss)
    c.deliver(c.peer._replace(dst_port=CLIENT_PORT + 1))
    expect(c.ep, [Segment(CLIENT_PORT + 1, SERVER_PORT, c.lseq(1), 0, RST, 0)], c.now)
    assert c.c.state is State.SYN_SENT


def test_closed_after_abort_the_late_synack_gets_rst(iss: tuple[int, int]) -> None:
    c = syn_sent(*iss)
    c.c.abort(0)
    c.expect_nothing()
    assert c.c.state is State.CLOSED
    assert c.ep.connections == []
    assert c.events() == [Closed(c.c)]
    c.deliver(Segment(SERVER_PORT, CLIENT_PORT, c.riss, c.lseq(1), SYN | ACK, SYN_WIN, PEER_SYN_OPTS))
    c.expect([Segment(CLIENT_PORT, SERVER_PORT, c.lseq(1), 0, RST, 0)])


def test_closed_connection_user_calls_raise(iss: tuple[int, int]) -> None:
    c = syn_sent(*iss)
    c.c.abort(0)
    with pytest.raises(ConnectionDoesNotExist):
        c.c.send(b"x")
    with pytest.raises(ConnectionDoesNotExist):
        c.c.close(0)
    with pytest.raises(ConnectionDoesNotExist):
        c.c.shutdown(0)
    with pytest.raises(ConnectionDoesNotExist):
        c.c.abort(0)
    with pytest.raises(ConnectionClosing):
        c.c.read()


def test_closed_connection_object_ignores_segments(iss: tuple[int, int]) -> None:
    # A stale reference to a CLOSED connection: segments fed to it are dropped.
    c = syn_sent(*iss)
    c.c.abort(0)
    c.c.receive_segment(c.peer, 0)
    assert c.c.state is State.CLOSED
    assert c.ep.stats.dropped[DropReason.NO_CONNECTION] == 1
    assert c.c.segments_to_send(0) == []
    assert c.c.next_timeout() is None


def test_closed_rst_goes_back_to_the_sender(closed: Case) -> None:
    # The RST leaves from the address the segment was sent to, towards its sender.
    c = closed
    c.deliver(c.peer)
    packets = c.ep.packets_to_send(c.now)
    assert [(p.src, p.dst) for p in packets] == [("10.0.0.1", REMOTE_ADDR)]
    assert packets[0].seg.seq == add(c.liss, 1)
    expect_nothing(c.ep, c.now)


def test_closed_options_do_not_matter(closed: Case) -> None:
    c = closed
    c.deliver(c.peer._replace(flags=SYN, ack=0, options=Options(mss=536, wscale=14)))
    c.expect([rst(0, c.rseq(2), RST | ACK)])
