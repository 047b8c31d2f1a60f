"""SYN-RECEIVED, both kinds (RFC 9293 §3.10.7.4; MUST-10, MUST-11).

- Passive: the half-open state is the listener's SYN-queue entry (Linux's
  request_sock; the segment rules follow tcp_check_req, which follows §3.10.7.4).
  A RST returns the "connection" to LISTEN silently: the entry is removed.
- Active: simultaneous open, a Connection that went SYN-SENT → SYN-RECEIVED.  A RST
  there means "connection refused".

A RST in the window but not at RCV.NXT (challenge ACK), a RST outside it (dropped),
and, in a simultaneous open, a SYN (challenge ACK, or a plain ACK below the window)
are handled as in the synchronized states: tests/core/test_rfc5961.py.
"""

from __future__ import annotations

import pytest

from support import harness
from support.harness import (
    ACK,
    FIN,
    OUR_SYN_OPTS,
    PEER_SYN_OPTS,
    PEER_WIN,
    PSH,
    RST,
    SYN,
    SYN_WIN,
    WIN,
    WSCALE,
    Case,
    listen,
    ms,
    our_synack,
    peer_syn,
    seconds,
    syn_sent,
)
from synack.core.config import Config
from synack.core.errors import DropReason
from synack.core.events import Closed, Connected, ConnectionRefused, ConnectionTimedOut, PeerClosed, Readable
from synack.core.state import State
from synack.core.wire import Options, Segment


@pytest.fixture
def half_open(iss: tuple[int, int]) -> Case:
    """A listener with one SYN-queue entry: the peer's SYN is in, our SYN-ACK out (t=0)."""
    return harness.half_open(*iss)


def syn_queue_len(c: Case) -> int:
    assert c.listener is not None
    return c.listener.syn_queue_len


def our_ack(c: Case) -> Segment:
    """The ACK a half-open entry sends: <SEQ=ISS+1><ACK=IRS+1>, window 65535 >> 7."""
    return c.ours


# == passive: the SYN-queue entry =====================================================
def test_syn_received_passive_synack_retransmitted_at_1_3_7_15_31_then_dropped_at_63(half_open: Case) -> None:
    c = half_open
    assert c.ep.next_timeout() == seconds(1)
    c.expect_nothing(seconds(1) - 1)
    for t in (1, 3, 7, 15, 31):  # 1, 2, 4, 8, 16 s apart (tcp_synack_retries 5)
        c.expect([our_synack(c)], seconds(t))
        assert syn_queue_len(c) == 1
    assert c.ep.next_timeout() == seconds(63)
    c.expect_nothing(seconds(63) - 1)
    assert syn_queue_len(c) == 1
    c.expect_nothing(seconds(63))
    assert syn_queue_len(c) == 0
    assert c.ep.stats.synack_retransmits == 5 and c.ep.stats.timeouts == 1
    assert c.transitions() == [(State.LISTEN, State.SYN_RECEIVED), (State.SYN_RECEIVED, State.CLOSED)]
    assert c.listener is not None and c.listener.next_timeout() is None
    # The client's late ACK now finds only the listener: RST.
    c.deliver(c.peer, seconds(64))
    c.expect([Segment(c.lport, c.rport, c.lseq(1), 0, RST, 0)], seconds(64))


def test_syn_received_passive_synack_retries_follow_config(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(synack_retries=1, initial_rto=ms(500)))
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    c.expect([our_synack(c)], ms(500))
    c.expect_nothing(ms(1499))
    assert syn_queue_len(c) == 1
    c.expect_nothing(ms(1500))
    assert syn_queue_len(c) == 0


def test_syn_received_passive_synack_backoff_is_capped_at_max_rto(iss: tuple[int, int]) -> None:
    """1, 2, then max_rto (3 s) between SYN-ACKs, not 4 and 8; a retransmitted SYN
    restarts the timer with the same cap (Linux's reqsk_timeout, both ways)."""
    c = listen(*iss, Config(synack_retries=4, max_rto=seconds(3)))
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    for t in (1, 3, 6, 9):  # 1, 2, 3, 3 s apart
        c.expect_nothing(seconds(t) - 1)
        c.expect([our_synack(c)], seconds(t))
    assert c.ep.next_timeout() == seconds(12)
    c.expect_nothing(seconds(12))
    assert syn_queue_len(c) == 0 and c.ep.stats.timeouts == 1
    # After two timeouts the backoff would be 4 s; the SYN's restart is capped too.
    c = listen(*iss, Config(synack_retries=4, max_rto=seconds(3)))
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    c.expect([our_synack(c)], seconds(1))
    c.expect([our_synack(c)], seconds(3))
    c.deliver(peer_syn(c), seconds(4))
    c.expect([our_synack(c)], seconds(4))
    assert c.ep.next_timeout() == seconds(7)
    c.expect_nothing(seconds(7) - 1)
    c.expect([our_synack(c)], seconds(7))
    assert c.ep.next_timeout() == seconds(10)


