from __future__ import annotations

import ipaddress

import pytest

from support.sim_fakes import FakeEndpoint, fake_pair, seg, send_at
from synack.core.ip import parse_packet
from synack.core.trace import SegmentRecord
from synack.core.wire import RST, SYN
from synack.sim import DelayedDuplicate, Network, SynFlood, flags_are, inject, ms, seconds

A, B = "10.0.0.1", "10.0.0.2"


def test_syn_flood_rate_and_count_are_bounded() -> None:
    net = Network(seed=4)
    target = net.add_node("server", [B], FakeEndpoint())
    flood = SynFlood(net, B, 80, rate_per_s=100, start=ms(500), duration=seconds(1))
    assert flood.planned == 100
    net.run()
    assert flood.sent == 100 and flood.done
    times = target.endpoint.times
    assert times == [ms(500) + k * 10_000 for k in range(100)]
    prefix = ipaddress.ip_network("203.0.113.0/24")
    for p in (p for _, p in target.endpoint.received):
        assert p.seg.flags == SYN and p.seg.dst_port == 80 and p.dst == B
        assert ipaddress.ip_address(p.src) in prefix
    assert len({(p.src, p.seg.src_port) for _, p in target.endpoint.received}) > 90


def test_syn_flood_fractional_rate_count_cap_and_stop() -> None:
    net = Network(seed=4)
    target = net.add_node("server", [B], FakeEndpoint())
    slow = SynFlood(net, B, 80, rate_per_s=2.5, start=0, duration=seconds(2))  # 0, 0.4 s, ... 1.6 s
    capped = SynFlood(net, B, 81, rate_per_s=1000, start=0, duration=seconds(10), count=7)
    stopped = SynFlood(net, B, 82, rate_per_s=10, start=0, duration=seconds(10))
    net.at(seconds(1) - 1, stopped.stop)
    net.run()
    by_port = {port: [t for t, p in target.endpoint.received if p.seg.dst_port == port]
               for port in (80, 81, 82)}
    assert slow.planned == 5 and by_port[80] == [0, 400_000, 800_000, 1_200_000, 1_600_000]
    assert capped.sent == 7 and by_port[81] == [k * 1000 for k in range(7)]
    assert stopped.sent == 10 and len(by_port[82]) == 10


def test_syn_flood_replies_go_nowhere() -> None:
    net = Network(seed=4, trace=True)
    target = net.add_node("server", [B], FakeEndpoint())
    target.endpoint.answer_syn = True
    SynFlood(net, B, 80, rate_per_s=1000, start=0, duration=ms(50))
    net.run()
    assert net.no_route == 50
    reasons = {r.reason_text for r in net.trace if isinstance(r, SegmentRecord) and r.event == "drop"}
    assert reasons == {"no-route"}


def test_syn_flood_random_sources_avoid_hosts_and_keep_the_family() -> None:
    net = Network(seed=4)
    target = net.add_node("server", ["fd00::2"], FakeEndpoint())
    SynFlood(net, "fd00::2", 80, rate_per_s=100, start=0, duration=ms(100), spoof_prefix=None)
    net.run()
    srcs = [p.src for _, p in target.endpoint.received]
    assert len(srcs) == 10 and all(ipaddress.ip_address(s).version == 6 for s in srcs)
    with pytest.raises(ValueError):
        SynFlood(net, "fd00::2", 80, rate_per_s=1, start=net.now, duration=1)  # v4 prefix, v6 target


def test_syn_flood_is_seeded() -> None:
    def sources(seed: int) -> list[str]:
        net = Network(seed=seed)
        target = net.add_node("server", [B], FakeEndpoint())
        SynFlood(net, B, 80, rate_per_s=100, start=0, duration=ms(100), spoof_prefix=None)
        net.run()
        return [p.src for _, p in target.endpoint.received]

    assert sources(1) == sources(1)
    assert sources(1) != sources(2)


def test_delayed_duplicate_reinjects_the_nth_match() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=10)
    dup = DelayedDuplicate(net, flags_are("S"), delay=seconds(30), nth=2)
    send_at(net, 0, a, B, seg(1, flags=SYN))
    send_at(net, 100, a, B, seg(2, flags=SYN))
    send_at(net, 200, a, B, seg(3, flags=SYN))
    net.run()
    assert [(t, s.seq) for t, s in zip(b.endpoint.times, b.endpoint.segments, strict=True)] == \
        [(10, 1), (110, 2), (210, 3), (30_000_100, 2)]
    assert dup.captured is not None and dup.captured.seg.seq == 2
    assert dup.deliver_at == 30_000_100


def test_inject_delivers_a_scripted_segment_and_taps_see_it() -> None:
    net = Network(seed=1, trace=True)
    _a, b = fake_pair(net, delay=10)
    captured: list[tuple[int, bytes]] = []
    net.add_tap(lambda t, data: captured.append((t, data)))
    rst = seg(99, flags=RST)
    inject(net, 500, A, B, rst)
    inject(net, 600, A, "192.0.2.1", rst)
    net.run()
    assert b.endpoint.times == [500]
    assert b.endpoint.received[0][1].seg == rst
    assert [t for t, _ in captured] == [500, 600]
    assert parse_packet(captured[0][1]).seg == rst
    assert net.no_route == 1
