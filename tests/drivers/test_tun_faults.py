"""The TUN driver's fault layer alone (no device, no event loop): which packets a
seeded PathFaults drops, duplicates, delays and reorders, and the Held queue
under a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from synack.core.wire import ACK, FIN, PSH, SYN, Segment
from synack.drivers.faults import (
    MAX_DELAY,
    Delay,
    Drop,
    Duplicate,
    Held,
    Hold,
    Impairments,
    PathFaults,
    TunFaults,
    flags_are,
    from_host,
    has_flags,
    has_payload,
)

SYNACK, KERNEL = "198.18.0.2", "198.18.0.1"


def _ack(seq: int, payload: bytes = b"", flags: int = ACK) -> Segment:
    return Segment(40000, 9000, seq, 1, flags, 100, payload=payload)


def _fates(path: PathFaults, n: int, step: int = 100) -> list[list[int]]:
    return [path.fate(i * step, SYNACK, KERNEL, _ack(i)) for i in range(n)]


def test_a_fixed_seed_gives_exactly_these_fates() -> None:
    path = PathFaults("outbound", Impairments(loss=0.2, duplicate=0.2, reorder=0.2, delay=1000), seed=42)
    fates = _fates(path, 20)
    # Packet i comes at i*100 µs: due 1000 µs later, reordered ones 10 ms more.
    assert fates == [[], [1100], [1200], [1300], [1400], [11500], [1600], [1700], [1800, 1800], [11900],
                     [2000], [2100], [12200, 12200], [2300], [12400], [], [2600, 2600], [12700], [], [2900]]
    dropped = [i for i, f in enumerate(fates) if not f]
    duplicated = [i for i, f in enumerate(fates) if len(f) == 2]
    reordered = [i for i, f in enumerate(fates) if f and f[0] - i * 100 > 1000]
    assert (dropped, duplicated, reordered) == ([0, 15, 18], [8, 12, 16], [5, 9, 12, 14, 17])
    s = path.stats
    assert (s.seen, s.lost, s.duplicated, s.reordered, s.fault_drops, s.dropped) == (20, 3, 3, 5, 0, 3)


def test_the_same_seed_repeats_and_another_does_not() -> None:
    imp = Impairments(loss=0.3, duplicate=0.3, reorder=0.3)
    assert _fates(PathFaults("inbound", imp, seed=7), 200) == _fates(PathFaults("inbound", imp, seed=7), 200)
    assert _fates(PathFaults("inbound", imp, seed=7), 200) != _fates(PathFaults("inbound", imp, seed=8), 200)


def test_each_direction_draws_its_own_stream() -> None:
    imp = Impairments(loss=0.3, duplicate=0.3)
    alone = _fates(TunFaults.both(imp, seed=5).outbound or PathFaults("x"), 300)
    faults = TunFaults.both(imp, seed=5)
    assert faults.inbound is not None and faults.outbound is not None
    inbound = _fates(faults.inbound, 300)  # traffic the other way draws nothing from this one's stream
    assert _fates(faults.outbound, 300) == alone
    assert inbound != alone


def test_nothing_on_passes_every_packet_at_once_and_draws_nothing() -> None:
    path = PathFaults("inbound", Impairments(), seed=1)
    state = path.rng.getstate()
    assert _fates(path, 50) == [[i * 100] for i in range(50)]
    assert path.rng.getstate() == state
    assert not path.active


def test_rates_are_about_right() -> None:
    path = PathFaults("outbound", Impairments(loss=0.1, duplicate=0.05, reorder=0.02), seed=3)
    _fates(path, 20000)
    s = path.stats
    assert 1800 < s.lost < 2200
    assert 750 < s.duplicated < 1050       # 5 % of the 18000 not lost
    assert 260 < s.reordered < 460


def test_delay_and_jitter_keep_the_order() -> None:
    path = PathFaults("outbound", Impairments(delay=5000, jitter=3000), seed=11)
    dues = [f[0] for f in _fates(path, 500, step=1000)]
    assert dues == sorted(dues)
    assert all(due - i * 1000 >= 5000 for i, due in enumerate(dues))
    assert len(set(dues)) > 300  # the jitter did something (and the clamp too)


def test_targeted_faults_use_the_simulators_vocabulary() -> None:
    path = PathFaults("outbound", faults=[Drop(flags_are("S")), Duplicate(has_payload(), after=500, nth=2),
                                          Hold(has_flags("F"), for_=3000)])
    syn = Segment(40000, 9000, 0, 0, SYN, 100)
    assert path.fate(0, SYNACK, KERNEL, syn) == []          # the first SYN only
    assert path.fate(10, SYNACK, KERNEL, syn) == [10]
    assert path.fate(20, SYNACK, KERNEL, _ack(1, b"a")) == [20]
    assert path.fate(30, SYNACK, KERNEL, _ack(2, b"b")) == [30, 530]  # the 2nd with data: a copy 500 µs on
    assert path.fate(40, SYNACK, KERNEL, _ack(3, b"c")) == [40]
    assert path.fate(50, SYNACK, KERNEL, _ack(4, flags=FIN | ACK)) == [3050]  # every FIN held 3 ms
    assert path.fate(60, SYNACK, KERNEL, _ack(5, b"d", FIN | PSH | ACK)) == [3060]
    s = path.stats
    assert (s.fault_drops, s.duplicated, s.delayed) == (1, 1, 2)
    assert [f.hits for f in path.faults] == [1, 1, 2]


def test_a_targeted_fault_comes_before_loss_and_a_delay_is_not_a_reorder() -> None:
    path = PathFaults("inbound", Impairments(loss=1.0), faults=[Drop(has_payload(), count=None)])
    assert path.fate(0, KERNEL, SYNACK, _ack(1, b"x")) == []
    assert path.fate(0, KERNEL, SYNACK, _ack(2)) == []
    assert (path.stats.fault_drops, path.stats.lost) == (1, 1)
    delayed = PathFaults("inbound", Impairments(reorder=1.0), faults=[Delay(has_payload(), by=700)])
    assert delayed.fate(0, KERNEL, SYNACK, _ack(1, b"x")) == [700]     # the fault's delay, not reorder's
    assert delayed.fate(0, KERNEL, SYNACK, _ack(2)) == [10_000]
    assert (delayed.stats.delayed, delayed.stats.reordered) == (1, 1)


def test_unparsed_packets_meet_only_the_random_impairments() -> None:
    path = PathFaults("inbound", faults=[Drop(lambda src, dst, seg: True, count=None)])
    assert path.fate(0, "", "", None) == [0]


def test_matches_name_the_two_sides() -> None:
    faults = TunFaults(PathFaults("inbound", faults=[Drop(from_host("kernel"), count=None)]))
    faults.bind({"synack": (SYNACK, "fd00:5ac::2"), "kernel": (KERNEL, "fd00:5ac::1")})
    assert faults.inbound is not None
    assert faults.inbound.fate(0, KERNEL, SYNACK, _ack(1)) == []
    assert faults.inbound.fate(0, "fd00:5ac::1", "fd00:5ac::2", _ack(1)) == []
    assert faults.inbound.fate(0, "198.18.0.9", SYNACK, _ack(1)) == [0]


@pytest.mark.parametrize("kwargs", [{"loss": 1.5}, {"duplicate": -0.1}, {"reorder": float("nan")},
                                    {"delay": -1}, {"jitter": MAX_DELAY + 1},
                                    {"delay": MAX_DELAY, "reorder_delay": 1}])
def test_bad_impairments_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Impairments(**kwargs)  # type: ignore[arg-type]


def test_a_targeted_fault_holds_a_packet_a_minute_at_most() -> None:
    with pytest.raises(ValueError, match="longer than"):
        PathFaults("outbound", faults=[Hold(has_flags("F"), for_=MAX_DELAY + 1)])
    PathFaults("outbound", faults=[Duplicate(has_payload(), after=MAX_DELAY)])


def test_descriptions() -> None:
    imp = Impairments(loss=0.05, delay=2000, duplicate=0.01, reorder=0.1)
    assert imp.describe() == "loss 0.05, delay 2 ms, duplicate 0.01, reorder 0.1 (held 10 ms)"
    assert Impairments().describe() == "none"
    faults = TunFaults.both(imp, seed=9)
    what = "loss 0.05, delay 2 ms, duplicate 0.01, reorder 0.1 (held 10 ms) (seed 9)"
    assert faults.describe() == [f"inbound (kernel -> synack): {what}",
                                 f"outbound (synack -> kernel): {what}"]
    assert set(faults.as_dict()) == {"inbound", "outbound"}
    assert faults.summary().startswith("inbound 0 packets: 0 dropped")


# -- Held, under a fake clock ------------------------------------------------------------
@dataclass
class FakeHandle:
    when: float
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeLoop:
    """call_at and a clock in µs; ``advance`` runs the timers that come due."""

    now: int = 0
    handles: list[FakeHandle] = field(default_factory=list)

    def call_at(self, when: float, callback: Callable[[], object]) -> FakeHandle:
        handle = FakeHandle(when, callback)
        self.handles.append(handle)
        return handle

    def armed(self) -> list[int]:
        return [round(h.when * 1e6) for h in self.handles if not h.cancelled]

    def advance(self, to: int) -> None:
        while True:
            due = [h for h in self.handles if not h.cancelled and round(h.when * 1e6) <= to]
            if not due:
                break
            handle = min(due, key=lambda h: h.when)
            self.handles.remove(handle)
            self.now = max(self.now, round(handle.when * 1e6))
            handle.callback()
        self.now = to


def _held(limit: int = 100) -> tuple[FakeLoop, Held[str], list[tuple[int, list[str]]]]:
    loop = FakeLoop()
    released: list[tuple[int, list[str]]] = []
    held: Held[str] = Held(loop, lambda: loop.now, lambda items, now: released.append((now, items)),  # type: ignore[arg-type]
                           limit=limit)
    return loop, held, released


def test_held_items_leave_in_due_order_with_one_timer() -> None:
    loop, held, released = _held()
    assert held.hold(5000, "b") and held.hold(5000, "c") and held.hold(9000, "d")
    assert loop.armed() == [5000]             # one timer, for the earliest
    assert held.hold(2000, "a")                # earlier: the timer moves
    assert loop.armed() == [2000]
    loop.advance(4999)
    assert released == [(2000, ["a"])]
    assert loop.armed() == [5000]
    loop.advance(20000)
    assert released == [(2000, ["a"]), (5000, ["b", "c"]), (9000, ["d"])]  # ties in the order they came
    assert len(held) == 0 and loop.armed() == []


def test_held_items_due_together_leave_together() -> None:
    loop, held, released = _held()
    held.hold(1000, "a")
    held.hold(1100, "b")   # within RELEASE_SLACK of the wake-up
    held.hold(1500, "c")
    loop.advance(1000)
    assert released == [(1000, ["a", "b"])]


def test_held_queue_is_bounded_and_take_all_stops_it() -> None:
    loop, held, released = _held(limit=3)
    assert [held.hold(t, str(t)) for t in (30, 10, 20, 40)] == [True, True, True, False]
    assert held.take_all() == ["10", "20", "30"]
    assert loop.armed() == [] and len(held) == 0
    loop.advance(100)
    assert released == []


def test_a_failing_release_does_not_stop_the_queue() -> None:
    loop = FakeLoop()
    calls: list[list[str]] = []

    def release(items: list[str], now: int) -> None:
        calls.append(items)
        raise RuntimeError("boom")

    held: Held[str] = Held(loop, lambda: loop.now, release)  # type: ignore[arg-type]
    held.hold(10, "a")
    held.hold(20_000, "b")
    with pytest.raises(RuntimeError):
        loop.advance(10)
    assert loop.armed() == [20_000]    # re-armed before the release ran
    with pytest.raises(RuntimeError):
        loop.advance(20_000)
    assert calls == [["a"], ["b"]]
