"""Filters in front of a host (synack.sim.filters): what they refuse never reaches the
endpoint and is traced as a FILTERED drop; the SYN rate limit's token buckets."""

from __future__ import annotations

from support.sim_fakes import FakeEndpoint, fake_pair, seg, send, send_at
from synack.core.errors import DropReason
from synack.core.ip import build_packet
from synack.core.trace import Loss, SegmentRecord, Verdict
from synack.core.wire import ACK, RST, SYN, Segment
from synack.sim import Filter, Network, SynRateLimit, ms
from synack.sim.filters import prefix_of

A, B = "10.0.0.1", "10.0.0.2"


class Refuse:
    """Refuses the segments whose sequence number is in ``seqs``; notes what it was asked."""

    def __init__(self, *seqs: int, reason: str = "refused") -> None:
        self.seqs = set(seqs)
        self.reason = reason
        self.asked: list[tuple[str, str, int, int]] = []

    def admit(self, src: str, dst: str, seg: Segment, now: int) -> str | None:
        self.asked.append((src, dst, seg.seq, now))
        return self.reason if seg.seq in self.seqs else None


def filtered(net: Network) -> list[SegmentRecord]:
    return [r for r in net.trace if isinstance(r, SegmentRecord) and r.reason is Loss.FILTERED]


def test_a_refused_segment_never_reaches_the_endpoint_and_is_traced() -> None:
    net = Network(seed=1, trace=True)
    a, b = fake_pair(net, delay=100)
    gate = b.add_filter(Refuse(2, reason="no twos"))
    for t, n in ((0, 1), (10, 2), (20, 3)):
        send_at(net, t, a, B, seg(n))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [1, 3]
    assert gate.asked == [(A, B, 1, 100), (A, B, 2, 110), (A, B, 3, 120)]
    [drop] = filtered(net)
    assert (drop.t_us, drop.host, drop.event, drop.src, drop.dst) == (110, "b", "drop", A, B)
    assert (drop.verdict, drop.detail, drop.reason_text) == (Verdict.LOST, "no twos", "filtered: no twos")
    assert not a.endpoint.received  # the other direction is not filtered
    assert b.filters == (gate,) and a.filters == ()


def test_filters_are_asked_in_order_and_the_first_refusal_wins() -> None:
    net = Network(seed=1, trace=True)
    a, b = fake_pair(net)
    first = b.add_filter(Refuse(1, reason="first"))
    second = b.add_filter(Refuse(1, 2, reason="second"))
    send(a, B, seg(1))
    send(a, B, seg(2))
    send(a, B, seg(3))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [3]
    assert [n for _, _, n, _ in first.asked] == [1, 2, 3]
    assert [n for _, _, n, _ in second.asked] == [2, 3]  # 1 was refused before it
    assert [r.detail for r in filtered(net)] == ["first", "second"]


def test_a_filter_decides_on_arrival_for_packets_already_in_flight() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=ms(10))
    send_at(net, 0, a, B, seg(1))
    net.at(ms(5), b.add_filter, Refuse(1))
    send_at(net, ms(6), a, B, seg(2))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [2]


def test_injected_segments_meet_the_filter_too() -> None:
    net = Network(seed=1, trace=True)
    _a, b = fake_pair(net)
    b.add_filter(Refuse(7))
    net.inject(50, "203.0.113.9", B, seg(7))
    net.inject(60, "203.0.113.9", B, seg(8))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [8]
    [drop] = filtered(net)
    assert (drop.t_us, drop.src, drop.flight > 0) == (50, "203.0.113.9", True)


