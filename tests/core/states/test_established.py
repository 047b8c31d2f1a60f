"""ESTABLISHED (RFC 9293 §3.10.7.4 with RFC 5961; RFC 6298 timers; RFC 7323 windows).

Checks in order: sequence acceptability (unacceptable → ``<SEQ=SND.NXT><ACK=RCV.NXT>
<CTL=ACK>``), RST (exact → reset, in window → challenge ACK, else drop), SYN
(challenge ACK), ACK (unsent → ACK and drop, too old → ACK and drop, window update),
text, FIN.  Each runs for connections made by connect() and through a listener, with
both ISS assignments.  The RFC 5961 rules (RST, SYN, the ACK's range, the
challenge-ACK throttle) are tested once for every state in tests/core/test_rfc5961.py.
"""

from __future__ import annotations

import pytest

from support.harness import (
    ACK,
    FIN,
    PEER_WIN,
    PSH,
    RST,
    WSCALE,
    Case,
    established,
    ms,
    seconds,
    zero_window_probe,
)
from synack.core.config import Config
from synack.core.errors import ConnectionClosing, DropReason
from synack.core.events import Closed, ConnectionTimedOut, PeerClosed, Readable, Writable
from synack.core.state import State
from synack.core.wire import Options, Segment


def data(c: Case, off: int, payload: bytes, flags: int = ACK | PSH) -> Segment:
    """Peer data starting ``off`` octets after its first data octet (riss+1)."""
    return c.peer._replace(seq=c.rseq(1 + off), flags=flags, payload=payload)


def ack_for(c: Case, n: int, win: int | None = None) -> Segment:
    """Our ACK of the peer's first ``n`` data octets, window field ``win``."""
    return c.ours._replace(ack=c.rseq(1 + n), window=(65535 - n) >> WSCALE if win is None else win)


def sent(c: Case, off: int, payload: bytes, flags: int = ACK | PSH) -> Segment:
    """Our data segment starting ``off`` octets after our first data octet."""
    return c.ours._replace(seq=c.lseq(1 + off), flags=flags, payload=payload)


# == receiving data ========================================================================
def test_established_data_is_delivered_and_acked(established: Case) -> None:
    c = established
    c.deliver(data(c, 0, b"x" * 100))
    c.expect([ack_for(c, 100)])
    assert c.events() == [Readable(c.c)]
    assert c.c.read() == b"x" * 100
    c.expect_nothing()  # the window grew by less than an MSS: no update yet


def test_established_data_crossing_the_wrap(established: Case) -> None:
    c = established
    payload = bytes(range(256)) + bytes(range(44))
    c.deliver(data(c, 0, payload))
    c.expect([ack_for(c, 300)])
    assert c.c.rcv_nxt == c.rseq(301)
    c.deliver(data(c, 300, b"more"))
    c.expect([ack_for(c, 304)])
    assert c.c.read() == payload + b"more"


def test_established_acks_are_aggregated(established: Case) -> None:
    # MUST-58/59: segments processed together get one ACK.
    c = established
    c.deliver(data(c, 0, b"a" * 10))
    c.deliver(data(c, 10, b"b" * 10))
    c.expect([ack_for(c, 20)])


def test_established_segments_accumulate_and_the_window_shrinks(established: Case) -> None:
    c = established
    for k in range(3):
        c.deliver(data(c, 1000 * k, b"a" * 1000))
        c.expect([ack_for(c, 1000 * (k + 1))])
    assert c.events() == [Readable(c.c)]  # once, when the buffer stopped being empty
    assert c.c.bytes_readable == 3000


def test_established_read_reopening_the_window_sends_an_update(iss: tuple[int, int], opener: str) -> None:
    # A window update of its own once the advertised window has fallen to half the
    # buffer and would at least double (Linux tcp_cleanup_rbuf), and only by at least
    # an MSS (§3.8.6.2.2 receiver SWS avoidance).
    buf = 6 * 1460
    c = established(*iss, opener, Config(rcv_buf=buf))
    c.deliver(data(c, 0, b"a" * 1460))
    c.expect([ack_for(c, 1460, (buf - 1460) >> WSCALE)])
    c.c.read()
    c.expect_nothing()  # the window (5/6 of the buffer) is still wide: no update
    c.deliver(data(c, 1460, b"b" * 4380))
    c.expect([ack_for(c, 5840, (buf - 4380) >> WSCALE)])  # advertised 4352: under half
    c.c.read(1000)
    c.expect_nothing()  # would not double the advertised window yet
    c.c.read()
    c.expect([ack_for(c, 5840, buf >> WSCALE)])


