"""The four-way close: exact segments, states, timers and events on both sides."""

from __future__ import annotations

from synack.core.trace import TimerRecord
from synack.scenarios import get

Seg = tuple[int, str, str, int, int, int]




def test_close_segments() -> None:
    run = get("close").run(seed=1)[0]
    assert run.relative_sent() == [
        (100_000, "client", "S", 0, 0, 0),
        (110_000, "server", "SA", 0, 1, 0),
        (120_000, "client", "A", 1, 1, 0),
        # request "ping" and reply "pong"
        (200_000, "client", "PA", 1, 1, 4),
        (210_000, "server", "A", 1, 5, 0),
        (210_000, "server", "PA", 1, 5, 4),
        (220_000, "client", "A", 5, 5, 0),
        # the four-way close: FIN x+5 → ACK x+6 ... FIN y+5 → ACK y+6
        (300_000, "client", "FA", 5, 5, 0),
        (310_000, "server", "A", 5, 6, 0),
        (1_310_000, "server", "FA", 5, 6, 0),
        (1_320_000, "client", "A", 6, 6, 0),
    ]
    assert run.drops() == []


def test_close_states() -> None:
    run = get("close").run(seed=1)[0]
    assert run.state_times("client") == [
        (100_000, "CLOSED", "SYN-SENT"),
        (120_000, "SYN-SENT", "ESTABLISHED"),
        (300_000, "ESTABLISHED", "FIN-WAIT-1"),
        (320_000, "FIN-WAIT-1", "FIN-WAIT-2"),
        (1_320_000, "FIN-WAIT-2", "TIME-WAIT"),
        (61_320_000, "TIME-WAIT", "CLOSED"),      # 2MSL = 60 s later
    ]
    assert run.state_times("server") == [
        (110_000, "LISTEN", "SYN-RECEIVED"),
        (130_000, "SYN-RECEIVED", "ESTABLISHED"),
        (310_000, "ESTABLISHED", "CLOSE-WAIT"),
        (1_310_000, "CLOSE-WAIT", "LAST-ACK"),
        (1_330_000, "LAST-ACK", "CLOSED"),        # on the last ACK: no wait
    ]
    assert run.host("client").endpoint.connections == []
    assert run.host("server").endpoint.connections == []


def test_close_timers_events_and_netstat() -> None:
    run = get("close").run(seed=1)[0]
    timers = [(r.t_us, r.host, r.timer.label, r.action.value, r.deadline) for r in run.records
              if isinstance(r, TimerRecord)]
    assert timers == [
        (320_000, "client", "fin-wait-2", "armed", 60_320_000),   # after a full close()
        (1_320_000, "client", "time-wait", "armed", 61_320_000),  # replaces it
        (61_320_000, "client", "time-wait", "fired", None),
    ]
    assert [(r.state, r.timer, r.timer_deadline) for r in run.netstat["client"]] == [
        ("TIME-WAIT", "timewait", 61_320_000)]
    assert run.netstat_time == 30_000_000
    assert run.metrics == {"close_segments": 4.0, "client_time_wait_s": 60.0, "server_closed_s": 1.33}
    assert run.facts[0].en == "the close took 4 segments: client FA, server A, server FA, client A"
    assert "1.320 s to 61.320 s = 60 s" in run.facts[2].en and "共 60 秒" in run.facts[2].zh
    assert run.facts[3].en == ("client events: Connected, Readable, PeerClosed, Closed; "
                               "server events: Connected, AcceptReady, Readable, PeerClosed, Closed")
    for ep in (run.host("client").endpoint, run.host("server").endpoint):
        assert not ep.stats.dropped and ep.stats.retransmits == 0 and ep.stats.resets_sent == 0


def test_close_other_seed_same_shape() -> None:
    a = get("close").run(seed=1)[0]
    b = get("close").run(seed=7)[0]
    assert a.relative_sent() == b.relative_sent()
    assert a.sent()[0][3] != b.sent()[0][3]