def test_bytes_meet_the_filter_as_their_segment_and_bad_bytes_go_to_the_endpoint() -> None:
    net = Network(seed=1)
    b = net.add_node("b", [B], FakeEndpoint())
    gate = b.add_filter(Refuse(5))
    for n in (5, 6):
        b.deliver_raw((build_packet(seg(n), A, B), 0))
    corrupt = bytearray(build_packet(seg(9), A, B))
    corrupt[30] ^= 0x01  # a bit of the TCP part: the checksum no longer holds
    b.deliver_raw((bytes(corrupt), 0))
    assert [s.seq for s in b.endpoint.segments] == [6]
    assert [n for _, _, n, _ in gate.asked] == [5, 6]
    assert b.endpoint.malformed == {DropReason.BAD_CHECKSUM: 1}


def test_a_real_endpoint_behind_a_filter_sees_nothing_of_a_refused_syn() -> None:
    net = Network(seed=1, trace=True)
    c = net.add_host("client", [A])
    s = net.add_host("server", [B])
    net.connect(c, s, delay=ms(10))
    s.listen(80)
    s.add_filter(SynRateLimit(rate_source=1, burst_source=1, watch=A))
    net.at(0, c.connect, B, 80)
    net.at(1, c.connect, B, 80)
    net.run(until=ms(50))
    syns = [r for r in net.trace if isinstance(r, SegmentRecord) and r.host == "client" and r.event == "send"]
    [drop] = filtered(net)
    assert drop.flight == syns[1].flight != syns[0].flight  # the send's flight, ended by the gateway
    assert drop.detail == "over 1 SYN/s from one address"
    assert s.endpoint.stats.segments_in == 2  # the first SYN and its handshake's ACK; not the second SYN
    gate = s.filters[0]
    assert isinstance(gate, SynRateLimit) and (gate.dropped, gate.dropped_watched, gate.passed) == (1, 1, 1)


def test_syn_rate_limit_token_buckets() -> None:
    gate: Filter = SynRateLimit(rate_source=5, burst_source=10, rate_prefix=5, burst_prefix=10)
    assert isinstance(gate, SynRateLimit)
    syn = Segment(1234, 80, 0, 0, SYN, 1000)
    # a burst of 10 passes, the 11th at the same instant does not; 200 ms later one more token
    verdicts = [gate.admit("198.51.100.7", B, syn, 0) for _ in range(11)]
    assert verdicts[:10] == [None] * 10 and verdicts[10] == "over 5 SYN/s from one address"
    assert gate.admit("198.51.100.7", B, syn, 200_000) is None
    # another address of the same /24: its own bucket is full, the /24's is empty
    assert gate.admit("198.51.100.8", B, syn, 200_000) == "over 5 SYN/s from one /24"
    assert gate.admit("198.51.101.8", B, syn, 200_000) is None
    assert (gate.dropped_source, gate.dropped_prefix, gate.dropped, gate.passed) == (1, 1, 2, 12)
    assert gate.dropped_watched == 0  # nothing watched
    # only SYNs are limited: an ACK, a SYN-ACK or a RST passes and is not counted
    for flags in (ACK, SYN | ACK, RST, SYN | RST):
        assert gate.admit("198.51.100.8", B, Segment(1234, 80, 1, 1, flags, 1000), 200_000) is None
    assert gate.passed == 12


def test_syn_rate_limit_counts_the_watched_address_apart() -> None:
    gate = SynRateLimit(rate_source=1, burst_source=1, rate_prefix=100, burst_prefix=100, watch=A)
    syn = Segment(1234, 80, 0, 0, SYN, 1000)
    assert [gate.admit(A, B, syn, 0) for _ in range(3)] == [None, *["over 1 SYN/s from one address"] * 2]
    assert [gate.admit("10.0.0.9", B, syn, 0) for _ in range(2)] == [None, "over 1 SYN/s from one address"]
    assert (gate.dropped, gate.dropped_watched) == (3, 2)


def test_prefix_of() -> None:
    assert prefix_of("203.0.113.77", 24) == "203.0.113.0/24"
    assert prefix_of("203.0.113.77", 16) == "203.0.0.0/16"
    assert prefix_of("2001:db8::1", 24) == "2001:d00::/24"
