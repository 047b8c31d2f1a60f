"""Header prediction: the fast path for the two segments a busy connection sees
most, the next in-order data segment and the next new ACK (Van Jacobson's
prediction, Linux's tcp_rcv_established).  It must give exactly what the full
§3.10.7.4 processing gives; these tests pin which segments take it (``predicted``
counts them) and what comes out.  tests/property/test_header_prediction_equivalence.py
compares whole runs with the fast path on and off."""

from __future__ import annotations

from support.harness import ACK, FIN, PEER_WIN, PSH, Case, established, ms
from synack.core.events import Readable
from synack.core.state import State
from synack.core.wire import Options, Segment

MSS = 1460


def settled(iss: tuple[int, int]) -> Case:
    """ESTABLISHED, and the peer's first scaled window (512 << 7) already seen: the
    SYN's unscaled 65535 differs, so the first segment carrying it is a window update."""
    c = established(*iss)
    c.deliver(c.peer)
    assert c.c.snd_wnd == PEER_WIN << 7
    return c


def data(c: Case, off: int, payload: bytes, flags: int = ACK | PSH) -> Segment:
    """Peer data ``off`` octets into its stream, in order when ``off`` is what we have."""
    return c.peer._replace(seq=c.rseq(1 + off), flags=flags, payload=payload)


def acked(c: Case, n: int, window: int = PEER_WIN) -> Segment:
    """The peer's ACK of our first ``n`` data octets."""
    return c.peer._replace(ack=c.lseq(1 + n), window=window)


def test_in_order_data_is_predicted_and_acked_as_usual(iss: tuple[int, int]) -> None:
    c = settled(iss)
    before = c.ep.stats.predicted
    c.deliver(data(c, 0, b"hello"))
    assert c.ep.stats.predicted == before + 1
    assert c.events() == [Readable(c.c)]
    assert c.c.rcv_nxt == c.rseq(6)
    # quick-ack at the start of a connection: ACKed at once, window less 5 octets
    c.expect([c.ours._replace(ack=c.rseq(6), window=(65535 - 5) >> 7)], exact=True)
    assert c.c.read() == b"hello"


def test_a_new_ack_is_predicted_and_frees_the_send_buffer(iss: tuple[int, int]) -> None:
    c = settled(iss)
    c.c.send(b"x" * 3000)
    c.expect([c.ours._replace(payload=b"x" * MSS),
              c.ours._replace(seq=c.lseq(1 + MSS), payload=b"x" * MSS),
              c.ours._replace(seq=c.lseq(1 + 2 * MSS), flags=ACK | PSH, payload=b"x" * 80)], exact=True)
    before = c.ep.stats.predicted
    c.deliver(acked(c, MSS), c.now + ms(5))
    assert c.ep.stats.predicted == before + 1
    assert c.c.snd_una == c.lseq(1 + MSS)
    assert c.c.bytes_unacked == 3000 - MSS
    assert (c.c.snd_wl1, c.c.snd_wl2) == (c.rseq(1), c.lseq(1 + MSS))
    c.deliver(acked(c, 3000), c.now + ms(6))
    assert c.ep.stats.predicted == before + 2
    assert c.c.bytes_unacked == 0
    c.expect_nothing(c.now + ms(6))


def test_data_carrying_a_new_ack_is_predicted(iss: tuple[int, int]) -> None:
    c = settled(iss)
    c.c.send(b"q" * 100)
    c.expect([c.ours._replace(flags=ACK | PSH, payload=b"q" * 100)])
    before = c.ep.stats.predicted
    c.deliver(data(c, 0, b"answer")._replace(ack=c.lseq(101)), c.now + ms(5))
    assert c.ep.stats.predicted == before + 1
    assert c.c.bytes_unacked == 0
    assert c.c.read() == b"answer"


def not_predicted(c: Case, seg: Segment) -> None:
    before = c.ep.stats.predicted
    c.deliver(seg, c.now + ms(1))
    assert c.ep.stats.predicted == before, seg


def test_what_header_prediction_leaves_to_the_full_processing(iss: tuple[int, int]) -> None:
    c = settled(iss)
    c.c.send(b"x" * 100)
    c.expect([c.ours._replace(flags=ACK | PSH, payload=b"x" * 100)])
    # a duplicate ACK: with SACK on (as here), one that SACKs new data (RFC 6675 §2)
    # counts towards fast retransmit; a bare repeat does not
    not_predicted(c, acked(c, 0))
    assert c.c.rec.dupacks == 0
    not_predicted(c, acked(c, 0)._replace(options=Options(sack_blocks=((c.lseq(51), c.lseq(101)),))))
    assert c.c.rec.dupacks == 1
    # a window update, an ACK beyond SND.MAX, any option, a FIN, out of order
    not_predicted(c, acked(c, 0, window=PEER_WIN + 1))
    not_predicted(c, acked(c, 101)._replace(ack=c.lseq(500)))
    not_predicted(c, data(c, 0, b"a")._replace(options=Options(sack_blocks=((1, 2),))))
    assert c.c.read() == b"a"
    not_predicted(c, data(c, 1, b"", flags=ACK | FIN))
    assert c.c.state is State.CLOSE_WAIT
    # nothing is predicted outside ESTABLISHED, not even the ACK of our data
    not_predicted(c, acked(c, 100)._replace(seq=c.rseq(3)))
    assert c.c.bytes_unacked == 0


def test_data_beyond_the_free_buffer_takes_the_full_path(iss: tuple[int, int]) -> None:
    c = settled(iss)
    free = c.config.rcv_buf
    c.deliver(data(c, 0, b"f" * (free - 10), flags=ACK))
    not_predicted(c, data(c, free - 10, b"g" * 20))
    assert c.c.bytes_readable == free  # the 10 that fit, the rest dropped


def test_out_of_order_data_is_predicted_held_and_answered_at_once(iss: tuple[int, int]) -> None:
    """Data beyond RCV.NXT with the ACK and window as before: held, and a duplicate
    ACK at once (RFC 5681 §4.2) with its SACK block (RFC 2018), as the full path."""
    c = settled(iss)
    before = c.ep.stats.predicted
    c.deliver(data(c, 10, b"late"), c.now + ms(1))
    assert c.ep.stats.predicted == before + 1
    assert c.ep.stats.out_of_order == 1
    assert c.c.rcv_nxt == c.rseq(1)
    c.expect([c.ours._replace(options=Options(sack_blocks=((c.rseq(11), c.rseq(15)),)))], exact=True)
    # again (a retransmission): held already, so D-SACK first (RFC 2883), then the block
    c.deliver(data(c, 10, b"late"), c.now + ms(1))
    assert c.ep.stats.predicted == before + 2
    c.expect([c.ours._replace(options=Options(sack_blocks=((c.rseq(11), c.rseq(15)),) * 2))], exact=True)
    # the hole's filler is in order, but joins the held data: not predicted
    not_predicted(c, data(c, 0, b"0123456789"))
    assert c.c.read() == b"0123456789late"
    before = c.ep.stats.predicted
    c.deliver(data(c, 14, b"!"), c.now + ms(2))
    assert c.ep.stats.predicted == before + 1
    # what it leaves to the full path: beyond the window, a window update, a FIN
    not_predicted(c, data(c, 15 + c.config.rcv_buf, b"far"))
    not_predicted(c, data(c, 20, b"w")._replace(window=PEER_WIN + 1))
    not_predicted(c, data(c, 30, b"f", flags=ACK | FIN))
    assert c.c.rcv_nxt == c.rseq(16) and c.ep.stats.out_of_order == 4
