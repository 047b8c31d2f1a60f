"""A delayed segment of an old connection arriving after its 4-tuple is reused: gone
before reuse with TIME-WAIT; refused by the ISN clock, or accepted and corrupting the
new connection, without it."""

from __future__ import annotations

from synack.core.errors import DropReason
from synack.core.seq import seq_add, seq_sub
from synack.scenarios import Run, get

Seg = tuple[int, str, str, int, int, int]


def relative(run: Run, second_from: int) -> tuple[list[Seg], list[tuple[int, int]]]:
    """Segments sent, seq/ack relative to the ISNs of their connection: the first one
    before ``second_from`` µs, the second after (x client, y server; raw 0 without ACK).
    Also returns the ISN pairs ``[(x1, y1), (x2, y2)]``."""
    sent = run.sent()
    isns = []
    for lo, hi in ((0, second_from), (second_from, 1 << 62)):
        part = [s for s in sent if lo <= s[0] < hi]
        isns.append((next(s[3] for s in part if s[1] == "client" and s[2] == "S"),
                     next(s[3] for s in part if s[1] == "server" and s[2] == "SA")))
    out = []
    for t, host, flags, seq, ack, n in sent:
        x, y = isns[0] if t < second_from else isns[1]
        mine, theirs = (x, y) if host == "client" else (y, x)
        out.append((t, host, flags, seq_sub(seq, mine), seq_sub(ack, theirs) if "A" in flags else ack, n))
    return out, isns


#: The first connection, the same in every run: its first data segment is held in the
#: network (it shows as sent at 0.2 s), retransmitted after the 200 ms RTO, then a close.
FIRST: list[Seg] = [
    (100_000, "client", "S", 0, 0, 0),
    (110_000, "server", "SA", 0, 1, 0),
    (120_000, "client", "A", 1, 1, 0),
    (200_000, "client", "PA", 1, 1, 8),       # "SET x=1\n": held for 0.89 s
    (400_000, "client", "PA", 1, 1, 8),       # the retransmission gets through
    (410_000, "server", "A", 1, 9, 0),
    (500_000, "client", "FA", 9, 1, 0),
    (510_000, "server", "A", 1, 10, 0),
    (510_000, "server", "FA", 1, 10, 0),
    (520_000, "client", "A", 10, 2, 0),
]
FIRST_CLIENT_STATES = [
    (100_000, "CLOSED", "SYN-SENT"),
    (120_000, "SYN-SENT", "ESTABLISHED"),
    (500_000, "ESTABLISHED", "FIN-WAIT-1"),
    (520_000, "FIN-WAIT-1", "FIN-WAIT-2"),
    (520_000, "FIN-WAIT-2", "TIME-WAIT"),
]
FIRST_SERVER_STATES = [
    (110_000, "LISTEN", "SYN-RECEIVED"),
    (130_000, "SYN-RECEIVED", "ESTABLISHED"),
    (510_000, "ESTABLISHED", "CLOSE-WAIT"),
    (510_000, "CLOSE-WAIT", "LAST-ACK"),
    (530_000, "LAST-ACK", "CLOSED"),
]


