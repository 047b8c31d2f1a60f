"""fast-retransmit: one segment lost, three duplicate ACKs, one retransmission, no RTO."""

from __future__ import annotations

from support.stream_checks import assert_clean_close
from synack.scenarios import get
from synack.scenarios.fast_retransmit import SIZE
from synack.scenarios.transfer import duplicate_acks, retransmissions, timers_fired, window_reductions


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


def test_cubic_reduces_the_window_by_beta_not_by_half() -> None:
    """The explanation says CUBIC (the default) multiplies cwnd by β = 0.7: the trace's
    congestion records show it, once, at the loss."""
    run = get("fast-retransmit").run(seed=1)[0]
    assert window_reductions(run, "client") == [(180_000, 20_440, 14_308)]
    assert int(20_440 * 0.7) == 14_308
    assert run.metrics["cwnd_before"] == 20_440.0 and run.metrics["ssthresh_after"] == 14_308.0
    assert any("20,440 octets before the loss, 14,308 after (× 0.70" in f.en for f in run.facts)
