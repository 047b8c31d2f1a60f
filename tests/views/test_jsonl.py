"""Trace records as JSON Lines: the exact object for each kind of record."""

from __future__ import annotations

import io
import json

import pytest

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
from synack.core.wire import ACK, FIN, PSH, RST, SYN, Options, Segment
from synack.views.jsonl import dumps, options_to_dict, record_to_dict, write_jsonl

C, S = "198.18.0.2", "198.18.0.1"
C6, S6 = "fd00:5ac::2", "fd00:5ac::1"
LINUX_SYN = Options(mss=1460, wscale=7, sack_permitted=True, timestamps=(3428412345, 0))


def test_syn_send() -> None:
    rec = SegmentRecord(1000, "client", "send", C, S, Segment(40000, 80, 100, 0, SYN, 64240, LINUX_SYN),
                        flight=7)
    assert record_to_dict(rec) == {
        "t_us": 1000, "host": "client", "event": "send",
        "src": "198.18.0.2:40000", "dst": "198.18.0.1:80",
        "flags": "S", "seq": 100, "ack": 0, "len": 0, "win": 64240,
        "options": {"mss": 1460, "wscale": 7, "sack_permitted": True, "timestamps": [3428412345, 0]},
        "flight": 7,
    }


def test_syn_ack_recv_over_ipv6() -> None:
    seg = Segment(80, 40000, 300, 101, SYN | ACK, 65160, Options(mss=1440, wscale=0))
    rec = SegmentRecord(1250, "client", "recv", S6, C6, seg, flight=8, verdict=Verdict.ACCEPTED)
    assert record_to_dict(rec) == {
        "t_us": 1250, "host": "client", "event": "recv",
        "src": "[fd00:5ac::1]:80", "dst": "[fd00:5ac::2]:40000",
        "flags": "SA", "seq": 300, "ack": 101, "len": 0, "win": 65160,
        "options": {"mss": 1440, "wscale": 0}, "flight": 8, "verdict": "accepted",
    }


def test_trimmed_arrival_carries_its_verdict_and_reason() -> None:
    seg = Segment(40000, 80, 100, 0, SYN, 64240, Options(mss=1460), b"GET /")
    rec = SegmentRecord(1300, "server", "recv", C, S, seg, DropReason.SYN_DATA, 9, Verdict.TRIMMED)
    out = record_to_dict(rec)
    assert (out["event"], out["flight"], out["verdict"], out["reason"]) == \
        ("recv", 9, "trimmed", "data-on-syn")


def test_data_segment_with_sack_blocks() -> None:
    seg = Segment(40000, 80, 101, 301, PSH | ACK, 502,
                  Options(timestamps=(7, 5), sack_blocks=((1000, 2000), (3000, 4000))), b"hello")
    rec = SegmentRecord(2000, "client", "send", C, S, seg, flight=10)
    assert record_to_dict(rec) == {
        "t_us": 2000, "host": "client", "event": "send",
        "src": "198.18.0.2:40000", "dst": "198.18.0.1:80",
        "flags": "PA", "seq": 101, "ack": 301, "len": 5, "win": 502,
        "options": {"timestamps": [7, 5], "sack": [[1000, 2000], [3000, 4000]]}, "flight": 10,
    }


@pytest.mark.parametrize(("flags", "letters"), [
    (SYN, "S"), (SYN | ACK, "SA"), (ACK, "A"), (FIN | ACK, "FA"), (RST, "R"), (RST | ACK, "RA"),
    (PSH | ACK, "PA"), (FIN | PSH | ACK, "FPA"), (0, "."),
])
def test_flags_are_tcpdump_letters(flags: int, letters: str) -> None:
    rec = SegmentRecord(0, "h", "send", C, S, Segment(1, 2, 0, 0, flags, 0))
    assert record_to_dict(rec)["flags"] == letters


def test_drop_of_a_parsed_segment_carries_reason() -> None:
    seg = Segment(80, 40000, 999, 101, ACK, 510)
    rec = SegmentRecord(3000, "server", "drop", C, S, seg, DropReason.OUT_OF_WINDOW, 11, Verdict.DROPPED)
    assert record_to_dict(rec) == {
        "t_us": 3000, "host": "server", "event": "drop",
        "src": "198.18.0.2:80", "dst": "198.18.0.1:40000",
        "flags": "A", "seq": 999, "ack": 101, "len": 0, "win": 510, "options": {},
        "flight": 11, "verdict": "dropped", "reason": "out-of-window",
    }


def test_loss_in_the_network_is_told_apart_by_its_verdict() -> None:
    seg = Segment(80, 40000, 999, 101, ACK, 510)
    rec = SegmentRecord(3000, "link", "drop", S, C, seg, Loss.FAULT, 12, Verdict.LOST,
                        "drop #1 flags_are('A')")
    out = record_to_dict(rec)
    assert (out["flight"], out["verdict"], out["reason"]) == (12, "lost", "fault: drop #1 flags_are('A')")


