"""reorder: the link reorders segments; the bytes arrive intact; duplicate ACKs."""

from __future__ import annotations

import itertools

from support.stream_checks import assert_clean_close
from synack.core.recovery import DUPTHRESH
from synack.core.seq import seq_gt, seq_lt, seq_sub
from synack.scenarios import get
from synack.scenarios.reorder import SIZE
from synack.scenarios.transfer import retransmissions


def test_reordered_segments_arrive_intact_with_duplicate_acks() -> None:
    run = get("reorder").run(seed=1)[0]
    m = run.metrics
    assert m["bytes"] == SIZE and m["bytes_intact"] == 1.0
    assert m["reordered"] >= 1
    assert m["duplicate_acks"] >= 1
    # The link lost nothing, so whatever was sent again the server already had.
    assert all(link.forward.stats.dropped == link.backward.stats.dropped == 0 for link in run.network.links)
    assert m["spurious_retransmissions"] == m["retransmissions"]
    # Only DupThresh's ambiguity is left: a segment overtaken by three or more that the
    # server SACKs looks lost and is resent (at the fast retransmit, and once more
    # in the same recovery).  The partial ACKs that follow a late original resend
    # nothing (each used to resend the segment at SND.UNA: 9 retransmissions in all),
    # nor does a hole with fewer SACKed segments above it (NextSeg rule 3).
    assert m["spurious_retransmissions"] == 2
    assert run.host("client").endpoint.stats.fast_retransmits == 1
    isn = next(seq for _t, _h, flags, seq, _a, _n in run.sent("client") if flags == "S")
    resent = [seq for _t, seq, _n in retransmissions(run, "client")]
    assert [seq_sub(seq, isn) for seq in resent] == [26281, 36501]
    first: dict[int, int] = {}
    for t, _h, _f, seq, _a, n in run.received("server"):
        if n:
            first.setdefault(seq, t)
    for seq in resent:
        overtaken_by = [s for s, t in first.items() if seq_gt(s, seq) and t < first[seq]]
        assert len(overtaken_by) >= DUPTHRESH
    assert_clean_close(run)
    # The server received data out of order: some segment began above an earlier one.
    data = [(t, seq) for t, host, _f, seq, _a, n in run.received("server") if n]
    assert any(seq_lt(b, a) for (_, a), (_, b) in itertools.pairwise(data))


def test_reorder_seeds_differ() -> None:
    a = get("reorder").run(seed=1)[0]
    b = get("reorder").run(seed=2)[0]
    assert b.metrics["bytes_intact"] == 1.0
    assert [s[0] for s in a.sent()] != [s[0] for s in b.sent()]
