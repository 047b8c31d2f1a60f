"""Urgent data (RFC 9293 §3.8.5, MUST-30 to MUST-33, MUST-62, MUST-66): the sender
marks the end of the urgent data with SND.UP and every segment before it carries URG
and the pointer; the receiver tells the application when the pointer arrives or
advances and how much urgent data is left to read.  The data stays in the stream."""

from __future__ import annotations

from support.harness import ACK, PEER_WIN, PSH, Case, established, ms
from synack.core.events import Readable, Urgent
from synack.core.wire import URG, Segment

MSS = 1460


def sent(c: Case, off: int, payload: bytes, flags: int, urg: int = 0) -> Segment:
    return c.ours._replace(seq=c.lseq(1 + off), flags=flags, payload=payload, urg=urg)


def data(c: Case, off: int, payload: bytes, urg: int | None = None, window: int = PEER_WIN) -> Segment:
    """Peer data at ``off``; with ``urg``, URG set and that pointer."""
    flags = ACK | PSH | (URG if urg is not None else 0)
    assert urg is None or urg >= 0
    return c.peer._replace(seq=c.rseq(1 + off), flags=flags, payload=payload, urg=urg or 0, window=window)


def test_urgent_send_marks_every_segment_up_to_the_pointer(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.deliver(c.peer)  # the peer's scaled window
    assert c.c.send(b"u" * 3000, urgent=True) == 3000
    # MUST-62: the pointer, an offset from each segment's SEG.SEQ, names the octet
    # after the urgent data (3000 octets in).
    c.expect([sent(c, 0, b"u" * MSS, ACK | URG, 3000),
              sent(c, MSS, b"u" * MSS, ACK | URG, 3000 - MSS),
              sent(c, 2 * MSS, b"u" * 80, ACK | PSH | URG, 80)], exact=True)
    c.deliver(c.peer._replace(ack=c.lseq(1 + 3000)), c.now + ms(10))
    c.c.send(b"after")
    c.expect([sent(c, 3000, b"after", ACK | PSH)], c.now + ms(10), exact=True)  # urgent mode over


def test_urgent_data_is_not_held_by_nagle(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.deliver(c.peer)
    c.c.send(b"a")
    c.expect([sent(c, 0, b"a", ACK | PSH)], exact=True)
    c.c.send(b"b")
    c.expect_nothing()  # Nagle: "a" is unacknowledged
    c.c.send(b"!", urgent=True)
    c.expect([sent(c, 1, b"b!", ACK | PSH | URG, 2)], exact=True)  # goes at once


def test_urgent_pointer_arriving_is_signalled_once_and_counted_down_as_read(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.deliver(data(c, 0, b"abc!def", urg=4))  # urgent data: "abc!"
    assert c.events() == [Urgent(c.c), Readable(c.c)]
    assert c.c.urgent_pending == 4
    assert c.c.read(2) == b"ab"
    assert c.c.urgent_pending == 2
    c.deliver(data(c, 2, b"c!defgh", urg=2))  # overlapping, the same pointer: no new signal
    assert c.events() == []
    assert c.c.read() == b"c!defgh"
    assert c.c.urgent_pending == 0 and c.c.rcv.up is None  # urgent mode over
    c.deliver(data(c, 9, b"ij", urg=1))  # a new urgent octet: signalled afresh
    assert c.events() == [Urgent(c.c), Readable(c.c)]
    assert c.c.urgent_pending == 1


def test_urgent_pointer_advancing_is_signalled_again(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.deliver(data(c, 0, b"ab", urg=1))
    assert c.events() == [Urgent(c.c), Readable(c.c)]
    c.deliver(data(c, 2, b"cd", urg=2))  # now up to octet 4
    assert c.events() == [Urgent(c.c)]
    assert c.c.urgent_pending == 4


def test_urgent_pointer_beyond_the_data_that_arrived(iss: tuple[int, int]) -> None:
    # "Urgent data may be of any length" (MUST-31): the pointer may lie beyond
    # this segment; the count includes what has yet to arrive.
    c = established(*iss)
    c.deliver(data(c, 0, b"xyz", urg=5000))
    assert c.events() == [Urgent(c.c), Readable(c.c)]
    assert c.c.read() == b"xyz"
    assert c.c.urgent_pending == 4997


def test_urgent_pointer_is_processed_with_a_zero_window(iss: tuple[int, int]) -> None:
    # MUST-66: the URG bit counts even when the text cannot be taken.
    c = established(*iss)
    free = c.config.rcv_buf
    c.deliver(data(c, 0, b"f" * free)._replace(flags=ACK))
    c.events()
    c.deliver(data(c, free, b"!", urg=1))
    assert c.events() == [Urgent(c.c)]
    assert c.c.bytes_readable == free  # the octet itself was dropped (no room)
    assert c.c.urgent_pending == free + 1


def test_urgent_segments_leave_header_prediction_to_the_full_path(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.deliver(c.peer)
    before = c.ep.stats.predicted
    c.deliver(data(c, 0, b"hey", urg=1))
    assert c.ep.stats.predicted == before
    c.deliver(data(c, 3, b"you"))
    assert c.ep.stats.predicted == before + 1


def test_zero_window_probing_carries_the_urgent_pointer(iss: tuple[int, int]) -> None:
    # The receiver's window is shut, so no data can go; Linux's persist timer then
    # sends, before its usual probe, a bare ACK at SND.UNA: acceptable in a zero
    # window, it carries URG and the pointer to the receiver all the same.
    c = established(*iss)
    c.deliver(c.peer._replace(window=0))
    c.c.send(b"queued")
    c.c.send(b"!", urgent=True)
    c.expect_nothing()
    t = c.now + c.c.rto
    # (The usual probe, at SND.UNA - 1, is before SND.UP as well: URG too, as in Linux.)
    c.expect([sent(c, 0, b"", ACK | URG, 7), c.ours._replace(seq=c.lseq(0), flags=ACK | URG, urg=8)], t,
             exact=True)
