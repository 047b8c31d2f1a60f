"""The ladder view, from hand-built trace records."""

from __future__ import annotations

import itertools
from typing import Any

from synack.core.errors import DropReason
from synack.core.state import State
from synack.core.timers import Timer
from synack.core.trace import (
    Loss,
    NoteRecord,
    SegmentRecord,
    StateRecord,
    TimerAction,
    TimerRecord,
    TraceRecord,
    Verdict,
)
from synack.core.wire import ACK, FIN, NO_OPTIONS, PSH, SYN, Options, Segment
from synack.views.ladder import ladder_text, render_ladder

C, S = "10.0.0.1", "10.0.0.2"
CE, SE = "10.0.0.1:40000", "10.0.0.2:80"
X, Y = 1000, 5000
SYN_OPTS = Options(mss=1460, wscale=7, sack_permitted=True)
MS = 1000


def seg(sender: str, flags: int, seq: int, ack: int = 0, *, payload: bytes = b"",
        options: Options = NO_OPTIONS) -> Segment:
    ports = (40000, 80) if sender == "client" else (80, 40000)
    return Segment(ports[0], ports[1], seq, ack, flags, 65535, options, payload)


_ids = itertools.count(1)


def flight(t: int, sender: str, s: Segment, *, delay: int = 10 * MS, fate: str | None = None,
           refused: str | None = None, verdict: Verdict = Verdict.ACCEPTED, reason: str | None = None,
           fid: int | None = None) -> list[TraceRecord]:
    """A send and what became of it, under one flight id: lost in the network
    (``fate``: a Loss, maybe with a detail after ": "), dropped by the receiving stack
    (``refused``: a DropReason), or received with ``verdict`` (and ``reason``)."""
    receiver = "server" if sender == "client" else "client"
    src, dst = (C, S) if sender == "client" else (S, C)
    n = next(_ids) if fid is None else fid
    out: list[TraceRecord] = [SegmentRecord(t, sender, "send", src, dst, s, flight=n)]
    if fate is not None:   # the link's record: the sending host's, at the send
        loss, _, detail = fate.partition(": ")
        out.append(SegmentRecord(t, sender, "drop", src, dst, s, Loss(loss), n, Verdict.LOST, detail or None))
    elif refused is not None:
        why = DropReason(refused)
        out.append(SegmentRecord(t + delay, receiver, "recv", src, dst, s, why, n, Verdict.DROPPED))
        out.append(SegmentRecord(t + delay, receiver, "drop", src, dst, s, why, n, Verdict.DROPPED))
    else:
        out.append(SegmentRecord(t + delay, receiver, "recv", src, dst, s,
                                 None if reason is None else DropReason(reason), n, verdict))
    return out


def state(t: int, host: str, old: State, new: State) -> StateRecord:
    local, remote = (CE, SE) if host == "client" else (SE, CE)
    return StateRecord(t, host, local, remote, old, new)


def handshake(t: int = 0) -> list[TraceRecord]:
    return [
        NoteRecord(t, "client", "connect()"),
        state(t, "client", State.CLOSED, State.SYN_SENT),
        *flight(t, "client", seg("client", SYN, X, options=SYN_OPTS)),
        state(t + 10 * MS, "server", State.LISTEN, State.SYN_RECEIVED),
        *flight(t + 10 * MS, "server", seg("server", SYN | ACK, Y, X + 1, options=SYN_OPTS)),
        state(t + 20 * MS, "client", State.SYN_SENT, State.ESTABLISHED),
        *flight(t + 20 * MS, "client", seg("client", ACK, X + 1, Y + 1)),
        state(t + 30 * MS, "server", State.SYN_RECEIVED, State.ESTABLISHED),
    ]


