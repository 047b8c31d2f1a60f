"""User timeout (RFC 5482, RFC 9293 §3.8.3; Linux TCP_USER_TIMEOUT): data
unacknowledged for longer than the user timeout aborts the connection with
ConnectionTimedOut; the RTO is clamped so that the abort happens on time."""

from __future__ import annotations

import pytest

from support.harness import ACK, PSH, Case, established, ms, seconds, zero_window_probe
from synack.core.config import Config
from synack.core.errors import UsageError
from synack.core.events import Closed, ConnectionTimedOut
from synack.core.state import State
from synack.core.wire import Segment


def sent(c: Case, payload: bytes) -> Segment:
    return c.ours._replace(flags=ACK | PSH, payload=payload)


def test_user_timeout_aborts_unacknowledged_data(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(user_timeout=ms(1500)))
    assert c.c.rto == ms(200)
    t0 = c.now
    c.c.send(b"x")
    c.expect([sent(c, b"x")], t0)
    for at in (200, 600, 1400):  # RFC 6298 back-off: 200, 400, 800 ms
        c.expect_nothing(t0 + ms(at) - 1)
        c.expect([sent(c, b"x")], t0 + ms(at))
    assert c.c.next_timeout() == t0 + ms(1500)  # clamped from 1400 + 1600
    c.expect_nothing(t0 + ms(1500))
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


def test_user_timeout_an_ack_restarts_the_clock(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(user_timeout=ms(500)))
    t0 = c.now
    c.c.send(b"x")
    c.expect([sent(c, b"x")], t0)
    c.expect([sent(c, b"x")], t0 + ms(200))
    c.deliver(c.peer._replace(ack=c.lseq(2)), t0 + ms(300))
    c.c.send(b"y")
    c.expect([sent(c, b"y")._replace(seq=c.lseq(2))], t0 + ms(300))
    # The ACK restarted the RTO (still backed off, 400 ms: Karn, no new sample).
    c.expect_nothing(t0 + ms(699))
    c.expect([sent(c, b"y")._replace(seq=c.lseq(2))], t0 + ms(700))
    assert c.c.state is State.ESTABLISHED
    c.expect_nothing(t0 + ms(800))  # 500 ms after the ACK that restarted the clock
    assert c.c.state is State.CLOSED


def test_user_timeout_also_bounds_zero_window_probing(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(user_timeout=seconds(2)))
    t0 = c.now
    c.deliver(c.peer._replace(window=0), t0)
    c.c.send(b"abc")
    c.expect_nothing(t0)
    t = t0
    for k in range(3):  # probes at 200, 600, 1400 ms, each answered "still zero"
        t += ms(200) << k
        c.expect([zero_window_probe(c)], t, exact=True)
        c.deliver(c.peer._replace(window=0), t)
    c.expect_nothing(t0 + seconds(2))
    assert c.c.state is State.CLOSED and ConnectionTimedOut(c.c) in c.events()


def test_user_timeout_setter_validates(iss: tuple[int, int]) -> None:
    c = established(*iss)
    assert c.c.user_timeout is None
    c.c.user_timeout = seconds(30)
    assert c.c.user_timeout == seconds(30)
    with pytest.raises(UsageError):
        c.c.user_timeout = 0
    with pytest.raises(ValueError):
        Config(user_timeout=0)
