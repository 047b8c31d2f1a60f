"""urgent: 36,800 ordinary octets, then a 4-octet telnet interrupt as urgent data,
while most of the ordinary ones still wait in the client's queue."""

from __future__ import annotations

from synack.core.trace import SegmentRecord
from synack.core.wire import URG
from synack.scenarios import get
from synack.scenarios.urgent import INTERRUPT, TYPED

MSS = 1460
MARK = 1 + len(TYPED) + len(INTERRUPT)  # relative: the octet after the interrupt


def test_every_segment_before_the_mark_carries_urg_and_the_pointer() -> None:
    run = get("urgent").run(seed=1)[0]
    sent = run.relative_sent()
    x = next(s[3] for s in run.sent() if s[2] == "S")
    data = [(r.t_us, (r.seg.seq - x) & 0xFFFFFFFF, len(r.seg.payload), bool(r.seg.flags & URG), r.seg.urg)
            for r in run.records if isinstance(r, SegmentRecord) and r.event == "send" and r.host == "client"
            and r.seg is not None and r.seg.payload]
    # The initial window (10 segments) leaves at 200 ms, before the interrupt: no URG.
    assert data[:10] == [(200_000, 1 + k * MSS, MSS, False, 0) for k in range(10)]
    # The rest leaves after the interrupt was queued: every segment says where the
    # urgent data ends, as an offset from its own sequence number (MUST-62).
    rest = data[10:]
    assert [(seq, n) for _, seq, n, _, _ in rest] == [(1 + k * MSS, MSS) for k in range(10, 25)] + [
        (1 + 25 * MSS, MARK - 1 - 25 * MSS)]
    assert all(urg and ptr == MARK - seq for _, seq, _, urg, ptr in rest)
    assert all(t > 205_000 for t, *_ in rest)
    assert run.metrics["urgent_segments"] == len(rest) == 16
    # The server learns at the first URG segment's arrival, before reading anything,
    # how much lies before the mark; at 600 ms it skips to the mark.
    assert run.metrics["told_at_ms"] == 230.0
    assert run.metrics["pending_when_told"] == MARK - 1
    assert run.metrics["skipped"] == MARK - 1 and run.metrics["intact"] == 1.0
    # After the mark is acknowledged, nothing carries URG any more (the FIN).
    fins = [s for s in sent if s[1] == "client" and "F" in s[2]]
    assert fins == [(1_000_000, "client", "FA", MARK, 1, 0)]
