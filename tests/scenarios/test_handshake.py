"""The three-way handshake: exact segments and states on both sides."""

from __future__ import annotations

from synack.core.seq import seq_add
from synack.scenarios import get


def test_handshake_segments_and_states() -> None:
    run = get("handshake").run(seed=1)[0]
    sent = run.sent()
    assert len(sent) == 3
    (t1, h1, f1, x, a1, l1), (t2, h2, f2, y, a2, l2), (t3, h3, f3, s3, a3, l3) = sent
    # SYN seq=x → SYN-ACK seq=y ack=x+1 → ACK seq=x+1 ack=y+1, one link delay (10 ms) apart
    assert (t1, h1, f1, a1, l1) == (100_000, "client", "S", 0, 0)
    assert (t2, h2, f2, a2, l2) == (110_000, "server", "SA", seq_add(x, 1), 0)
    assert (t3, h3, f3, s3, a3, l3) == (120_000, "client", "A", seq_add(x, 1), seq_add(y, 1), 0)
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (120_000, "SYN-SENT", "ESTABLISHED")]
    assert run.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                         (130_000, "SYN-RECEIVED", "ESTABLISHED")]


def test_handshake_options_negotiated() -> None:
    run = get("handshake").run(seed=1)[0]
    client = run.host("client").endpoint.connections[0]
    server = run.host("server").endpoint.connections[0]
    assert client.snd_mss == server.snd_mss == 1460
    assert client.snd_wscale == server.snd_wscale == 7
    assert client.sack_ok and server.sack_ok


def test_handshake_seed_changes_isns_only() -> None:
    a = get("handshake").run(seed=1)[0].sent()
    b = get("handshake").run(seed=2)[0].sent()
    assert [(t, h, f) for t, h, f, *_ in a] == [(t, h, f) for t, h, f, *_ in b]
    assert a[0][3] != b[0][3]
