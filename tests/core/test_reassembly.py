"""Out-of-order reassembly (RFC 1122 4.2.2.20, RFC 9293 §3.10.7.4 seventh step;
RFC 5681 §4.2 immediate ACKs): data beyond RCV.NXT is held within the window and a
counted budget, answered by a duplicate ACK, and delivered when the hole fills."""

from __future__ import annotations

from support.harness import ACK, FIN, PSH, WIN, WSCALE, Case, established
from synack.core.buffers import BLOCK_OVERHEAD, Reassembler
from synack.core.config import Config
from synack.core.errors import DropReason
from synack.core.events import Readable
from synack.core.state import State
from synack.core.wire import Options, Segment

NO_SACK = Config(sack=False)


def data(c: Case, off: int, payload: bytes) -> Segment:
    return c.peer._replace(seq=c.rseq(1 + off), flags=ACK | PSH, payload=payload)


def ack_for(c: Case, n: int, held: int = 0) -> Segment:
    """Our ACK of ``n`` octets; ``held`` octets more sit in the buffer unread."""
    return c.ours._replace(ack=c.rseq(1 + n), window=(65535 - n - held) >> WSCALE)


def test_reassembly_hole_filled_delivers_everything_with_an_immediate_ack(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NO_SACK)
    c.deliver(data(c, 3, b"def"))
    c.expect([c.ours])  # duplicate ACK, at once
    c.deliver(data(c, 9, b"jkl"))
    c.expect([c.ours])
    assert c.c.bytes_readable == 0 and c.events() == []
    c.deliver(data(c, 0, b"abc"))
    c.expect([ack_for(c, 6)])  # the gap-filling segment is ACKed at once
    c.deliver(data(c, 6, b"ghi"))
    c.expect([ack_for(c, 12)])
    assert c.events() == [Readable(c.c)]
    assert c.c.read() == b"abcdefghijkl"
    assert c.ep.stats.out_of_order == 2


def test_reassembly_overlapping_and_touching_segments_merge(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NO_SACK)
    for off, payload in [(10, b"klmno"), (5, b"fghij"), (8, b"ijklm"), (20, b"uv"), (15, b"pqrst")]:
        c.deliver(data(c, off, payload))
        c.expect([c.ours])
    ooo = c.c.rcv.ooo
    assert ooo is not None and ooo.blocks == [(c.rseq(6), c.rseq(23))]
    c.deliver(data(c, 0, b"abcdefg"))  # overlaps the held block's front
    c.expect([ack_for(c, 22)])
    assert c.c.read() == b"abcdefghijklmnopqrstuv"
    assert c.c.rcv.ooo is None  # no hole, no queue


def test_reassembly_data_beyond_the_right_edge_is_trimmed(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NO_SACK)
    c.deliver(data(c, 65530, b"0123456789"))  # the window is 65535 octets
    c.expect([c.ours])
    ooo = c.c.rcv.ooo
    assert ooo is not None and ooo.blocks == [(c.rseq(1 + 65530), c.rseq(1 + 65535))]
    assert c.ep.stats.dropped[DropReason.RCV_BUFFER_FULL] == 1


def test_reassembly_budget_drops_the_excess(iss: tuple[int, int]) -> None:
    budget = 2 * (100 + BLOCK_OVERHEAD)
    c = established(*iss, config=Config(sack=False, ooo_budget=budget))
    c.deliver(data(c, 100, b"x" * 100))
    c.deliver(data(c, 300, b"y" * 100))
    c.deliver(data(c, 500, b"z" * 100))  # a third block does not fit
    c.expect([c.ours] * 3)
    assert c.ep.stats.dropped[DropReason.OOO_BUDGET] == 1
    ooo = c.c.rcv.ooo
    assert ooo is not None and ooo.held == budget
    c.deliver(data(c, 200, b"w" * 100))  # joins two blocks: needs less, fits
    c.expect([c.ours])
    assert ooo.held == 300 + BLOCK_OVERHEAD
    c.deliver(data(c, 0, b"v" * 100))
    c.expect([ack_for(c, 400)])
    assert c.c.read() == b"v" * 100 + b"x" * 100 + b"w" * 100 + b"y" * 100


def test_reassembly_held_data_counts_against_the_window_only_when_delivered(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NO_SACK)
    c.deliver(data(c, 1000, b"b" * 1000))
    c.expect([c.ours])  # the window is unchanged: held data is not yet in the buffer
    c.deliver(data(c, 0, b"a" * 1000))
    c.expect([ack_for(c, 2000)])
    assert c.c.bytes_readable == 2000


