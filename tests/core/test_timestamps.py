"""Timestamps and PAWS (RFC 7323 §3-5), with ``Config(timestamps=True)`` (synack's
default is off; Linux's is on): negotiated only when both SYNs carry the option, then
on every segment with TSecr = TS.Recent; TS.Recent follows R3; an in-window segment
whose TSval is older than TS.Recent is an old duplicate: ACKed and dropped."""

from __future__ import annotations

from support.harness import (
    ACK,
    PEER_SYN_OPTS,
    PEER_WIN,
    PSH,
    SYN,
    SYN_WIN,
    WSCALE,
    Case,
    listen,
    ms,
    our_syn_options,
    peer_syn,
    seconds,
    syn_sent,
)
from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.errors import DropReason
from synack.core.isn import Rfc6528Isn
from synack.core.state import State
from synack.core.wire import Options, Segment

TS = Config(timestamps=True)
PEER_TS = 5000  # the peer's TSval on its SYN-ACK


def ts_established(iss: tuple[int, int]) -> Case:
    """Active open with timestamps on both SYNs; the handshake takes 10 ms."""
    c = syn_sent(*iss, config=TS)
    c.deliver(Segment(c.rport, c.lport, c.riss, c.lseq(1), SYN | ACK, SYN_WIN,
                      PEER_SYN_OPTS._replace(timestamps=(PEER_TS, 0))), ms(10))
    c.now = ms(10)
    c.expect([c.ours._replace(options=Options(timestamps=(10, PEER_TS)))])
    assert c.c.ts_ok and c.c.state is State.ESTABLISHED
    return c


def data(c: Case, off: int, payload: bytes, tsval: int) -> Segment:
    return c.peer._replace(seq=c.rseq(1 + off), flags=ACK | PSH, payload=payload,
                           options=Options(timestamps=(tsval, 10)))


def ack_for(c: Case, n: int, tsval: int, ecr: int) -> Segment:
    return c.ours._replace(ack=c.rseq(1 + n), window=(65535 - n) >> WSCALE,
                           options=Options(timestamps=(tsval, ecr)))


def test_timestamps_off_by_default_and_offered_on_our_syn_when_on(iss: tuple[int, int]) -> None:
    assert not Config().timestamps
    c = syn_sent(*iss, config=TS)  # (the fixture checks our SYN at t=0)
    assert our_syn_options(c)._replace(timestamps=(0, 0)) == Options(
        mss=1460, wscale=7, sack_permitted=True, timestamps=(0, 0))


def test_timestamps_our_syn_carries_tsval_and_zero_ecr(iss: tuple[int, int]) -> None:
    from support.harness import new_endpoint

    ep, _ = new_endpoint(iss[0], TS)
    ep.connect("10.0.0.2", 80, ms(1234), local_port=49152)
    (p,) = ep.packets_to_send(ms(1234))
    assert p.seg.options.timestamps == (1234, 0)  # TSval: now in ms (no offset)


def test_timestamps_synack_echoes_the_syn_only_when_it_had_them(iss: tuple[int, int]) -> None:
    c = listen(*iss, config=TS)
    c.deliver(peer_syn(c, PEER_SYN_OPTS._replace(timestamps=(777, 0))), ms(3))
    (p,) = c.ep.packets_to_send(ms(3))
    assert p.seg.flags == SYN | ACK and p.seg.options.timestamps == (3, 777)
    c2 = listen(*iss, config=TS)
    c2.deliver(peer_syn(c2), ms(3))
    (p,) = c2.ep.packets_to_send(ms(3))
    assert p.seg.options.timestamps is None  # RFC 7323 §3.2: only if the SYN had them


def test_timestamps_not_negotiated_when_the_peer_does_not_offer(iss: tuple[int, int]) -> None:
    c = syn_sent(*iss, config=TS)
    c.deliver(Segment(c.rport, c.lport, c.riss, c.lseq(1), SYN | ACK, SYN_WIN, PEER_SYN_OPTS), ms(10))
    c.expect([c.ours], ms(10))  # no option on our ACK
    assert not c.c.ts_ok


