"""Keep-alive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6; Linux tcp_keepalive_timer): off by
default; after keepalive_time idle, a probe <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK>
with no data every keepalive_intvl; an answer restarts the idle clock; after
keepalive_probes unanswered probes, RST and ConnectionTimedOut."""

from __future__ import annotations

from support.harness import ACK, PSH, RST, Case, established, ms, seconds
from synack.core.config import Config
from synack.core.events import Closed, ConnectionTimedOut
from synack.core.state import State
from synack.core.wire import Segment

KA = Config(keepalive=True, keepalive_time=seconds(10), keepalive_intvl=seconds(1), keepalive_probes=3)


def probe(c: Case) -> Segment:
    return c.ours._replace(seq=c.lseq(0))  # SND.NXT - 1, no data


def test_keepalive_defaults_follow_linux() -> None:
    cfg = Config()
    assert not cfg.keepalive
    assert (cfg.keepalive_time, cfg.keepalive_intvl, cfg.keepalive_probes) == (seconds(7200), seconds(75), 9)


def test_keepalive_off_by_default_sends_nothing(iss: tuple[int, int]) -> None:
    c = established(*iss)
    assert not c.c.keepalive and c.c.next_timeout() is None
    c.expect_nothing(c.now + seconds(3 * 7200))


def test_keepalive_probes_an_idle_connection_and_an_answer_restarts_the_clock(iss: tuple[int, int]) -> None:
    c = established(*iss, config=KA)
    t = c.now + seconds(10)
    c.expect_nothing(t - 1)
    c.expect([probe(c)], t)
    assert c.ep.stats.keepalive_probes == 1
    c.deliver(c.peer, t + ms(10))  # the peer's ACK
    c.expect_nothing(t + seconds(1))  # no second probe: the peer was heard
    c.expect_nothing(t + ms(10) + seconds(10) - 1)
    c.expect([probe(c)], t + ms(10) + seconds(10))  # idle again for keepalive_time


def test_keepalive_traffic_postpones_the_probe(iss: tuple[int, int]) -> None:
    c = established(*iss, config=KA)
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"hi"), c.now + seconds(5))
    c.expect([c.ours._replace(ack=c.rseq(3), window=(65535 - 2) >> 7)], c.now + seconds(5))
    c.expect_nothing(c.now + seconds(10))
    c.expect([probe(c)._replace(ack=c.rseq(3), window=(65535 - 2) >> 7)], c.now + seconds(15))


def test_keepalive_unanswered_probes_reset_the_connection(iss: tuple[int, int]) -> None:
    c = established(*iss, config=KA)
    t = c.now + seconds(10)
    for k in range(3):
        c.expect([probe(c)], t + seconds(k))
    c.expect([c.ours._replace(flags=RST | ACK)], t + seconds(3))
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_keepalive_switched_on_per_connection(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.c.set_keepalive(True, c.now)
    c.expect([probe(c)], c.now + seconds(7200))
    c.c.set_keepalive(False, c.now + seconds(7200))
    c.expect_nothing(c.now + seconds(7200 + 75))