def test_established_old_duplicate_data_gets_an_ack(established: Case) -> None:
    c = established
    c.deliver(data(c, 0, b"abc"))
    c.expect([ack_for(c, 3)])
    c.deliver(data(c, 0, b"abc"))
    # the duplicate is reported in a D-SACK block (RFC 2883 §4), once
    c.expect([ack_for(c, 3)._replace(options=Options(sack_blocks=((c.rseq(1), c.rseq(4)),)))], exact=True)
    assert c.ep.stats.dropped[DropReason.OUT_OF_WINDOW] == 1
    c.c.send(b"q")
    c.expect([ack_for(c, 3)._replace(flags=ACK | PSH, payload=b"q")], exact=True)
    assert c.c.read() == b"abc"


def test_established_partly_old_data_is_trimmed(established: Case) -> None:
    c = established
    c.deliver(data(c, 0, b"0123456789"))
    c.expect([ack_for(c, 10)])
    c.deliver(data(c, 0, b"0123456789abcdefghij"))
    c.expect([ack_for(c, 20)._replace(options=Options(sack_blocks=((c.rseq(1), c.rseq(11)),)))], exact=True)
    assert c.c.read() == b"0123456789abcdefghij"


@pytest.mark.parametrize("off", [65535, 70000, 2**31 - 10])
def test_established_data_beyond_the_window_gets_an_ack(established: Case, off: int) -> None:
    c = established
    c.deliver(data(c, off, b"zzz"))
    c.expect([c.ours])
    assert c.ep.stats.dropped[DropReason.OUT_OF_WINDOW] == 1
    assert c.c.bytes_readable == 0


def test_established_out_of_order_data_gets_a_duplicate_ack(established: Case) -> None:
    # Held for reassembly (tests/core/test_reassembly.py), not readable yet.
    c = established
    c.deliver(data(c, 100, b"later"))
    # SACK was negotiated: the duplicate ACK reports the held block (RFC 2018).
    c.expect([c.ours._replace(options=Options(sack_blocks=((c.rseq(101), c.rseq(106)),)))])
    assert c.ep.stats.out_of_order == 1
    assert c.c.bytes_readable == 0


def test_established_data_without_ack_flag_is_dropped(established: Case) -> None:
    c = established
    c.deliver(data(c, 0, b"abc", flags=PSH))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.NO_ACK_FLAG] == 1
    assert c.c.bytes_readable == 0


# -- a full receive buffer (MUST-66) --------------------------------------------------------
@pytest.fixture
def small(iss: tuple[int, int], opener: str) -> Case:
    """ESTABLISHED with a 1000-octet receive buffer and no window scaling."""
    return established(*iss, opener, Config(rcv_buf=1000, wscale=None))


def test_established_full_buffer_advertises_zero_window(small: Case) -> None:
    c = small
    c.deliver(data(c, 0, b"x" * 1500))
    c.expect([c.ours._replace(ack=c.rseq(1001), window=0)])
    assert c.ep.stats.dropped[DropReason.RCV_BUFFER_FULL] == 1
    c.deliver(data(c, 1000, b"y"))  # zero window: not acceptable, but ACKed
    c.expect([c.ours._replace(ack=c.rseq(1001), window=0)])
    assert c.ep.stats.dropped[DropReason.RCV_BUFFER_FULL] == 2
    c.c.read(600)
    c.expect([c.ours._replace(ack=c.rseq(1001), window=600)])


def test_established_zero_window_still_takes_ack_and_rst(small: Case) -> None:
    c = small
    c.deliver(data(c, 0, b"x" * 1000))
    c.expect([c.ours._replace(ack=c.rseq(1001), window=0)])
    c.c.send(b"hello")
    c.expect([c.ours._replace(ack=c.rseq(1001), window=0, flags=ACK | PSH, payload=b"hello")])
    c.deliver(c.peer._replace(seq=c.rseq(1001), ack=c.lseq(6)))
    c.expect_nothing()
    assert c.c.snd_una == c.lseq(6)
    c.deliver(c.rst(c.rseq(1001)))
    assert c.c.state is State.CLOSED


