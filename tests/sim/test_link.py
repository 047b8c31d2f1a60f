from __future__ import annotations

import itertools
import math

import pytest

from support.sim_fakes import FakeEndpoint, fake_pair, seg, send, send_at
from synack.core.errors import DropReason
from synack.core.ip import Packet, parse_packet
from synack.core.trace import SegmentRecord
from synack.core.wire import SYN, Options
from synack.sim import Network, PathParams, ms, wire_size

B = "10.0.0.2"
A = "10.0.0.1"


def drops(net: Network) -> list[tuple[int, str, str | None]]:
    return [(r.t_us, r.host, r.reason_text) for r in net.trace
            if isinstance(r, SegmentRecord) and r.event == "drop"]


def within(observed: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """``observed`` is within ``sigmas`` standard deviations of a Binomial(n, p) mean."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_delay_is_exact() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=ms(10))
    send_at(net, 5, a, B, seg(1))
    send_at(net, 7, b, A, seg(2))
    net.run()
    assert b.endpoint.times == [10_005]
    assert a.endpoint.times == [10_007]


def test_wire_size() -> None:
    assert wire_size(Packet(A, B, seg(payload=b"x" * 960))) == 1000
    assert wire_size(Packet("fd00::1", "fd00::2", seg())) == 60
    syn = seg(flags=SYN)._replace(options=Options(mss=1460, sack_permitted=True, wscale=7))
    assert wire_size(Packet(A, B, syn)) == 40 + 12


def test_bandwidth_serialises_fifo_with_exact_times() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=500, bandwidth=1_000_000)
    for i in range(3):
        send_at(net, 0, a, B, seg(i, payload=b"x" * 960))  # 1000 bytes = 8000 µs at 1 Mbit/s
    send_at(net, 30_000, a, B, seg(3, payload=b"x" * 960))  # the queue is idle again
    net.run()
    assert b.endpoint.times == [8_500, 16_500, 24_500, 38_500]
    assert [s.seq for s in b.endpoint.segments] == [0, 1, 2, 3]
    assert net.path(a, b).stats.bytes_sent == 4000


def test_serialisation_delay_rounds_up() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, bandwidth=3_000_000)
    send_at(net, 0, a, B, seg(payload=b"x"))  # 41 bytes = 328 bits: 109.33 µs -> 110
    net.run()
    assert b.endpoint.times == [110]


def test_queue_limit_tail_drops() -> None:
    net = Network(seed=1, trace=True)
    a, b = fake_pair(net, bandwidth=1_000_000, queue_limit=1)
    for i in range(4):
        send_at(net, 0, a, B, seg(i, payload=b"x" * 960))
    send_at(net, 8_000, a, B, seg(4, payload=b"x" * 960))  # 1st done; 2nd on the wire, room for one
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [0, 1, 4]
    assert b.endpoint.times == [8_000, 16_000, 24_000]
    assert drops(net) == [(0, "a", "queue-full"), (0, "a", "queue-full")]
    assert net.path(a, b).stats.queue_drops == 2


def test_mtu_drops_big_packets() -> None:
    net = Network(seed=1, trace=True)
    a, b = fake_pair(net, mtu=1500)
    send_at(net, 0, a, B, seg(1, payload=b"x" * 1460))
    send_at(net, 0, a, B, seg(2, payload=b"x" * 1461))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [1]
    assert drops(net) == [(0, "a", "mtu")]


def test_jitter_keeps_fifo_order() -> None:
    net = Network(seed=3)
    a, b = fake_pair(net, delay=ms(10), jitter=ms(5))
    for i in range(2000):
        send_at(net, i * 10, a, B, seg(i))
    net.run()
    got = [s.seq for s in b.endpoint.segments]
    assert got == list(range(2000))
    times = b.endpoint.times
    assert times == sorted(times)
    assert all(t - i * 10 >= ms(10) for i, t in enumerate(times))
    assert len({t - i * 10 for i, t in enumerate(times)}) > 100  # the jitter is real
    assert max(t - i * 10 for i, t in enumerate(times)) <= ms(15) + 2000 * 10


def test_reorder_lets_later_packets_overtake() -> None:
    net = Network(seed=3)
    a, b = fake_pair(net, delay=ms(1), reorder=0.1, reorder_delay=ms(5))
    n = 5000
    for i in range(n):
        send_at(net, i * 100, a, B, seg(i))
    net.run()
    got = [s.seq for s in b.endpoint.segments]
    assert sorted(got) == list(range(n))
    stats = net.path(a, b).stats
    assert within(stats.reordered, n, 0.1)
    out_of_order = sum(1 for x, y in itertools.pairwise(got) if y < x)
    assert out_of_order > 0


def test_loss_rate_is_within_bounds_and_traced() -> None:
    net = Network(seed=11, trace=True)
    a, b = fake_pair(net, delay=100, loss=0.1)
    n = 20_000
    for i in range(n):
        send_at(net, i, a, B, seg(i))
    net.run()
    stats = net.path(a, b).stats
    assert stats.sent == n
    assert len(b.endpoint.received) == n - stats.lost
    assert within(stats.lost, n, 0.1)
    assert [r for _, _, r in drops(net)] == ["link-loss"] * stats.lost


def test_duplicate_rate_is_within_bounds() -> None:
    net = Network(seed=12)
    a, b = fake_pair(net, delay=100, duplicate=0.05)
    n = 20_000
    for i in range(n):
        send_at(net, i * 2, a, B, seg(i))
    net.run()
    stats = net.path(a, b).stats
    assert len(b.endpoint.received) == n + stats.duplicated
    assert within(stats.duplicated, n, 0.05)
    got = [s.seq for s in b.endpoint.segments]
    assert got == sorted(got)  # a copy arrives right behind its original


def test_corruption_is_caught_by_the_receivers_checksum() -> None:
    net = Network(seed=13)
    a, b = fake_pair(net, delay=100, corrupt=0.2)
    n = 5000
    for i in range(n):
        send_at(net, i, a, B, seg(i, payload=b"hello"))
    net.run()
    stats = net.path(a, b).stats
    assert within(stats.corrupted, n, 0.2)
    malformed = b.endpoint.malformed
    assert sum(malformed.values()) == stats.corrupted
    assert len(b.endpoint.received) == n - stats.corrupted
    # Nearly every flip fails the checksum; a flip in the data offset can fail earlier.
    assert set(malformed) <= {DropReason.BAD_CHECKSUM, DropReason.BAD_DATA_OFFSET}
    assert malformed[DropReason.BAD_CHECKSUM] > 0.9 * stats.corrupted


def test_directions_are_independent() -> None:
    net = Network(seed=1)
    a = net.add_node("a", [A], FakeEndpoint())
    b = net.add_node("b", [B], FakeEndpoint())
    link = net.connect(a, b, forward=PathParams(delay=100), backward=PathParams(delay=300))
    send_at(net, 0, a, B, seg())
    send_at(net, 0, b, A, seg())
    net.run()
    assert b.endpoint.times == [100] and a.endpoint.times == [300]
    link.configure(delay=5)
    link.forward.configure(loss=1.0)
    send_at(net, 1000, a, B, seg())
    send_at(net, 1000, b, A, seg())
    net.run()
    assert b.endpoint.times == [100] and a.endpoint.times == [300, 1005]
    assert link.path_from(a) is link.forward and link.path_from(b) is link.backward


def test_no_route_is_a_traced_drop() -> None:
    net = Network(seed=1, trace=True)
    a, _b = fake_pair(net)
    c = net.add_node("c", ["10.0.0.3"], FakeEndpoint())  # no link to it
    send_at(net, 5, a, "203.0.113.9", seg())
    send_at(net, 6, a, "10.0.0.3", seg())
    net.run()
    assert net.no_route == 2
    assert drops(net) == [(5, "a", "no-route"), (6, "a", "no-route")]
    assert not c.endpoint.received
    net.connect(a, c, delay=1)  # routes are recomputed
    send_at(net, 10, a, "10.0.0.3", seg())
    net.run()
    assert c.endpoint.times == [11]


def test_taps_see_every_packet_as_bytes_at_the_sender() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=100, loss=1.0)
    captured: list[tuple[int, bytes]] = []
    net.add_tap(lambda t, data: captured.append((t, data)))
    send_at(net, 7, a, B, seg(5, payload=b"abc"))
    net.run()
    assert not b.endpoint.received  # lost on the wire, but captured at the sender
    [(t, data)] = captured
    assert t == 7
    assert parse_packet(data) == Packet(A, B, seg(5, payload=b"abc"))


def test_loopback() -> None:
    net = Network(seed=1)
    a = net.add_node("a", [A], FakeEndpoint())
    send_at(net, 3, a, A, seg())
    net.run()
    assert a.endpoint.times == [3]


def test_bad_parameters_are_refused() -> None:
    for kw in ({"loss": 1.5}, {"delay": -1}, {"bandwidth": 0}, {"queue_limit": 3}, {"mtu": 10}):
        with pytest.raises(ValueError):
            PathParams(**kw)
    net = Network()
    a = net.add_node("a", [A], FakeEndpoint())
    with pytest.raises(ValueError):
        net.add_node("a", ["10.0.0.9"], FakeEndpoint())
    with pytest.raises(ValueError):
        net.add_node("x", [A], FakeEndpoint())
    b = net.add_node("b", [B], FakeEndpoint())
    net.connect(a, b)
    with pytest.raises(ValueError):
        net.connect(b, a)


def test_timer_wakeups_are_lazy_and_exact() -> None:
    net = Network(seed=1)
    a = net.add_node("a", [A], FakeEndpoint())
    ep = a.endpoint
    ep.deadlines = [500]
    a.service()
    net.run(until=100)
    ep.deadlines.append(200)  # earlier: a new wake-up
    a.service()
    net.run(until=300)
    assert ep.fired == [200] and ep.timeout_calls == [200]
    ep.deadlines = [900]  # later than the pending 500: that wake-up finds nothing due
    a.service()
    net.run()
    assert ep.fired == [200, 900]
    assert ep.timeout_calls == [200, 900]  # never called when nothing was due
    assert net.now == 900


def test_same_seed_same_run_different_seed_different_run() -> None:
    def run(seed: int) -> tuple[list[int], list[tuple[int, str, str | None]]]:
        net = Network(seed=seed, trace=True)
        a, b = fake_pair(net, delay=ms(1), jitter=ms(2), loss=0.2, duplicate=0.1, reorder=0.1)
        for i in range(300):
            send_at(net, i * 50, a, B, seg(i))
        net.run()
        return b.endpoint.times, drops(net)

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_send_helper_flushes_immediately() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=10)
    send(a, B, seg())
    net.run()
    assert b.endpoint.times == [10]
