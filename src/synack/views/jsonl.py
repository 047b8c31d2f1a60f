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

:func:`record_from_dict` reads such an object back into a typed record (a segment's
payload as that many zero octets: the JSON keeps its length, not its bytes), so that
views built on the typed trace (the ladder's model, the SVG) draw JSON records too.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TextIO

from synack.core.errors import DropReason
from synack.core.state import State
from synack.core.timers import Timer
from synack.core.trace import (
    CongestionRecord,
    Loss,
    NoteRecord,
    SegmentRecord,
    StateRecord,
    TimerAction,
    TimerRecord,
    TraceRecord,
    Verdict,
    endpoint_str,
)
from synack.core.wire import ACK, CWR, ECE, FIN, NO_OPTIONS, PSH, RST, SYN, URG, Options, Segment, flags_str


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
    """One record as one line of JSON (no trailing newline): the reference that
    :class:`LineWriter` writes faster."""
    return json.dumps(record_to_dict(rec), ensure_ascii=False, separators=(",", ":"))


_encode_string: Callable[[str], str] = json.encoder.encode_basestring


class LineWriter:
    """Each record as its line of JSON: the same text as :func:`dumps` (a test holds
    the two together, record by record, for every scenario), several times faster (a
    flood's 330,000 records are the playground's longest wait).  A segment's fields
    are written once for its send, arrival and drop; strings are encoded once."""

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._segs: dict[int, tuple[Segment, str, str, str]] = {}

    def s(self, text: str | None) -> str:
        if text is None:
            return "null"
        out = self._strings.get(text)
        if out is None:
            out = self._strings[text] = _encode_string(text)
        return out

    def _seg(self, src: str, dst: str, seg: Segment) -> str:
        key = id(seg)
        hit = self._segs.get(key)
        if hit is not None and hit[0] is seg and hit[1] == src and hit[2] == dst:
            return hit[3]
        o = seg.options
        opts = []
        if o.mss is not None:
            opts.append(f'"mss":{o.mss}')
        if o.wscale is not None:
            opts.append(f'"wscale":{o.wscale}')
        if o.sack_permitted:
            opts.append('"sack_permitted":true')
        if o.timestamps is not None:
            opts.append(f'"timestamps":[{o.timestamps[0]},{o.timestamps[1]}]')
        if o.sack_blocks:
            opts.append('"sack":[' + ",".join(f"[{a},{b}]" for a, b in o.sack_blocks) + "]")
        text = (f'"src":{self.s(endpoint_str(src, seg.src_port))},'
                f'"dst":{self.s(endpoint_str(dst, seg.dst_port))},"flags":{self.s(flags_str(seg.flags))},'
                f'"seq":{seg.seq},"ack":{seg.ack},'
                f'"len":{len(seg.payload)},"win":{seg.window},"options":{{{",".join(opts)}}},')
        self._segs[key] = (seg, src, dst, text)
        return text

    def _conn(self, local: str | None, remote: str | None) -> str:
        return f'{{"local":{self.s(local)},"remote":{self.s(remote)}}}'

    def line(self, rec: TraceRecord, run: str = "") -> str:
        """``run``: ``',"run":N'`` for a scenario of several runs, else empty."""
        head = f'{{"t_us":{rec.t_us},"host":{self.s(rec.host)},'
        if isinstance(rec, SegmentRecord):
            seg = rec.seg
            if seg is not None:
                fields = self._seg(rec.src, rec.dst, seg)
            else:
                fields = (f'"src":{self.s(rec.src)},' if rec.src else "") + \
                         (f'"dst":{self.s(rec.dst)},' if rec.dst else "")
            tail = f'"flight":{rec.flight}'
            if rec.verdict is not None:
                tail += f',"verdict":"{rec.verdict.value}"'
            if rec.event == "drop" or rec.reason is not None:
                tail += f',"reason":{self.s(rec.reason_text)}'
            return f'{head}"event":"{rec.event}",{fields}{tail}{run}}}'
        if isinstance(rec, StateRecord):
            return (f'{head}"event":"state","conn":{self._conn(rec.local, rec.remote)},'
                    f'"from":"{rec.old.value}","to":"{rec.new.value}"{run}}}')
        if isinstance(rec, TimerRecord):
            deadline = "null" if rec.deadline is None else rec.deadline
            return (f'{head}"event":"timer","conn":{self._conn(rec.local, rec.remote)},'
                    f'"timer":{self.s(rec.timer.label)},"action":"{rec.action.value}","deadline_us":{deadline}{run}}}')
        if isinstance(rec, NoteRecord):
            conn = ("" if rec.local is None and rec.remote is None
                    else f',"conn":{self._conn(rec.local, rec.remote)}')
            return f'{head}"event":"note","text":{self.s(rec.text)}{conn}{run}}}'
        if isinstance(rec, CongestionRecord):
            srtt = "null" if rec.srtt is None else rec.srtt
            return (f'{head}"event":"cc","conn":{self._conn(rec.local, rec.remote)},"cwnd":{rec.cwnd},'
                    f'"ssthresh":{rec.ssthresh},"srtt_us":{srtt},"rto_us":{rec.rto},"inflight":{rec.inflight}{run}}}')
        raise TypeError(f"not a trace record: {rec!r}")


def write_jsonl(records: Iterable[TraceRecord], stream: TextIO) -> int:
    """Write one JSON object per line to ``stream``; returns the number of records."""
    count = 0
    line = LineWriter().line
    for rec in records:
        stream.write(line(rec) + "\n")
        count += 1
    return count


# -- reading records back ----------------------------------------------------------
_FLAG_BITS: Final = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "A": ACK, "U": URG, "E": ECE, "W": CWR}
_TIMERS: Final = {t.label: t for t in Timer}
_DROP_REASONS: Final = {r.value: r for r in DropReason}
_LOSSES: Final = {r.value: r for r in Loss}
_VERDICTS: Final = {v.value: v for v in Verdict}