def close(t: int) -> list[TraceRecord]:
    return [
        NoteRecord(t, "client", "close()"),
        state(t, "client", State.ESTABLISHED, State.FIN_WAIT_1),
        *flight(t, "client", seg("client", FIN | ACK, X + 1, Y + 1)),
        state(t + 10 * MS, "server", State.ESTABLISHED, State.CLOSE_WAIT),
        *flight(t + 10 * MS, "server", seg("server", ACK, Y + 1, X + 2)),
        state(t + 20 * MS, "client", State.FIN_WAIT_1, State.FIN_WAIT_2),
        NoteRecord(t + 500 * MS, "server", "close()"),
        state(t + 500 * MS, "server", State.CLOSE_WAIT, State.LAST_ACK),
        *flight(t + 500 * MS, "server", seg("server", FIN | ACK, Y + 1, X + 2)),
        state(t + 510 * MS, "client", State.FIN_WAIT_2, State.TIME_WAIT),
        TimerRecord(t + 510 * MS, "client", CE, SE, Timer.TIME_WAIT, TimerAction.ARMED, t + 60_510 * MS),
        *flight(t + 510 * MS, "client", seg("client", ACK, X + 2, Y + 2)),
        state(t + 520 * MS, "server", State.LAST_ACK, State.CLOSED),
        TimerRecord(t + 60_510 * MS, "client", CE, SE, Timer.TIME_WAIT, TimerAction.FIRED),
        state(t + 60_510 * MS, "client", State.TIME_WAIT, State.CLOSED),
    ]


def ladder(records: list[TraceRecord], **kw: Any) -> list[str]:
    records = sorted(records, key=lambda r: r.t_us)
    return ladder_text(records, "client", "server", **kw).splitlines()


def find(lines: list[str], needle: str, start: int = 0) -> int:
    """The index of the first line at or after ``start`` containing ``needle``."""
    for i in range(start, len(lines)):
        if needle in lines[i]:
            return i
    raise AssertionError(f"{needle!r} not found in:\n" + "\n".join(lines))


def at(line: str, time: str) -> bool:
    """The line is the first row of its time, ``time``."""
    return line.lstrip().startswith(time + " ")


def left_of_lifeline(line: str, word: str) -> bool:
    """``word`` stands on the left host's side (before the first lifeline)."""
    first = min(i for i, ch in enumerate(line) if ch in "│├┤┆")
    return line.index(word) < first


def right_of_lifeline(line: str, word: str) -> bool:
    last = max(i for i, ch in enumerate(line) if ch in "│├┤┆")
    return line.rindex(word) > last


# -- the handshake ------------------------------------------------------------------------
def test_handshake_arrows_point_the_right_way_in_order() -> None:
    lines = ladder(handshake())
    syn = find(lines, "SYN seq=1000")
    synack = find(lines, "SYN,ACK seq=5000 ack=1001")
    ack = find(lines, "ACK seq=1001 ack=5001")
    assert syn < synack < ack
    assert "├───" in lines[syn] and lines[syn].endswith("▶│")
    assert "│◀──" in lines[synack] and "───┤" in lines[synack]
    assert "├───" in lines[ack] and "▶│" in lines[ack]
    assert "✗" not in "\n".join(lines)


def test_handshake_header_names_and_addresses() -> None:
    lines = ladder(handshake(), title="three-way handshake")
    assert lines[0].strip() == "three-way handshake"
    assert lines[1].split() == ["client", "server"]
    assert lines[2].split() == [CE, SE]


