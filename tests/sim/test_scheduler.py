from __future__ import annotations

import heapq

import pytest

from synack.sim import EventLimitExceeded, Scheduler
from synack.sim.rng import derive_seed, make_rng


def test_runs_in_time_order_and_fifo_at_equal_times() -> None:
    s = Scheduler()
    log: list[tuple[int, str]] = []
    s.call_at(20, lambda: log.append((s.now, "c")))
    s.call_at(10, lambda: log.append((s.now, "a")))
    s.call_at(10, lambda: log.append((s.now, "b")))
    s.call_at(0, lambda: log.append((s.now, "z")))
    assert s.run() == 4
    assert log == [(0, "z"), (10, "a"), (10, "b"), (20, "c")]
    assert s.now == 20


def test_call_later_is_relative_to_now_and_passes_args() -> None:
    s = Scheduler(start=100)
    log: list[tuple[int, int]] = []
    s.call_later(5, lambda x: log.append((s.now, x)), 7)
    s.run()
    assert log == [(105, 7)]


def test_actions_scheduled_while_running_at_the_same_time_run_after() -> None:
    s = Scheduler()
    log: list[str] = []

    def first() -> None:
        log.append("first")
        s.call_at(s.now, lambda: log.append("nested"))

    s.call_at(5, first)
    s.call_at(5, lambda: log.append("second"))
    s.run()
    assert log == ["first", "second", "nested"]


def test_cancelled_handle_does_not_run_and_runs_at_most_once() -> None:
    s = Scheduler()
    log: list[str] = []
    h = s.call_at(5, lambda: log.append("x"))
    h.cancel()
    s.call_at(6, lambda: log.append("y"))
    s.run()
    assert log == ["y"]
    assert "cancelled" in repr(h)


def test_run_until_stops_at_the_bound_and_sets_the_clock() -> None:
    s = Scheduler()
    log: list[int] = []
    for t in (10, 20, 30):
        s.call_at(t, lambda: log.append(s.now))
    assert s.run(until=20) == 2
    assert log == [10, 20]
    assert s.now == 20
    assert s.peek() == 30 and s.pending() == 1
    s.run(until=25)
    assert s.now == 25 and log == [10, 20]
    s.run_until_idle()
    assert log == [10, 20, 30]


def test_time_never_goes_back() -> None:
    s = Scheduler()
    s.run(until=100)
    with pytest.raises(ValueError):
        s.call_at(99, lambda: None)
    with pytest.raises(ValueError):
        s.call_later(-1, lambda: None)
    with pytest.raises(ValueError):
        s.run(until=50)
    with pytest.raises(ValueError):
        s.post(10, print, "x")


def test_runaway_loop_hits_the_event_bound() -> None:
    s = Scheduler()

    def again() -> None:
        s.call_later(0, again)  # re-arms at the same instant forever

    s.call_at(0, again)
    with pytest.raises(EventLimitExceeded, match="1000 events"):
        s.run(max_events=1000)
    assert s.events_run == 1000


def test_exactly_max_events_that_settle_is_not_an_error() -> None:
    s = Scheduler()
    for t in range(10):
        s.call_at(t, lambda: None)
    assert s.run(max_events=10) == 10


def test_post_is_the_lean_path() -> None:
    s = Scheduler()
    got: list[int] = []
    s.post(3, got.append, 42)
    s.run()
    assert got == [42] and s.now == 3
    with pytest.raises(ValueError, match="in the past"):
        s.post(2, got.append, 0)


def test_the_lane_pushes_in_the_same_order_as_post_and_call_at() -> None:
    s = Scheduler()
    heap, order = s.lane()
    got: list[str] = []
    s.post(5, got.append, "post")
    heapq.heappush(heap, (5, order(), got.append, "lane"))
    s.call_at(5, got.append, "call_at")
    heapq.heappush(heap, (1, order(), got.append, "lane, earlier"))
    assert s.pending() == 4 and s.peek() == 1
    assert s.run() == 4
    assert got == ["lane, earlier", "post", "lane", "call_at"]


def test_rng_streams_are_stable_and_independent() -> None:
    assert derive_seed(1, "path:a->b") == derive_seed(1, "path:a->b")
    assert derive_seed(1, "path:a->b") != derive_seed(2, "path:a->b")
    assert derive_seed(1, "path:a->b") != derive_seed(1, "path:b->a")
    assert make_rng(7, "x").random() == make_rng(7, "x").random()


def test_a_failing_run_reports_its_seed() -> None:
    from synack.sim import Network

    net = Network(seed=1234)

    def boom() -> None:
        raise ZeroDivisionError("bug")

    net.at(77, boom)
    with pytest.raises(ZeroDivisionError) as info:
        net.run()
    assert "seed=1234, at t=77 µs" in "".join(info.value.__notes__)
    assert "seed=1234" in repr(net)
