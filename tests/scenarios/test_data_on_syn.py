"""Data on a SYN without Fast Open: the server acknowledges only the SYN (ack=x+1), keeps
none of the data, and delivers the bytes once, after ESTABLISHED, when the client resends."""

from __future__ import annotations

from synack.core.errors import DropReason
from synack.core.seq import seq_add
from synack.core.state import State
from synack.core.trace import NoteRecord, SegmentRecord, StateRecord
from synack.scenarios import Run, get
from synack.scenarios.data_on_syn import REQUEST, SynDataClient


def _run(seed: int = 1) -> Run:
    return get("data-on-syn").run(seed=seed)[0]


def test_data_on_syn_segments_and_states() -> None:
    run = _run()
    n = len(REQUEST)
    sent = run.sent()
    x, y = sent[0][3], sent[1][3]
    assert sent == [
        (100_000, "client", "S", x, 0, n),                          # SYN with the request on it
        (110_000, "server", "SA", y, seq_add(x, 1), 0),             # acknowledges the SYN only
        (120_000, "client", "PA", seq_add(x, 1), seq_add(y, 1), n),  # the same bytes again
        (130_000, "server", "A", seq_add(y, 1), seq_add(x, 1 + n), 0),
    ]
    payloads = [r.seg.payload for r in run.records if isinstance(r, SegmentRecord) and r.event == "send"
                and r.seg is not None and r.host == "client"]
    assert payloads == [REQUEST, REQUEST]
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (120_000, "SYN-SENT", "ESTABLISHED")]
    assert run.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                         (130_000, "SYN-RECEIVED", "ESTABLISHED")]
    # the SYN itself opened the entry; its data was trimmed off (nothing was dropped whole)
    assert run.drops() == []
    assert run.verdicts() == [(110_000, "server", "S", "trimmed", DropReason.SYN_DATA.value)]


def test_nothing_kept_nothing_delivered_before_established() -> None:
    run = _run()
    server = run.host("server").endpoint
    assert server.stats.dropped[DropReason.SYN_DATA] == 1 and sum(server.stats.dropped.values()) == 1
    assert server.stats.passive_opens == 1
    timeline = [(r.t_us, f"{r.old.value}->{r.new.value}" if isinstance(r, StateRecord) else r.text)
                for r in run.records if r.host == "server" and isinstance(r, StateRecord | NoteRecord)
                and (isinstance(r, StateRecord) or r.text.startswith("app: read"))]
    assert timeline == [(110_000, "LISTEN->SYN-RECEIVED"), (130_000, "SYN-RECEIVED->ESTABLISHED"),
                        (130_000, f"app: read() -> {len(REQUEST)} bytes")]
    (conn,) = server.connections
    # RCV.NXT counts the request once: x+1 (the SYN) + len
    assert conn.rcv_nxt == seq_add(conn.irs, 1 + len(REQUEST)) and conn.bytes_readable == 0
    model = run.host("client").endpoint
    assert isinstance(model, SynDataClient)
    assert model.state is State.ESTABLISHED and model.acked == len(REQUEST)
    assert run.metrics == {"bytes_on_syn": 33.0, "syn_data_dropped": 1.0, "bytes_resent": 33.0,
                           "bytes_delivered": 33.0, "server_established_ms": 130.0, "readable_ms": 130.0}
    assert "ack=x+1" in run.facts[0].en and "ESTABLISHED at 130 ms" in run.facts[2].en


def test_other_seed() -> None:
    run = _run(seed=4)
    sent = run.sent()
    x, y = sent[0][3], sent[1][3]
    assert [(f, a, n) for _t, _h, f, _s, a, n in sent] == [
        ("S", 0, 33), ("SA", seq_add(x, 1), 0), ("PA", seq_add(y, 1), 33), ("A", seq_add(x, 34), 0)]
