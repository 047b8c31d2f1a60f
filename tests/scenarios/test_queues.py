"""The two listener queues: accept queue full (ACK dropped or reset), SYN queue full (SYN
dropped, or answered with a SYN cookie), lengths in the netstat view."""

from __future__ import annotations

from synack.core.errors import DropReason
from synack.core.seq import seq_add
from synack.core.trace import SegmentRecord, StateRecord
from synack.scenarios import Run, get

S = 1_000_000


def _runs() -> list[Run]:
    return get("queues").run(seed=1)


def _states_by_conn(run: Run, host: str) -> dict[str, list[tuple[int, str, str]]]:
    """State changes of ``host`` per peer endpoint (the remote "addr:port")."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for r in run.records:
        if isinstance(r, StateRecord) and r.host == host:
            out.setdefault(r.remote, []).append((r.t_us, r.old.value, r.new.value))
    return out


def test_accept_queue_full_drops_the_final_ack() -> None:
    # backlog 2: the accept queue holds 3 (Linux sk_acceptq_is_full: length > backlog)
    run = _runs()[0]
    sent = run.sent()
    syns = [s for s in sent if s[2] == "S"]
    assert [s[0] for s in syns] == [100_000, 110_000, 120_000, 135_000]
    x1, x2, x3, x4 = (s[3] for s in syns)
    synacks = {s[4]: s for s in sent if s[2] == "SA"}
    y1, y2, y3, y4 = (synacks[seq_add(x, 1)][3] for x in (x1, x2, x3, x4))
    assert sent[:12] == [
        (100_000, "client", "S", x1, 0, 0),
        (110_000, "client", "S", x2, 0, 0),
        (110_000, "server", "SA", y1, seq_add(x1, 1), 0),
        (120_000, "client", "S", x3, 0, 0),
        (120_000, "server", "SA", y2, seq_add(x2, 1), 0),
        (120_000, "client", "A", seq_add(x1, 1), seq_add(y1, 1), 0),
        (130_000, "server", "SA", y3, seq_add(x3, 1), 0),
        (130_000, "client", "A", seq_add(x2, 1), seq_add(y2, 1), 0),
        (135_000, "client", "S", x4, 0, 0),          # arrives at 145 ms: accept queue 2/2, room for one
        (140_000, "client", "A", seq_add(x3, 1), seq_add(y3, 1), 0),   # fills it (3) at 150 ms
        (145_000, "server", "SA", y4, seq_add(x4, 1), 0),
        (155_000, "client", "A", seq_add(x4, 1), seq_add(y4, 1), 0),   # dropped at 165 ms
    ]
    # the half-open entry resends its SYN-ACK; the (ESTABLISHED) client repeats its ACK
    again = [(t, "server", "SA", y4, seq_add(x4, 1), 0) for t in (1_145_000, 3_145_000, 7_145_000,
                                                                  15_145_000, 31_145_000)]
    acks = [(t + 10_000, "client", "A", seq_add(x4, 1), seq_add(y4, 1), 0) for t, *_ in again]
    assert sent[12:22] == [s for pair in zip(again, acks, strict=True) for s in pair]
    # at 64 s the client writes; the server has forgotten the connection: RST seq=SEG.ACK
    assert sent[22:] == [(64 * S, "client", "PA", seq_add(x4, 1), seq_add(y4, 1), 5),
                         (64 * S + 10_000, "server", "R", seq_add(y4, 1), 0, 0)]
    assert [d for d in run.drops("server")] == \
        [(t, "server", "A", "accept-queue-full") for t in (165_000, 1_165_000, 3_165_000, 7_165_000,
                                                           15_165_000, 31_165_000)] + \
        [(64 * S + 10_000, "server", "PA", "ack-to-listener")]


def test_accept_queue_full_states() -> None:
    run = _runs()[0]
    server_states = _states_by_conn(run, "server")
    first, second, third, fourth = sorted(server_states, key=lambda k: server_states[k][0][0])
    assert [server_states[k] for k in (first, second, third)] == [
        [(110_000, "LISTEN", "SYN-RECEIVED"), (130_000, "SYN-RECEIVED", "ESTABLISHED")],
        [(120_000, "LISTEN", "SYN-RECEIVED"), (140_000, "SYN-RECEIVED", "ESTABLISHED")],
        [(130_000, "LISTEN", "SYN-RECEIVED"), (150_000, "SYN-RECEIVED", "ESTABLISHED")],
    ]
    # the fourth never reaches ESTABLISHED on the server: its entry is dropped at 63 s
    assert server_states[fourth] == [(145_000, "LISTEN", "SYN-RECEIVED"),
                                     (63_145_000, "SYN-RECEIVED", "CLOSED")]
    # ... while the client's fourth connection is ESTABLISHED from 155 ms until the RST
    by_port: dict[str, list[tuple[int, str, str]]] = {}
    for r in run.records:
        if isinstance(r, StateRecord) and r.host == "client":
            by_port.setdefault(r.local, []).append((r.t_us, r.old.value, r.new.value))
    assert [by_port[k] for k in (first, second, third, fourth)] == [
        [(100_000, "CLOSED", "SYN-SENT"), (120_000, "SYN-SENT", "ESTABLISHED")],
        [(110_000, "CLOSED", "SYN-SENT"), (130_000, "SYN-SENT", "ESTABLISHED")],
        [(120_000, "CLOSED", "SYN-SENT"), (140_000, "SYN-SENT", "ESTABLISHED")],
        [(135_000, "CLOSED", "SYN-SENT"), (155_000, "SYN-SENT", "ESTABLISHED"),
         (64_020_000, "ESTABLISHED", "CLOSED")],
    ]


def test_accept_queue_full_counters_and_netstat() -> None:
    run = _runs()[0]
    server = run.host("server").endpoint
    assert server.stats.listen_overflows == 6
    assert server.stats.dropped[DropReason.ACCEPT_QUEUE_FULL] == 6
    assert server.stats.synack_retransmits == 5 and server.stats.timeouts == 1
    assert run.host("client").endpoint.stats.resets_received == 1
    assert run.metrics == {"accept_queue": 3.0, "syn_queue": 1.0, "client_established": 4.0,
                           "server_established": 3.0, "acks_dropped": 6.0, "synack_retransmits": 5.0,
                           "resets_sent": 1.0}
    assert run.netstat_time == 500_000
    rows = run.netstat["server"]
    # Recv-Q 3 over Send-Q 2: ss shows a Linux listener holding backlog + 1 the same way
    assert [(r.state, r.recv_q, r.send_q, r.syn_q) for r in rows] == \
        [("LISTEN", 3, 2, 1), ("SYN-RECV", 0, 0, 0)] + [("ESTABLISHED", 0, 0, 0)] * 3
    assert [r.state for r in run.netstat["client"]] == ["ESTABLISHED"] * 4
    # the application never accepted: all three still queued at the end
    (listener,) = server.listeners
    assert listener.accept_queue_len == 3 and listener.syn_queue_len == 0


def test_abort_on_overflow_resets_the_fourth() -> None:
    run = _runs()[1]
    sent = run.sent()
    x4 = [s for s in sent if s[2] == "S"][3][3]
    y4 = next(s for s in sent if s[2] == "SA" and s[4] == seq_add(x4, 1))[3]
    assert sent[-2:] == [(155_000, "client", "A", seq_add(x4, 1), seq_add(y4, 1), 0),
                         (165_000, "server", "R", seq_add(y4, 1), 0, 0)]
    assert run.drops() == [(165_000, "server", "A", "accept-queue-full")]
    assert run.state_times("server")[-1] == (165_000, "SYN-RECEIVED", "CLOSED")
    assert run.state_times("client")[-1] == (175_000, "ESTABLISHED", "CLOSED")
    assert not [s for s in sent if s[0] > 165_000]  # no SYN-ACK retransmission: the entry is gone
    assert run.metrics["acks_dropped"] == 1.0 and run.metrics["synack_retransmits"] == 0.0
    assert run.metrics["client_established"] == 3.0
    assert next((r.state, r.recv_q, r.syn_q) for r in run.netstat["server"]) == ("LISTEN", 3, 0)


def test_syn_queue_full_without_cookies_drops_syns() -> None:
    run = _runs()[2]
    x = run.sent("client")[0][3]
    syn_times = [100_000, 1_100_000, 3_100_000, 7_100_000, 15_100_000, 31_100_000, 63_100_000]
    assert [s for s in run.sent("client") if s[2] == "S"] == [(t, "client", "S", x, 0, 0) for t in syn_times]
    assert [d for d in run.drops("server") if d[3] == "syn-queue-full"] == \
        [(t + 10_000, "server", "S", "syn-queue-full") for t in syn_times[:-1]]
    # the spoofed entries time out at 63 s; the last retransmission gets in
    removed = [r for r in run.state_times("server") if r[2] == "CLOSED"]
    assert removed == [(63 * S, "SYN-RECEIVED", "CLOSED")] * 2
    synack = [s for s in run.sent("server") if s[4] == seq_add(x, 1)]
    assert len(synack) == 1
    y = synack[0][3]
    assert synack[0] == (63_110_000, "server", "SA", y, seq_add(x, 1), 0)
    assert run.sent("client")[-1] == (63_120_000, "client", "A", seq_add(x, 1), seq_add(y, 1), 0)
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (63_120_000, "SYN-SENT", "ESTABLISHED")]
    assert run.state_times("server")[-2:] == [(63_110_000, "LISTEN", "SYN-RECEIVED"),
                                              (63_130_000, "SYN-RECEIVED", "ESTABLISHED")]
    stats = run.host("server").endpoint.stats
    assert stats.dropped[DropReason.SYN_QUEUE_FULL] == 6 and stats.listen_drops == 6
    assert stats.syncookies_sent == 0
    assert run.metrics == {"syn_queue": 2.0, "syns_dropped": 6.0, "syncookies_sent": 0.0,
                           "syncookies_accepted": 0.0, "connect_ms": 63020.0}
    rows = run.netstat["server"]
    assert [(r.state, r.remote, r.syn_q) for r in rows] == [
        ("LISTEN", "*:*", 2), ("SYN-RECV", "198.51.100.1:40000", 0), ("SYN-RECV", "198.51.100.2:40001", 0)]
    assert [r.state for r in run.netstat["client"]] == ["SYN-SENT"]


def test_syn_queue_full_with_cookies_connects_at_once() -> None:
    run = _runs()[3]
    x = run.sent("client")[0][3]
    mine = [s for s in run.sent() if s[1] == "client" or s[4] == seq_add(x, 1)]
    assert len(mine) == 3
    y = mine[1][3]
    assert mine == [(100_000, "client", "S", x, 0, 0), (110_000, "server", "SA", y, seq_add(x, 1), 0),
                    (120_000, "client", "A", seq_add(x, 1), seq_add(y, 1), 0)]
    syn_ack = next(r.seg for r in run.records if isinstance(r, SegmentRecord) and r.event == "send"
               and r.seg is not None and r.seg.ack == seq_add(x, 1))
    # a cookie SYN-ACK offers no window scaling and no SACK: it could not remember them
    opts = syn_ack.options
    assert (opts.mss, opts.wscale, opts.sack_permitted) == (1460, None, False)
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                         (120_000, "SYN-SENT", "ESTABLISHED")]
    # no SYN-RECEIVED entry was ever made for the client: the connection is born at the ACK
    states = _states_by_conn(run, "server")
    assert states[run.netstat["client"][0].local] == [(130_000, "SYN-RECEIVED", "ESTABLISHED")]
    server = run.host("server").endpoint
    conn = next(c for c in server.connections if c.remote_addr == "192.0.2.1")
    assert (conn.snd_mss, conn.snd_wscale, conn.sack_ok) == (1460, 0, False)
    assert server.stats.syncookies_sent == 1 and server.stats.syncookies_accepted == 1
    assert not server.stats.dropped
    assert run.metrics == {"syn_queue": 2.0, "syns_dropped": 0.0, "syncookies_sent": 1.0,
                           "syncookies_accepted": 1.0, "connect_ms": 20.0}
    assert next((r.state, r.recv_q, r.syn_q) for r in run.netstat["server"]) == ("LISTEN", 1, 2)