def test_handshake_states_stand_on_their_hosts_side_at_their_time() -> None:
    lines = ladder(handshake())
    initial = lines[2]
    assert left_of_lifeline(initial, "CLOSED") and right_of_lifeline(initial, "LISTEN")
    syn_sent = find(lines, "SYN-SENT")
    assert left_of_lifeline(lines[syn_sent], "SYN-SENT")
    # SYN-SENT beside the connect() note, the SYN on the next row of the same time.
    assert "app: connect()" in lines[syn_sent] and at(lines[syn_sent], "0.000s")
    assert find(lines, "SYN seq=1000") == syn_sent + 1
    # The server's SYN-RCVD is beside the SYN-ACK it sends at 10 ms.
    synack = find(lines, "SYN,ACK")
    assert right_of_lifeline(lines[synack], "SYN-RCVD") and at(lines[synack], "0.010s")
    # The client's ESTABLISHED is beside its ACK; the server's on its own row at 30 ms.
    ack = find(lines, "ACK seq=1001")
    assert left_of_lifeline(lines[ack], "ESTABLISHED") and at(lines[ack], "0.020s")
    est = find(lines, "ESTABLISHED", ack + 1)
    assert right_of_lifeline(lines[est], "ESTABLISHED") and at(lines[est], "0.030s")


def test_options_stand_under_the_label() -> None:
    lines = ladder(handshake())
    syn = find(lines, "SYN seq=1000")
    assert lines[syn + 1].strip(" │") == "<mss 1460,sackOK,wscale 7>"
    assert lines[syn + 1].index("<") == lines[syn].index("SYN seq")


def test_relative_sequence_numbers_like_wireshark() -> None:
    text = "\n".join(ladder(handshake(), relative_seq=True))
    assert "SYN seq=0 win=65535" in text
    assert "SYN,ACK seq=0 ack=1 win=65535" in text
    assert "ACK seq=1 ack=1 win=65535" in text


def test_data_segment_shows_its_length() -> None:
    data = seg("client", PSH | ACK, X + 1, Y + 1, payload=b"hello")
    recs = [*handshake(), *flight(40 * MS, "client", data)]
    lines = ladder(recs)
    assert "PSH,ACK seq=1001 ack=5001 len=5 win=65535" in lines[find(lines, "PSH,ACK")]


# -- loss, refusal, delay ------------------------------------------------------------------
def test_lost_syn_then_rto_and_retransmission() -> None:
    first = seg("client", SYN, X, options=SYN_OPTS)
    recs: list[TraceRecord] = [
        state(0, "client", State.CLOSED, State.SYN_SENT),
        *flight(0, "client", first, fate="fault: drop 1st SYN"),
        TimerRecord(1_000 * MS, "client", CE, SE, Timer.RETRANSMIT, TimerAction.FIRED),
        *flight(1_000 * MS, "client", first),
        state(1_010 * MS, "server", State.LISTEN, State.SYN_RECEIVED),
    ]
    lines = ladder(recs)
    lost = find(lines, "SYN seq=1000")
    assert "✗ lost" in lines[lost] and "▶" not in lines[lost]
    assert "fault: drop 1st SYN" in "\n".join(lines[lost + 1:lost + 3])
    rto = find(lines, "⏲ RTO fired")
    assert rto > lost and at(lines[rto], "1.000s")
    assert lines[rto].index("⏲") < len(lines[rto]) // 2   # on the client's side
    again = find(lines, "SYN seq=1000", rto)
    assert lines[again].endswith("▶│") and "✗" not in lines[again]


def test_send_without_receive_is_lost() -> None:
    recs: list[TraceRecord] = [SegmentRecord(0, "server", "send", S, C, seg("server", SYN | ACK, Y, X + 1),
                                             flight=1)]
    lines = ladder(recs)
    row = find(lines, "SYN,ACK")
    assert "lost ✗" in lines[row] and "◀" not in lines[row]


def test_refused_segment_reaches_the_host_and_says_why() -> None:
    recs = [*handshake(), *flight(40 * MS, "client", seg("client", ACK, X + 99999, Y + 1),
                                  refused="out-of-window")]
    lines = ladder(recs)
    row = find(lines, "seq=100999")
    assert lines[row].endswith("▶│") and "lost" not in lines[row]
    assert lines[row + 1].rstrip(" │").endswith("✗ dropped: out-of-window")
    assert "✗ dropped" not in "\n".join(lines[row + 2:])   # one mark: the drop record adds none


