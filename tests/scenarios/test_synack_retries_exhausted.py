"""Nobody answers: five SYN-ACK retransmissions 1, 2, 4, 8, 16 s apart, the entry removed at
63 s, the SYN queue back to 0."""

from __future__ import annotations

from synack.core.seq import seq_add
from synack.core.trace import NoteRecord, TimerAction, TimerRecord
from synack.scenarios import get
from synack.scenarios.synack_retries_exhausted import GHOST_ADDR, GHOST_ISN, GHOST_PORT

S = 1_000_000


def test_synack_retransmitted_five_times_with_backoff() -> None:
    run = get("synack-retries-exhausted").run(seed=1)[0]
    x = GHOST_ISN
    assert run.received("server") == [(0, "server", "S", x, 0, 0)]
    sent = run.sent()
    y = sent[0][3]
    assert sent == [(t * S, "server", "SA", y, seq_add(x, 1), 0) for t in (0, 1, 3, 7, 15, 31)]
    # every one of them is lost: nobody owns the address
    assert run.drops() == [(t * S, "server", "SA", "no-route") for t in (0, 1, 3, 7, 15, 31)]
    assert run.network.no_route == 6
    fired = [(r.t_us, r.timer.label, r.action.value) for r in run.records
             if isinstance(r, TimerRecord) and r.action is not TimerAction.ARMED]
    assert fired == [(t * S, "synack", "fired") for t in (1, 3, 7, 15, 31)] + [(63 * S, "synack", "gave-up")]


def test_entry_removed_at_63_s() -> None:
    run = get("synack-retries-exhausted").run(seed=1)[0]
    ghost = f"{GHOST_ADDR}:{GHOST_PORT}"
    assert run.state_times("server") == [(0, "LISTEN", "SYN-RECEIVED"), (63 * S, "SYN-RECEIVED", "CLOSED")]
    notes = [(r.t_us, r.text, r.remote) for r in run.records
             if isinstance(r, NoteRecord) and r.host == "server"]
    assert notes[-1] == (63 * S, "SYN queue 0/128", ghost)
    server = run.host("server").endpoint
    assert server.stats.synack_retransmits == 5 and server.stats.timeouts == 1
    assert server.stats.passive_opens == 1 and server.connections == []
    (listener,) = server.listeners
    assert listener.syn_queue_len == 0 and listener.next_timeout() is None
    assert run.metrics == {"synack_retransmits": 5.0, "syn_queue_at_0.5s": 1.0, "syn_queue_at_62.5s": 1.0,
                           "syn_queue_at_63.5s": 0.0, "entry_removed_at_s": 63.0}


def test_netstat_at_20_s_shows_the_waiting_entry() -> None:
    run = get("synack-retries-exhausted").run(seed=1)[0]
    assert run.netstat_time == 20 * S
    listen, half = run.netstat["server"]
    assert (listen.state, listen.syn_q, listen.recv_q) == ("LISTEN", 1, 0)
    assert (half.state, half.remote, half.timer, half.timer_deadline, half.retries) == \
        ("SYN-RECV", f"{GHOST_ADDR}:{GHOST_PORT}", "synack", 31 * S, 4)
    # after the end nothing is left: the netstat at 64 s has the listener alone
    late = get("synack-retries-exhausted").run(seed=1, netstat_at=64 * S)[0]
    assert [(r.state, r.syn_q) for r in late.netstat["server"]] == [("LISTEN", 0)]


def test_facts_and_other_seed() -> None:
    run = get("synack-retries-exhausted").run(seed=1)[0]
    assert "t = 1, 3, 7, 15, 31 s, waiting 1, 2, 4, 8, 16 s" in run.facts[0].en
    assert "waited 32 s more, then at t = 63 s" in run.facts[1].en
    other = get("synack-retries-exhausted").run(seed=5)[0]
    assert [s[0] for s in other.sent()] == [s[0] for s in run.sent()]
    assert other.sent()[0][3] != run.sent()[0][3]
