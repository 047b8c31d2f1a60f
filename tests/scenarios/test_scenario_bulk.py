"""bulk: 1 MB over a 10 Mbit/s, 40 ms RTT link, goodput against the link rate."""

from __future__ import annotations

from support.stream_checks import assert_clean_close
from synack.scenarios import get
from synack.scenarios.bulk import HEADER_EFFICIENCY, RATE, SIZE


def test_bulk_delivers_the_megabyte_near_the_link_rate() -> None:
    run = get("bulk").run(seed=1)[0]
    m = run.metrics
    assert m["bytes"] == SIZE and m["bytes_intact"] == 1.0
    assert m["retransmissions"] == 0  # no loss, an unbounded queue: nothing to resend
    # Never faster than the wire allows; slow start costs a few round trips of 40 ms.
    assert 0.75 < m["utilisation"] <= HEADER_EFFICIENCY
    assert abs(m["goodput_mbps"] - m["utilisation"] * RATE / 1e6) < 1e-9
    assert m["seconds"] >= SIZE * 8 / RATE / HEADER_EFFICIENCY
    assert m["data_segments"] >= SIZE / 1460
    assert_clean_close(run)
    assert run.max_rows == 60
    assert any("goodput" in f.en and "有效吞吐" in f.zh for f in run.facts)


def test_bulk_is_repeatable() -> None:
    a = get("bulk").run(seed=3)[0]
    b = get("bulk").run(seed=3)[0]
    assert a.metrics == b.metrics
    assert [s[0] for s in a.sent()] == [s[0] for s in b.sent()]
