"""A host on its own: a scheduler, a route function, a tracer and an egress hook are all it
needs (no Network); what it does with them."""

from __future__ import annotations

from typing import Any

from support.sim_fakes import FakeEndpoint, seg, send
from synack.core.ip import Packet
from synack.core.trace import Loss, SegmentRecord, TraceRecord
from synack.sim import Host, Scheduler

A, B = "10.0.0.1", "10.0.0.2"


class Wire:
    """A carrier that hands every packet to ``dst`` ``delay`` µs later."""

    def __init__(self, scheduler: Scheduler, dst: Host[Any], delay: int) -> None:
        self.scheduler = scheduler
        self.dst = dst
        self.delay = delay
        self.carried: list[tuple[int, Packet]] = []

    def transmit(self, pkt: Packet, now: int) -> None:
        self.carried.append((now, pkt))
        self.scheduler.post(now + self.delay, self.dst.deliver, pkt)


def test_a_host_needs_only_a_scheduler_and_a_route() -> None:
    sched = Scheduler()
    wires: dict[str, Wire] = {}
    asked: list[tuple[str, str]] = []

    def route(host: Host[Any], dst: str) -> Wire | None:
        asked.append((host.name, dst))
        return wires.get(dst)

    trace: list[TraceRecord] = []
    seen: list[tuple[int, Packet]] = []
    a = Host("a", [A], FakeEndpoint(), sched, route, tracer=trace.append,
             egress=lambda now, pkt: seen.append((now, pkt)))
    b = Host("b", [B], FakeEndpoint(), sched, route)
    wires[B] = Wire(sched, b, delay=100)
    for n, (t, dst) in enumerate(((5, B), (7, B), (9, "192.0.2.1"))):
        sched.call_at(t, send, a, dst, seg(n))
    sched.run()
    assert b.endpoint.times == [105, 107] and [s.seq for s in b.endpoint.segments] == [0, 1]
    assert asked == [("a", B), ("a", "192.0.2.1")]  # one question per destination, the answer kept
    assert [t for t, _ in seen] == [5, 7, 9]  # the egress hook sees every packet, routed or not
    assert a.no_route == 1 and b.no_route == 0
    [drop] = [r for r in trace if isinstance(r, SegmentRecord)]
    assert (drop.t_us, drop.host, drop.event, drop.reason, drop.dst) == (9, "a", "drop", Loss.NO_ROUTE,
                                                                       "192.0.2.1")
    a.forget_routes()
    send(a, B, seg(3))
    assert asked[-1] == ("a", B)


def test_wake_ups_go_on_the_scheduler_and_only_fire_when_due() -> None:
    sched = Scheduler()
    h = Host("h", [A], FakeEndpoint(), sched, lambda host, dst: None)
    h.endpoint.deadlines = [300, 100]
    h.service()
    assert sched.peek() == 100
    sched.run()
    assert h.endpoint.fired == [100, 300] and h.endpoint.timeout_calls == [100, 300]
    assert h.now == 300
