"""An old duplicate SYN after the connection ended: the three-way handshake lets the client
refuse it with RST; a naive two-way-handshake server keeps a phantom connection."""

from __future__ import annotations

from synack.core.errors import DropReason
from synack.core.seq import seq_add
from synack.core.state import State
from synack.core.trace import NoteRecord
from synack.scenarios import Run, get
from synack.scenarios.old_duplicate_syn import TwoWayServer

S = 1_000_000


def _runs(seed: int = 1) -> list[Run]:
    return get("old-duplicate-syn").run(seed=seed)


def _first_connection(run: Run) -> tuple[int, int]:
    """Check the first connection's ten segments (identical in both runs); return (x, y)."""
    sent = run.sent()
    x, y = sent[0][3], sent[2][3]
    assert sent[:10] == [
        (100_000, "client", "S", x, 0, 0),                         # stuck in the network for 70 s
        (1_100_000, "client", "S", x, 0, 0),                       # the retransmission
        (1_110_000, "server", "SA", y, seq_add(x, 1), 0),
        (1_120_000, "client", "A", seq_add(x, 1), seq_add(y, 1), 0),
        (1_500_000, "client", "PA", seq_add(x, 1), seq_add(y, 1), 5),
        (1_510_000, "server", "A", seq_add(y, 1), seq_add(x, 6), 0),
        (2_000_000, "client", "FA", seq_add(x, 6), seq_add(y, 1), 0),
        (2_010_000, "server", "A", seq_add(y, 1), seq_add(x, 7), 0),
        (2_010_000, "server", "FA", seq_add(y, 1), seq_add(x, 7), 0),
        (2_020_000, "client", "A", seq_add(x, 7), seq_add(y, 2), 0),
    ]
    # the client's side of it, ending with TIME-WAIT (60 s) well before the old SYN arrives
    assert run.state_times("client") == [
        (100_000, "CLOSED", "SYN-SENT"), (1_120_000, "SYN-SENT", "ESTABLISHED"),
        (2_000_000, "ESTABLISHED", "FIN-WAIT-1"), (2_020_000, "FIN-WAIT-1", "FIN-WAIT-2"),
        (2_020_000, "FIN-WAIT-2", "TIME-WAIT"), (62_020_000, "TIME-WAIT", "CLOSED")]
    # the old SYN: the very first one, delivered 70 s late
    assert run.received("server")[0] == (1_110_000, "server", "S", x, 0, 0)
    assert next(r for r in run.received("server") if r[0] > 62 * S) == (70_110_000, "server", "S", x, 0, 0)
    return x, y


def test_three_way_old_syn_is_reset() -> None:
    run = _runs()[0]
    x, _y = _first_connection(run)
    sent = run.sent()
    assert len(sent) == 12
    y2 = sent[10][3]
    assert sent[10:] == [(70_110_000, "server", "SA", y2, seq_add(x, 1), 0),
                         # no TCB: <SEQ=SEG.ACK><CTL=RST>, which is the entry's RCV.NXT
                         (70_120_000, "client", "R", seq_add(x, 1), 0, 0)]
    assert run.drops() == [(70_120_000, "client", "SA", DropReason.NO_CONNECTION.value)]
    assert run.state_times("server") == [
        (1_110_000, "LISTEN", "SYN-RECEIVED"), (1_130_000, "SYN-RECEIVED", "ESTABLISHED"),
        (2_010_000, "ESTABLISHED", "CLOSE-WAIT"), (2_010_000, "CLOSE-WAIT", "LAST-ACK"),
        (2_030_000, "LAST-ACK", "CLOSED"),
        (70_110_000, "LISTEN", "SYN-RECEIVED"), (70_130_000, "SYN-RECEIVED", "CLOSED")]


def test_three_way_nothing_held() -> None:
    run = _runs()[0]
    server = run.host("server").endpoint
    client = run.host("client").endpoint
    assert server.connections == [] and client.connections == []
    (listener,) = server.listeners
    assert listener.syn_queue_len == 0 and listener.accept_queue_len == 0
    assert listener.next_timeout() is None  # no SYN-ACK retransmission pending
    assert server.stats.resets_received == 1 and server.stats.synack_retransmits == 0
    assert server.stats.passive_opens == 2 and client.stats.resets_sent == 1
    assert run.metrics == {"half_open_ms": 20.0, "accepted": 1.0, "server_connections_end": 0.0,
                           "syn_queue_end": 0.0, "bytes_delivered": 5.0}
    assert "20 ms" in run.facts[2].en


def test_two_way_model_holds_a_phantom() -> None:
    run = _runs()[1]
    x, _y = _first_connection(run)
    sent = run.sent()
    assert len(sent) == 12
    y2 = sent[10][3]
    assert sent[10:] == [(70_110_000, "server", "SA", y2, seq_add(x, 1), 0),
                         (70_120_000, "client", "R", seq_add(x, 1), 0, 0)]
    # ESTABLISHED at once (no SYN-RECEIVED), and never anything after it
    assert run.state_times("server") == [
        (1_110_000, "LISTEN", "ESTABLISHED"), (2_010_000, "ESTABLISHED", "CLOSE-WAIT"),
        (2_010_000, "CLOSE-WAIT", "LAST-ACK"), (2_030_000, "LAST-ACK", "CLOSED"),
        (70_110_000, "LISTEN", "ESTABLISHED")]
    naive = run.host("server").endpoint
    assert isinstance(naive, TwoWayServer)
    (phantom,) = naive.connections.values()
    assert phantom.state is State.ESTABLISHED and phantom.irs == x and phantom.iss == y2
    assert phantom.received == bytearray()
    assert [bytes(c.received) for c in naive.accepted] == [b"hello", b""]
    assert naive.resets_ignored == 1
    notes = [(r.t_us, r.text) for r in run.records if isinstance(r, NoteRecord) and r.host == "server"]
    assert notes[-1] == (70_130_000, "two-way server: RST ignored, the connection stays ESTABLISHED")
    assert run.metrics == {"phantom_connections": 1.0, "accepted": 2.0, "resets_ignored": 1.0}


def test_other_seed_same_story() -> None:
    for run in _runs(seed=9):
        _first_connection(run)
        assert [s[2] for s in run.sent()[10:]] == ["SA", "R"]


def test_netstat_after_the_old_syn() -> None:
    three, two = _runs()
    assert three.netstat_time == two.netstat_time == 71 * S
    assert three.netstat["client"] == [] and two.netstat["client"] == []
    assert [(r.state, r.syn_q, r.recv_q) for r in three.netstat["server"]] == [("LISTEN", 0, 0)]
    (phantom,) = two.host("server").endpoint.connections.values()
    peer = f"{phantom.remote[0]}:{phantom.remote[1]}"
    assert [(r.state, r.remote) for r in two.netstat["server"]] == [("LISTEN", "*:*"), ("ESTABLISHED", peer)]