def test_syn_received_passive_retransmitted_syn_gets_the_synack_again(half_open: Case) -> None:
    c = half_open
    c.deliver(peer_syn(c), ms(300))
    c.expect([our_synack(c)], ms(300))
    assert c.ep.stats.synack_retransmits == 1 and syn_queue_len(c) == 1


def test_syn_received_passive_third_ack_establishes(half_open: Case) -> None:
    c = half_open
    c.deliver(c.peer, ms(10))
    c.expect_nothing(ms(10))
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.state is State.ESTABLISHED
    assert conn.next_timeout() is None  # nothing in flight
    assert syn_queue_len(c) == 0


def test_syn_received_passive_third_ack_with_fin_goes_to_close_wait(half_open: Case) -> None:
    c = half_open
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([c.ours._replace(ack=c.rseq(2))])
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.state is State.CLOSE_WAIT
    assert c.events()[-1] == PeerClosed(conn)


@pytest.mark.parametrize("ack_off", [0, 2, -1000])
def test_syn_received_passive_bad_ack_gets_rst_and_entry_stays(half_open: Case, ack_off: int) -> None:
    c = half_open
    c.deliver(c.peer._replace(ack=c.lseq(ack_off)))
    c.expect([Segment(c.lport, c.rport, c.lseq(ack_off), 0, RST, 0)])
    assert c.ep.stats.dropped[DropReason.BAD_ACK] == 1
    assert syn_queue_len(c) == 1
    c.deliver(c.peer)  # the right ACK still completes the handshake
    c.expect_nothing()
    assert c.listener is not None and c.listener.accept_queue_len == 1


@pytest.mark.parametrize("seq_off", [0, -5, 70000, 2**31])
def test_syn_received_passive_ack_out_of_window_gets_an_ack(half_open: Case, seq_off: int) -> None:
    # §3.10.7.4 first check (Linux tcp_check_req: "Out of window: send ACK and drop").
    c = half_open
    c.deliver(c.peer._replace(seq=c.rseq(seq_off)))
    c.expect([our_ack(c)])
    assert c.ep.stats.dropped[DropReason.OUT_OF_WINDOW] == 1
    assert syn_queue_len(c) == 1


def test_syn_received_passive_ack_without_wscale_gets_unscaled_window(iss: tuple[int, int]) -> None:
    c = listen(*iss)
    c.deliver(peer_syn(c, Options(mss=1460)))
    c.expect([our_synack(c, Options(mss=1460))])
    c.deliver(c.peer._replace(seq=c.rseq(100000)))
    c.expect([c.ours._replace(window=65535)])


def test_syn_received_passive_exact_rst_removes_the_entry(half_open: Case) -> None:
    c = half_open
    c.deliver(c.rst(c.rseq(1)))
    c.expect_nothing()
    assert syn_queue_len(c) == 0
    assert c.ep.stats.resets_received == 1
    assert c.transitions()[-1] == (State.SYN_RECEIVED, State.CLOSED)
    assert c.events() == []  # back to LISTEN: the application is not told
    c.expect_nothing(seconds(1))  # and no SYN-ACK retransmission


def test_syn_received_passive_rst_ack_exact_removes_the_entry(half_open: Case) -> None:
    c = half_open
    c.deliver(c.rst(c.rseq(1), c.lseq(1), ACK))
    c.expect_nothing()
    assert syn_queue_len(c) == 0


def test_syn_received_passive_rst_with_bad_ack_is_dropped(half_open: Case) -> None:
    c = half_open
    c.deliver(c.rst(c.rseq(1), c.lseq(5), ACK))
    c.expect_nothing()
    assert syn_queue_len(c) == 1


def test_syn_received_passive_new_syn_in_window_resets_the_entry(half_open: Case) -> None:
    # §3.10.7.4 fourth check: passive OPEN → back to LISTEN (Linux: embryonic reset,
    # answered with a RST).
    c = half_open
    c.deliver(peer_syn(c)._replace(seq=c.rseq(10)))
    c.expect([Segment(c.lport, c.rport, 0, c.rseq(11), RST | ACK, 0)])
    assert syn_queue_len(c) == 0


