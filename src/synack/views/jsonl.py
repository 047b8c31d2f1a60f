"""Trace records as JSON Lines: one object per record, for tools and notebooks.

Every object has ``t_us`` (int), ``host`` and ``event``, one of ``"send"``,
``"recv"``, ``"drop"``, ``"state"``, ``"timer"``, ``"note"`` or ``"cc"``.  The rest depends on
the event::

    {"t_us": 1000, "host": "client", "event": "send",
     "src": "198.18.0.2:40000", "dst": "198.18.0.1:80", "flags": "S",
     "seq": 100, "ack": 0, "len": 0, "win": 64240,
     "options": {"mss": 1460, "sack_permitted": true, "timestamps": [1, 0], "wscale": 7}}
    {"t_us": 1000, "host": "server", "event": "drop", "reason": "bad-checksum"}
    {"t_us": 1000, "host": "client", "event": "state",
     "conn": {"local": "198.18.0.2:40000", "remote": "198.18.0.1:80"},
     "from": "CLOSED", "to": "SYN-SENT"}
    {"t_us": 1000, "host": "client", "event": "timer", "conn": {...},
     "timer": "rto", "action": "armed", "deadline_us": 1001000}
    {"t_us": 1000, "host": "client", "event": "note", "text": "connect()"}
    {"t_us": 1000, "host": "client", "event": "cc", "conn": {...}, "cwnd": 14600,
     "ssthresh": 1073741824, "srtt_us": 20000, "rto_us": 220000, "inflight": 2920}

Segment ``flags`` are tcpdump's letters (``"S"``, ``"SA"``, ``"FA"``, ``"RA"``,
``"PA"``, ``"."`` for none); ``ack`` is the raw field, meaningful when ``flags``
contains ``A``; ``options`` holds only the options present.  A drop carries its
``reason``; a drop of bytes that did not parse has no segment fields, only the
addresses if they are known.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from synack.core.trace import (
    CongestionRecord,
    NoteRecord,
    SegmentRecord,
    StateRecord,
    TimerRecord,
    TraceRecord,
    endpoint_str,
)
from synack.core.wire import Options, Segment, flags_str


def options_to_dict(opts: Options) -> dict[str, object]:
    """The options present, in JSON-able form (``{}`` when there are none)."""
    out: dict[str, object] = {}
    if opts.mss is not None:
        out["mss"] = opts.mss
    if opts.wscale is not None:
        out["wscale"] = opts.wscale
    if opts.sack_permitted:
        out["sack_permitted"] = True
    if opts.timestamps is not None:
        out["timestamps"] = [opts.timestamps[0], opts.timestamps[1]]
    if opts.sack_blocks:
        out["sack"] = [[left, right] for left, right in opts.sack_blocks]
    return out


def _segment_fields(src: str, dst: str, seg: Segment) -> dict[str, object]:
    return {
        "src": endpoint_str(src, seg.src_port),
        "dst": endpoint_str(dst, seg.dst_port),
        "flags": flags_str(seg.flags),
        "seq": seg.seq,
        "ack": seg.ack,
        "len": len(seg.payload),
        "win": seg.window,
        "options": options_to_dict(seg.options),
    }


def _conn(local: str | None, remote: str | None) -> dict[str, object]:
    return {"local": local, "remote": remote}


def record_to_dict(rec: TraceRecord) -> dict[str, object]:
    """One trace record as a JSON-able dict (see the module docstring for the shape)."""
    if isinstance(rec, SegmentRecord):
        out: dict[str, object] = {"t_us": rec.t_us, "host": rec.host, "event": rec.event}
        seg: Segment | None = rec.seg
        if seg is not None:
            out.update(_segment_fields(rec.src, rec.dst, seg))
        else:
            # Bytes that did not parse: no ports, so bare addresses, and only if known.
            if rec.src:
                out["src"] = rec.src
            if rec.dst:
                out["dst"] = rec.dst
        out["flight"] = rec.flight
        if rec.verdict is not None:
            out["verdict"] = rec.verdict.value
        if rec.event == "drop" or rec.reason is not None:
            out["reason"] = rec.reason_text
        return out
    if isinstance(rec, StateRecord):
        return {"t_us": rec.t_us, "host": rec.host, "event": "state",
                "conn": _conn(rec.local, rec.remote), "from": rec.old.value, "to": rec.new.value}
    if isinstance(rec, TimerRecord):
        return {"t_us": rec.t_us, "host": rec.host, "event": "timer",
                "conn": _conn(rec.local, rec.remote), "timer": rec.timer.label, "action": rec.action.value,
                "deadline_us": rec.deadline}
    if isinstance(rec, NoteRecord):
        out = {"t_us": rec.t_us, "host": rec.host, "event": "note", "text": rec.text}
        if rec.local is not None or rec.remote is not None:
            out["conn"] = _conn(rec.local, rec.remote)
        return out
    if isinstance(rec, CongestionRecord):
        return {"t_us": rec.t_us, "host": rec.host, "event": "cc", "conn": _conn(rec.local, rec.remote),
                "cwnd": rec.cwnd, "ssthresh": rec.ssthresh, "srtt_us": rec.srtt, "rto_us": rec.rto,
                "inflight": rec.inflight}
    raise TypeError(f"not a trace record: {rec!r}")


def dumps(rec: TraceRecord) -> str:
    """One record as one line of JSON (no trailing newline)."""
    return json.dumps(record_to_dict(rec), ensure_ascii=False, separators=(",", ":"))


def write_jsonl(records: Iterable[TraceRecord], stream: TextIO) -> int:
    """Write one JSON object per line to ``stream``; returns the number of records."""
    count = 0
    for rec in records:
        stream.write(dumps(rec) + "\n")
        count += 1
    return count
