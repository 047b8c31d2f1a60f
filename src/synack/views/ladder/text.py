"""The ladder (sequence) diagram in a terminal, drawn from the model (:mod:`.model`).

Two hosts stand side by side, each with a lifeline; time runs down the page.  Every
segment is one arrow across the middle, on the row of the moment it was *sent*,
labelled with its flags, seq, ack, len and window, and its options on the line
below.  What became of it stands at the receiver's end: a segment the network lost
ends in ``✗ lost`` (and why); one the receiving stack refused reaches the lifeline and
says ``✗ dropped: <reason>``; one it took in part says ``trimmed: <reason>``, one that
brought nothing new ``duplicate``.  State changes stand beside the lifeline of the
host that changed, application calls and timers are notes next to its lifeline::

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

An arrow takes one row, so a segment that stays in flight while its receiver changes
state (a delayed duplicate, an old segment of a previous connection, SYNs that cross)
is drawn twice: a dashed departure at its send time (``⇢ arrives 12.000s``) and an
arrival at its receive time (``sent 1.000s``), so the picture never shows it arriving
early.  A copy the network made of a segment arrives on a row of its own
(``copy, sent 1.000s``).

A segment one of the two hosts receives from any other address (spoofed SYNs) comes
in from the edge (``⇢ from 203.0.113.7``), and one sent to another address leaves
through it.

Nothing is cut, at any width: a label's words that do not fit on its arrow, options,
fates, notes and the title wrap onto the lines below (:func:`wrap_cells`; Chinese
between any two characters).  With ``lang="zh"`` the notes, timers, fates and host
names are Chinese (:mod:`synack.views.words`); the segments' fields stay TCP's.

The work per model event is constant (amortised), so traces of thousands of records
draw at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from rich.cells import cell_len
from rich.text import Text

from synack.core.errors import DropReason
from synack.core.state import State
from synack.core.timers import Timer
from synack.core.trace import TimerAction, Verdict
from synack.core.wire import ACK, FIN, RST, SYN, URG, flags_names

from ..words import Lang, drop_reason, host_label, loss_text, note_text, timer_name, word
from .model import Arrival, Elided, Flight, Ladder, Note, StateChange, TimerEvent, fmt_duration

__all__ = ["render_model", "wrap_cells"]

_SIDE: Final = 11        # the widest state name, "ESTABLISHED"
_MIN_MIDDLE: Final = 24

# Timers whose arming happens on nearly every segment: shown only when they fire.
_QUIET_ARMED: Final = frozenset({Timer.RETRANSMIT, Timer.SYNACK, Timer.DELAYED_ACK, Timer.PERSIST})
_EXPIRES: Final = frozenset({Timer.TIME_WAIT, Timer.FIN_WAIT_2, Timer.USER_TIMEOUT})

_STATE_STYLE: Final = {
    State.CLOSED: "bold", State.LISTEN: "bold cyan",
    State.SYN_SENT: "bold yellow", State.SYN_RECEIVED: "bold yellow",
    State.ESTABLISHED: "bold green",
}
_CLOSING_STYLE: Final = "bold magenta"

Cell = tuple[str, str]   # (text, style)
Slot = Literal["L", "R", "NL", "NR", "A"]


class _Label(NamedTuple):
    text: str       # "SYN,ACK seq=0 ack=1 win=65535"
    options: str    # "<mss 1460,sackOK>", or ""
    style: str
    flags: str      # the flag names, drawn in bold


@dataclass(slots=True, eq=False)
class _Arrow:
    """One arrow row as drawn: where it starts and ends, and the fate under it."""

    rightwards: bool
    label: _Label
    start: str = ""          # at the tail: "⇢ from 203.0.113.7", "sent 1.000s"
    lead: str = "─"          # the first three cells ("╌" for an arrival row)
    fill: str = "─"          # the rest of the shaft ("╌" for a dashed departure)
    end: str = ""            # "▶", "✗ lost", "⇢ arrives 5.000s", "⇢ to 203.0.113.7"
    end_style: str | None = None
    lost: bool = False
    fate: Cell | None = None
    departs: bool = False    # leaves its sender's lifeline (├, ┤)


@dataclass(slots=True, eq=False)
class _Row:
    t_us: int
    left: Cell | None = None     # (state name, style)
    right: Cell | None = None
    note_l: Cell | None = None   # (text, style), inside the middle
    note_r: Cell | None = None
    arrow: _Arrow | None = None


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


def _breaks_before(text: str, i: int, commas: bool) -> bool:
    prev, ch = text[i - 1], text[i]
    if text.startswith("µs", i):   # "890000 µs" stays together
        return False
    if prev == " " or (commas and prev == ","):
        return ch != " "
    return ch != " " and (cell_len(ch) == 2 or cell_len(prev) == 2)   # between wide (CJK) characters


def wrap_cells(text: str, width: int, *, commas: bool = False) -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken after spaces (and after
    commas when ``commas``) and between wide characters; nothing is left out.  A word
    wider than ``width`` is broken inside, the only place a break can fall mid-word."""
    width = max(1, width)
    if cell_len(text) <= width:
        return [text]
    atoms: list[str] = []
    start = 0
    for i in range(1, len(text)):
        if _breaks_before(text, i, commas):
            atoms.append(text[start:i])
            start = i
    atoms.append(text[start:])
    lines: list[str] = []
    line = ""
    for atom in atoms:
        if cell_len((line + atom).rstrip()) <= width:
            line += atom
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = atom.lstrip()
        while cell_len(line.rstrip()) > width:   # one atom wider than a line
            cut, used = 0, 0
            while cut < len(line) and used + cell_len(line[cut]) <= width:
                used += cell_len(line[cut])
                cut += 1
            lines.append(line[:max(cut, 1)])
            line = line[max(cut, 1):]
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def timer_text(event: TimerEvent, lang: Lang = "en") -> str | None:
    """A timer's note, ``"⏲ RTO fired"``, ``"⏲ TIME-WAIT 60s armed"``; None for the
    arming of the timers that are armed on nearly every segment."""
    timer = event.timer
    name = timer_name(timer, lang)
    if event.action is TimerAction.GAVE_UP:
        return word("timer-gave-up", lang, name)
    if event.action is TimerAction.FIRED:
        return word("timer-expired" if timer in _EXPIRES else "timer-fired", lang, name)
    if timer in _QUIET_ARMED:
        return None
    if event.deadline is not None:
        return word("timer-armed-for", lang, name, fmt_duration(event.deadline - event.t_us))
    return word("timer-armed", lang, name)