def test_syn_received_passive_synack_in_window_resets_the_entry(half_open: Case) -> None:
    # A SYN,ACK acknowledging our SYN-ACK (crossed SYNs forged by a third party).
    c = half_open
    c.deliver(c.peer._replace(seq=c.rseq(10), flags=SYN | ACK))
    c.expect([Segment(c.lport, c.rport, c.lseq(1), 0, RST, 0)])
    assert syn_queue_len(c) == 0
    assert c.ep.connections == []


def test_syn_received_passive_synack_repeating_the_syn_gets_an_ack(half_open: Case) -> None:
    c = half_open
    c.deliver(c.peer._replace(seq=c.riss, flags=SYN | ACK))
    c.expect([our_ack(c)])
    assert syn_queue_len(c) == 1
    assert c.ep.connections == []


def test_syn_received_passive_synack_with_data_repeating_the_syn_is_trimmed(half_open: Case) -> None:
    # SYN at IRS is trimmed ("trim to the window"); the data after it is in sequence.
    c = half_open
    c.deliver(c.peer._replace(seq=c.riss, flags=SYN | ACK, payload=b"data"))
    c.expect([c.ours._replace(ack=c.rseq(5), window=(65535 - 4) >> WSCALE)])
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.read() == b"data"


def test_syn_received_passive_new_syn_out_of_window_gets_an_ack(half_open: Case) -> None:
    c = half_open
    c.deliver(peer_syn(c)._replace(seq=c.rseq(-1000)))
    c.expect([our_ack(c)])
    assert syn_queue_len(c) == 1


def test_syn_received_passive_segment_without_ack_is_dropped(half_open: Case) -> None:
    c = half_open
    c.deliver(c.peer._replace(flags=PSH, payload=b"x"))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.NO_ACK_FLAG] == 1
    assert syn_queue_len(c) == 1


def test_syn_received_passive_third_ack_data_beyond_rcv_nxt_is_not_delivered(half_open: Case) -> None:
    c = half_open
    c.deliver(c.peer._replace(seq=c.rseq(5), flags=ACK | PSH, payload=b"later"))
    # Established; the data is out of order, held: a duplicate ACK with its SACK block.
    c.expect([c.ours._replace(options=Options(sack_blocks=((c.rseq(5), c.rseq(10)),)))])
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.state is State.ESTABLISHED and conn.bytes_readable == 0


# == active: simultaneous open (MUST-10) ===============================================
def test_syn_received_simultaneous_open_answers_with_synack(iss: tuple[int, int]) -> None:
    c = syn_sent(*iss)
    c.deliver(peer_syn(c), ms(5))
    c.expect([Segment(c.lport, c.rport, c.liss, c.rseq(1), SYN | ACK, SYN_WIN, OUR_SYN_OPTS)], ms(5))
    assert c.c.state is State.SYN_RECEIVED
    assert c.transitions() == [(State.CLOSED, State.SYN_SENT), (State.SYN_SENT, State.SYN_RECEIVED)]


def test_syn_received_simultaneous_open_synack_options_follow_the_peer(iss: tuple[int, int]) -> None:
    c = syn_sent(*iss)
    c.deliver(peer_syn(c, Options(mss=1000)))
    c.expect([our_synack(c, Options(mss=1460))])
    assert (c.c.snd_mss, c.c.snd_wscale, c.c.rcv_wscale, c.c.sack_ok) == (1000, 0, 0, False)


def test_syn_received_simultaneous_open_peer_synack_establishes_silently(syn_received: Case) -> None:
    c = syn_received
    c.deliver(Segment(c.rport, c.lport, c.riss, c.lseq(1), SYN | ACK, SYN_WIN, PEER_SYN_OPTS), ms(20))
    c.expect_nothing(ms(20))
    assert c.c.state is State.ESTABLISHED
    assert c.events() == [Connected(c.c)]
    assert (c.c.snd_una, c.c.snd_nxt, c.c.rcv_nxt) == (c.lseq(1), c.lseq(1), c.rseq(1))
    assert c.c.next_timeout() is None


def test_syn_received_simultaneous_open_synack_before_ours_left_gets_an_ack(iss: tuple[int, int]) -> None:
    # Our SYN,ACK was still waiting to be pulled when the peer's SYN,ACK arrived: it
    # never leaves, but the peer's SYN must be acknowledged.
    c = syn_sent(*iss)
    c.deliver(peer_syn(c))
    c.deliver(Segment(c.rport, c.lport, c.riss, c.lseq(1), SYN | ACK, SYN_WIN, PEER_SYN_OPTS))
    c.expect([c.ours])
    assert c.c.state is State.ESTABLISHED


