"""The ladder (sequence) diagram of the seed's pictures, drawn from trace records.

Two hosts stand side by side, each with a lifeline; time runs down the page.  Every
segment is one arrow across the middle, on the row of the moment it was *sent*,
labelled with its flags, seq, ack, len and window, and its options on the line
below.  A segment the network lost ends in ``✗ lost``; one the receiving stack
refused reaches the lifeline and says ``dropped: <reason>``.  State changes stand
beside the lifeline of the host that changed, application calls and timers are notes
next to its lifeline::

                     client                                         server
                 192.0.2.1:48995                                 192.0.2.2:80
                 CLOSED │                                              │ LISTEN
    0.000s              │                 app: listen(80, backlog=128) │
    0.100s     SYN-SENT │ app: connect(192.0.2.2:80)                   │
                        ├─── SYN seq=0 win=65535 ─────────────────────▶│
                        │    <mss 1460,sackOK,wscale 7>                │
    0.110s              │◀─────────── SYN,ACK seq=0 ack=1 win=65535 ───┤ SYN-RCVD
                        │             <mss 1460,sackOK,wscale 7>       │
    0.120s  ESTABLISHED ├─── ACK seq=1 ack=1 win=511 ─────────────────▶│
    0.130s              │                                app: accept() │ ESTABLISHED

A segment that stays in flight while its receiver changes state (a delayed
duplicate, an old segment of a previous connection) is drawn twice: a dashed
departure at its send time (``⇢ arrives 12.000s``) and an arrival at its receive
time (``sent 1.000s``), so the picture never shows it arriving early.

Records of hosts other than the two drawn are skipped; a segment one of the two
receives from any other address (spoofed SYNs) comes in from the edge
(``⇢ from 203.0.113.7``), and one sent to another address leaves through it.
The work per record is constant (amortised), so traces of thousands of records draw
at once.
"""

from __future__ import annotations

import io
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from synack.core.state import State
from synack.core.timers import Timer
from synack.core.trace import (
    NoteRecord,
    SegmentRecord,
    StateRecord,
    TimerAction,
    TimerRecord,
    TraceRecord,
    Verdict,
    endpoint_str,
)
from synack.core.wire import ACK, FIN, RST, SYN, URG, Segment, flags_names

__all__ = ["ladder_text", "render_ladder"]

_SIDE: Final = 11        # the widest state name, "ESTABLISHED"
_MIN_MIDDLE: Final = 24
_MOD: Final = 1 << 32

# Timers whose arming happens on nearly every segment: shown only when they fire.
_QUIET_ARMED: Final = frozenset({Timer.RETRANSMIT, Timer.SYNACK, Timer.DELAYED_ACK, Timer.PERSIST})
_TIMER_NAMES: Final = {
    Timer.RETRANSMIT: "RTO", Timer.SYNACK: "SYN-ACK RTO", Timer.TIME_WAIT: "TIME-WAIT",
    Timer.FIN_WAIT_2: "FIN-WAIT-2", Timer.DELAYED_ACK: "delayed ACK", Timer.PERSIST: "persist",
    Timer.KEEPALIVE: "keepalive", Timer.USER_TIMEOUT: "user timeout",
}
_EXPIRES: Final = frozenset({Timer.TIME_WAIT, Timer.FIN_WAIT_2, Timer.USER_TIMEOUT})
_CALL: Final = re.compile(r"[A-Za-z_][\w.]*\(.*\)")

_STATE_STYLE: Final = {
    State.CLOSED: "bold", State.LISTEN: "bold cyan",
    State.SYN_SENT: "bold yellow", State.SYN_RECEIVED: "bold yellow",
    State.ESTABLISHED: "bold green",
}
_CLOSING_STYLE: Final = "bold magenta"

Key = tuple[str, str, Segment | None]