def test_delayed_segment_is_drawn_where_it_arrives() -> None:
    old = seg("client", SYN, X)
    recs: list[TraceRecord] = [
        SegmentRecord(0, "client", "send", C, S, old, flight=99),
        *handshake(1_000 * MS),
        *close(2_000 * MS),
        SegmentRecord(5_000 * MS, "server", "recv", C, S, old, None, 99, Verdict.ACCEPTED),
        state(5_000 * MS, "server", State.LISTEN, State.SYN_RECEIVED),
    ]
    lines = ladder(recs)
    depart = find(lines, "SYN seq=1000")
    assert at(lines[depart], "0.000s")
    assert "⇢ arrives 5.000s" in lines[depart] and "╌" in lines[depart]
    closed = find(lines, "CLOSED", find(lines, "LAST-ACK"))
    arrive = find(lines, "SYN seq=1000", closed)
    assert depart < closed < arrive
    assert "sent 0.000s" in lines[arrive] and lines[arrive].endswith("▶│ SYN-RCVD")


def test_notes_during_a_flight_do_not_split_it() -> None:
    recs = [*handshake(), *flight(100 * MS, "client", seg("client", ACK, X + 1, Y + 1, payload=b"x")),
            NoteRecord(105 * MS, "server", "read()")]
    lines = ladder(recs)
    row = find(lines, "len=1")
    assert lines[row].endswith("▶│") and "arrives" not in "\n".join(lines)


def test_duplicate_acks_pair_in_order() -> None:
    dup = seg("server", ACK, Y + 1, X + 1)
    recs = handshake()
    for i in range(3):
        recs += flight(100 * MS + i * MS, "server", dup)
    recs.append(state(110 * MS + 500, "client", State.ESTABLISHED, State.CLOSE_WAIT))
    lines = ladder(recs)
    first = find(lines, "ACK seq=5001", find(lines, "0.100000s"))
    assert lines[first].lstrip().startswith("0.100000s") and "arrives" not in lines[first]
    second = find(lines, "ACK seq=5001", first + 1)
    assert "arrives 0.111000s" in lines[second]   # it was in flight when CLOSE-WAIT came


# -- flights: every send paired with its arrivals by id ------------------------------------
ESTABLISHED_BOTH = [state(0, "client", State.CLOSED, State.ESTABLISHED),
                    state(0, "server", State.CLOSED, State.ESTABLISHED)]
DATA = Segment(40000, 80, 1, 1, PSH | ACK, 512, payload=b"x" * 10)
BARE_ACK = Segment(40000, 80, 1, 1, ACK, 512)


def picture(records: list[TraceRecord]) -> str:
    """The rows of a small ladder (80 columns), under its three header lines."""
    return "\n".join(ladder(records, width=80)[3:]) + "\n"


def test_identical_segments_in_flight_pair_by_flight_not_by_delay() -> None:
    # Two identical ACKs: the first takes 20 ms, the second 20 ms too, so the first to
    # arrive is the first sent.  (Pairing by the nearest delay took the second.)
    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        SegmentRecord(100 * MS, "client", "send", C, S, BARE_ACK, flight=1),
        SegmentRecord(105 * MS, "client", "send", C, S, BARE_ACK, flight=2),
        SegmentRecord(120 * MS, "server", "recv", C, S, BARE_ACK, None, 1, Verdict.ACCEPTED),
        state(122 * MS, "server", State.ESTABLISHED, State.CLOSE_WAIT),
        SegmentRecord(125 * MS, "server", "recv", C, S, BARE_ACK, None, 2, Verdict.ACCEPTED),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.100s              ├─── ACK seq=1 ack=1 win=512 ─────────────────▶│
0.105s              ├─── ACK seq=1 ack=1 ╌╌╌╌╌╌╌╌╌⇢ arrives 0.125s │
                    │    win=512                                   │
