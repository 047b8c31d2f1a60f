"""zero-window: the reader stops, the window closes, the sender probes, the window reopens."""

from __future__ import annotations

import itertools

from stream_checks import assert_clean_close

from synack.scenarios import get
from synack.scenarios.transfer import pure_acks, timers_fired
from synack.scenarios.zero_window import READ_FROM, SIZE


def test_zero_window_is_probed_until_the_reader_resumes() -> None:
    run = get("zero-window").run(seed=1)[0]
    m = run.metrics
    assert m["bytes"] == SIZE and m["bytes_intact"] == 1.0
    closed, reopened = m["window_closed_s"] * 1e6, m["window_reopened_s"] * 1e6
    assert 0 < closed < READ_FROM <= reopened
    probes = timers_fired(run, "client", "persist")
    assert len(probes) == m["probes"] >= 2
    assert all(closed < t < READ_FROM for t in probes)
    # back-off: each probe waits at least as long as the one before
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert gaps == sorted(gaps)
    # While the window is closed the client sends nothing but one-byte probes.
    window_data = [n for t, host, _f, _s, _a, n in run.sent("client") if n and closed < t < READ_FROM]
    assert window_data and set(window_data) == {1}
    # Every server ACK between the window closing and the reader resuming says win=0.
    answers = [win for t, _ack, win in pure_acks(run, "server") if closed < t < READ_FROM]
    assert len(answers) == len(probes) and set(answers) == {0}
    assert_clean_close(run)