def test_reassembler_unit_merge_pop_and_recent() -> None:
    r = Reassembler(10_000)
    assert r.add(100, 110, b"kl")
    assert r.add(100, 105, b"fg")
    assert r.recent == [(105, 107), (110, 112)]
    assert r.add(100, 107, b"hij")  # fills between them: one block
    assert r.blocks == [(105, 112)] and r.recent == [(105, 112)]
    assert r.held == 7 + BLOCK_OVERHEAD
    assert r.pop(100) is None
    assert r.pop(106) == b"ghijkl"
    assert len(r) == 0 and r.held == 0 and r.recent == []


def test_reassembler_unit_wraps_the_sequence_space() -> None:
    r = Reassembler(10_000)
    top = 2**32 - 3
    assert r.add(top - 2, top, b"abcde")  # spans the wrap
    assert r.blocks == [(top, 2)]
    assert r.pop(top) == b"abcde"


def test_established_window_field_is_unchanged_by_held_data(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NO_SACK)
    c.deliver(data(c, 1, b"x"))
    c.expect([c.ours._replace(window=WIN)])


def test_reassembly_holds_a_fin_beyond_the_hole(iss: tuple[int, int]) -> None:
    # Linux keeps the FIN in its out-of-order queue: once the hole fills, the FIN is
    # in order and consumed (no retransmission of it needed).
    c = established(*iss, config=NO_SACK)
    c.deliver(data(c, 3, b"def")._replace(flags=ACK | PSH | FIN))
    c.expect([c.ours])
    assert c.c.state is State.ESTABLISHED
    c.deliver(data(c, 0, b"abc"))
    c.expect([ack_for(c, 7, held=-1)])  # ACK covers the FIN (one more than the data)
    assert c.c.state is State.CLOSE_WAIT and c.c.read() == b"abcdef" and c.c.at_eof


def test_dsack_block_goes_first_then_the_held_blocks(iss: tuple[int, int]) -> None:
    # RFC 2883 §4: a duplicate below RCV.NXT is reported in the first SACK block of
    # the next ACK (once), ahead of the usual blocks for the data held out of order.
    c = established(*iss)
    c.deliver(data(c, 0, b"abc"))
    c.expect([ack_for(c, 3)])
    c.deliver(data(c, 10, b"klm"))  # a hole at 3..10
    held = Options(sack_blocks=((c.rseq(11), c.rseq(14)),))
    c.expect([ack_for(c, 3)._replace(options=held)], exact=True)
    c.deliver(data(c, 0, b"abc"))  # a duplicate
    both = Options(sack_blocks=((c.rseq(1), c.rseq(4)), (c.rseq(11), c.rseq(14))))
    c.expect([ack_for(c, 3)._replace(options=both)], exact=True)
    c.deliver(data(c, 20, b"uv"))  # out of order again: the D-SACK is not repeated
    two = Options(sack_blocks=((c.rseq(21), c.rseq(23)), (c.rseq(11), c.rseq(14))))
    c.expect([ack_for(c, 3)._replace(options=two)], exact=True)
    # a duplicate of held data: D-SACK, then the block that holds it (RFC 2883 §4)
    c.deliver(data(c, 12, b"m"))
    dup = Options(sack_blocks=((c.rseq(13), c.rseq(14)), (c.rseq(11), c.rseq(14)), (c.rseq(21), c.rseq(23))))
    c.expect([ack_for(c, 3)._replace(options=dup)], exact=True)


def test_no_dsack_without_sack_permitted(iss: tuple[int, int]) -> None:
    c = established(*iss, config=NO_SACK)
    c.deliver(data(c, 0, b"abc"))
    c.expect([ack_for(c, 3)])
    c.deliver(data(c, 0, b"abc"))
    c.expect([ack_for(c, 3)], exact=True)


def test_data_held_beyond_the_peers_fin_is_dropped_when_the_fin_is_taken(iss: tuple[int, int]) -> None:
    """A FIN at RCV.NXT ends the peer's stream: data held beyond it can never be
    delivered, so it goes, and no later ACK SACKs it (Linux's tcp_fin purges the
    out-of-order queue and resets the SACK state; a fuzz finding: synack kept
    reporting the block in every ACK in CLOSE-WAIT)."""
    c = established(*iss)
    c.deliver(data(c, 10, b"y" * 100))  # beyond a hole
    c.expect([ack_for(c, 0)._replace(options=Options(sack_blocks=((c.rseq(11), c.rseq(111)),)))], exact=True)
    c.deliver(data(c, 0, b"")._replace(flags=ACK | FIN))  # the FIN, at RCV.NXT
    assert c.c.state is State.CLOSE_WAIT and c.c.rcv.ooo is None
    assert c.c.read() == b"" and c.c.at_eof
    c.c.close(c.now)
    [fin] = c.ep.packets_to_send(c.now)
    assert fin.seg.flags == ACK | FIN and fin.seg.ack == c.rseq(2) and fin.seg.options.sack_blocks == ()
