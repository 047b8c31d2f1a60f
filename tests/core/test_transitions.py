"""Every edge of ``synack.core.state.TRANSITIONS`` is exercised, and nothing else.

A dedicated walk drives one scripted run per edge group through the public API,
collects the tracer's StateRecords (the listener traces LISTEN → SYN-RECEIVED and the
removal of SYN-queue entries itself), and compares the set of (old, new) pairs with
the table.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support import harness as h
from support.harness import ACK, FIN, LOCAL_ISS, REMOTE_ISS, Case, seconds
from synack.core.state import TRANSITIONS, State
from synack.core.trace import StateRecord


def _rst(c: Case, n: int) -> None:
    c.deliver(c.rst(c.rseq(n)))
    c.expect_nothing()
    assert c.c.state is State.CLOSED


def run_active_close() -> Case:
    # CLOSED→SYN-SENT→ESTABLISHED→FIN-WAIT-1→FIN-WAIT-2→TIME-WAIT→CLOSED
    c = h.time_wait(LOCAL_ISS, REMOTE_ISS, "active")
    c.expect_nothing(c.now + seconds(60))
    return c


def run_passive_close() -> Case:
    # LISTEN→SYN-RECEIVED→ESTABLISHED→CLOSE-WAIT→LAST-ACK→CLOSED
    c = h.last_ack(LOCAL_ISS, REMOTE_ISS, "passive")
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)))
    return c


def run_simultaneous_close() -> Case:
    # FIN-WAIT-1→CLOSING→TIME-WAIT
    c = h.closing(LOCAL_ISS, REMOTE_ISS)
    c.deliver(c.peer._replace(seq=c.rseq(2), ack=c.lseq(2)))
    return c


def run_fin_ack_in_fin_wait_1() -> Case:
    # FIN-WAIT-1→TIME-WAIT
    c = h.fin_wait_1(LOCAL_ISS, REMOTE_ISS)
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK))
    return c


def run_close_in_syn_sent() -> Case:
    c = h.syn_sent(LOCAL_ISS, REMOTE_ISS)  # SYN-SENT→CLOSED
    c.c.close(0)
    return c


def run_simultaneous_open() -> Case:
    c = h.syn_received(LOCAL_ISS, REMOTE_ISS)  # SYN-SENT→SYN-RECEIVED
    c.deliver(c.peer)  # SYN-RECEIVED→ESTABLISHED
    return c


def run_close_in_syn_received() -> Case:
    c = h.syn_received(LOCAL_ISS, REMOTE_ISS)
    c.c.close(0)  # SYN-RECEIVED→FIN-WAIT-1
    return c


def run_rst_in_syn_received() -> Case:
    c = h.syn_received(LOCAL_ISS, REMOTE_ISS)
    _rst(c, 1)  # SYN-RECEIVED→CLOSED
    return c


def run_synack_timeout() -> Case:
    c = h.listen(LOCAL_ISS, REMOTE_ISS)
    c.deliver(h.peer_syn(c))
    c.expect([h.our_synack(c)])
    for t in (1, 3, 7, 15, 31):
        c.expect([h.our_synack(c)], seconds(t))
    c.expect_nothing(seconds(63))  # the listener traces SYN-RECEIVED→CLOSED
    return c


def run_rst_established() -> Case:
    c = h.established(LOCAL_ISS, REMOTE_ISS)
    _rst(c, 1)
    return c


def run_rst_fin_wait_1() -> Case:
    c = h.fin_wait_1(LOCAL_ISS, REMOTE_ISS)
    _rst(c, 1)
    return c


def run_fin_wait_2_timeout() -> Case:
    c = h.fin_wait_2(LOCAL_ISS, REMOTE_ISS)
    c.expect_nothing(c.now + seconds(60))
    assert c.c.state is State.CLOSED
    return c


def run_rst_close_wait() -> Case:
    c = h.close_wait(LOCAL_ISS, REMOTE_ISS)
    _rst(c, 2)
    return c


def run_rst_closing() -> Case:
    c = h.closing(LOCAL_ISS, REMOTE_ISS)
    _rst(c, 2)
    return c


RUNS: list[Callable[[], Case]] = [
    run_active_close, run_passive_close, run_simultaneous_close, run_fin_ack_in_fin_wait_1,
    run_close_in_syn_sent, run_simultaneous_open, run_close_in_syn_received, run_rst_in_syn_received,
    run_synack_timeout, run_rst_established, run_rst_fin_wait_1, run_fin_wait_2_timeout,
    run_rst_close_wait, run_rst_closing,
]


def walked_edges() -> set[tuple[State, State]]:
    edges: set[tuple[State, State]] = set()
    for run in RUNS:
        c = run()
        edges.update((r.old, r.new) for r in c.records if isinstance(r, StateRecord))
    return edges


def test_transitions_walk_covers_every_edge() -> None:
    edges = walked_edges()
    missing = set(TRANSITIONS) - edges
    assert not missing, sorted(f"{a} -> {b}" for a, b in missing)


def test_transitions_walk_uses_only_legal_edges() -> None:
    illegal = walked_edges() - set(TRANSITIONS)
    assert not illegal, sorted(f"{a} -> {b}" for a, b in illegal)


@pytest.mark.parametrize("run", RUNS, ids=[r.__name__ for r in RUNS])
def test_transitions_each_run_records_a_legal_path(run: Callable[[], Case]) -> None:
    c = run()
    path = c.transitions()
    assert path, "the run changed no state"
    assert all(edge in TRANSITIONS for edge in path)


def test_transitions_every_edge_has_a_reason() -> None:
    assert all(reason for reason in TRANSITIONS.values())