0.122s              │                                              │ CLOSE-WAIT
0.125s              │ sent 0.105s ╌╌╌ ACK seq=1 ack=1 win=512 ────▶│
"""


def test_a_copy_the_network_made_arrives_on_a_row_of_its_own() -> None:
    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        *flight(100 * MS, "client", DATA, fid=7),
        SegmentRecord(115 * MS, "server", "recv", C, S, DATA, DropReason.OUT_OF_WINDOW, 7, Verdict.DUPLICATE),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.100s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
0.115s              │ copy, sent 0.100s ╌╌╌ PSH,ACK seq=1 ack=1 ──▶│
                    │                       len=10 win=512         │
                    │                                    duplicate │
"""


def test_trimmed_and_duplicate_arrivals_are_marked() -> None:
    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        *flight(100 * MS, "client", DATA, verdict=Verdict.TRIMMED, reason="receive-buffer-full"),
        *flight(200 * MS, "client", DATA, verdict=Verdict.DUPLICATE, reason="out-of-window"),
        *flight(300 * MS, "client", DATA, verdict=Verdict.TRIMMED),   # its front had come before
        *flight(400 * MS, "client", DATA),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.100s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
                    │                 trimmed: receive-buffer-full │
0.200s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
                    │                                    duplicate │
0.300s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
                    │                                      trimmed │
0.400s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
"""


def test_a_network_loss_is_not_a_stack_drop() -> None:
    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        *flight(100 * MS, "client", DATA, fate="queue-full"),
        *flight(200 * MS, "client", DATA, refused="out-of-window"),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.100s              ├─── PSH,ACK seq=1 ack=1 len=10 ────✗ lost     │
                    │    win=512                                   │
                    │                                   queue-full │
0.200s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
                    │                     ✗ dropped: out-of-window │
"""


def test_a_loss_reported_late_ends_its_own_flight() -> None:
    # The first of two identical segments is lost further on, after the second left:
    # the loss is the first's, the arrival the second's.
    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        SegmentRecord(100 * MS, "client", "send", C, S, DATA, flight=1),
        SegmentRecord(101 * MS, "client", "send", C, S, DATA, flight=2),
        SegmentRecord(105 * MS, "router", "drop", C, S, DATA, Loss.LINK, 1, Verdict.LOST),
        SegmentRecord(111 * MS, "server", "recv", C, S, DATA, None, 2, Verdict.ACCEPTED),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.100s              ├─── PSH,ACK seq=1 ack=1 len=10 ────✗ lost     │
                    │    win=512                                   │
                    │                                   link-loss  │
0.101s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
"""


def test_a_corrupted_copy_is_paired_with_its_own_send() -> None:
    # The retransmission arrives corrupted before the held original: the bytes that did
    # not parse are the retransmission's (first in, first out would say the original's).
    none: Any = None
    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        SegmentRecord(100 * MS, "client", "send", C, S, DATA, flight=1),
        SegmentRecord(200 * MS, "client", "send", C, S, DATA, flight=2),
        SegmentRecord(210 * MS, "server", "drop", C, S, none, DropReason.BAD_CHECKSUM, 2, Verdict.DROPPED),
        SegmentRecord(300 * MS, "server", "recv", C, S, DATA, None, 1, Verdict.ACCEPTED),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.100s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
0.200s              ├─── PSH,ACK seq=1 ack=1 len=10 win=512 ──────▶│
                    │                      ✗ dropped: bad-checksum │
"""


def test_timers_are_named_by_their_kind() -> None:
    def timer(t: int, kind: Timer, action: TimerAction, deadline: int | None = None) -> TimerRecord:
        return TimerRecord(t, "client", CE, SE, kind, action, deadline)

    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        timer(100 * MS, Timer.DELAYED_ACK, TimerAction.ARMED, 140 * MS),    # too common to show
        timer(140 * MS, Timer.DELAYED_ACK, TimerAction.FIRED),
        timer(200 * MS, Timer.KEEPALIVE, TimerAction.ARMED, 7_200_200 * MS),
        timer(300 * MS, Timer.PERSIST, TimerAction.FIRED),
        timer(400 * MS, Timer.USER_TIMEOUT, TimerAction.GAVE_UP),
        timer(500 * MS, Timer.FIN_WAIT_2, TimerAction.FIRED),
        timer(600 * MS, Timer.RETRANSMIT, TimerAction.GAVE_UP),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.140s              │ ⏲ delayed ACK fired                          │
