"""Data on the third segment: the ACK of the SYN,ACK carries the request when it was queued
during the handshake; the server delivers it once ESTABLISHED."""

from __future__ import annotations

from synack.core.seq import seq_add
from synack.core.trace import NoteRecord, StateRecord
from synack.scenarios import Run, get
from synack.scenarios.data_on_third_ack import REQUEST


def _runs(seed: int = 1) -> list[Run]:
    return get("data-on-third-ack").run(seed=seed)


def _server_timeline(run: Run) -> list[tuple[int, str]]:
    """The server's state changes and application calls, in trace order."""
    out: list[tuple[int, str]] = []
    for r in run.records:
        if isinstance(r, StateRecord) and r.host == "server":
            out.append((r.t_us, f"{r.old.value}->{r.new.value}"))
        elif isinstance(r, NoteRecord) and r.host == "server" and r.text.startswith("app: read"):
            out.append((r.t_us, r.text))
    return out


def test_third_segment_carries_the_request() -> None:
    run = _runs()[0]
    n = len(REQUEST)
    sent = run.sent()
    x, y = sent[0][3], sent[1][3]
    assert sent == [
        (100_000, "client", "S", x, 0, 0),
        (110_000, "server", "SA", y, seq_add(x, 1), 0),
        # ACK seq=x+1 ack=y+1 with the request in it (PSH: the send queue drains)
        (120_000, "client", "PA", seq_add(x, 1), seq_add(y, 1), n),
        (130_000, "server", "A", seq_add(y, 1), seq_add(x, 1 + n), 0),
    ]
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (120_000, "SYN-SENT", "ESTABLISHED")]
    assert run.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                         (130_000, "SYN-RECEIVED", "ESTABLISHED")]
    assert run.drops() == []
    # the send happened in SYN-SENT, before the SYN,ACK came
    notes = [(r.t_us, r.host, r.text) for r in run.records if isinstance(r, NoteRecord)]
    assert (100_000, "client", f"app: send({n} bytes) -> {n}") in notes


def test_server_delivers_only_once_established() -> None:
    run = _runs()[0]
    # ESTABLISHED first, then the read, in the same instant
    assert _server_timeline(run) == [(110_000, "LISTEN->SYN-RECEIVED"),
                                     (130_000, "SYN-RECEIVED->ESTABLISHED"),
                                     (130_000, f"app: read() -> {len(REQUEST)} bytes")]
    server = run.host("server").endpoint
    (conn,) = server.connections
    assert conn.state.value == "ESTABLISHED" and conn.bytes_readable == 0  # read by the app
    assert conn.rcv_nxt == seq_add(conn.irs, 1 + len(REQUEST))
    assert run.metrics == {"segments": 4.0, "third_segment_bytes": float(len(REQUEST)),
                           "bytes_delivered": float(len(REQUEST)), "server_established_ms": 130.0,
                           "readable_ms": 130.0}


def test_facts() -> None:
    first, second = _runs()
    assert first.facts[0].en.startswith(
        f"client: the third segment is ACK seq=x+1 ack=y+1 carrying {len(REQUEST)} bytes")
    assert second.facts[0].en.startswith("client: the third segment is a bare ACK")
    assert "(3 segments from the client, 5 in all)" in second.facts[0].en
    for run in (first, second):
        assert "ESTABLISHED at 130 ms, the request readable at 130 ms" in run.facts[1].en


def test_write_after_connect_returns_costs_a_fourth_segment() -> None:
    run = _runs()[1]
    n = len(REQUEST)
    sent = run.sent()
    x, y = sent[0][3], sent[1][3]
    assert sent == [
        (100_000, "client", "S", x, 0, 0),
        (110_000, "server", "SA", y, seq_add(x, 1), 0),
        (120_000, "client", "A", seq_add(x, 1), seq_add(y, 1), 0),        # the bare ACK
        (120_000, "client", "PA", seq_add(x, 1), seq_add(y, 1), n),       # then the data, same seq
        (130_000, "server", "A", seq_add(y, 1), seq_add(x, 1 + n), 0),
    ]
    assert _server_timeline(run) == [(110_000, "LISTEN->SYN-RECEIVED"),
                                     (130_000, "SYN-RECEIVED->ESTABLISHED"),
                                     (130_000, f"app: read() -> {n} bytes")]
    assert run.metrics["segments"] == 5.0 and run.metrics["third_segment_bytes"] == 0.0
    assert run.metrics["bytes_delivered"] == float(n)
