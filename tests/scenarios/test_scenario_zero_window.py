"""zero-window: the reader stops, the window closes, the sender probes, the window reopens."""

from __future__ import annotations

import itertools

from support.stream_checks import assert_clean_close
from synack.core.config import Config
from synack.core.timers import Timer
from synack.scenarios import get
from synack.scenarios.transfer import pure_acks, timers_fired
from synack.scenarios.zero_window import READ_FROM, SIZE


def test_zero_window_is_probed_until_the_reader_resumes() -> None:
    run = get("zero-window").run(seed=1)[0]
    m = run.metrics
    assert m["bytes"] == SIZE and m["bytes_intact"] == 1.0
    closed, reopened = m["window_closed_s"] * 1e6, m["window_reopened_s"] * 1e6
    assert 0 < closed < READ_FROM <= reopened
    probes = timers_fired(run, "client", Timer.PERSIST)
    assert len(probes) == m["probes"] >= 2
    assert all(closed < t < READ_FROM for t in probes)
    # back-off: each probe waits at least as long as the one before
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert gaps == sorted(gaps)
    # While the window is closed the client sends nothing but probes: no data, at
    # SND.UNA - 1, one below what the server last acknowledged (Linux's probe).
    window_segs = [(s, n) for t, _h, _f, s, _a, n in run.sent("client") if closed < t < READ_FROM]
    assert len(window_segs) == len(probes)
    last_ack = [ack for t, ack, _win in pure_acks(run, "server") if t < READ_FROM][-1]
    assert set(window_segs) == {((last_ack - 1) & 0xFFFFFFFF, 0)}
    # Every server ACK between the window closing and the reader resuming says win=0.
    # A probe is out of the window: its answer is rate-limited like any out-of-window ACK
    # (Linux tcp_oow_rate_limited), so a probe within oow_ack_interval of the last
    # answer goes unanswered.
    answered: list[int] = []
    for t in probes:
        if not answered or t - answered[-1] >= Config().oow_ack_interval:
            answered.append(t)
    assert len(answered) < len(probes)
    answers = [win for t, _ack, win in pure_acks(run, "server") if closed < t < READ_FROM]
    assert len(answers) == len(answered) and set(answers) == {0}
    assert_clean_close(run)
