"""fast-retransmit: one segment lost, three duplicate ACKs, one retransmission, no RTO."""

from __future__ import annotations

from support.stream_checks import assert_clean_close
from synack.scenarios import get
from synack.scenarios.fast_retransmit import SIZE
from synack.scenarios.transfer import duplicate_acks, retransmissions, timers_fired


def test_one_loss_three_duplicate_acks_one_retransmission_no_timeout() -> None:
    run = get("fast-retransmit").run(seed=1)[0]
    m = run.metrics
    assert m["bytes"] == SIZE and m["bytes_intact"] == 1.0
    lost = [d for d in run.drops("client") if d[3].startswith("fault: drop")]
    assert len(lost) == 1
    again = retransmissions(run, "client")
    assert len(again) == 1
    t_lost, t_again = lost[0][0], again[0][0]
    # Three duplicate ACKs reached the client before it resent.
    ack = again[0][1]
    dups = [t for t, a in duplicate_acks(run, "server") if a == ack and t < t_again]
    assert len(dups) >= 3
    assert timers_fired(run, "client", "retransmit") == []
    # Well before any retransmission timer (the first RTO is at least 200 ms).
    assert t_again - t_lost < 200_000
    assert_clean_close(run)
