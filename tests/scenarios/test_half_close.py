"""Half-close: the client receives data in FIN-WAIT-2 after its own FIN."""

from __future__ import annotations

from synack.core.trace import TimerRecord
from synack.scenarios import get

Seg = tuple[int, str, str, int, int, int]




def test_half_close_segments() -> None:
    run = get("half-close").run(seed=1)[0]
    assert run.relative_sent() == [
        (100_000, "client", "S", 0, 0, 0),
        (110_000, "server", "SA", 0, 1, 0),
        (120_000, "client", "A", 1, 1, 0),
        (200_000, "client", "PA", 1, 1, 16),      # the request
        (210_000, "server", "A", 1, 17, 0),
        (300_000, "client", "FA", 17, 1, 0),      # shutdown(): FIN at x+17
        (310_000, "server", "A", 1, 18, 0),
        # the answer flows towards the half-closed client, which still ACKs (seq stays x+18)
        (410_000, "server", "PA", 1, 18, 11),
        (420_000, "client", "A", 18, 12, 0),
        (510_000, "server", "PA", 12, 18, 11),
        (520_000, "client", "A", 18, 23, 0),
        (610_000, "server", "PA", 23, 18, 11),
        (620_000, "client", "A", 18, 34, 0),
        (710_000, "server", "FA", 34, 18, 0),
        (720_000, "client", "A", 18, 35, 0),
    ]
    assert run.drops() == []


def test_half_close_states() -> None:
    run = get("half-close").run(seed=1)[0]
    assert run.state_times("client") == [
        (100_000, "CLOSED", "SYN-SENT"),
        (120_000, "SYN-SENT", "ESTABLISHED"),
        (300_000, "ESTABLISHED", "FIN-WAIT-1"),
        (320_000, "FIN-WAIT-1", "FIN-WAIT-2"),
        (720_000, "FIN-WAIT-2", "TIME-WAIT"),     # three data segments in between
        (60_720_000, "TIME-WAIT", "CLOSED"),
    ]
    assert run.state_times("server") == [
        (110_000, "LISTEN", "SYN-RECEIVED"),
        (130_000, "SYN-RECEIVED", "ESTABLISHED"),
        (310_000, "ESTABLISHED", "CLOSE-WAIT"),
        (710_000, "CLOSE-WAIT", "LAST-ACK"),
        (730_000, "LAST-ACK", "CLOSED"),
    ]


def test_half_close_bytes_and_no_fin_wait_2_timer() -> None:
    run = get("half-close").run(seed=1)[0]
    assert run.metrics == {"bytes_received_in_fin_wait_2": 33.0, "bytes_received": 33.0,
                           "client_eof_s": 0.72}
    assert run.facts[0].en.startswith("server: read the whole request (16 bytes)")
    assert run.facts[1].en.startswith("client: send() after shutdown() failed: connection closing")
    assert run.facts[2].en == ("client: received 33 bytes in 3 segments while in FIN-WAIT-2, 33 in all: "
                               "b'log line 1\\nlog line 2\\nlog line 3\\n'")
    assert run.facts[3].en.startswith("client: no FIN-WAIT-2 timer ran")
    timers = [(r.t_us, r.host, r.timer.label, r.action.value) for r in run.records
              if isinstance(r, TimerRecord)]
    assert timers == [(720_000, "client", "time-wait", "armed"), (60_720_000, "client", "time-wait", "fired")]
    # the refused send() put nothing on the wire: SYN, ACK, request, FIN and four ACKs
    client = run.host("client").endpoint
    assert client.stats.segments_out == 8 and client.stats.resets_sent == 0
