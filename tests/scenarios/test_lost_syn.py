"""A lost SYN: retransmitted unchanged after the initial RTO (1 s); the handshake completes."""

from __future__ import annotations

from synack.core.seq import seq_add
from synack.scenarios import get


def test_lost_syn_segments_and_states() -> None:
    run = get("lost-syn").run(seed=1)[0]
    sent = run.sent()
    assert len(sent) == 4
    (t1, h1, f1, x, a1, l1), syn2, (t3, h3, f3, y, a3, l3), ack = sent
    assert (t1, h1, f1, a1, l1) == (100_000, "client", "S", 0, 0)
    # the same SYN (same ISN) again, one initial RTO (1 s) later
    assert syn2 == (1_100_000, "client", "S", x, 0, 0)
    assert (t3, h3, f3, a3, l3) == (1_110_000, "server", "SA", seq_add(x, 1), 0)
    assert ack == (1_120_000, "client", "A", seq_add(x, 1), seq_add(y, 1), 0)
    # the fault took the first SYN on the wire; the server saw only the retransmission
    assert run.drops() == [(100_000, "client", "S", "fault: drop #1 (flags_are('S') & from_host('client'))")]
    assert run.received("server") == [(1_110_000, "server", "S", x, 0, 0),
                                      (1_130_000, "server", "A", seq_add(x, 1), seq_add(y, 1), 0)]
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (1_120_000, "SYN-SENT", "ESTABLISHED")]
    assert run.state_times("server") == [(1_110_000, "LISTEN", "SYN-RECEIVED"),
                                         (1_130_000, "SYN-RECEIVED", "ESTABLISHED")]


def test_lost_syn_counters_and_rto_fallback() -> None:
    run = get("lost-syn").run(seed=1)[0]
    client = run.host("client").endpoint
    server = run.host("server").endpoint
    assert client.stats.syn_retransmits == 1
    assert server.stats.synack_retransmits == 0 and server.stats.passive_opens == 1
    assert not server.stats.dropped and not client.stats.dropped
    # RFC 6298 5.7: no RTT sample from a retransmitted SYN, so data starts with RTO 3 s
    (conn,) = client.connections
    assert conn.srtt is None and conn.rto == 3_000_000
    assert run.metrics == {"connect_ms": 1020.0, "client_rto_after_handshake_ms": 3000.0,
                           "syn_retransmits": 1.0}
    assert "1020 ms" in run.facts[1].en and "1020 毫秒" in run.facts[1].zh


def test_lost_syn_other_seed_same_shape() -> None:
    a = get("lost-syn").run(seed=1)[0].sent()
    b = get("lost-syn").run(seed=3)[0].sent()
    assert [(t, h, f) for t, h, f, *_ in a] == [(t, h, f) for t, h, f, *_ in b]
    assert a[0][3] != b[0][3] and b[1][3] == b[0][3]