def test_established_zero_window_fin_is_not_acceptable(small: Case) -> None:
    # Table 6: SEG.LEN > 0 and RCV.WND = 0 is never acceptable; only ACK, URG, RST
    # are processed (§3.10.7.4).  The peer retransmits the FIN later.
    c = small
    c.deliver(data(c, 0, b"x" * 1000))
    c.expect([c.ours._replace(ack=c.rseq(1001), window=0)])
    c.deliver(c.peer._replace(seq=c.rseq(1001), flags=FIN | ACK))
    c.expect([c.ours._replace(ack=c.rseq(1001), window=0)])
    assert c.c.state is State.ESTABLISHED
    c.c.read()
    c.expect([c.ours._replace(ack=c.rseq(1001), window=1000)])
    c.deliver(c.peer._replace(seq=c.rseq(1001), flags=FIN | ACK))
    c.expect([c.ours._replace(ack=c.rseq(1002), window=1000)])
    assert c.c.state is State.CLOSE_WAIT


# == ACK (its acceptable range, RFC 5961 §5: tests/core/test_rfc5961.py) ==================
def test_established_duplicate_ack_is_ignored(established: Case) -> None:
    c = established
    c.deliver(c.peer)
    c.expect_nothing()


def test_established_window_scaling_of_the_peers_window(established: Case) -> None:
    c = established
    c.deliver(c.peer._replace(window=1))
    assert c.c.snd_wnd == 1 << WSCALE
    c.deliver(c.peer._replace(window=0xFFFF))
    assert c.c.snd_wnd == 0xFFFF << WSCALE
    assert c.c.max_snd_wnd == 0xFFFF << WSCALE


def test_established_our_window_field_is_scaled_down(established: Case) -> None:
    c = established
    c.deliver(data(c, 0, b"x" * 1000))
    c.expect([c.ours._replace(ack=c.rseq(1001), window=(65535 - 1000) >> 7)])
    assert (65535 - 1000) >> 7 == 504


def test_established_old_ack_does_not_update_the_window(established: Case) -> None:
    # §3.10.7.4: the window is updated only when SND.UNA =< SEG.ACK =< SND.NXT.
    c = established
    c.c.send(b"x" * 200)
    c.expect([sent(c, 0, b"x" * 200)])
    c.deliver(data(c, 0, b"a" * 10)._replace(ack=c.lseq(201)))
    c.expect([ack_for(c, 10)._replace(seq=c.lseq(201))])
    c.deliver(data(c, 10, b"b" * 10)._replace(ack=c.lseq(101), window=0))
    c.expect([ack_for(c, 20)._replace(seq=c.lseq(201))])
    assert c.c.snd_wnd == PEER_WIN << WSCALE


# == FIN ===================================================================================
def test_established_fin_goes_to_close_wait(established: Case) -> None:
    c = established
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([c.ours._replace(ack=c.rseq(2))])
    assert c.c.state is State.CLOSE_WAIT
    assert c.events() == [PeerClosed(c.c)]
    assert c.c.read() == b"" and c.c.at_eof and c.c.peer_closed


def test_established_fin_with_data(established: Case) -> None:
    c = established
    c.deliver(data(c, 0, b"bye", flags=FIN | PSH | ACK))
    c.expect([c.ours._replace(ack=c.rseq(5), window=(65535 - 3) >> WSCALE)])
    assert c.c.state is State.CLOSE_WAIT
    assert c.events() == [Readable(c.c), PeerClosed(c.c)]
    assert c.c.read() == b"bye" and c.c.at_eof


def test_established_out_of_order_fin_is_not_processed(established: Case) -> None:
    c = established
    c.deliver(data(c, 10, b"", flags=FIN | ACK))
    c.expect([c.ours])
    assert c.c.state is State.ESTABLISHED


def test_established_fin_without_ack_is_dropped(established: Case) -> None:
    c = established
    c.deliver(c.peer._replace(flags=FIN))
    c.expect_nothing()
    assert c.c.state is State.ESTABLISHED