def test_syn_received_simultaneous_open_ack_establishes(syn_received: Case) -> None:
    c = syn_received
    c.deliver(c.peer)
    c.expect_nothing()
    assert c.c.state is State.ESTABLISHED
    assert c.c.snd_wnd == PEER_WIN << WSCALE


def test_syn_received_simultaneous_open_ack_with_data_delivers_it(syn_received: Case) -> None:
    c = syn_received
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"hello"))
    c.expect([c.ours._replace(ack=c.rseq(6), window=(65535 - 5) >> WSCALE)])
    assert c.events() == [Connected(c.c), Readable(c.c)]
    assert c.c.read() == b"hello"


@pytest.mark.parametrize("ack_off", [0, 2])
def test_syn_received_simultaneous_open_bad_ack_gets_rst(syn_received: Case, ack_off: int) -> None:
    c = syn_received
    c.deliver(c.peer._replace(ack=c.lseq(ack_off)))
    c.expect([Segment(c.lport, c.rport, c.lseq(ack_off), 0, RST, 0)])
    assert c.c.state is State.SYN_RECEIVED
    assert c.ep.stats.dropped[DropReason.BAD_ACK] == 1


def test_syn_received_simultaneous_open_exact_rst_is_connection_refused(syn_received: Case) -> None:
    c = syn_received
    c.deliver(c.rst(c.rseq(1)))
    c.expect_nothing()
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionRefused(c.c), Closed(c.c)]
    assert c.ep.connections == []


def test_syn_received_simultaneous_open_synack_retransmitted_then_times_out(syn_received: Case) -> None:
    c = syn_received
    for t in (1, 3, 7, 15, 31):
        c.expect([our_synack(c)], seconds(t))
    c.expect_nothing(seconds(63) - 1)
    c.expect_nothing(seconds(63))
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_syn_received_simultaneous_open_close_sends_fin(syn_received: Case) -> None:
    # §3.10.4: nothing queued → FIN, FIN-WAIT-1.
    c = syn_received
    c.c.close(ms(1))
    c.expect([c.ours._replace(flags=FIN | ACK)], ms(1))
    assert c.c.state is State.FIN_WAIT_1
    c.deliver(c.peer._replace(ack=c.lseq(2)), ms(20))  # acks our SYN and FIN
    c.expect_nothing(ms(20))
    assert c.c.state is State.FIN_WAIT_2


def test_syn_received_simultaneous_open_close_then_rto_resends_synack_and_fin(syn_received: Case) -> None:
    c = syn_received
    c.c.close(0)
    c.expect([c.ours._replace(flags=FIN | ACK)])
    # Neither our SYN nor our FIN is acknowledged: both go again, SYN first.
    c.expect([our_synack(c), c.ours._replace(flags=FIN | ACK)], seconds(1))
    assert (c.c.snd_una, c.c.snd_nxt, c.c.snd_max) == (c.liss, c.lseq(2), c.lseq(2))


def test_syn_received_simultaneous_open_data_is_sent_after_establishing(syn_received: Case) -> None:
    c = syn_received
    assert c.c.send(b"queued") == 6
    c.expect_nothing()  # SYN-RECEIVED: queue until ESTABLISHED (§3.10.2)
    c.deliver(c.peer)
    c.expect([c.ours._replace(flags=ACK | PSH, payload=b"queued")])


def test_syn_received_simultaneous_open_window_field_is_scaled_after(syn_received: Case) -> None:
    c = syn_received
    c.deliver(c.peer._replace(seq=c.rseq(100000)))
    c.expect([c.ours._replace(window=WIN)])


def test_syn_received_simultaneous_open_close_then_crossing_synack_acks_our_syn(syn_received: Case) -> None:
    c = syn_received
    c.c.close(0)
    c.expect([c.ours._replace(flags=FIN | ACK)])
    c.deliver(Segment(c.rport, c.lport, c.riss, c.lseq(1), SYN | ACK, SYN_WIN, PEER_SYN_OPTS), ms(10))
    c.expect_nothing(ms(10))
    assert c.c.state is State.FIN_WAIT_1 and c.c.snd_una == c.lseq(1)
    c.expect([c.ours._replace(flags=FIN | ACK)], seconds(1))  # only the FIN is left to resend
