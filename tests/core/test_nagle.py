"""Nagle's algorithm (RFC 9293 §3.7.4, RFC 896) in Linux's form (Minshall's variant:
a small segment waits while an earlier small segment is unacknowledged), the
TCP_NODELAY switch, and sender-side silly-window avoidance (§3.8.6.2.1)."""

from __future__ import annotations

from support.harness import ACK, FIN, PSH, Case, established, ms
from synack.core.config import Config
from synack.core.wire import Segment

MSS = 1460


def sent(c: Case, off: int, payload: bytes, flags: int = ACK | PSH) -> Segment:
    return c.ours._replace(seq=c.lseq(1 + off), flags=flags, payload=payload)


def acked(c: Case, off: int, window: int | None = None) -> Segment:
    seg = c.peer._replace(ack=c.lseq(1 + off))
    return seg if window is None else seg._replace(window=window)


def test_nagle_coalesces_small_writes_until_the_ack(iss: tuple[int, int]) -> None:
    c = established(*iss)
    t = c.now
    c.c.send(b"a")
    c.expect([sent(c, 0, b"a")], t)       # nothing unacknowledged: goes at once
    c.c.send(b"b")
    c.expect_nothing(t)                    # "a" is unacknowledged: "b" waits
    c.c.send(b"cd")
    c.expect_nothing(t + ms(1))
    c.deliver(acked(c, 1), t + ms(20))
    c.expect([sent(c, 1, b"bcd")], t + ms(20))  # one segment for both writes


def test_nodelay_sends_every_write(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(nodelay=True))
    assert c.c.nodelay
    c.c.send(b"a")
    c.expect([sent(c, 0, b"a")])
    c.c.send(b"b")
    c.expect([sent(c, 1, b"b")])


def test_setting_nodelay_pushes_what_nagle_held(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.c.send(b"a")
    c.expect([sent(c, 0, b"a")])
    c.c.send(b"b")
    c.expect_nothing()
    c.c.nodelay = True
    c.expect([sent(c, 1, b"b")])


def test_nagle_does_not_hold_full_segments_or_the_tail_after_them(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.c.send(b"x" * (2 * MSS + 10))
    c.expect([sent(c, 0, b"x" * MSS, ACK), sent(c, MSS, b"x" * MSS, ACK), sent(c, 2 * MSS, b"x" * 10)])
    c.c.send(b"y")
    c.expect_nothing()  # the 10-octet segment is a small one still unacknowledged
    c.deliver(acked(c, 2 * MSS + 10), c.now + ms(20))
    c.expect([sent(c, 2 * MSS + 10, b"y")], c.now + ms(20))


def test_nagle_does_not_hold_the_fin(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.c.send(b"a")
    c.expect([sent(c, 0, b"a")])
    c.c.send(b"b")
    c.c.shutdown(c.now)
    c.expect([sent(c, 1, b"b", ACK | PSH | FIN)])


def test_sender_sws_waits_for_a_useful_window(iss: tuple[int, int]) -> None:
    # The peer's window (field 100 << 7 = 12800) leaves room for less than a segment
    # after eight full ones; with data in flight that remnant waits for ACKs.
    c = established(*iss)
    c.deliver(c.peer._replace(window=100), c.now)
    c.expect_nothing()
    c.c.send(b"z" * (10 * MSS))
    c.expect([sent(c, i * MSS, b"z" * MSS, ACK) for i in range(8)])
    c.deliver(acked(c, MSS, 100), c.now + ms(20))
    c.expect([sent(c, 8 * MSS, b"z" * MSS, ACK)], c.now + ms(20))  # a full one fits again
