"""A lost SYN-ACK: the half-open entry stays in the SYN queue, the SYN-ACK is resent by the
listener's timer (1 s, then 2 s) and in answer to the client's retransmitted SYN."""

from __future__ import annotations

from synack.core.seq import seq_add
from synack.core.timers import Timer
from synack.core.trace import TimerAction, TimerRecord
from synack.scenarios import Run, get


def _runs(seed: int = 1, netstat_at: int | None = None) -> list[Run]:
    return get("lost-synack").run(seed=seed, netstat_at=netstat_at)


def _synack_timer_fired(run: Run) -> list[int]:
    return [r.t_us for r in run.records if isinstance(r, TimerRecord) and r.host == "server"
            and r.timer is Timer.SYNACK and r.action is TimerAction.FIRED]


def test_one_lost_synack_segments_and_states() -> None:
    run = _runs()[0]
    sent = run.sent()
    (t1, h1, f1, x, a1, l1), (t2, h2, f2, y, a2, l2) = sent[:2]
    assert (t1, h1, f1, a1, l1) == (100_000, "client", "S", 0, 0)
    assert (t2, h2, f2, a2, l2) == (110_000, "server", "SA", seq_add(x, 1), 0)
    synack = ("SA", y, seq_add(x, 1), 0)
    ack = ("A", seq_add(x, 1), seq_add(y, 1), 0)
    assert sent[2:] == [
        (1_100_000, "client", "S", x, 0, 0),        # the client's SYN timer (1 s)
        (1_110_000, "server", *synack),             # the listener's SYN-ACK timer (1 s)
        (1_110_000, "server", *synack),             # the answer to the retransmitted SYN
        (1_120_000, "client", *ack),                # completes the handshake
        (1_120_000, "client", *ack),                # answers the duplicate SYN-ACK
    ]
    assert _synack_timer_fired(run) == [1_110_000]
    assert run.drops() == [(110_000, "server", "SA", "fault: drop #1 flags_are('SA')")]
    # the second SYN-ACK is old news in ESTABLISHED: a duplicate, ACKed again
    assert run.verdicts() == [(1_110_000, "server", "S", "duplicate", ""),   # the SYN again: SYN-ACK again
                              (1_120_000, "client", "SA", "duplicate", "out-of-window")]
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (1_120_000, "SYN-SENT", "ESTABLISHED")]
    # one half-open entry from 110 ms to the ACK at 1.13 s; never a second one
    assert run.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                         (1_130_000, "SYN-RECEIVED", "ESTABLISHED")]


def test_one_lost_synack_queue_and_counters() -> None:
    run = _runs()[0]
    assert run.metrics == {"syn_queue_at_peek": 1.0, "synacks_sent": 3.0, "synack_timer_retransmits": 1.0,
                           "connect_ms": 1020.0}
    server = run.host("server").endpoint
    # both resends are counted: the timer's and the one answering the SYN
    assert server.stats.synack_retransmits == 2 and server.stats.passive_opens == 1
    assert run.host("client").endpoint.stats.syn_retransmits == 1
    (listener,) = server.listeners
    assert listener.syn_queue_len == 0 and listener.accept_queue_len == 0  # accepted
    assert [c.state.value for c in server.connections] == ["ESTABLISHED"]


def test_one_lost_synack_netstat_shows_the_half_open_entry() -> None:
    run = _runs()[0]
    assert run.netstat_time == 500_000
    listen, half = run.netstat["server"]
    assert (listen.state, listen.local, listen.recv_q, listen.send_q, listen.syn_q) == \
        ("LISTEN", "*:80", 0, 128, 1)
    assert (half.state, half.local, half.timer, half.timer_deadline, half.retries) == \
        ("SYN-RECV", "192.0.2.2:80", "synack", 1_110_000, 0)
    (client_row,) = run.netstat["client"]
    assert (client_row.state, client_row.timer, client_row.timer_deadline) == ("SYN-SENT", "on", 1_100_000)
    assert half.remote == client_row.local


def test_netstat_at_from_the_runner_wins() -> None:
    run = _runs(netstat_at=2_000_000)[0]
    assert run.netstat_time == 2_000_000
    assert [r.state for r in run.netstat["server"]] == ["LISTEN", "ESTABLISHED"]


def test_three_lost_synacks_backoff() -> None:
    run = _runs()[1]
    sent = run.sent()
    x, y = sent[0][3], sent[1][3]
    synack = ("SA", y, seq_add(x, 1), 0)
    ack = ("A", seq_add(x, 1), seq_add(y, 1), 0)
    assert sent == [
        (100_000, "client", "S", x, 0, 0),
        (110_000, "server", *synack),               # lost
        (1_100_000, "client", "S", x, 0, 0),
        (1_110_000, "server", *synack),             # timer, 1 s: lost
        (1_110_000, "server", *synack),             # answer to the SYN: lost
        (3_100_000, "client", "S", x, 0, 0),        # the client's timer doubled too
        (3_110_000, "server", *synack),             # timer, 2 s later
        (3_110_000, "server", *synack),
        (3_120_000, "client", *ack),
        (3_120_000, "client", *ack),
    ]
    assert _synack_timer_fired(run) == [1_110_000, 3_110_000]
    assert [d[:3] for d in run.drops()] == [(110_000, "server", "SA"), (1_110_000, "server", "SA"),
                                            (1_110_000, "server", "SA")]
    assert [v[:4] for v in run.verdicts()] == [(1_110_000, "server", "S", "duplicate"),
                                               (3_110_000, "server", "S", "duplicate"),
                                               (3_120_000, "client", "SA", "duplicate")]
    assert run.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                         (3_130_000, "SYN-RECEIVED", "ESTABLISHED")]
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (3_120_000, "SYN-SENT", "ESTABLISHED")]
    # at 2 s the entry is still queued, its first retransmission done, the next due at 3.11 s
    half = run.netstat["server"][1]
    assert (half.state, half.retries, half.timer_deadline) == ("SYN-RECV", 1, 3_110_000)
    assert run.metrics == {"syn_queue_at_peek": 1.0, "synacks_sent": 5.0, "synack_timer_retransmits": 2.0,
                           "connect_ms": 3020.0}
    assert "1 s then 2 s" in run.facts[1].en