0.200s              │ ⏲ keepalive 7200s armed                      │
0.300s              │ ⏲ persist fired                              │
0.400s              │ ⏲ user timeout fired (gave up)               │
0.500s              │ ⏲ FIN-WAIT-2 expired                         │
0.600s              │ ⏲ RTO fired (gave up)                        │
"""


def test_a_segment_from_outside_comes_in_from_the_edge_and_its_answer_leaves() -> None:
    spoofed = Segment(5555, 80, 777, 0, SYN, 1024)
    reply = Segment(80, 5555, 9, 778, SYN | ACK, 1024)
    outside = "203.0.113.7"
    recs: list[TraceRecord] = [
        *ESTABLISHED_BOTH,
        SegmentRecord(100 * MS, "server", "recv", outside, S, spoofed, None, 40, Verdict.ACCEPTED),
        SegmentRecord(100 * MS, "server", "send", S, outside, reply, flight=41),
        SegmentRecord(100 * MS, "server", "drop", S, outside, reply, Loss.NO_ROUTE, 41, Verdict.LOST),
    ]
    assert picture(recs) == """\
0.000s  ESTABLISHED │                                              │ ESTABLISHED
0.100s              │ ⇢ from 203.0.113.7 ─── SYN seq=777 ─────────▶│
                    │                        win=1024              │
                    │     lost ✗───────── SYN,ACK seq=9 ack=778 ───┤
                    │                     win=1024                 │
                    │ to 203.0.113.7, no-route                     │