def second(t0: int) -> tuple[list[Seg], list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """A clean second connection opened at ``t0``: segments (after its handshake),
    client states and server states."""
    return ([(t0, "client", "S", 0, 0, 0),
             (t0 + 10_000, "server", "SA", 0, 1, 0),
             (t0 + 20_000, "client", "A", 1, 1, 0)],
            [(t0, "CLOSED", "SYN-SENT"), (t0 + 20_000, "SYN-SENT", "ESTABLISHED"),
             (t0 + 500_000, "ESTABLISHED", "FIN-WAIT-1"), (t0 + 520_000, "FIN-WAIT-1", "FIN-WAIT-2"),
             (t0 + 520_000, "FIN-WAIT-2", "TIME-WAIT")],
            [(t0 + 10_000, "LISTEN", "SYN-RECEIVED"), (t0 + 30_000, "SYN-RECEIVED", "ESTABLISHED"),
             (t0 + 510_000, "ESTABLISHED", "CLOSE-WAIT"), (t0 + 510_000, "CLOSE-WAIT", "LAST-ACK"),
             (t0 + 530_000, "LAST-ACK", "CLOSED")])


def close_of_second(t0: int) -> list[Seg]:
    """The close of a second connection opened at ``t0`` whose client sent 8 bytes."""
    return [(t0 + 500_000, "client", "FA", 9, 1, 0),
            (t0 + 510_000, "server", "A", 1, 10, 0),
            (t0 + 510_000, "server", "FA", 1, 10, 0),
            (t0 + 520_000, "client", "A", 10, 2, 0)]


def test_time_wait_respected_old_segment_dies_before_reuse() -> None:
    run = get("time-wait-old-segment").run(seed=1)[0]
    segs, isns = relative(run, 60_520_000)
    hand, cstates, sstates = second(60_520_000)
    assert segs == [
        *FIRST,
        # 1.1 s: the held segment reaches a server with no such connection: RST <SEQ=SEG.ACK>
        (1_100_000, "server", "R", 1, 0, 0),
        # the new connection opens only when TIME-WAIT has ended
        *hand,
        (60_720_000, "client", "PA", 1, 1, 8),
        (60_730_000, "server", "A", 1, 9, 0),
        *close_of_second(60_520_000),
    ]
    (x1, y1), _ = isns
    # the held segment, as it arrived: the old connection's first data octet and ACK
    assert (1_100_000, "server", "PA", seq_add(x1, 1), seq_add(y1, 1), 8) in run.received("server")
    assert run.drops() == [(1_100_000, "server", "PA", "ack-to-listener"),
                           (1_110_000, "client", "R", "rst-out-of-window")]   # TIME-WAIT survives
    assert run.state_times("client") == [*FIRST_CLIENT_STATES, (60_520_000, "TIME-WAIT", "CLOSED"),
                                         *cstates, (121_040_000, "TIME-WAIT", "CLOSED")]
    assert run.state_times("server") == [*FIRST_SERVER_STATES, *sstates]
    assert run.metrics == {"reconnect_s": 60.52, "new_connection_intact": 1.0}
    assert [f.en for f in run.facts] == [
        "client: reconnecting from port 40000 at 1 s was refused by its own stack "
        "(192.0.2.1:40000 -> 192.0.2.2:80 exists): the old connection holds the 4-tuple in TIME-WAIT",
        "client: reconnected from port 40000 at 60.52 s",
        "the old segment (seq = old ISN + 1, 8 bytes) arrived at 1.1 s, while the client was still in "
        "TIME-WAIT and no new connection existed: the server answered it with RST (dropped: "
        "ack-to-listener); the TIME-WAIT dropped that RST (rst-out-of-window)",
        "server application read b'SET x=1\\n' on the old connection and b'SET x=2\\n' on the new one: "
        "intact",
    ]


def test_no_time_wait_isn_clock_refuses_old_segment() -> None:
    run = get("time-wait-old-segment").run(seed=1)[1]
    segs, ((x1, y1), (x2, y2)) = relative(run, 1_000_000)
    # RFC 6528: same 4-tuple, same hash, so the ISNs moved by 0.9 s / 4 µs
    assert seq_sub(x2, x1) == seq_sub(y2, y1) == 225_000
    hand, cstates, sstates = second(1_000_000)
    assert segs == [
        *FIRST, *hand,
        (1_100_000, "server", "A", 1, 1, 0),      # the old segment, refused: an ACK of RCV.NXT
        (1_200_000, "client", "PA", 1, 1, 8),
        (1_210_000, "server", "A", 1, 9, 0),
        *close_of_second(1_000_000),
    ]
    # the old segment, relative to the new connection: 225,000 below RCV.NXT
    old = [(t, seq_sub(seq, x2), n) for t, _h, _f, seq, _a, n in run.received("server") if t == 1_100_000]
    assert old == [(1_100_000, -224_999, 8)]
    assert run.drops() == []
    assert run.verdicts() == [(1_100_000, "server", "PA", "duplicate", "out-of-window")]
    assert run.state_times("client") == [*FIRST_CLIENT_STATES, (520_000, "TIME-WAIT", "CLOSED"),
                                         *cstates, (1_520_000, "TIME-WAIT", "CLOSED")]
    assert run.state_times("server") == [*FIRST_SERVER_STATES, *sstates]
    assert run.metrics == {"reconnect_s": 1.0, "new_connection_intact": 1.0}
    assert [f.en for f in run.facts] == [
        "client: reconnected from port 40000 at 1 s",
        "the old segment (seq = old ISN + 1, 8 bytes) arrived at 1.1 s, in the new connection, whose ISN "
        "is 225,000 higher (the ISN clock ran on): below the receive window, so refused (dropped: "
        "out-of-window) and answered with an ACK",
        "server application read b'SET x=1\\n' on the old connection and b'SET x=2\\n' on the new one: "
        "intact",
    ]


def test_no_time_wait_same_isns_old_segment_corrupts() -> None:
    run = get("time-wait-old-segment").run(seed=1)[2]
    segs, isns = relative(run, 1_000_000)
    assert isns == [(1000, 5000), (1000, 5000)]
    hand, cstates, sstates = second(1_000_000)
    assert segs == [
        *FIRST, *hand,
        (1_100_000, "server", "A", 1, 9, 0),      # the old segment, accepted: ACK of 8 bytes
        (1_110_000, "client", "A", 1, 1, 0),      # ... never sent: the client ACKs back
        (1_120_000, "server", "A", 1, 9, 0),      # an old sequence number: ACK again
        # 1.13 s: the client would answer again, but at most one such ACK per 500 ms
        (1_200_000, "client", "PA", 1, 1, 8),     # the real "SET x=2\n": old to the server,
        (1_210_000, "server", "A", 1, 9, 0),      # dropped, and ACKed at once (data: no limit)
        *close_of_second(1_000_000),
    ]
    assert run.drops() == [(1_110_000, "client", "A", "ack-of-unsent-data"),
                           (1_120_000, "server", "A", "out-of-window"),
                           (1_130_000, "client", "A", "out-of-window-ack-limit")]
    # the old data lies wholly below RCV.NXT: a duplicate to the stack, ACKed at once
    assert run.verdicts("server")[-1] == (1_210_000, "server", "PA", "duplicate", "out-of-window")
    assert run.host("server").endpoint.stats.dropped == {DropReason.OUT_OF_WINDOW: 2}
    assert run.host("client").endpoint.stats.dropped == {DropReason.ACK_OF_UNSENT: 2,
                                                         DropReason.OOW_ACK_LIMIT: 1}
    assert run.state_times("client") == [*FIRST_CLIENT_STATES, (520_000, "TIME-WAIT", "CLOSED"),
                                         *cstates, (1_520_000, "TIME-WAIT", "CLOSED")]
    assert run.state_times("server") == [*FIRST_SERVER_STATES, *sstates]
    assert run.metrics == {"reconnect_s": 1.0, "new_connection_intact": 0.0, "ack_loop_segments": 3.0}
    assert run.facts[2].en == ("server application read b'SET x=1\\n' on the old connection and "
                               "b'SET x=1\\n' on the new one: the client sent b'SET x=2\\n', the stream "
                               "is corrupted, silently")
    assert run.facts[1].en.endswith("its sequence number was exactly RCV.NXT, so it was accepted as the "
                                    "new connection's first bytes")
    assert run.facts[3].en.startswith("the two ends were out of step: 3 bare ACKs went back and forth "
                                      "from 1.1 s to 1.12 s")