# == sending ===============================================================================
def test_established_send_transmits_and_the_ack_stops_the_timer(established: Case) -> None:
    c = established
    assert c.c.send(b"hello") == 5
    c.expect([sent(c, 0, b"hello")], exact=True)
    assert c.c.next_timeout() == c.now + c.c.rto
    c.deliver(c.peer._replace(ack=c.lseq(6)), c.now + ms(10))
    c.expect_nothing(c.now + ms(10))
    assert (c.c.snd_una, c.c.snd_nxt) == (c.lseq(6), c.lseq(6))
    assert c.c.next_timeout() is None


def test_established_send_segments_by_mss_with_psh_on_the_last(established: Case) -> None:
    c = established
    payload = bytes(range(256)) * 20  # 5120 octets
    c.c.send(payload)
    c.expect([sent(c, 0, payload[:1460], ACK), sent(c, 1460, payload[1460:2920], ACK),
              sent(c, 2920, payload[2920:4380], ACK), sent(c, 4380, payload[4380:])], exact=True)


def test_established_send_respects_the_peers_window(established: Case) -> None:
    c = established
    c.deliver(c.peer._replace(window=8))  # 8 << 7 = 1024 octets
    c.c.send(b"z" * 3000)
    c.expect([sent(c, 0, b"z" * 1024, ACK)])
    c.deliver(c.peer._replace(ack=c.lseq(1025), window=8))
    c.expect([sent(c, 1024, b"z" * 1024, ACK)])


def test_established_send_buffer_full_then_writable(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener, Config(snd_buf=1000))
    assert c.c.send(b"q" * 1500) == 1000
    c.expect([sent(c, 0, b"q" * 1000)])
    assert c.c.send(b"more") == 0
    # Linux's write-space rule: Writable once a third of the buffer is free.
    c.deliver(c.peer._replace(ack=c.lseq(334)))  # 333 of 1000 free, 667 queued: not yet
    assert c.events() == []
    c.deliver(c.peer._replace(ack=c.lseq(335)))  # 666 queued: 3 * 666 <= 2 * 1000
    assert c.events() == [Writable(c.c)]


def test_established_data_rto_retransmits_with_backoff(established: Case) -> None:
    c = established
    rto = c.c.rto
    c.c.send(b"lost")
    c.expect([sent(c, 0, b"lost")])
    t = c.now
    for k in range(4):
        t += rto << k
        c.expect_nothing(t - 1)
        c.expect([sent(c, 0, b"lost")], t)
        assert c.c.rto == rto << (k + 1)  # RFC 6298 5.5
    assert c.ep.stats.retransmits == 4
    c.deliver(c.peer._replace(ack=c.lseq(5)), t + ms(5))
    c.expect_nothing(t + ms(5))
    assert c.c.next_timeout() is None and c.c.retries == 0
    assert c.c.rto == rto << 4  # Karn: no sample from a retransmitted segment


def test_established_rto_goes_back_to_snd_una_and_resends_one_segment(established: Case) -> None:
    c = established
    payload = b"a" * 1460 + b"b" * 1460
    c.c.send(payload)
    c.expect([sent(c, 0, payload[:1460], ACK), sent(c, 1460, payload[1460:])])
    c.expect([sent(c, 0, payload[:1460], ACK)], c.now + c.c.rto)  # cwnd is one segment now
    assert c.c.cwnd == 1460


def test_established_retries_exhausted_times_out(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener, Config(retries2=3))
    rto = c.c.rto
    c.c.send(b"x")
    c.expect([sent(c, 0, b"x")])
    t = c.now
    for k in range(3):
        t += rto << k
        c.expect([sent(c, 0, b"x")], t)
    t += rto << 3
    c.expect_nothing(t - 1)
    assert c.c.state is State.ESTABLISHED
    c.expect_nothing(t)
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_established_rto_is_capped_by_max_rto(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener, Config(max_rto=seconds(2)))
    c.c.send(b"x")
    c.expect([sent(c, 0, b"x")])
    t = c.now
    for _ in range(6):
        t += min(c.c.rto, seconds(2))
        c.expect([sent(c, 0, b"x")], t)
    assert c.c.rto == seconds(2)


