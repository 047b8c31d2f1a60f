"""Simultaneous open: SYN, SYN, SYN-ACK, SYN-ACK; both SYN-SENT → SYN-RECEIVED → ESTABLISHED
with no listener; and what happens when the SYNs do not cross."""

from __future__ import annotations

from synack.core.errors import DropReason
from synack.core.seq import seq_add
from synack.scenarios import Run, get
from synack.scenarios.simultaneous_open import A_PORT, B_PORT


def _runs(seed: int = 1) -> list[Run]:
    return get("simultaneous-open").run(seed=seed)


def test_simultaneous_open_four_segments() -> None:
    run = _runs()[0]
    sent = run.sent()
    x, y = sent[0][3], sent[1][3]
    assert sent == [
        (100_000, "A", "S", x, 0, 0),
        (100_000, "B", "S", y, 0, 0),
        # each answers the other's SYN from its own ISN, acknowledging it
        (110_000, "B", "SA", y, seq_add(x, 1), 0),
        (110_000, "A", "SA", x, seq_add(y, 1), 0),
    ]
    for host in ("A", "B"):
        assert run.state_times(host) == [(100_000, "CLOSED", "SYN-SENT"),
                                         (110_000, "SYN-SENT", "SYN-RECEIVED"),
                                         (120_000, "SYN-RECEIVED", "ESTABLISHED")]
    assert run.drops() == []
    # the same 4-tuple on both sides, nobody listening
    (a,) = run.host("A").endpoint.connections
    (b,) = run.host("B").endpoint.connections
    assert (a.local_port, a.remote_port, b.local_port, b.remote_port) == (A_PORT, B_PORT, B_PORT, A_PORT)
    assert run.host("A").endpoint.listeners == [] and run.host("B").endpoint.listeners == []
    assert (a.snd_nxt, a.rcv_nxt, b.snd_nxt, b.rcv_nxt) == (seq_add(x, 1), seq_add(y, 1),
                                                          seq_add(y, 1), seq_add(x, 1))
    assert a.snd_wscale == b.snd_wscale == 7 and a.sack_ok and b.sack_ok
    assert run.metrics == {"segments": 4.0, "connected": 2.0, "refused": 0.0}


def test_five_ms_apart_still_crosses() -> None:
    run = _runs()[1]
    sent = run.sent()
    x, y = sent[0][3], sent[1][3]
    assert sent == [(100_000, "A", "S", x, 0, 0), (105_000, "B", "S", y, 0, 0),
                    (110_000, "B", "SA", y, seq_add(x, 1), 0), (115_000, "A", "SA", x, seq_add(y, 1), 0)]
    assert run.state_times("A") == [(100_000, "CLOSED", "SYN-SENT"), (115_000, "SYN-SENT", "SYN-RECEIVED"),
                                    (120_000, "SYN-RECEIVED", "ESTABLISHED")]
    assert run.state_times("B") == [(105_000, "CLOSED", "SYN-SENT"), (110_000, "SYN-SENT", "SYN-RECEIVED"),
                                    (125_000, "SYN-RECEIVED", "ESTABLISHED")]
    assert run.metrics == {"segments": 4.0, "connected": 2.0, "refused": 0.0}


def test_too_late_both_refused() -> None:
    run = _runs()[2]
    sent = run.sent()
    x, y = sent[0][3], sent[2][3]
    assert sent == [
        (100_000, "A", "S", x, 0, 0),
        (110_000, "B", "RA", 0, seq_add(x, 1), 0),   # no TCB at B yet: <SEQ=0><ACK=SEG.SEQ+1><RST,ACK>
        (115_000, "B", "S", y, 0, 0),
        (125_000, "A", "RA", 0, seq_add(y, 1), 0),   # A already CLOSED (refused)
    ]
    assert run.drops() == [(110_000, "B", "S", DropReason.NO_CONNECTION.value),
                           (125_000, "A", "S", DropReason.NO_CONNECTION.value)]
    assert run.state_times("A") == [(100_000, "CLOSED", "SYN-SENT"), (120_000, "SYN-SENT", "CLOSED")]
    assert run.state_times("B") == [(115_000, "CLOSED", "SYN-SENT"), (135_000, "SYN-SENT", "CLOSED")]
    assert run.metrics == {"segments": 4.0, "connected": 0.0, "refused": 2.0}
    assert run.host("A").endpoint.connections == [] and run.host("B").endpoint.connections == []
