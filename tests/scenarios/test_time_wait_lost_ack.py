"""The lost last ACK: TIME-WAIT re-ACKs the retransmitted FIN and restarts its timer;
without TIME-WAIT the FIN is answered with RST and the server sees a reset."""

from __future__ import annotations

from synack.core.errors import DropReason
from synack.core.trace import TimerRecord
from synack.scenarios import Run, get

Seg = tuple[int, str, str, int, int, int]
LOSS = "fault: drop #3 (from_host('client') & flags_are('A'))"




BEFORE_LOSS: list[Seg] = [
    (100_000, "client", "S", 0, 0, 0),
    (110_000, "server", "SA", 0, 1, 0),
    (120_000, "client", "A", 1, 1, 0),
    (200_000, "client", "PA", 1, 1, 4),
    (210_000, "server", "A", 1, 5, 0),
    (210_000, "server", "PA", 1, 5, 4),
    (220_000, "client", "A", 5, 5, 0),
    (300_000, "client", "FA", 5, 5, 0),
    (310_000, "server", "A", 5, 6, 0),
    (1_310_000, "server", "FA", 5, 6, 0),
    (1_320_000, "client", "A", 6, 6, 0),        # the last ACK: lost
    (1_510_000, "server", "FA", 5, 6, 0),       # the FIN again, one RTO (200 ms) later
]


def timers(run: Run, host: str) -> list[tuple[int, str, str, int | None]]:
    return [(r.t_us, r.timer.label, r.action.value, r.deadline) for r in run.records
            if isinstance(r, TimerRecord) and r.host == host]


def test_time_wait_re_acks_and_restarts() -> None:
    run = get("time-wait-lost-ack").run(seed=1)[0]
    assert run.relative_sent() == [*BEFORE_LOSS, (1_520_000, "client", "A", 6, 6, 0)]   # a new ACK
    assert run.drops() == [(1_320_000, "client", "A", LOSS)]
    # the FIN is old news in TIME-WAIT (seq below RCV.NXT): a duplicate, ACKed, not processed again
    assert run.verdicts() == [(1_520_000, "client", "FA", "duplicate", "out-of-window")]
    # the 2MSL timer armed twice: expiry moved from 61.32 s to 61.52 s = t(re-FIN) + 60 s
    assert timers(run, "client") == [
        (320_000, "fin-wait-2", "armed", 60_320_000),
        (1_320_000, "time-wait", "armed", 61_320_000),
        (1_520_000, "time-wait", "armed", 61_520_000),
        (61_520_000, "time-wait", "fired", None),
    ]
    assert timers(run, "server") == [(1_510_000, "retransmit", "fired", None)]
    assert run.state_times("client")[2:] == [
        (300_000, "ESTABLISHED", "FIN-WAIT-1"),
        (320_000, "FIN-WAIT-1", "FIN-WAIT-2"),
        (1_320_000, "FIN-WAIT-2", "TIME-WAIT"),
        (61_520_000, "TIME-WAIT", "CLOSED"),
    ]
    assert run.state_times("server")[2:] == [
        (310_000, "ESTABLISHED", "CLOSE-WAIT"),
        (1_310_000, "CLOSE-WAIT", "LAST-ACK"),
        (1_530_000, "LAST-ACK", "CLOSED"),      # on the second ACK: a clean close
    ]
    server = run.host("server").endpoint
    assert server.stats.retransmits == 1 and server.stats.resets_received == 0
    assert run.host("client").endpoint.stats.dropped == {DropReason.OUT_OF_WINDOW: 1}
    assert run.metrics == {"server_closed_s": 1.53, "server_fin_retransmits": 1.0,
                           "server_resets_received": 0.0}
    assert "expiry moved from 61.320 s to 61.520 s" in run.facts[1].en
    assert run.facts[-2].en == "server: LAST-ACK → CLOSED at 1.530 s: a clean close"


def test_no_time_wait_rst_instead_of_clean_close() -> None:
    run = get("time-wait-lost-ack").run(seed=1)[1]
    # RST <SEQ=SEG.ACK> for the FIN (it had ACK set): exactly the server's RCV.NXT
    assert run.relative_sent() == [*BEFORE_LOSS, (1_520_000, "client", "R", 6, 0, 0)]
    assert run.drops() == [
        (1_320_000, "client", "A", LOSS),
        (1_520_000, "client", "FA", "no-connection"),
    ]
    assert run.state_times("client")[2:] == [
        (300_000, "ESTABLISHED", "FIN-WAIT-1"),
        (320_000, "FIN-WAIT-1", "FIN-WAIT-2"),
        (1_320_000, "FIN-WAIT-2", "TIME-WAIT"),
        (1_320_000, "TIME-WAIT", "CLOSED"),     # no wait at all
    ]
    assert run.state_times("server")[2:] == [
        (310_000, "ESTABLISHED", "CLOSE-WAIT"),
        (1_310_000, "CLOSE-WAIT", "LAST-ACK"),
        (1_530_000, "LAST-ACK", "CLOSED"),      # by the RST
    ]
    assert [(t, n, d) for t, n, _a, d in timers(run, "client")] == [(320_000, "fin-wait-2", 60_320_000)]
    server = run.host("server").endpoint
    assert server.stats.resets_received == 1
    assert run.host("client").endpoint.stats.resets_sent == 1
    assert run.metrics == {"server_closed_s": 1.53, "server_fin_retransmits": 1.0,
                           "server_resets_received": 1.0}
    assert run.facts[-2].en == ("server: LAST-ACK → CLOSED at 1.530 s: "
                                "a reset (ConnectionReset) instead of a clean close")



def test_server_application_sees_reset_or_clean_close() -> None:
    clean, reset = get("time-wait-lost-ack").run(seed=1)
    assert clean.facts[-1].en == ("server application events: Connected, AcceptReady, Readable, "
                                  "PeerClosed, Closed")
    assert reset.facts[-1].en == ("server application events: Connected, AcceptReady, Readable, "
                                  "PeerClosed, ConnectionReset, Closed")