@dataclass(slots=True, eq=False)
class _Arrow:
    """One arrow row.  ``kind``: "flight" (drawn at the send time), "arrival" (the
    receive half of a delayed flight) or "edge" (received from outside the picture)."""

    t_us: int
    rightwards: bool
    label: str
    short_label: str       # the label without the window, for narrow middles
    options: str
    style: str
    flags: str             # the flag names, drawn in bold
    kind: str = "flight"
    open: bool = True      # a flight still waiting for its recv or drop record
    lost: bool = False
    reason: str | None = None   # why the network lost it
    refused: str | None = None  # why the receiving stack dropped it
    peer: str | None = None     # the outside address of an edge or outbound arrow
    arrives: int | None = None  # a delayed flight: when it arrives
    sent: int | None = None     # an arrival: when it was sent
    dup: bool = False


@dataclass(slots=True, eq=False)
class _Row:
    t_us: int
    left: tuple[str, str] | None = None     # (state name, style)
    right: tuple[str, str] | None = None
    note_l: tuple[str, str] | None = None   # (text, style), inside the middle
    note_r: tuple[str, str] | None = None
    arrow: _Arrow | None = None


def _split_endpoint(ep: str) -> str:
    """The address part of ``"10.0.0.1:80"`` or ``"[fd00::1]:80"``."""
    if ep.startswith("["):
        return ep[1:].split("]", 1)[0]
    return ep.rsplit(":", 1)[0] if ep.count(":") == 1 else ep


def _fmt_duration(us: int) -> str:
    if us >= 1_000_000:
        return f"{us // 1_000_000}s" if us % 1_000_000 == 0 else f"{us / 1e6:g}s"
    if us % 1000 == 0:
        return f"{us // 1000}ms"
    return f"{us}µs"


def _state_style(state: State) -> str:
    return _STATE_STYLE.get(state, _CLOSING_STYLE)