def test_established_zero_window_is_probed_while_the_peer_answers(established: Case) -> None:
    # §3.8.6.1 (MUST-36, MUST-37, SHLD-29, SHLD-30): probe after one RTO, back off,
    # and keep the connection open as long as the probes are answered.
    c = established
    rto = c.c.rto
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"abc")
    c.expect_nothing()
    t = c.now
    for k in range(20):
        t += min(rto << k, c.config.max_rto)
        c.expect_nothing(t - 1)
        c.expect([zero_window_probe(c)], t, exact=True)
        c.deliver(c.peer._replace(window=0), t + ms(1))  # "still zero"
        c.expect_nothing(t + ms(1))
        assert c.c.state is State.ESTABLISHED
    assert c.c.snd_nxt == c.c.snd_max == c.lseq(1)  # nothing went beyond the window
    # The window opens: everything goes, from the first unacknowledged octet.
    c.deliver(c.peer._replace(window=PEER_WIN), t + ms(2))
    c.expect([sent(c, 0, b"abc")], t + ms(2))


def test_established_zero_window_probe_answer_opens_the_window(established: Case) -> None:
    # The application read meanwhile, and the window update was lost: the probe's
    # answer carries the open window.
    c = established
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"abc")
    c.expect_nothing()
    t = c.now + c.c.rto
    c.expect([zero_window_probe(c)], t, exact=True)
    c.deliver(c.peer._replace(window=1), t)  # 1 << 7 = 128 octets
    c.expect([sent(c, 0, b"abc")], t, exact=True)


def test_established_unanswered_zero_window_probes_time_out(iss: tuple[int, int], opener: str) -> None:
    c = established(*iss, opener, Config(retries2=2))
    rto = c.c.rto
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"abc")
    c.expect_nothing()
    t = c.now
    for k in range(2):
        t += rto << k
        c.expect([zero_window_probe(c)], t, exact=True)
    c.expect_nothing(t + (rto << 2))
    assert c.c.state is State.CLOSED


# == user calls ============================================================================
def test_established_close_with_unread_data_sends_rst(established: Case) -> None:
    c = established  # SHLD-3; Linux: RST,ACK at SND.NXT
    c.deliver(data(c, 0, b"unread"))
    c.expect([ack_for(c, 6)])
    c.events()
    c.c.close(c.now)
    c.expect([c.ours._replace(ack=c.rseq(7), flags=RST | ACK)])
    assert c.c.state is State.CLOSED
    assert c.events() == [Closed(c.c)]
    assert c.ep.stats.resets_sent == 1


def test_established_abort_sends_rst_ack(established: Case) -> None:
    c = established
    c.c.abort(c.now)
    c.expect([c.ours._replace(flags=RST | ACK)])
    assert c.c.state is State.CLOSED and c.ep.connections == []


def test_established_close_sends_fin_after_the_data(established: Case) -> None:
    c = established
    c.c.send(b"last words")
    c.c.close(c.now)
    c.expect([sent(c, 0, b"last words", ACK | PSH | FIN)], exact=True)
    assert c.c.state is State.FIN_WAIT_1
    assert c.c.snd_nxt == c.lseq(12)


def test_established_shutdown_keeps_reading(established: Case) -> None:
    c = established
    c.c.shutdown(c.now)
    c.expect([c.ours._replace(flags=FIN | ACK)])
    c.deliver(data(c, 0, b"still here")._replace(ack=c.lseq(2)))
    c.expect([ack_for(c, 10)._replace(seq=c.lseq(2))])
    assert c.c.read() == b"still here"
    with pytest.raises(ConnectionClosing):
        c.c.send(b"no")


def test_established_rtt_and_rto_after_the_handshake(established: Case, opener: str) -> None:
    c = established
    # Both openers time the handshake: the client its SYN, the server its SYN-ACK
    # (as Linux's tcp_synack_rtt_meas); 10 ms gives RTO = max(SRTT + 4·RTTVAR, 200 ms).
    assert (c.c.srtt, c.c.rto) == (ms(10), ms(200))
    c.c.send(b"x")
    c.expect([sent(c, 0, b"x")])
    c.deliver(c.peer._replace(ack=c.lseq(2)), c.now + ms(40))
    assert c.c.srtt is not None
    assert c.c.rto == ms(200)  # a 40 ms sample: SRTT + 4*RTTVAR < 200 ms, Linux's floor
