"""reorder: the link reorders segments; the bytes arrive intact; duplicate ACKs."""

from __future__ import annotations

import itertools

from stream_checks import assert_clean_close

from synack.core.seq import seq_lt
from synack.scenarios import get
from synack.scenarios.reorder import SIZE


def test_reordered_segments_arrive_intact_with_duplicate_acks() -> None:
    run = get("reorder").run(seed=1)[0]
    m = run.metrics
    assert m["bytes"] == SIZE and m["bytes_intact"] == 1.0
    assert m["reordered"] >= 1
    assert m["duplicate_acks"] >= 1
    # The link lost nothing, so whatever was sent again the server already had.
    assert all(link.forward.stats.dropped == link.backward.stats.dropped == 0 for link in run.network.links)
    assert m["spurious_retransmissions"] == m["retransmissions"]
    assert_clean_close(run)
    # The server received data out of order: some segment began above an earlier one.
    data = [(t, seq) for t, host, _f, seq, _a, n in run.received("server") if n]
    assert any(seq_lt(b, a) for (_, a), (_, b) in itertools.pairwise(data))


def test_reorder_seeds_differ() -> None:
    a = get("reorder").run(seed=1)[0]
    b = get("reorder").run(seed=2)[0]
    assert b.metrics["bytes_intact"] == 1.0
    assert [s[0] for s in a.sent()] != [s[0] for s in b.sent()]
