"""Three segments when the server application closes at once (its FIN rides on the
delayed ACK of the client's FIN), four when it closes later."""

from __future__ import annotations

from synack.core.trace import TimerRecord
from synack.scenarios import get

Seg = tuple[int, str, str, int, int, int]




HANDSHAKE: list[Seg] = [
    (100_000, "client", "S", 0, 0, 0),
    (110_000, "server", "SA", 0, 1, 0),
    (120_000, "client", "A", 1, 1, 0),
]


def test_two_runs_side_by_side() -> None:
    runs = get("close-fin-ack-combined").run(seed=1)
    assert [r.label.en for r in runs] == ["the server application closes at once: three segments",
                                          "the server application closes 1 s later: four segments"]
    assert [r.metrics for r in runs] == [{"close_segments": 3.0, "client_retransmits": 0.0},
                                         {"close_segments": 4.0, "client_retransmits": 0.0}]


def test_close_at_once_three_segments() -> None:
    run = get("close-fin-ack-combined").run(seed=1)[0]
    assert run.relative_sent() == [*HANDSHAKE,
                             (300_000, "client", "FA", 1, 1, 0),
                             (310_000, "server", "FA", 1, 2, 0),   # ACK of x+1's FIN and FIN y+1 in one
                             (320_000, "client", "A", 2, 2, 0)]
    assert run.state_times("client")[2:] == [
        (300_000, "ESTABLISHED", "FIN-WAIT-1"),
        (320_000, "FIN-WAIT-1", "TIME-WAIT"),                      # no FIN-WAIT-2
        (60_320_000, "TIME-WAIT", "CLOSED"),
    ]
    assert run.state_times("server")[2:] == [
        (310_000, "ESTABLISHED", "CLOSE-WAIT"),
        (310_000, "CLOSE-WAIT", "LAST-ACK"),                       # same instant: close() on EOF
        (330_000, "LAST-ACK", "CLOSED"),
    ]
    assert run.drops() == []
    assert [f.en for f in run.facts[1:]] == [
        "client: FIN-WAIT-1 → TIME-WAIT → CLOSED (no FIN-WAIT-2: the FIN arrived together with the ACK "
        "of its own FIN)",
        "server: its FIN,ACK left 0 ms after the client's FIN arrived: the application closed before "
        "the delayed ACK was due",
        "client: FIN retransmissions: 0",
    ]


def test_close_later_four_segments() -> None:
    run = get("close-fin-ack-combined").run(seed=1)[1]
    assert run.relative_sent() == [*HANDSHAKE,
                             (300_000, "client", "FA", 1, 1, 0),
                             (350_000, "server", "A", 1, 2, 0),      # delayed ACK: 40 ms after the FIN
                             (1_310_000, "server", "FA", 1, 2, 0),   # the application closes 1 s later
                             (1_320_000, "client", "A", 2, 2, 0)]
    assert run.state_times("client")[2:] == [
        (300_000, "ESTABLISHED", "FIN-WAIT-1"),
        (360_000, "FIN-WAIT-1", "FIN-WAIT-2"),
        (1_320_000, "FIN-WAIT-2", "TIME-WAIT"),
        (61_320_000, "TIME-WAIT", "CLOSED"),
    ]
    assert run.state_times("server")[2:] == [
        (310_000, "ESTABLISHED", "CLOSE-WAIT"),
        (1_310_000, "CLOSE-WAIT", "LAST-ACK"),
        (1_330_000, "LAST-ACK", "CLOSED"),
    ]
    assert run.drops() == []
    assert run.facts[2].en == ("server: the bare ACK left 40 ms after the client's FIN arrived "
                               "(delayed-ACK timer), its FIN 1 s after it")
    # the client's FIN was never retransmitted: it was acknowledged well within its RTO
    timers = [(r.host, r.timer.label, r.action.value) for r in run.records if isinstance(r, TimerRecord)]
    assert ("client", "retransmit", "fired") not in timers
    assert run.host("client").endpoint.stats.retransmits == 0
