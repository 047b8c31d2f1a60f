"""Where synack follows Linux inside the room the RFCs leave: rate-limited ACKs for
unacceptable segments, the MSS floor, the SYN-ACK's RTT sample, TIME-WAIT reuse ISS."""

from __future__ import annotations

from support import harness
from support.harness import LOCAL_ISS, PEER_SYN_OPTS, REMOTE_ISS, SYN_WIN, T_EST, Case
from synack.core.config import ms, seconds
from synack.core.errors import DropReason
from synack.core.wire import ACK, FIN, PSH, SYN, Options, Segment


def test_unacceptable_segments_get_at_most_one_ack_per_500_ms() -> None:
    c: Case = harness.established(LOCAL_ISS, REMOTE_ISS)
    stale = c.peer._replace(seq=c.rseq(-5000))  # below RCV.NXT: unacceptable
    t0 = c.now + ms(1)
    c.deliver(stale, t0)
    c.expect([c.ours], t0)
    c.deliver(stale, t0 + ms(499))
    c.expect_nothing(t0 + ms(499))  # within 500 ms of the last such ACK
    assert c.ep.stats.dropped[DropReason.OOW_ACK_LIMIT] == 1
    c.deliver(stale, t0 + ms(500))
    c.expect([c.ours], t0 + ms(500))
    assert c.ep.stats.dropped[DropReason.OUT_OF_WINDOW] == 3


def test_old_data_and_fins_are_always_answered() -> None:
    # tcp_oow_rate_limited exempts segments with data or a FIN (and no SYN): a
    # retransmission whose ACK was lost is no ACK loop, and its sender waits.
    c: Case = harness.established(LOCAL_ISS, REMOTE_ISS)
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"abc"), c.now + ms(1))
    c.expect([c.ours._replace(ack=c.rseq(4), window=(65535 - 3) >> 7)], c.now + ms(1))
    old_data = c.peer._replace(flags=ACK | PSH, payload=b"abc")  # again: below RCV.NXT
    old_fin = c.peer._replace(flags=ACK | FIN)                    # a FIN at an old seq
    t = c.now + ms(2)
    ack = c.ours._replace(ack=c.rseq(4), window=(65535 - 3) >> 7)
    dsack = ack._replace(options=Options(sack_blocks=((c.rseq(1), c.rseq(4)),)))  # RFC 2883
    cases = [(old_data, dsack), (old_data, dsack), (old_fin, ack), (old_data, dsack)]
    for k, (seg, answer) in enumerate(cases):
        c.deliver(seg, t + ms(k))
        c.expect([answer], t + ms(k), exact=True)
    assert c.ep.stats.dropped[DropReason.OUT_OF_WINDOW] == 4
    assert c.ep.stats.dropped[DropReason.OOW_ACK_LIMIT] == 0
    # ... while a bare ACK out of the window is still rate-limited after one answer
    stale = c.peer._replace(seq=c.rseq(-5000))
    c.deliver(stale, t + ms(10))
    c.expect([c.ours._replace(ack=c.rseq(4), window=(65535 - 3) >> 7)], t + ms(10))
    c.deliver(stale, t + ms(11))
    c.expect_nothing(t + ms(11))
    assert c.ep.stats.dropped[DropReason.OOW_ACK_LIMIT] == 1


def test_ack_of_unsent_data_is_answered_once_then_rate_limited() -> None:
    c: Case = harness.established(LOCAL_ISS, REMOTE_ISS)
    future = c.peer._replace(ack=c.lseq(1000))
    c.deliver(future, c.now + ms(1))
    c.expect([c.ours], c.now + ms(1))
    c.deliver(future, c.now + ms(2))
    c.expect_nothing(c.now + ms(2))
    assert c.ep.stats.dropped[DropReason.ACK_OF_UNSENT] == 2


def test_tiny_peer_mss_is_clamped_to_48() -> None:
    c: Case = harness.syn_sent(LOCAL_ISS, REMOTE_ISS)
    c.deliver(Segment(c.rport, c.lport, REMOTE_ISS, c.lseq(1), SYN | ACK, SYN_WIN,
                      Options(mss=1)), T_EST)
    assert c.c.snd_mss == 48
    c.c.send(b"y" * 100)
    sizes = [len(p.seg.payload) for p in c.ep.packets_to_send(T_EST) if p.seg.payload]
    assert sizes == [48, 48, 4]


def test_server_times_its_syn_ack_but_not_a_resent_one() -> None:
    c: Case = harness.listen(LOCAL_ISS, REMOTE_ISS)
    c.deliver(Segment(c.rport, c.lport, REMOTE_ISS, 0, SYN, SYN_WIN, PEER_SYN_OPTS), 0)
    c.ep.packets_to_send(0)
    c.deliver(Segment(c.rport, c.lport, c.rseq(1), c.lseq(1), ACK, 512), ms(30))
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.srtt == ms(30)

    d: Case = harness.listen(LOCAL_ISS, REMOTE_ISS)
    d.deliver(Segment(d.rport, d.lport, REMOTE_ISS, 0, SYN, SYN_WIN, PEER_SYN_OPTS), 0)
    d.ep.packets_to_send(0)
    d.ep.handle_timeout(seconds(1))  # the SYN-ACK goes again: Karn, no sample
    d.ep.packets_to_send(seconds(1))
    d.deliver(Segment(d.rport, d.lport, d.rseq(1), d.lseq(1), ACK, 512), seconds(1) + ms(30))
    assert d.listener is not None
    conn = d.listener.accept()
    assert conn is not None and conn.srtt is None and conn.rto == seconds(3)  # RFC 6298 5.7