"""


# -- flight 0: records without flight ids (a real device's, hand-built) ------------------
def test_flight_0_retransmission_overtaking_a_held_original_pairs_by_delay() -> None:
    syn = seg("client", SYN, X)
    recs: list[TraceRecord] = [
        SegmentRecord(0, "client", "send", C, S, syn),                  # held for 5 s
        SegmentRecord(1_000 * MS, "client", "send", C, S, syn),         # the RTO's copy
        SegmentRecord(1_010 * MS, "server", "recv", C, S, syn),
        state(1_010 * MS, "server", State.LISTEN, State.SYN_RECEIVED),
        SegmentRecord(5_000 * MS, "server", "recv", C, S, syn),
    ]
    lines = ladder(recs)
    original = find(lines, "SYN seq=1000")
    assert at(lines[original], "0.000s") and "⇢ arrives 5.000s" in lines[original]
    copy = find(lines, "SYN seq=1000", original + 1)
    assert at(lines[copy], "1.000s") and lines[copy].endswith("▶│")
    late = find(lines, "SYN seq=1000", copy + 1)
    assert at(lines[late], "5.000s") and "sent 0.000s" in lines[late]


def test_flight_0_refused_without_a_receive_record() -> None:
    s = seg("client", ACK, 7, 7)
    recs: list[TraceRecord] = [SegmentRecord(0, "client", "send", C, S, s),
                               SegmentRecord(10 * MS, "server", "drop", C, S, s, DropReason.NO_CONNECTION, 0,
                                             Verdict.DROPPED)]
    lines = ladder(recs)
    row = find(lines, "ACK seq=7")
    assert lines[row].endswith("▶│")
    assert "✗ dropped: no-connection" in lines[row + 1]


def test_flight_0_malformed_segment_matches_its_send() -> None:
    none: Any = None   # the record of bytes that failed to parse carries no segment
    recs: list[TraceRecord] = [
        SegmentRecord(0, "client", "send", C, S, seg("client", SYN, X)),
        SegmentRecord(10 * MS, "server", "drop", C, S, none, DropReason.BAD_CHECKSUM, 0, Verdict.DROPPED),
    ]
    lines = ladder(recs)
    row = find(lines, "SYN seq=1000")
    assert lines[row].endswith("▶│")
    assert "✗ dropped: bad-checksum" in lines[row + 1]


def test_flight_0_second_arrival_is_a_copy() -> None:
    s = seg("client", ACK, X + 1, Y + 1)
    recs: list[TraceRecord] = [SegmentRecord(0, "client", "send", C, S, s),
                               SegmentRecord(10 * MS, "server", "recv", C, S, s),
                               SegmentRecord(15 * MS, "server", "recv", C, S, s)]
    lines = ladder(recs)
    first = find(lines, "ACK seq=1001")
    dup = find(lines, "ACK seq=1001", first + 1)
    assert "copy, sent 0.000s" in lines[dup] and at(lines[dup], "0.015s")


def test_options_can_be_left_out() -> None:
    text = "\n".join(ladder(handshake(), show_options=False))
    assert "mss" not in text and "SYN,ACK seq=5000" in text


def test_no_records_still_draws_the_header() -> None:
    assert ladder([])[0].split() == ["client", "server"]


def test_simultaneous_open_two_arrows_same_time() -> None:
    recs: list[TraceRecord] = [
        state(0, "client", State.CLOSED, State.SYN_SENT),
        state(0, "server", State.CLOSED, State.SYN_SENT),
        *flight(0, "client", seg("client", SYN, X)),
        *flight(0, "server", seg("server", SYN, Y)),
    ]
    lines = ladder(recs)
    a, b = find(lines, "SYN seq=1000"), find(lines, "SYN seq=5000")
    assert b == a + 1
    assert at(lines[a], "0.000s") and not at(lines[b], "0.000s")
    assert "▶" in lines[a] and "◀" in lines[b]
    assert left_of_lifeline(lines[a], "SYN-SENT") and right_of_lifeline(lines[a], "SYN-SENT")


# -- the close ------------------------------------------------------------------------------
def test_four_way_close() -> None:
    lines = ladder([*handshake(), *close(1_000 * MS)])
    fin1 = find(lines, "FIN,ACK seq=1001")
    ack1 = find(lines, "ACK seq=5001 ack=1002")
    fin2 = find(lines, "FIN,ACK seq=5001")
    ack2 = find(lines, "ACK seq=1002 ack=5002")
    assert fin1 < ack1 < fin2 < ack2
    assert "▶" in lines[fin1] and "◀" in lines[ack1] and "◀" in lines[fin2] and "▶" in lines[ack2]
    # The state changes beside the close() call, the FIN on the next row.
    assert left_of_lifeline(lines[fin1 - 1], "FIN-WAIT-1") and "app: close()" in lines[fin1 - 1]
    assert right_of_lifeline(lines[ack1], "CLOSE-WAIT")
    fw2 = find(lines, "FIN-WAIT-2")
    assert ack1 < fw2 < fin2 and left_of_lifeline(lines[fw2], "FIN-WAIT-2")
    assert right_of_lifeline(lines[fin2 - 1], "LAST-ACK") and "app: close()" in lines[fin2 - 1]
    tw = find(lines, "TIME-WAIT")
    assert left_of_lifeline(lines[tw], "TIME-WAIT") and "⏲ TIME-WAIT 60s armed" in lines[tw]
    assert ack2 == tw + 1
    closed = find(lines, "CLOSED", ack2)
    assert right_of_lifeline(lines[closed], "CLOSED") and at(lines[closed], "1.520s")
    expired = find(lines, "⏲ TIME-WAIT expired")
    assert at(lines[expired], "61.510s") and left_of_lifeline(lines[expired], "CLOSED")


# -- other hosts, long traces, colour --------------------------------------------------------
def test_foreign_sources_come_from_the_edge_and_other_hosts_are_skipped() -> None:
    spoofed = Segment(5555, 80, 777, 0, SYN, 1024)
    reply = Segment(80, 5555, 9, 778, SYN | ACK, 1024)
    recs = [
        *handshake(),
        SegmentRecord(50 * MS, "attacker", "send", "203.0.113.7", S, spoofed),
        NoteRecord(50 * MS, "attacker", "flood()"),
        SegmentRecord(60 * MS, "server", "recv", "203.0.113.7", S, spoofed),
        state(60 * MS, "server", State.LISTEN, State.SYN_RECEIVED),
        SegmentRecord(60 * MS, "server", "send", S, "203.0.113.7", reply),
    ]
    lines = ladder(recs)
    assert "flood()" not in "\n".join(lines)
    inbound = find(lines, "SYN seq=777")
    assert "⇢ from 203.0.113.7" in lines[inbound] and at(lines[inbound], "0.060s")
    assert lines[inbound].endswith("▶│ SYN-RCVD")
    outbound = find(lines, "SYN,ACK seq=9")
    assert "to 203.0.113.7 ⇠" in lines[outbound] and "lost" not in lines[outbound]
    # Two connections in the picture: the labels name the ports.
    assert "40000→80 SYN seq=1000" in lines[find(lines, "SYN seq=1000")]
    # And the header shows addresses without ports.
    assert lines[1].split() == [C, S] or lines[0].split() == ["client", "server"]


def test_long_ladder_elides_the_middle() -> None:
    recs = list(handshake())
    for i in range(50):
        recs += flight(100 * MS + i * MS, "client", seg("client", ACK, X + 1 + i, Y + 1))
    lines = ladder(recs, max_rows=10)
    full = ladder(recs)
    gap = find(lines, "rows …")
    body_rows = sum(1 for line in full[4:] if line[:7].strip() or "├" in line or "┤" in line or "◀" in line)
    assert body_rows > 10
    assert "… 45 rows …" in lines[gap]   # 55 rows: 5 kept above, 5 below
    assert "SYN seq=1000" in "\n".join(lines[:gap])
    assert "ACK seq=1050" in "\n".join(lines[gap:])
    assert "ACK seq=1020" not in "\n".join(lines)


def test_unknown_hosts_notes_and_links_do_not_appear() -> None:
    recs = [*handshake(), NoteRecord(5 * MS, "link", "link down")]
    assert "link down" not in "\n".join(ladder(recs))


def test_render_and_colour() -> None:
    recs = sorted(handshake(), key=lambda r: r.t_us)
    text = render_ladder(recs, "client", "server", width=80)
    assert "SYN,ACK" in text.plain
    assert any(span.style for span in text.spans)
    coloured = ladder_text(recs, "client", "server", color=True)
    assert "\x1b[" in coloured and "SYN" in coloured


def test_narrow_width_keeps_every_line_within_it() -> None:
    lines = ladder([*handshake(), *close(1_000 * MS)], width=72)
    assert max(len(line) for line in lines) <= 72
    assert "SYN,ACK" in "\n".join(lines)


def test_thousands_of_records() -> None:
    recs = list(handshake())
    for i in range(2000):
        recs += flight(100 * MS + i * MS, "client", seg("client", ACK, X + 1 + i, Y + 1))
    lines = ladder(recs, max_rows=40)
    assert len(lines) < 70


def test_relative_sequence_numbers_apply_to_sack_blocks_too() -> None:
    # A SACK block numbers the data sender's octets, as the ACK number does.
    held = seg("server", ACK, Y + 1, X + 1, options=Options(sack_blocks=((X + 2921, X + 4381),)))
    recs = [*handshake(), *flight(40 * MS, "server", held)]
    relative = "\n".join(ladder(recs, relative_seq=True))
    assert "ACK seq=1 ack=1 win=65535" in relative and "<sack 2921:4381>" in relative
    absolute = "\n".join(ladder(recs))
    assert f"<sack {X + 2921}:{X + 4381}>" in absolute
