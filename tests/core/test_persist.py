"""The persist timer (RFC 9293 §3.8.6.1, MUST-36/37, SHLD-29/30): zero-window probes
with exponential backoff, kept apart from the RTO; the connection stays open while
the probes are answered; the backoff ends when the window opens."""

from __future__ import annotations

from support.harness import ACK, PEER_WIN, PSH, Case, established, ms, zero_window_probe
from synack.core.config import Config
from synack.core.state import State
from synack.core.wire import FIN, Segment


def sent(c: Case, off: int, payload: bytes) -> Segment:
    return c.ours._replace(seq=c.lseq(1 + off), flags=ACK, payload=payload)


def test_persist_probes_back_off_exponentially_and_leave_the_rto_alone(iss: tuple[int, int]) -> None:
    c = established(*iss)
    rto = c.c.rto
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"abc")
    c.expect_nothing()
    t = c.now
    for k in range(6):
        t += rto << k
        assert c.c.next_timeout() == t
        c.expect_nothing(t - 1)
        c.expect([zero_window_probe(c)], t, exact=True)
        c.deliver(c.peer._replace(window=0), t + ms(1))
        c.expect_nothing(t + ms(1))
    assert c.c.rto == rto  # the probes' backoff is not the RTO's
    c.deliver(c.peer._replace(window=PEER_WIN), t + ms(2))
    c.expect([sent(c, 0, b"abc")._replace(flags=ACK)], t + ms(2))
    assert c.c.next_timeout() == t + ms(2) + rto  # an ordinary RTO again


def test_persist_interval_is_capped_by_max_rto(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(max_rto=ms(1000)))
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"abc")
    c.expect_nothing()
    t = c.now
    for k in range(6):
        t += min(ms(200) << k, ms(1000))
        c.expect([zero_window_probe(c)], t, exact=True)
        c.deliver(c.peer._replace(window=0), t)
    assert c.c.state is State.ESTABLISHED


def test_persist_answered_probes_never_exhaust_the_retries(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(retries2=2))
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"abc")
    c.expect_nothing()
    t = c.now
    for k in range(8):  # MUST-37: keep probing while the receiver answers
        t += min(ms(200) << k, c.config.max_rto)
        c.expect([zero_window_probe(c)], t, exact=True)
        c.deliver(c.peer._replace(window=0), t)
    assert c.c.state is State.ESTABLISHED


def test_pure_ack_during_probing_stays_inside_the_peers_window(iss: tuple[int, int]) -> None:
    # The probe sent no octet: a pure ACK goes at SND.NXT = SND.UNA, the zero window's
    # right edge, where the peer accepts it.
    c = established(*iss)
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"abc")
    c.expect_nothing()
    t = c.now + c.c.rto
    c.expect([zero_window_probe(c)], t, exact=True)
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"hi", window=0), t + ms(1))
    c.expect([c.ours._replace(ack=c.rseq(3), window=(65535 - 2) >> 7)], t + ms(1))


def test_a_fin_waits_for_the_window_like_data(iss: tuple[int, int]) -> None:
    # close() at a zero window: the FIN takes a sequence number, so it is not sent
    # beyond the window (Linux's tcp_snd_wnd_test); zero-window probes ask for the
    # window, and the FIN goes when it opens.
    c = established(*iss)
    rto = c.c.rto
    c.deliver(c.peer._replace(window=0))
    c.c.close(c.now)
    c.expect_nothing()
    assert c.c.state is State.FIN_WAIT_1
    t = c.now + rto
    assert c.c.next_timeout() == t
    c.expect([zero_window_probe(c)], t, exact=True)
    c.deliver(c.peer._replace(window=PEER_WIN), t + ms(1))
    c.expect([c.ours._replace(flags=FIN | ACK)], t + ms(1))
