"""SACK (RFC 2018): blocks generated for the holes of the reassembly queue; the first
block reports the most recently received segment, then the others by recency; at
most four; none without the negotiation."""

from __future__ import annotations

from support.harness import ACK, PSH, WSCALE, Case, established
from synack.core.config import Config
from synack.core.wire import Options, Segment


def data(c: Case, off: int, payload: bytes) -> Segment:
    return c.peer._replace(seq=c.rseq(1 + off), flags=ACK | PSH, payload=payload)


def dup_ack(c: Case, *blocks: tuple[int, int]) -> Segment:
    """Our duplicate ACK with SACK blocks given as data offsets [a, b)."""
    edges = tuple((c.rseq(1 + a), c.rseq(1 + b)) for a, b in blocks)
    return c.ours._replace(options=Options(sack_blocks=edges))


def test_sack_blocks_report_the_latest_segment_first(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.deliver(data(c, 3, b"def"))
    c.expect([dup_ack(c, (3, 6))])
    c.deliver(data(c, 9, b"jkl"))
    c.expect([dup_ack(c, (9, 12), (3, 6))])
    c.deliver(data(c, 15, b"pqr"))
    c.expect([dup_ack(c, (15, 18), (9, 12), (3, 6))])
    c.deliver(data(c, 4, b"ef"))  # a duplicate inside the oldest block: a D-SACK of it,
    c.expect([dup_ack(c, (4, 6), (3, 6), (15, 18), (9, 12))])  # then that block (RFC 2883 §4)
    c.deliver(data(c, 6, b"ghi"))  # joins two blocks
    c.expect([dup_ack(c, (3, 12), (15, 18))])
    c.deliver(data(c, 0, b"abc"))  # fills the first hole: the rest is still reported
    c.expect([c.ours._replace(ack=c.rseq(13), window=(65535 - 12) >> WSCALE,
                              options=Options(sack_blocks=((c.rseq(16), c.rseq(19)),)))])
    c.deliver(data(c, 12, b"mno"))
    c.expect([c.ours._replace(ack=c.rseq(19), window=(65535 - 18) >> WSCALE)])  # no hole: no SACK
    assert c.c.read() == b"abcdefghijklmnopqr"


def test_sack_at_most_four_blocks(iss: tuple[int, int]) -> None:
    c = established(*iss)
    for k in range(5):
        c.deliver(data(c, 10 * k + 5, b"x"))
        c.expect([dup_ack(c, *[(10 * j + 5, 10 * j + 6) for j in range(k, max(k - 4, -1), -1)])])


def test_sack_not_sent_unless_negotiated(iss: tuple[int, int]) -> None:
    c = established(*iss, config=Config(sack=False))
    c.deliver(data(c, 3, b"def"))
    c.expect([c.ours])
