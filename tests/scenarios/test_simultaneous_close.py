"""Simultaneous close: the FINs cross, both sides pass through CLOSING to TIME-WAIT."""

from __future__ import annotations

from synack.core.trace import TimerRecord
from synack.scenarios import get

Seg = tuple[int, str, str, int, int, int]




def test_simultaneous_close_segments() -> None:
    run = get("simultaneous-close").run(seed=1)[0]
    assert run.relative_sent() == [
        (100_000, "client", "S", 0, 0, 0),
        (110_000, "server", "SA", 0, 1, 0),
        (120_000, "client", "A", 1, 1, 0),
        # both FINs leave at once; neither acknowledges the other's FIN (ack = FIN's own seq)
        (300_000, "client", "FA", 1, 1, 0),
        (300_000, "server", "FA", 1, 1, 0),
        # each acknowledges the FIN it received: seq after its own FIN, ack = peer FIN + 1
        (310_000, "server", "A", 2, 2, 0),
        (310_000, "client", "A", 2, 2, 0),
    ]
    assert run.drops() == []


def test_simultaneous_close_states_both_sides() -> None:
    run = get("simultaneous-close").run(seed=1)[0]
    closing = [
        (300_000, "ESTABLISHED", "FIN-WAIT-1"),
        (310_000, "FIN-WAIT-1", "CLOSING"),
        (320_000, "CLOSING", "TIME-WAIT"),
        (60_320_000, "TIME-WAIT", "CLOSED"),
    ]
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (120_000, "SYN-SENT", "ESTABLISHED"), *closing]
    assert run.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                         (130_000, "SYN-RECEIVED", "ESTABLISHED"), *closing]


def test_simultaneous_close_both_wait_2msl() -> None:
    run = get("simultaneous-close").run(seed=1)[0]
    timers = [(r.t_us, r.host, r.timer.label, r.action.value, r.deadline) for r in run.records
              if isinstance(r, TimerRecord)]
    assert sorted(timers) == [
        (320_000, "client", "time-wait", "armed", 60_320_000),
        (320_000, "server", "time-wait", "armed", 60_320_000),
        (60_320_000, "client", "time-wait", "fired", None),
        (60_320_000, "server", "time-wait", "fired", None),
    ]
    assert [f.en for f in run.facts] == [
        "client: FIN-WAIT-1 → CLOSING → TIME-WAIT → CLOSED (TIME-WAIT 60 s)",
        "server: FIN-WAIT-1 → CLOSING → TIME-WAIT → CLOSED (TIME-WAIT 60 s)",
        "4 segments: both FINs crossed in the network, then both ACKs",
    ]
    assert run.metrics == {"close_segments": 4.0}
    for name in ("client", "server"):
        ep = run.host(name).endpoint
        assert ep.connections == [] and not ep.stats.dropped and ep.stats.retransmits == 0