def elided_text(event: Elided, lang: Lang = "en") -> str:
    """The note where a flood is left out: ``"+19998 spoofed SYNs not drawn"``."""
    if lang == "zh":
        what = "SYN" if event.syns else "报文"
        if event.spoofed:
            return f"另有 {event.flights} 个伪造的 {what} 未画出"
        return f"另有来自 {event.endpoints} 个其他端点的 {event.flights} 个{what}未画出"
    what = "SYNs" if event.syns else "segments"
    if event.spoofed:
        return f"+{event.flights} spoofed {what} not drawn"
    return f"+{event.flights} {what} from {event.endpoints} other endpoints not drawn"


def fate_text(arrival: Arrival, lang: Lang = "en") -> Cell | None:
    """What the receiving stack made of an arrival, when it did not take it whole."""
    verdict, reason = arrival.verdict, arrival.reason
    if verdict is Verdict.DROPPED:
        return (word("dropped:", lang, drop_reason(reason, lang)) if reason else word("dropped", lang), "red")
    if verdict is Verdict.TRIMMED:
        return (word("trimmed:", lang, drop_reason(reason, lang)) if reason else word("trimmed", lang),
                "yellow")
    if verdict is Verdict.DUPLICATE:
        # Below the window is what a duplicate is: the reason is worth telling otherwise.
        if reason is None or reason is DropReason.OUT_OF_WINDOW:
            return (word("duplicate", lang), "yellow")
        return (word("duplicate:", lang, drop_reason(reason, lang)), "yellow")
    return None