def test_timestamps_every_segment_echoes_ts_recent(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    c.deliver(data(c, 0, b"abc", 6000), ms(20))
    c.expect([ack_for(c, 3, 20, 6000)], ms(20))
    c.c.send(b"hi")
    c.expect([c.ours._replace(ack=c.rseq(4), window=(65535 - 3) >> WSCALE, flags=ACK | PSH,
                              payload=b"hi", options=Options(timestamps=(25, 6000)))], ms(25))


def test_paws_drops_an_old_duplicate_and_acks(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    c.deliver(data(c, 0, b"abc", 6000), ms(20))
    c.expect([ack_for(c, 3, 20, 6000)], ms(20))
    # An old segment from an earlier incarnation of the sequence space: in the window,
    # but its TSval is older than TS.Recent (§5.3 R1).
    c.deliver(data(c, 3, b"OLD", 5999), ms(30))
    c.expect([ack_for(c, 3, 30, 6000)], ms(30))
    assert c.ep.stats.dropped[DropReason.PAWS] == 1
    assert c.c.read() == b"abc"
    c.deliver(data(c, 3, b"new", 6001), ms(40))
    c.expect([ack_for(c, 6, 40, 6001)], ms(40))
    assert c.c.read() == b"new"


def test_paws_wraps_like_sequence_numbers(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    for i, tsval in enumerate([2**31 + 4000, 2**32 - 10, 5]):  # each newer than the last
        c.deliver(data(c, i, b"a", tsval), ms(20 + i))
        c.expect([ack_for(c, i + 1, 20 + i, tsval)], ms(20 + i))
    c.deliver(data(c, 3, b"b", 2**32 - 5), ms(30))  # older than 5 across the wrap
    c.expect([ack_for(c, 3, 30, 5)], ms(30))
    assert c.ep.stats.dropped[DropReason.PAWS] == 1


def test_paws_does_not_apply_to_rst(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    c.deliver(c.rst(c.rseq(1))._replace(options=Options(timestamps=(1, 0))), ms(20))
    assert c.c.state is State.CLOSED  # (TSval 1 is older than TS.Recent: RSTs are exempt)


def test_paws_outdated_ts_recent_after_24_days(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    t = ms(10) + seconds(25 * 86400)
    c.deliver(data(c, 0, b"late", 4000), t)  # older TSval, but TS.Recent is outdated (§5.5)
    c.expect([ack_for(c, 4, t // 1000 & 0xFFFFFFFF, 4000)], t)
    assert c.c.read() == b"late"


def test_timestamps_ts_recent_only_from_segments_at_or_below_last_ack_sent(iss: tuple[int, int]) -> None:
    # R3 with delayed ACKs: echo the earliest unacknowledged segment's TSval (§4.3).
    c = ts_established(iss)
    for i in range(16):  # use up the quick ACKs
        c.deliver(data(c, i, b"x", 6000 + i), ms(20))
        c.expect([ack_for(c, i + 1, 20, 6000 + i)], ms(20))
    c.deliver(data(c, 16, b"y", 7000), ms(21))
    c.expect_nothing(ms(21))          # delayed
    c.deliver(data(c, 17, b"z", 7001), ms(22))  # beyond Last.ACK.sent: TS.Recent stays
    c.expect([ack_for(c, 18, 61, 7000)], ms(61))


def test_timestamps_leave_room_for_three_sack_blocks(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    for k in range(4):
        c.deliver(data(c, 10 * k + 5, b"x", 6000), ms(20))
        (p,) = c.ep.packets_to_send(ms(20))
        assert len(p.seg.options.sack_blocks) == min(k + 1, 3)


def test_header_prediction_takes_timestamped_segments_that_pass_paws(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    c.deliver(data(c, 0, b"abc", 6000)._replace(window=PEER_WIN), ms(20))  # (a window update)
    c.expect([ack_for(c, 3, 20, 6000)], ms(20))
    hits = c.ep.stats.predicted
    c.deliver(data(c, 3, b"def", 6001)._replace(window=PEER_WIN), ms(21))
    assert c.ep.stats.predicted == hits + 1
    c.expect([ack_for(c, 6, 21, 6001)], ms(21))  # TS.Recent updated on the fast path
    c.deliver(data(c, 6, b"OLD", 5000)._replace(window=PEER_WIN), ms(22))  # fails PAWS
    assert c.ep.stats.predicted == hits + 1
    assert c.ep.stats.dropped[DropReason.PAWS] == 1


def our_data(c: Case, off: int, payload: bytes, tsval: int, flags: int = ACK | PSH) -> Segment:
    return c.ours._replace(seq=c.lseq(1 + off), flags=flags, payload=payload,
                           options=Options(timestamps=(tsval, PEER_TS)))


def peer_ack(c: Case, n: int, tsval: int, ecr: int) -> Segment:
    return c.peer._replace(ack=c.lseq(1 + n), window=PEER_WIN, options=Options(timestamps=(tsval, ecr)))


def test_rttm_samples_the_echoed_timestamp(iss: tuple[int, int]) -> None:
    # RFC 7323 §4.1.  The handshake: our SYN left at 0 ms (TSval 0, which echoes as 0:
    # no sample, as Linux), so its 10 ms round trip was timed the classic way.
    c = ts_established(iss)
    assert (c.c.srtt, c.c.rttvar) == (ms(10), ms(5))
    c.c.send(b"x" * 100)
    c.expect([our_data(c, 0, b"x" * 100, 20)], ms(20))
    c.deliver(peer_ack(c, 100, 6000, 20), ms(70))  # TSecr 20: sent at 20 ms, 50 ms ago
    # one segment in flight: ExpectedSamples 1, RFC 6298's gains
    assert c.c.srtt == (7 * ms(10) + ms(50)) // 8 == 15_000
    assert c.c.rttvar == (3 * ms(5) + ms(40)) // 4 == 13_750
    assert c.c.rto == max(15_000 + 4 * 13_750, c.config.min_rto) == ms(200)


def test_rttm_times_a_retransmission_too(iss: tuple[int, int]) -> None:
    # Karn's rule withholds a sample across a retransmission; an echoed TSval says
    # which transmission the ACK answers.
    c = ts_established(iss)
    c.c.send(b"lost")
    c.expect([our_data(c, 0, b"lost", 20)], ms(20))
    rto = c.c.rto
    t = ms(20) + rto
    c.expect([our_data(c, 0, b"lost", t // 1000)], t)
    c.deliver(peer_ack(c, 4, 6000, t // 1000), t + ms(30))
    assert c.c.srtt == (7 * ms(10) + ms(30)) // 8
    assert c.c.rttvar == (3 * ms(5) + ms(20)) // 4


def test_rttm_weights_samples_by_the_flight_appendix_g(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    c.deliver(c.peer._replace(window=PEER_WIN, options=Options(timestamps=(6000, 10))), ms(15))
    mss = 1460 - 12  # every segment carries the timestamps' 12 octets (MUST-16)
    assert c.c.snd_mss == mss
    c.c.send(b"y" * (8 * mss))
    out = c.ep.packets_to_send(ms(20))
    assert [len(p.seg.payload) for p in out] == [mss] * 8
    # 8 segments in flight: ExpectedSamples = ceil(8 MSS / 2 MSS) = 4, gains α/4, β/4
    c.deliver(peer_ack(c, 2 * mss, 6001, 20), ms(60))
    assert c.c.srtt == (31 * ms(10) + ms(40)) // 32
    assert c.c.rttvar == (15 * ms(5) + ms(30)) // 16


def test_rttm_ignores_a_zero_or_future_echo(iss: tuple[int, int]) -> None:
    c = ts_established(iss)
    c.c.send(b"a")
    c.expect([our_data(c, 0, b"a", 20)], ms(20))
    # An echo from the future is ignored: the timed segment gives the sample, 10 ms
    # (SRTT stays 10 ms, RTTVAR shrinks); so with no echo (TSecr 0).
    c.deliver(peer_ack(c, 1, 6000, 999_999), ms(30))
    assert (c.c.srtt, c.c.rttvar) == (ms(10), 3 * ms(5) // 4)
    c.c.send(b"b")
    c.expect([our_data(c, 1, b"b", 40)._replace(options=Options(timestamps=(40, 6000)))], ms(40))
    c.deliver(peer_ack(c, 2, 6001, 0), ms(50))
    assert (c.c.srtt, c.c.rttvar) == (ms(10), 9 * ms(5) // 16)


def test_tsval_carries_a_keyed_per_host_pair_offset() -> None:
    # RFC 7323 §5.4, Linux secure_tcp_ts_off: TSval = ms clock + a keyed hash of the
    # two addresses, the same for every connection between them.
    a_isn, b_isn = Rfc6528Isn(b"secret A"), Rfc6528Isn(b"secret B")
    off_a = a_isn.ts_offset("10.0.0.1", "10.0.0.2")
    assert off_a == a_isn.ts_offset("10.0.0.1", "10.0.0.2")
    assert off_a != a_isn.ts_offset("10.0.0.1", "10.0.0.3")
    assert off_a != Rfc6528Isn(b"other").ts_offset("10.0.0.1", "10.0.0.2")
    off_b = b_isn.ts_offset("10.0.0.2", "10.0.0.1")
    a = Endpoint(["10.0.0.1"], TS, name="A", isn=a_isn)
    b = Endpoint(["10.0.0.2"], TS, name="B", isn=b_isn)
    listener = b.listen(80)
    conn = a.connect("10.0.0.2", 80, ms(5))
    (syn,) = a.packets_to_send(ms(5))
    assert syn.seg.options.timestamps == ((5 + off_a) & 0xFFFFFFFF, 0)
    b.receive_segment(syn.seg, syn.src, syn.dst, ms(7))
    (synack,) = b.packets_to_send(ms(7))
    assert synack.seg.options.timestamps == ((7 + off_b) & 0xFFFFFFFF, (5 + off_a) & 0xFFFFFFFF)
    a.receive_segment(synack.seg, synack.src, synack.dst, ms(12))
    (ack,) = a.packets_to_send(ms(12))
    assert ack.seg.options.timestamps == ((12 + off_a) & 0xFFFFFFFF, (7 + off_b) & 0xFFFFFFFF)
    b.receive_segment(ack.seg, ack.src, ack.dst, ms(14))
    server = listener.accept()
    assert server is not None and conn.state is State.ESTABLISHED
    # RTTM takes the offset back out: 7 ms from our SYN to its answer
    assert conn.srtt == ms(7)
    # ... also for a retransmission, which Karn's rule leaves untimed otherwise
    conn.send(b"q")
    a.packets_to_send(ms(20))  # lost
    t = ms(20) + conn.rto
    a.handle_timeout(t)
    (again,) = a.packets_to_send(t)
    assert again.seg.payload == b"q"
    b.receive_segment(again.seg, again.src, again.dst, t + ms(2))
    (reply,) = b.packets_to_send(t + ms(2))  # quick-ack, echoing our TSval t + offset
    a.receive_segment(reply.seg, reply.src, reply.dst, t + ms(3))
    assert conn.srtt == (7 * ms(7) + ms(3)) // 8
