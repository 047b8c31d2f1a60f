"""Header prediction changes nothing but speed: every scenario, and random transfers
over random links, give the same trace record for record (every segment, state change,
timer and cwnd sample) with the fast path as with the full §3.10.7.4 processing alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.streams import (
    PROPERTY,
    SIZES,
    STACKS,
    Pattern,
    Stack,
    path_params,
    pattern_bytes,
    patterns,
    stack_config,
    transfer,
)
from synack.core.config import Config
from synack.core.trace import TraceRecord
from synack.scenarios import all_scenarios
from synack.sim import PathParams


def without_prediction(_name: str, config: Config) -> Config:
    """``Network.adjust``: the same configuration, header prediction off."""
    return replace(config, header_prediction=False)


def both_ways(run: Callable[[bool], tuple[list[TraceRecord], int]]) -> None:
    fast, _ = run(True)
    slow, none = run(False)
    assert none == 0
    assert len(fast) == len(slow)
    for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert a == b, f"record {i} differs: {a} (fast path) vs {b} (full processing)"


@pytest.mark.parametrize("name", [s.name for s in all_scenarios()])
def test_every_scenario_traces_the_same_without_the_fast_path(name: str) -> None:
    scenario = next(s for s in all_scenarios() if s.name == name)

    def run(predict: bool) -> tuple[list[TraceRecord], int]:
        records: list[TraceRecord] = []
        hits = 0
        for r in scenario.run(seed=3, adjust=None if predict else without_prediction):
            records += r.records
            hits += sum(h.endpoint.stats.predicted for h in r.network.hosts.values()
                        if hasattr(h.endpoint, "stats"))
        return records, hits

    both_ways(run)


def test_the_bulk_scenario_mostly_takes_the_fast_path() -> None:
    [run] = next(s for s in all_scenarios() if s.name == "bulk").run(seed=1)
    stats = [h.endpoint.stats for h in run.network.hosts.values()]
    predicted = sum(s.predicted for s in stats)
    assert predicted > 0.9 * sum(s.segments_in for s in stats)


@settings(PROPERTY, max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), up_size=SIZES, down_size=SIZES, forward=path_params(),
       backward=path_params(), client_pattern=patterns(), server_pattern=patterns(),
       client_stack=STACKS, server_stack=STACKS)
def test_random_transfers_trace_the_same_without_the_fast_path(
        seed: int, up_size: int, down_size: int, forward: PathParams, backward: PathParams,
        client_pattern: Pattern, server_pattern: Pattern, client_stack: Stack, server_stack: Stack) -> None:
    up = pattern_bytes(up_size, 7, 251)
    down = pattern_bytes(down_size, 13, 241)

    def run(predict: bool) -> tuple[list[TraceRecord], int]:
        client, server = stack_config(client_stack), stack_config(server_stack)
        if not predict:
            client, server = without_prediction("client", client), without_prediction("server", server)
        out = transfer(seed, forward, backward, up, down, client_pattern, server_pattern, client, server)
        assert bytes(out.server.got) == up and bytes(out.client.got) == down
        return out.net.trace, sum(h.endpoint.stats.predicted for h in out.net.hosts.values())

    both_ways(run)