class _TextLadder:
    """Lays the model's events out in rows (pass 1), then draws them (pass 2)."""

    def __init__(self, model: Ladder, *, width: int, relative_seq: bool, show_options: bool,
                 lang: Lang = "en") -> None:
        self.model = model
        self.lang = lang
        self.left, self.right = model.left.name, model.right.name
        self.relative_seq = relative_seq
        self.show_options = show_options
        self.rows: list[_Row] = []
        self.labels: dict[Flight, _Label] = {}
        self.time_w = max(6, cell_len(self.fmt_time(model.end_us)))
        self.width = width
        self.mid = max(_MIN_MIDDLE, width - self.time_w - 2 * _SIDE - 6)
        self.pos_l = self.time_w + 2 + _SIDE + 1         # column of the left lifeline
        self.pos_r = self.pos_l + 1 + self.mid           # column of the right lifeline
        for event in model.events:
            if isinstance(event, Flight):
                self._departure(event)
            elif isinstance(event, Arrival):
                self._arrival(event)
            elif isinstance(event, StateChange):
                cell = (event.new.short, _state_style(event.new))
                if event.host == self.left:
                    self._row(event.t_us, "L").left = cell
                else:
                    self._row(event.t_us, "R").right = cell
            elif isinstance(event, TimerEvent):
                text = timer_text(event, lang)
                if text is not None:
                    self._note(event.host, event.t_us, text, "yellow")
            elif isinstance(event, Note):
                self._note(event.host, event.t_us, note_text(event.text, lang), "italic")
            elif isinstance(event, Elided):
                self._note(event.host, event.t_us, elided_text(event, lang), "italic")

    # -- pass 1: events to rows ----------------------------------------------------
    def fmt_time(self, t_us: int) -> str:
        return f"{t_us / 1e6:.3f}s" if self.model.whole_ms else f"{t_us / 1e6:.6f}s"

    def _fits(self, row: _Row, slot: Slot, text: str) -> bool:
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

    def _row(self, t_us: int, slot: Slot, text: str = "") -> _Row:
        rows = self.rows
        if rows and rows[-1].t_us == t_us and self._fits(rows[-1], slot, text):
            return rows[-1]
        row = _Row(t_us)
        rows.append(row)
        return row

    def _note(self, host: str, t_us: int, text: str, style: str) -> None:
        """A note beside ``host``'s lifeline, on as many rows as it needs."""
        for line in wrap_cells(text, self.mid - 2):
            if host == self.left:
                self._row(t_us, "NL", line).note_l = (line, style)
            else:
                self._row(t_us, "NR", line).note_r = (line, style)

    def _label(self, flight: Flight) -> _Label:
        """The label of ``flight``, numbered (relatively) as of its departure."""
        got = self.labels.get(flight)
        if got is not None:
            return got
        seg = flight.seg
        if seg is None:
            label = _Label(word("malformed", self.lang), "", "red", "")
        else:
            flags = seg.flags
            names = flags_names(flags)
            seq, ack, options = seg.seq, seg.ack, seg.options
            if self.relative_seq and flight.numbers is not None:
                seq, ack = flight.numbers.seq, flight.numbers.ack
                if options.sack_blocks:
                    options = options._replace(sack_blocks=flight.numbers.sack_blocks)
            parts = [names, f"seq={seq}"]
            if self.model.show_ports:
                parts.insert(0, f"{seg.src_port}→{seg.dst_port}")
            if flags & ACK:
                parts.append(f"ack={ack}")
            if seg.payload:
                parts.append(f"len={len(seg.payload)}")
            if flags & URG:
                parts.append(f"urp={seg.urg}")
            short = " ".join(parts)
            opts = options.describe() if self.show_options else []
            label = _Label(f"{short} win={seg.window}", f"<{','.join(opts)}>" if opts else "",
                           _flag_style(flags), names)
        self.labels[flight] = label
        return label

    def _detached(self, arrival: Arrival) -> bool:
        """The first arrival of a flight from a drawn host, which its receiver changed
        state before: drawn on a row of its own."""
        flight = arrival.flight
        return flight.sender is not None and arrival.copy == 0 and \
            self.model.changed_state(arrival.host, flight.sent_us, arrival.t_us)

    def _departure(self, flight: Flight) -> None:
        lang = self.lang
        a = _Arrow(flight.rightwards, self._label(flight), departs=True)
        first = flight.arrivals[0] if flight.arrivals else None
        if first is None and (flight.lost is not None or flight.receiver is not None):
            # Lost in the network, or sent and never heard of again.
            a.lost = True
            a.end = word("lost", lang) if a.rightwards else word("lost-left", lang)
            why = loss_text(flight.lost.text, lang) if flight.lost is not None and flight.lost.text else None
            peer = flight.peer
            if why or peer:
                to = word("to", lang, peer) if peer else ""
                a.fate = (("，" if lang == "zh" else ", ").join(x for x in (to, why or "") if x), "red")
        elif flight.receiver is None:
            to = word("to", lang, str(flight.peer))
            a.end = f"⇢ {to} " if a.rightwards else f" {to} ⇠"
        elif first is not None and self._detached(first):
            a.fill = "╌"
            at = word("arrives", lang, self.fmt_time(first.t_us))
            a.end = f"⇢ {at} " if a.rightwards else f" {at} ⇠"
        else:
            self._head(a, first)
        self._row(flight.sent_us, "A").arrow = a

    def _head(self, a: _Arrow, arrival: Arrival | None) -> None:
        a.end = "▶" if a.rightwards else "◀"
        if arrival is not None:
            a.fate = fate_text(arrival, self.lang)
            if arrival.verdict is Verdict.DROPPED:
                a.end_style = "bold red"

    def _arrival(self, arrival: Arrival) -> None:
        flight, lang = arrival.flight, self.lang
        if flight.sender is None and arrival.copy == 0:
            what = word("from", lang, str(flight.peer))
            start, lead = (f"⇢ {what}" if flight.rightwards else f"⇠ {what}"), "─"
        elif arrival.copy:
            start, lead = word("copy-sent", lang, self.fmt_time(flight.sent_us)), "╌"
        elif self._detached(arrival):
            start, lead = word("sent", lang, self.fmt_time(flight.sent_us)), "╌"
        else:
            return   # drawn on its departure's row
        a = _Arrow(flight.rightwards, self._label(flight), start=start, lead=lead)
        self._head(a, arrival)
        self._row(arrival.t_us, "A").arrow = a

    # -- pass 2: rows to lines -------------------------------------------------------
    def _line(self, time: str, left: Cell | None, life_l: str, middle: Text,
              life_r: str, right: Cell | None) -> Text:
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

    def _pad(self, pieces: list[Cell]) -> Text:
        """Pieces laid left to right, padded with spaces to the middle's width."""
        t = Text()
        for s, style in pieces:
            t.append(s, style=style)
        if t.cell_len < self.mid:
            t.append(" " * (self.mid - t.cell_len))
        return t

    def _at(self, items: list[tuple[int, str, str]]) -> Text:
        """Texts placed at given columns of the middle (sorted, non-overlapping)."""
        pieces: list[Cell] = []
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
        style = "red" if a.lost else a.label.style
        end, start = a.end, a.start
        end_style = "bold red" if a.lost else a.end_style or style
        # A lost arrow stops short of the receiver's lifeline.
        gap = min(8, mid // 8) if a.lost else 0
        start_w = cell_len(start) + 2 if start else 0
        room = mid - start_w - 3 - 2 - 2 - cell_len(end) - gap   # lead, spaces, minimum fill
        # The label's words that fit on the arrow; the rest wrap onto the lines below it.
        label, rest = a.label.text, ""
        if cell_len(label) > room:
            words = label.split(" ")
            k = 0
            while k < len(words) and cell_len(" ".join(words[:k + 1])) <= room:
                k += 1
            label, rest = " ".join(words[:k]), " ".join(words[k:])
        n_fill = mid - start_w - 3 - 2 - cell_len(label) - cell_len(end) - gap
        if not label:
            n_fill += 2
        # The label, with its flags in bold: " 40000→80 SYN,ACK seq=0 ack=1 ".
        lab: list[Cell] = []
        if label:
            flags = a.label.flags
            i = label.find(flags) if flags else -1
            if i < 0:
                lab = [(f" {label} ", style)]
            else:
                j = i + len(flags)
                lab = [(" " + label[:i], style), (label[i:j], f"bold {style}".strip()),
                       (label[j:] + " ", style)]
        shaft = a.fill * max(0, n_fill)
        if a.rightwards:
            pieces = [(f" {start} ", "dim")] if start else []
            pieces += [(a.lead * 3, style), *lab, (shaft, style), (end, end_style)]
            label_col = start_w + 3 + 1
            end_col = mid - gap - cell_len(end)
        else:
            pieces = [(" " * gap, ""), (end, end_style), (shaft, style), *lab, (a.lead * 3, style)]
            if start:
                pieces.append((f" {start} ", "dim"))
            label_col = gap + cell_len(end) + max(0, n_fill) + 1
            end_col = gap
        lines = [self._pad(pieces)]

        # Details under the arrow: the rest of the label and the options below the
        # label, the fate at the receiver; each wrapped, never cut.
        # Each under the label; moved left as far as it needs to fit, wrapped only when
        # the whole middle cannot hold it.
        below: list[tuple[int, str, str]] = []
        for text, st, commas in ((rest, style, False), (a.label.options, "dim", True)):
            for line in wrap_cells(text, mid - 2, commas=commas) if text else []:
                below.append((max(1, min(label_col, mid - 1 - cell_len(line))), line, st))
        fates: list[tuple[int, str, str]] = []
        if a.fate is not None:
            for fate in wrap_cells(a.fate[0], mid - 2):
                if a.rightwards:   # under the arrow's end, or a space short of the lifeline
                    col = max(0, min(end_col, mid - 1 - cell_len(fate)))
                else:
                    col = max(min(1, mid - cell_len(fate)), end_col + cell_len(end) - cell_len(fate))
                fates.append((col, fate, a.fate[1]))
        if len(below) == 1 and len(fates) == 1 and not rest:
            (o_lo, opts, o_style), (f_lo, fate, fate_style) = below[0], fates[0]
            o_hi, f_hi = o_lo + cell_len(opts), f_lo + cell_len(fate)
            if o_hi + 2 <= f_lo or f_hi + 2 <= o_lo:
                lines.append(self._at(sorted([(o_lo, opts, o_style), (f_lo, fate, fate_style)])))
                return lines
        lines.extend(self._at([b]) for b in below)
        lines.extend(self._at([f]) for f in fates)
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
        for line in wrap_cells(title, self.width) if title else []:
            t = Text(line, style="bold", no_wrap=True, overflow="crop")
            t.pad_left(max(0, (self.pos_r + 1 - cell_len(line)) // 2))
            lines.append(t)
        model = self.model
        names = (host_label(model.left.name, self.lang), host_label(model.right.name, self.lang))
        for left, right, style in ((*names, "bold"),
                                   (model.left.endpoint, model.right.endpoint, "dim")):
            lcol = max(0, self.pos_l - cell_len(left) // 2)
            rcol = max(lcol + cell_len(left) + 2, self.pos_r - cell_len(right) // 2)
            t = Text(no_wrap=True, overflow="crop")
            t.append(" " * lcol)
            t.append(left, style=style)
            t.append(" " * (rcol - t.cell_len))
            t.append(right, style=style)
            lines.append(t)
        return lines

    def _row_lines(self, row: _Row, show_time: bool) -> list[Text]:
        time = self.fmt_time(row.t_us) if show_time else ""
        a = row.arrow
        life_l = life_r = "│"
        if a is None:
            middles = [self._notes_middle(row)]
        else:
            middles = self._arrow_lines(a)
            if a.departs:
                if a.rightwards:
                    life_l = "├"
                else:
                    life_r = "┤"
        out = [self._line(time, row.left, life_l, middles[0], life_r, row.right)]
        out.extend(self._line("", None, "│", m, "│", None) for m in middles[1:])
        return out

    def render(self, title: str | None, max_rows: int | None) -> Text:
        lines = self._header(title)
        lst, rst = self.model.left.initial, self.model.right.initial
        if lst is not None or rst is not None:
            lines.append(self._line(
                "", (lst.short, _state_style(lst)) if lst else None, "│", self._pad([]), "│",
                (rst.short, _state_style(rst)) if rst else None))
        rows = self.rows
        keep: Sequence[_Row | int] = rows
        if max_rows is not None and len(rows) > max(max_rows, 1):
            head = (max(max_rows, 1) + 1) // 2
            tail = max(max_rows, 1) - head
            keep = [*rows[:head], len(rows) - head - tail, *rows[len(rows) - tail:]]
        prev_t: int | None = None
        for item in keep:
            if isinstance(item, int):
                gap = word("rows", self.lang, str(item))
                mid = self._at([(max(0, (self.mid - cell_len(gap)) // 2), gap, "dim italic")])
                lines.append(self._line("", None, "┆", mid, "┆", None))
                prev_t = None
                continue
            lines.extend(self._row_lines(item, item.t_us != prev_t))
            prev_t = item.t_us
        out = Text("\n", no_wrap=True, overflow="crop").join(lines)
        out.no_wrap = True
        return out


def render_model(model: Ladder, *, title: str | None = None, width: int = 100, relative_seq: bool = False,
                 max_rows: int | None = None, show_options: bool = True, lang: Lang = "en") -> Text:
    """The terminal ladder of ``model`` (see :func:`synack.views.ladder.render_ladder`)."""
    ladder = _TextLadder(model, width=width, relative_seq=relative_seq, show_options=show_options,
                         lang=lang)
    return ladder.render(title, max_rows)