def test_drop_of_malformed_bytes_has_only_the_reason() -> None:
    # What Endpoint.receive traces for bytes that did not parse: no addresses known.
    rec = SegmentRecord(4000, "server", "drop", "", "", None, DropReason.BAD_CHECKSUM, 13, Verdict.DROPPED)
    assert record_to_dict(rec) == {"t_us": 4000, "host": "server", "event": "drop", "flight": 13,
                                   "verdict": "dropped", "reason": "bad-checksum"}


def test_drop_of_malformed_bytes_with_known_addresses() -> None:
    rec = SegmentRecord(4000, "server", "drop", C6, S6, None, DropReason.BAD_OPTION, 0, Verdict.DROPPED)
    assert record_to_dict(rec) == {
        "t_us": 4000, "host": "server", "event": "drop",
        "src": "fd00:5ac::2", "dst": "fd00:5ac::1", "flight": 0, "verdict": "dropped", "reason": "bad-option",
    }


def test_state_record() -> None:
    rec = StateRecord(5000, "server", "198.18.0.1:80", "198.18.0.2:40000", State.LISTEN, State.SYN_RECEIVED)
    assert record_to_dict(rec) == {
        "t_us": 5000, "host": "server", "event": "state",
        "conn": {"local": "198.18.0.1:80", "remote": "198.18.0.2:40000"},
        "from": "LISTEN", "to": "SYN-RECEIVED",
    }


@pytest.mark.parametrize(("state", "name"), [
    (State.SYN_SENT, "SYN-SENT"), (State.FIN_WAIT_2, "FIN-WAIT-2"), (State.CLOSE_WAIT, "CLOSE-WAIT"),
    (State.LAST_ACK, "LAST-ACK"), (State.TIME_WAIT, "TIME-WAIT"), (State.CLOSED, "CLOSED"),
])
def test_state_names_are_rfc_spellings(state: State, name: str) -> None:
    rec = StateRecord(0, "h", "a:1", "b:2", State.ESTABLISHED, state)
    assert record_to_dict(rec)["to"] == name


def test_timer_armed() -> None:
    rec = TimerRecord(6000, "client", "198.18.0.2:40000", "198.18.0.1:80", Timer.FIN_WAIT_2,
                      TimerAction.ARMED, 1_006_000)
    assert record_to_dict(rec) == {
        "t_us": 6000, "host": "client", "event": "timer",
        "conn": {"local": "198.18.0.2:40000", "remote": "198.18.0.1:80"},
        "timer": "fin-wait-2", "action": "armed", "deadline_us": 1_006_000,
    }


def test_timer_fired_without_deadline() -> None:
    rec = TimerRecord(7000, "client", "[fd00:5ac::2]:40000", "[fd00:5ac::1]:80", Timer.TIME_WAIT,
                      TimerAction.FIRED)
    assert record_to_dict(rec) == {
        "t_us": 7000, "host": "client", "event": "timer",
        "conn": {"local": "[fd00:5ac::2]:40000", "remote": "[fd00:5ac::1]:80"},
        "timer": "time-wait", "action": "fired", "deadline_us": None,
    }


@pytest.mark.parametrize("timer", list(Timer))
def test_every_timer_has_a_json_name(timer: Timer) -> None:
    rec = TimerRecord(0, "h", "a:1", "b:2", timer, TimerAction.GAVE_UP)
    out = record_to_dict(rec)
    assert out["timer"] == timer.label and out["action"] == "gave-up"


def test_note_without_connection() -> None:
    rec = NoteRecord(8000, "link", "fault: drop the 2nd segment from B")
    assert record_to_dict(rec) == {
        "t_us": 8000, "host": "link", "event": "note", "text": "fault: drop the 2nd segment from B",
    }


def test_note_with_connection() -> None:
    rec = NoteRecord(9000, "server", "accept()", "198.18.0.1:80", "198.18.0.2:40000")
    assert record_to_dict(rec) == {
        "t_us": 9000, "host": "server", "event": "note", "text": "accept()",
        "conn": {"local": "198.18.0.1:80", "remote": "198.18.0.2:40000"},
    }


def test_options_to_dict_empty() -> None:
    assert options_to_dict(Options()) == {}


def test_not_a_record_raises() -> None:
    with pytest.raises(TypeError):
        record_to_dict("not a record")  # type: ignore[arg-type]


def test_write_jsonl_one_object_per_line() -> None:
    records: list[TraceRecord] = [
        SegmentRecord(1, "client", "send", C, S, Segment(40000, 80, 100, 0, SYN, 64240, LINUX_SYN)),
        StateRecord(1, "client", "198.18.0.2:40000", "198.18.0.1:80", State.CLOSED, State.SYN_SENT),
        SegmentRecord(2, "server", "drop", "", "", None, DropReason.TRUNCATED, 3, Verdict.DROPPED),
        NoteRecord(3, "server", "说明: SYN 队列已满"),
    ]
    out = io.StringIO()
    assert write_jsonl(records, out) == 4
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 4
    lines = text.splitlines()
    assert [json.loads(line) for line in lines] == [record_to_dict(r) for r in records]
    assert lines[2] == ('{"t_us":2,"host":"server","event":"drop","flight":3,"verdict":"dropped",'
                        '"reason":"truncated"}')
    assert "说明" in lines[3]           # written as UTF-8 text, not \\u escapes
    assert dumps(records[3]) == lines[3]