def split_endpoint(text: str) -> tuple[str, int | None]:
    """``"192.0.2.1:80"`` → ``("192.0.2.1", 80)``; ``"[fd00::1]:80"`` → ``("fd00::1", 80)``;
    a bare address (a malformed segment's) has no port."""
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        return addr, int(rest[1:]) if rest.startswith(":") else None
    addr, colon, port = text.partition(":")
    if colon and ":" not in port:
        return addr, int(port)
    return text, None


@functools.lru_cache(maxsize=256)
def flags_from_str(text: str) -> int:
    """tcpdump's letters back to the flag bits (``"."``: none)."""
    bits = 0
    for letter in text:
        if letter != ".":
            bits |= _FLAG_BITS[letter]
    return bits


def options_from_dict(d: Mapping[str, Any]) -> Options:
    if not d:
        return NO_OPTIONS
    get = d.get
    ts, sack = get("timestamps"), get("sack")
    return Options(get("mss"), get("wscale"), bool(get("sack_permitted")),
                   (int(ts[0]), int(ts[1])) if ts is not None else None,
                   tuple((int(a), int(b)) for a, b in sack) if sack else ())


def _reason(text: str | None, lost: bool) -> tuple[DropReason | Loss | None, str | None]:
    if text is None:
        return None, None
    value, sep, detail = text.partition(": ")
    table: Mapping[str, DropReason | Loss] = _LOSSES if lost else _DROP_REASONS
    reason = table.get(value) or table.get(text)
    if reason is None:
        raise ValueError(f"unknown reason {text!r}")
    return reason, (detail if sep and reason.value == value else None)


def _conn_of(d: Mapping[str, Any]) -> tuple[str | None, str | None]:
    conn = d.get("conn") or {}
    return conn.get("local"), conn.get("remote")


def record_from_dict(d: Mapping[str, Any]) -> TraceRecord:
    """The typed record of one JSON object (:func:`record_to_dict`'s shape; a ``"run"``
    key, as ``synack scenario run --json`` adds for several runs, is ignored).

    A segment's payload comes back as ``len`` zero octets.  ValueError (or KeyError)
    when the object is not a record."""
    t_us, host, event = int(d["t_us"]), str(d["host"]), d["event"]
    if event in ("send", "recv", "drop"):
        v = d.get("verdict")
        verdict = _VERDICTS[v] if v is not None else None
        src, sport = split_endpoint(str(d.get("src", "")))
        dst, dport = split_endpoint(str(d.get("dst", "")))
        seg = None
        if "flags" in d:
            seg = Segment(sport or 0, dport or 0, int(d["seq"]), int(d["ack"]),
                          flags_from_str(str(d["flags"])), int(d["win"]),
                          options_from_dict(d.get("options") or {}), bytes(int(d["len"])))
        reason, detail = _reason(d.get("reason"), verdict is Verdict.LOST)
        return SegmentRecord(t_us, host, event, src, dst, seg, reason, int(d.get("flight", 0)), verdict,
                             detail)
    if event == "state":
        local, remote = _conn_of(d)
        return StateRecord(t_us, host, str(local), str(remote), State(d["from"]), State(d["to"]))
    if event == "timer":
        local, remote = _conn_of(d)
        deadline = d.get("deadline_us")
        return TimerRecord(t_us, host, str(local), str(remote), _TIMERS[d["timer"]], TimerAction(d["action"]),
                           int(deadline) if deadline is not None else None)
    if event == "note":
        local, remote = _conn_of(d)
        return NoteRecord(t_us, host, str(d["text"]), local, remote)
    if event == "cc":
        local, remote = _conn_of(d)
        srtt = d.get("srtt_us")
        return CongestionRecord(t_us, host, str(local), str(remote), int(d["cwnd"]), int(d["ssthresh"]),
                                int(srtt) if srtt is not None else None, int(d["rto_us"]), int(d["inflight"]))
    raise ValueError(f"not a trace record: event {event!r}")
