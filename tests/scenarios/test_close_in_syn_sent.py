"""Closing in SYN-SENT: nothing is sent; the late SYN-ACK gets RST seq=SEG.ACK, which
removes the server's half-open entry."""

from __future__ import annotations

from synack.core.errors import DropReason
from synack.core.seq import seq_add
from synack.scenarios import get


def test_close_in_syn_sent_segments_and_states() -> None:
    run = get("close-in-syn-sent").run(seed=1)[0]
    sent = run.sent()
    assert len(sent) == 3
    (t1, h1, f1, x, a1, l1), (t2, h2, f2, y, a2, l2), rst = sent
    assert (t1, h1, f1, a1, l1) == (100_000, "client", "S", 0, 0)
    # the SYN-ACK leaves at once (10 ms link) but the fault holds it for 500 ms more
    assert (t2, h2, f2, a2, l2) == (110_000, "server", "SA", seq_add(x, 1), 0)
    assert run.received("client") == [(620_000, "client", "SA", y, seq_add(x, 1), 0)]
    # CLOSED answers a segment with ACK by <SEQ=SEG.ACK><CTL=RST>
    assert rst == (620_000, "client", "R", seq_add(x, 1), 0, 0)
    assert run.received("server")[-1] == (630_000, "server", "R", seq_add(x, 1), 0, 0)
    # close() at 300 ms: straight to CLOSED, nothing sent between connect and the late SYN-ACK
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"), (300_000, "SYN-SENT", "CLOSED")]
    assert [s for s in run.sent("client") if 100_000 < s[0] < 620_000] == []
    assert run.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                         (630_000, "SYN-RECEIVED", "CLOSED")]
    assert run.drops() == [(620_000, "client", "SA", DropReason.NO_CONNECTION.value)]


def test_close_in_syn_sent_rst_matches_half_open_rcv_nxt() -> None:
    run = get("close-in-syn-sent").run(seed=1)[0]
    x = run.sent("client")[0][3]
    rst_seq = run.sent("client")[-1][3]
    assert run.metrics == {"client_segments_after_close": 0.0, "client_resets_sent": 1.0,
                           "server_resets_received": 1.0, "server_synack_retransmits": 0.0,
                           "server_syn_queue_end": 0.0}
    # the fact reports the half-open entry's RCV.NXT (irs + 1) as read from the listener
    assert f"RCV.NXT ({seq_add(x, 1)})" in run.facts[2].en and rst_seq == seq_add(x, 1)
    server = run.host("server").endpoint
    assert server.stats.resets_received == 1
    assert server.stats.dropped[DropReason.LISTEN_RST] == 0  # not ignored as a stray RST
    assert [lst.syn_queue_len for lst in server.listeners] == [0]
    assert server.connections == [] and run.host("client").endpoint.connections == []
    # no SYN-ACK retransmission ever leaves: the run goes on to 5 s
    assert [s for s in run.sent("server") if s[2] == "SA"] == [run.sent("server")[0]]


def test_close_in_syn_sent_other_seed_same_shape() -> None:
    a = get("close-in-syn-sent").run(seed=1)[0].sent()
    b = get("close-in-syn-sent").run(seed=7)[0].sent()
    assert [(t, h, f) for t, h, f, *_ in a] == [(t, h, f) for t, h, f, *_ in b]
    assert a[0][3] != b[0][3] and b[2][3] == seq_add(b[0][3], 1)