def _flag_style(flags: int) -> str:
    if flags & RST:
        return "red"
    if flags & SYN:
        return "green"
    if flags & FIN:
        return "blue"
    return ""


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, with an ellipsis when cut."""
    if cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    t = Text(text)
    t.truncate(width, overflow="ellipsis")
    return t.plain


class _Ladder:
    """Builds the rows in one pass over the records, then draws them."""

    def __init__(self, records: Sequence[TraceRecord], left: str, right: str, *, width: int,
                 relative_seq: bool, show_options: bool) -> None:
        self.left, self.right = left, right
        self.relative_seq = relative_seq
        self.show_options = show_options
        self.rows: list[_Row] = []
        self.addrs: dict[str, dict[str, None]] = {left: {}, right: {}}  # ordered sets
        self.ports: dict[str, dict[int, None]] = {left: {}, right: {}}
        self.initial: dict[str, State] = {}
        self.state_times: dict[str, list[int]] = {left: [], right: []}
        self.pending: dict[Key, list[_Arrow]] = {}   # open flights by segment
        self.delays: dict[tuple[str, str], int] = {}   # last one-way delay by path
        self.by_path: dict[tuple[str, str], deque[_Arrow]] = {}
        self.last_recv: dict[tuple[str, Key], tuple[int, _Arrow]] = {}
        self.sent_keys: set[Key] = set()
        self.bases: dict[tuple[str, int, str, int], int] = {}
        self.flights: list[_Arrow] = []

        self._prescan(records)
        last = max((r.t_us for r in records), default=0)
        self.fine = any(r.t_us % 1000 for r in records)
        self.time_w = max(6, cell_len(self.fmt_time(last)))
        self.width = width
        self.mid = max(_MIN_MIDDLE, width - self.time_w - 2 * _SIDE - 6)
        self.pos_l = self.time_w + 2 + _SIDE + 1         # column of the left lifeline
        self.pos_r = self.pos_l + 1 + self.mid           # column of the right lifeline
        for rec in records:
            self._record(rec)
        for a in self.flights:
            if a.open and a.peer is None:
                a.lost = True   # sent, never received, never reported dropped

    # -- pass 0: who is who ------------------------------------------------------------
    def _prescan(self, records: Sequence[TraceRecord]) -> None:
        conns: set[frozenset[tuple[str, int]]] = set()
        for rec in records:
            host = rec.host
            if host not in self.addrs:
                continue
            if isinstance(rec, SegmentRecord):
                if rec.event == "send":
                    self.addrs[host].setdefault(rec.src)
                    if rec.seg is not None:
                        self.ports[host].setdefault(rec.seg.src_port)
                        conns.add(frozenset({(rec.src, rec.seg.src_port), (rec.dst, rec.seg.dst_port)}))
                elif rec.event == "recv" or rec.verdict is Verdict.DROPPED:   # not the link's drops
                    self.addrs[host].setdefault(rec.dst)
                    if rec.seg is not None:
                        conns.add(frozenset({(rec.src, rec.seg.src_port), (rec.dst, rec.seg.dst_port)}))
            elif isinstance(rec, StateRecord):
                self.addrs[host].setdefault(_split_endpoint(rec.local))
                self.initial.setdefault(host, rec.old)
        self.show_ports = len(conns) > 1

    # -- pass 1: records to rows -----------------------------------------------------
    def fmt_time(self, t_us: int) -> str:
        return f"{t_us / 1e6:.6f}s" if self.fine else f"{t_us / 1e6:.3f}s"

    def _fits(self, row: _Row, slot: str, text: str) -> bool:
        if slot == "L":
            return row.left is None
        if slot == "R":
            return row.right is None
        if row.arrow is not None:
            return False
        if slot == "A":
            return row.note_l is None and row.note_r is None
        mine, other = (row.note_l, row.note_r) if slot == "NL" else (row.note_r, row.note_l)
        if mine is not None:
            return False
        return other is None or cell_len(other[0]) + cell_len(text) + 4 <= self.mid

    def _row(self, t_us: int, slot: str, text: str = "") -> _Row:
        rows = self.rows
        if rows and rows[-1].t_us == t_us and self._fits(rows[-1], slot, text):
            return rows[-1]
        row = _Row(t_us)
        rows.append(row)
        return row

    def _mark_state(self, host: str, t_us: int) -> None:
        times = self.state_times[host]
        if not times or times[-1] != t_us:
            times.append(t_us)

    def _note(self, host: str, t_us: int, text: str, style: str) -> None:
        text = _fit(text, self.mid - 2)
        if host == self.left:
            self._row(t_us, "NL", text).note_l = (text, style)
        else:
            self._row(t_us, "NR", text).note_r = (text, style)

    def _record(self, rec: TraceRecord) -> None:
        host = rec.host
        if isinstance(rec, SegmentRecord):
            self._segment(rec)
        elif host != self.left and host != self.right:
            return
        elif isinstance(rec, StateRecord):
            cell = (rec.new.short, _state_style(rec.new))
            if host == self.left:
                self._row(rec.t_us, "L").left = cell
            else:
                self._row(rec.t_us, "R").right = cell
            self._mark_state(host, rec.t_us)
        elif isinstance(rec, TimerRecord):
            text = self._timer_text(rec)
            if text is not None:
                self._note(host, rec.t_us, text, "yellow")
        elif isinstance(rec, NoteRecord):
            note = rec.text
            self._note(host, rec.t_us, f"app: {note}" if _CALL.fullmatch(note) else note, "italic")

    @staticmethod
    def _timer_text(rec: TimerRecord) -> str | None:
        timer = rec.timer
        name = _TIMER_NAMES[timer]
        if rec.action is TimerAction.GAVE_UP:
            return f"⏲ {name} fired (gave up)"
        if rec.action is TimerAction.FIRED:
            return f"⏲ {name} expired" if timer in _EXPIRES else f"⏲ {name} fired"
        if timer in _QUIET_ARMED:
            return None
        if rec.deadline is not None:
            return f"⏲ {name} {_fmt_duration(rec.deadline - rec.t_us)} armed"
        return f"⏲ {name} armed"

    def _arrow(self, t_us: int, rightwards: bool, src: str, dst: str, seg: Segment | None, *,
               kind: str = "flight", peer: str | None = None, dup: bool = False) -> _Arrow:
        """A new arrow for ``seg``, its label numbered (relatively) as of now."""
        if seg is None:
            label = short = "malformed segment"
            opts, style, names = "", "red", ""
        else:
            label, short, opts, style, names = self._label(src, dst, seg)
        return _Arrow(t_us, rightwards, label, short, opts, style, names, kind=kind,
                      open=kind == "flight", peer=peer, dup=dup)

    def _label(self, src: str, dst: str, seg: Segment) -> tuple[str, str, str, str, str]:
        """(label, label without window, options, style, flag names) of ``seg``."""
        flags = seg.flags
        names = flags_names(flags)
        seq, ack = seg.seq, seg.ack
        options = seg.options
        if self.relative_seq:
            fwd = (src, seg.src_port, dst, seg.dst_port)
            if flags & SYN or fwd not in self.bases:
                self.bases[fwd] = seq
            seq = (seq - self.bases[fwd]) % _MOD
            if flags & ACK:
                rev = (dst, seg.dst_port, src, seg.src_port)
                base = self.bases.setdefault(rev, ack)
                ack = (ack - base) % _MOD
                if options.sack_blocks:  # they number the peer's octets, as the ACK does
                    options = options._replace(sack_blocks=tuple(
                        ((a - base) % _MOD, (b - base) % _MOD) for a, b in options.sack_blocks))
        parts = [names, f"seq={seq}"]
        if self.show_ports:
            parts.insert(0, f"{seg.src_port}→{seg.dst_port}")
        if flags & ACK:
            parts.append(f"ack={ack}")
        if seg.payload:
            parts.append(f"len={len(seg.payload)}")
        if flags & URG:
            parts.append(f"urp={seg.urg}")
        short = " ".join(parts)
        opts = options.describe() if self.show_options else []
        return (f"{short} win={seg.window}", short, f"<{','.join(opts)}>" if opts else "",
                _flag_style(flags), names)

    @staticmethod
    def _take(q: deque[_Arrow] | None) -> _Arrow | None:
        while q:
            a = q.popleft()
            if a.open:
                return a
        return None

    def _take_for(self, key: Key, t_us: int, *, received: bool) -> _Arrow | None:
        """The flight a receive (or a drop) of ``key`` at ``t_us`` ends.

        Identical segments can be in flight together (a retransmission and its
        original, duplicate ACKs).  A receive takes the one whose flight time is
        nearest the path's last seen delay (or the reverse path's); with none seen, or
        for a drop, the
        latest sent (the network loses or overtakes the older one, as a retransmission
        overtakes a held original).  Malformed records (no segment) go first in,
        first out by path.
        """
        if key[2] is None:
            return self._take(self.by_path.get((key[0], key[1])))
        cands = self.pending.get(key)
        if not cands:
            return None
        open_ = [a for a in cands if a.open]
        if len(open_) != len(cands):
            cands[:] = open_
        if not open_:
            return None
        best = len(open_) - 1
        delay = None
        if received:
            delay = self.delays.get((key[0], key[1]), self.delays.get((key[1], key[0])))
        if delay is not None and len(open_) > 1:
            best = min(range(len(open_)), key=lambda i: abs(t_us - open_[i].t_us - delay))
        a = open_[best]
        del cands[best]
        if received:
            self.delays[(key[0], key[1])] = t_us - a.t_us
        return a

    def _segment(self, rec: SegmentRecord) -> None:
        host = rec.host
        seg: Segment | None = rec.seg
        key: Key = (rec.src, rec.dst, seg)
        known = host == self.left or host == self.right
        if rec.event == "send":
            if known:
                self._send(rec, key)
        elif rec.event == "recv":
            if known:
                self._receive(rec, key)
        elif rec.verdict is Verdict.DROPPED:
            if known:
                self._refuse(rec, key)
        else:
            # Lost in the network: the record may be the link's.
            a = self._take_for(key, rec.t_us, received=False)
            if a is not None:
                a.open = False
                a.lost = True
                a.reason = rec.reason_text

    def _send(self, rec: SegmentRecord, key: Key) -> None:
        rightwards = rec.host == self.left
        other = self.right if rightwards else self.left
        known = self.addrs[other]   # when the other host left no record, assume it is the peer
        a = self._arrow(rec.t_us, rightwards, rec.src, rec.dst, key[2],
                        peer=None if not known or rec.dst in known else rec.dst)
        self._row(rec.t_us, "A").arrow = a
        self.flights.append(a)
        if key[2] is not None:
            self.pending.setdefault(key, []).append(a)
            self.sent_keys.add(key)
        self.by_path.setdefault((rec.src, rec.dst), deque()).append(a)

    def _receive(self, rec: SegmentRecord, key: Key) -> _Arrow:
        """Match a received segment to its flight, or draw it in from the edge."""
        host, t = rec.host, rec.t_us
        a = self._take_for(key, t, received=True)
        if a is None:
            target = self._arrow(t, host == self.right, rec.src, rec.dst, key[2], kind="edge",
                                 peer=rec.src, dup=key in self.sent_keys)
            self._row(t, "A").arrow = target
        else:
            a.open = False
            target = a
            times = self.state_times[host]
            i = bisect_right(times, a.t_us)
            if i < len(times) and times[i] < t:
                # The receiver changed state while this was in flight: draw the
                # arrival at its own time rather than pretend it came at once.
                a.arrives = t
                target = replace(a, t_us=t, kind="arrival", arrives=None, sent=a.t_us)
                self._row(t, "A").arrow = target
        self.last_recv[(host, key)] = (t, target)
        return target

    def _refuse(self, rec: SegmentRecord, key: Key) -> None:
        got = self.last_recv.pop((rec.host, key), None)
        target = got[1] if got is not None and got[0] == rec.t_us else self._receive(rec, key)
        target.refused = rec.reason_text

    # -- pass 2: rows to lines -------------------------------------------------------
    def _line(self, time: str, left: tuple[str, str] | None, life_l: str, middle: Text,
              life_r: str, right: tuple[str, str] | None) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        line.append(time.rjust(self.time_w), style="dim")
        line.append("  ")
        if left is None:
            line.append(" " * _SIDE)
        else:
            line.append(" " * max(0, _SIDE - cell_len(left[0])))
            line.append(left[0], style=left[1])
        line.append(" ")
        line.append(life_l, style="dim" if life_l in "│┆" else "")
        line.append_text(middle)
        line.append(life_r, style="dim" if life_r in "│┆" else "")
        if right is not None:
            line.append(" ")
            line.append(right[0], style=right[1])
        return line

    def _pad(self, pieces: list[tuple[str, str]]) -> Text:
        """Pieces laid left to right, padded with spaces to the middle's width."""
        t = Text()
        for s, style in pieces:
            t.append(s, style=style)
        if t.cell_len < self.mid:
            t.append(" " * (self.mid - t.cell_len))
        return t

    def _at(self, items: list[tuple[int, str, str]]) -> Text:
        """Texts placed at given columns of the middle (sorted, non-overlapping)."""
        pieces: list[tuple[str, str]] = []
        col = 0
        for start, s, style in items:
            if start > col:
                pieces.append((" " * (start - col), ""))
                col = start
            pieces.append((s, style))
            col += cell_len(s)
        return self._pad(pieces)

    def _arrow_lines(self, a: _Arrow) -> list[Text]:
        mid = self.mid
        style = "red" if a.lost else a.style
        lead = fill = "─"
        start = end = ""
        end_style = style
        if a.kind == "edge":
            what = "duplicate" if a.dup else f"from {a.peer}"
            start = f"⇢ {what}" if a.rightwards else f"⇠ {what}"
        elif a.kind == "arrival":
            start = f"sent {self.fmt_time(a.sent or 0)}"
            lead = "╌"
        if a.lost:
            end, end_style = ("✗ lost" if a.rightwards else "lost ✗"), "bold red"
        elif a.arrives is not None:
            fill = "╌"
            at = self.fmt_time(a.arrives)
            end = f"⇢ arrives {at} " if a.rightwards else f" arrives {at} ⇠"
        elif a.open and a.peer is not None:
            end = f"⇢ to {a.peer} " if a.rightwards else f" to {a.peer} ⇠"
        else:
            end = "▶" if a.rightwards else "◀"
            if a.refused:
                end_style = "bold red"
        # A lost arrow stops short of the receiver's lifeline.
        gap = min(8, mid // 8) if a.lost else 0
        start_w = cell_len(start) + 2 if start else 0
        room = mid - start_w - 3 - 2 - 2 - cell_len(end) - gap   # lead, spaces, minimum fill
        label = a.label if cell_len(a.label) <= room else _fit(a.short_label, room)
        n_fill = mid - start_w - 3 - 2 - cell_len(label) - cell_len(end) - gap
        if not label:
            n_fill += 2
        # The label, with its flags in bold: " 40000→80 SYN,ACK seq=0 ack=1 ".
        lab: list[tuple[str, str]] = []
        if label:
            i = label.find(a.flags) if a.flags else -1
            if i < 0:
                lab = [(f" {label} ", style)]
            else:
                j = i + len(a.flags)
                lab = [(" " + label[:i], style), (label[i:j], f"bold {style}".strip()),
                       (label[j:] + " ", style)]
        if a.rightwards:
            pieces = [(f" {start} ", "dim")] if start else []
            pieces += [(lead * 3, style), *lab, (fill * max(0, n_fill), style), (end, end_style)]
            label_col = start_w + 3 + 1
            end_col = mid - gap - cell_len(end)
        else:
            pieces = [(" " * gap, ""), (end, end_style), (fill * max(0, n_fill), style), *lab,
                      (lead * 3, style)]
            if start:
                pieces.append((f" {start} ", "dim"))
            label_col = gap + cell_len(end) + max(0, n_fill) + 1
            end_col = gap
        lines = [self._pad(pieces)]

        # Details under the arrow: options below the label, the fate at the receiver.
        opts = _fit(a.options, mid - label_col) if a.options else ""
        fate = ""
        if a.refused:
            fate = f"✗ dropped: {a.refused}"
        elif a.lost and (a.reason or a.peer):
            fate = ", ".join(x for x in (f"to {a.peer}" if a.peer else "", a.reason or "") if x)
        fate = _fit(fate, mid)
        if a.rightwards:   # under the arrow's end, or a space short of the lifeline
            fate_col = max(0, min(end_col, mid - 1 - cell_len(fate)))
        else:
            fate_col = max(min(1, mid - cell_len(fate)), end_col + cell_len(end) - cell_len(fate))
        if opts and fate:
            o_lo, o_hi = label_col, label_col + cell_len(opts)
            f_lo, f_hi = fate_col, fate_col + cell_len(fate)
            if o_hi + 2 <= f_lo or f_hi + 2 <= o_lo:
                items = sorted([(o_lo, opts, "dim"), (f_lo, fate, "red")])
                lines.append(self._at(items))
            else:
                lines.append(self._at([(label_col, opts, "dim")]))
                lines.append(self._at([(fate_col, fate, "red")]))
        elif opts:
            lines.append(self._at([(label_col, opts, "dim")]))
        elif fate:
            lines.append(self._at([(fate_col, fate, "red")]))
        return lines

    def _notes_middle(self, row: _Row) -> Text:
        items: list[tuple[int, str, str]] = []
        if row.note_l is not None:
            items.append((1, row.note_l[0], row.note_l[1]))
        if row.note_r is not None:
            text, style = row.note_r
            items.append((max(0, self.mid - 1 - cell_len(text)), text, style))
        return self._at(items)

    def _header(self, title: str | None) -> list[Text]:
        lines: list[Text] = []
        if title:
            t = Text(title, style="bold", no_wrap=True, overflow="crop")
            t.pad_left(max(0, (self.pos_r + 1 - cell_len(title)) // 2))
            lines.append(t)
        for part in ("name", "addr"):
            left = self.left if part == "name" else self._address(self.left)
            right = self.right if part == "name" else self._address(self.right)
            style = "bold" if part == "name" else "dim"
            lcol = max(0, self.pos_l - cell_len(left) // 2)
            rcol = max(lcol + cell_len(left) + 2, self.pos_r - cell_len(right) // 2)
            t = Text(no_wrap=True, overflow="crop")
            t.append(" " * lcol)
            t.append(left, style=style)
            t.append(" " * (rcol - t.cell_len))
            t.append(right, style=style)
            lines.append(t)
        return lines

    def _address(self, host: str) -> str:
        addrs = list(self.addrs[host])
        if not addrs:
            return ""
        ports = list(self.ports[host])
        return endpoint_str(addrs[0], ports[0]) if len(ports) == 1 else addrs[0]

    def _row_lines(self, row: _Row, show_time: bool) -> list[Text]:
        time = self.fmt_time(row.t_us) if show_time else ""
        a = row.arrow
        life_l = life_r = "│"
        if a is None:
            middles = [self._notes_middle(row)]
        else:
            middles = self._arrow_lines(a)
            if a.kind != "edge":
                if a.rightwards and a.kind == "flight":
                    life_l = "├"
                elif not a.rightwards and a.kind == "flight":
                    life_r = "┤"
        out = [self._line(time, row.left, life_l, middles[0], life_r, row.right)]
        out.extend(self._line("", None, "│", m, "│", None) for m in middles[1:])
        return out

    def render(self, title: str | None, max_rows: int | None) -> Text:
        lines = self._header(title)
        if self.left in self.initial or self.right in self.initial:
            lst, rst = self.initial.get(self.left), self.initial.get(self.right)
            lines.append(self._line(
                "", (lst.short, _state_style(lst)) if lst else None, "│", self._pad([]), "│",
                (rst.short, _state_style(rst)) if rst else None))
        rows = self.rows
        keep: list[_Row | int] = list(rows)
        if max_rows is not None and len(rows) > max(max_rows, 1):
            head = (max(max_rows, 1) + 1) // 2
            tail = max(max_rows, 1) - head
            keep = [*rows[:head], len(rows) - head - tail, *rows[len(rows) - tail:]]
        prev_t: int | None = None
        for item in keep:
            if isinstance(item, int):
                gap = f"… {item} rows …"
                mid = self._at([(max(0, (self.mid - cell_len(gap)) // 2), gap, "dim italic")])
                lines.append(self._line("", None, "┆", mid, "┆", None))
                prev_t = None
                continue
            lines.extend(self._row_lines(item, item.t_us != prev_t))
            prev_t = item.t_us
        out = Text("\n", no_wrap=True, overflow="crop").join(lines)
        out.no_wrap = True
        return out


def render_ladder(records: Sequence[TraceRecord], left: str, right: str, *, title: str | None = None,
                  width: int = 100, relative_seq: bool = False, max_rows: int | None = None,
                  show_options: bool = True) -> Text:
    """The ladder diagram of ``records`` between hosts ``left`` and ``right`` (host
    names as in the records' ``host`` field), as a rich :class:`~rich.text.Text`.

    ``width`` is the total width in cells (the middle shrinks to fit, down to a
    minimum).  ``relative_seq`` shows seq/ack relative to each side's ISN, as
    Wireshark does.  ``max_rows`` keeps the first and last rows and replaces the rest
    with one "… N rows …" line.  ``show_options=False`` leaves out the line of TCP
    options under each segment that carries some (compact ladders of floods).
    """
    ladder = _Ladder(records, left, right, width=width, relative_seq=relative_seq,
                     show_options=show_options)
    return ladder.render(title, max_rows)


def ladder_text(records: Sequence[TraceRecord], left: str, right: str, *, title: str | None = None,
                width: int = 100, relative_seq: bool = False, max_rows: int | None = None,
                show_options: bool = True, color: bool = False) -> str:
    """:func:`render_ladder` as a string: plain text (trailing spaces removed), or
    with ANSI colours when ``color`` is true."""
    text = render_ladder(records, left, right, title=title, width=width, relative_seq=relative_seq,
                         max_rows=max_rows, show_options=show_options)
    if not color:
        return "\n".join(line.rstrip() for line in text.plain.split("\n")) + "\n"
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="standard", width=max(width, 20),
                      legacy_windows=False, soft_wrap=False)
    console.print(text, crop=True)
    return buf.getvalue()
