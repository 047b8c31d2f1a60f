"""The ladder as SVG, drawn from the ladder's model (:mod:`synack.views.ladder.model`).

The same picture as the terminal ladder (:mod:`synack.views.ladder.text`), for a page:
two columns, one per host (its name, its address, the state it started in); time runs
down.  Every segment is an arrow from the moment it was sent, at its sender's column,
to the moment it arrived, at its receiver's, so segments in flight together cross (a
simultaneous open, a simultaneous close).  On each arrow: flags, seq, ack, len, win
(seq and ack relative to each side's ISN, as the terminal ladder shows them) and, under
it, its options.  A segment the network lost stops midway with a cross and the reason;
one the receiving stack dropped reaches the column with a cross, and the reason stands
beside the column (trimmed and duplicate arrivals too, in another colour).  Each side's
state is written beside its column where it changes; application calls, faults and
timers stand beside it too.  Time is compressed: each moment something happens takes
the room its drawing needs, plus a little more the longer the wait before it, and a
wait of half a second or more breaks the columns with its length written there.

What a page needs to link the picture to the trace:

- every segment is one ``<g class="seg">`` with ``data-flight`` (the trace's flight id)
  and ``data-event`` (the index, in the records given, of its send record: for a
  segment from outside the picture with no send record, of its first arrival's), and
  a ``<title>`` (the tooltip: the raw numbers, times and fate);
- every row of the picture (one moment, in order) is a ``<g class="row">`` with
  ``data-step`` (0, 1, 2... across all runs), ``data-t-us``, ``data-y`` and
  ``data-say`` (what happens there, in words); each drawn thing carries the
  ``data-step`` of the row where it appears (an arrow: its departure's), so a page can
  reveal the ladder step by step (:mod:`synack.views.html` does);
- a state label is a ``<g class="state">`` with ``data-host``, ``data-state`` and
  ``data-run``.

A flood is summarised as the model does it (:class:`~synack.views.ladder.model.Elided`:
"+19,998 spoofed SYNs not drawn"); the records never are.  Labels are in English or
Chinese (``lang="zh"``); the protocol's own names (flags, states, option names, the
trace's reason codes in tooltips) stay as they are.

Only the standard library and ``synack.core`` are imported (the browser runs this under
Pyodide): no rich, no matplotlib.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from synack.core.errors import DropReason
from synack.core.state import State
from synack.core.timers import Timer
from synack.core.trace import Loss, SegmentRecord, StateRecord, TimerAction, TraceRecord, Verdict
from synack.core.wire import ACK, FIN, RST, SYN, URG, flags_names

from .jsonl import record_from_dict
from .ladder.model import (
    Arrival,
    Elided,
    Flight,
    Ladder,
    Lost,
    Note,
    StateChange,
    TimerEvent,
    build_ladder,
    fmt_duration,
)

__all__ = ["HOSTS_ZH", "Lang", "infer_names", "ladder_svg", "ladder_svg_from_records", "render_svg"]

Lang = Literal["en", "zh"]
SVG_NS: Final = "http://www.w3.org/2000/svg"

# -- words ----------------------------------------------------------------------------------
#: The hosts' names in Chinese (the scenarios' names for them).
HOSTS_ZH: Final = {"client": "客户端", "server": "服务器", "ghost": "幽灵客户端"}

_WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "lost": "lost", "never": "never arrived", "dropped": "dropped", "trimmed": "trimmed",
        "duplicate": "duplicate", "from": "from {}", "to": "to {}", "copy": "copy",
        "run": "run {} of {}", "sent": "sent {}", "arrived": "arrived {}", "flight": "flight {}, record {}",
        "wait": "+{}", "sends": "{} sends {}", "state": "{}: {}",
        "spoofed": "+{} spoofed {} not drawn", "others": "+{} {} from {} other endpoints not drawn",
        "answers": ", nor the {} segments answering them",
        "SYNs": "SYNs", "segments": "segments", "sep": ", ", "colon": ": ", "semi": "; ",
        "accepted": "accepted", "raw": "raw seq {} ack {}",
    },
    "zh": {
        "lost": "丢失", "never": "未到达", "dropped": "丢弃", "trimmed": "截断",
        "duplicate": "重复", "from": "来自 {}", "to": "发往 {}", "copy": "副本",
        "run": "第 {} 次运行（共 {} 次）", "sent": "{} 发出", "arrived": "{} 到达",
        "flight": "flight {}，第 {} 条记录",
        "wait": "+{}", "sends": "{} 发送 {}", "state": "{}：{}",
        "spoofed": "另有 {} 个伪造的 {} 未画出", "others": "另有来自 {2} 个其他端点的 {0} 个{1}未画出",
        "answers": "，回应它们的 {} 个报文段也未画出",
        "SYNs": "SYN", "segments": "报文段", "sep": "，", "colon": "：", "semi": "；",
        "accepted": "接受", "raw": "原始 seq {} ack {}",
    },
}

_TIMER_NAMES: Final[dict[str, dict[Timer, str]]] = {
    "en": {Timer.RETRANSMIT: "RTO", Timer.SYNACK: "SYN-ACK RTO", Timer.TIME_WAIT: "TIME-WAIT",
           Timer.FIN_WAIT_2: "FIN-WAIT-2", Timer.DELAYED_ACK: "delayed ACK", Timer.PERSIST: "persist",
           Timer.KEEPALIVE: "keepalive", Timer.USER_TIMEOUT: "user timeout"},
    "zh": {Timer.RETRANSMIT: "重传计时器 RTO", Timer.SYNACK: "SYN-ACK 重传计时器",
           Timer.TIME_WAIT: "TIME-WAIT 计时器",
           Timer.FIN_WAIT_2: "FIN-WAIT-2 计时器", Timer.DELAYED_ACK: "延迟 ACK 计时器",
           Timer.PERSIST: "坚持计时器", Timer.KEEPALIVE: "保活计时器", Timer.USER_TIMEOUT: "用户超时"},
}
_TIMER_ACTIONS: Final[dict[str, dict[str, str]]] = {
    "en": {"gave-up": "{} fired (gave up)", "fired": "{} fired", "expired": "{} expired",
           "armed-for": "{} {} armed", "armed": "{} armed"},
    "zh": {"gave-up": "{} 到时（放弃）", "fired": "{} 到时", "expired": "{} 到期",
           "armed-for": "{} 启动（{}）", "armed": "{} 启动"},
}
# Timers armed on nearly every segment: shown only when they fire (as the terminal does).
_QUIET_ARMED: Final = frozenset({Timer.RETRANSMIT, Timer.SYNACK, Timer.DELAYED_ACK, Timer.PERSIST})
_EXPIRES: Final = frozenset({Timer.TIME_WAIT, Timer.FIN_WAIT_2, Timer.USER_TIMEOUT})

_LOSS_ZH: Final = {
    Loss.LINK: "链路丢包", Loss.FAULT: "故障注入", Loss.MTU: "超过 MTU", Loss.QUEUE_FULL: "链路队列满",
    Loss.NO_ROUTE: "无路由", Loss.FILTERED: "被过滤",
}
_DROP_ZH: Final = {
    DropReason.TRUNCATED: "报文不完整", DropReason.BAD_IP_HEADER: "IP 头错误",
    DropReason.BAD_IP_CHECKSUM: "IP 校验和错误", DropReason.NOT_TCP: "不是 TCP",
    DropReason.BAD_DATA_OFFSET: "数据偏移错误", DropReason.BAD_OPTION: "选项错误",
    DropReason.BAD_CHECKSUM: "校验和错误", DropReason.BAD_PORT: "端口错误",
    DropReason.BAD_FLAGS: "标志位错误",
    DropReason.BAD_ADDRESS: "地址错误", DropReason.NOT_OUR_ADDRESS: "不是本机地址",
    DropReason.NO_CONNECTION: "没有这个连接", DropReason.LISTEN_RST: "监听套接字收到 RST",
    DropReason.LISTEN_ACK: "监听套接字收到 ACK", DropReason.LISTEN_NO_SYN: "监听套接字收到非 SYN",
    DropReason.SYN_QUEUE_FULL: "半连接队列满", DropReason.ACCEPT_QUEUE_FULL: "全连接队列满",
    DropReason.BAD_COOKIE: "SYN cookie 无效", DropReason.SYN_DATA: "SYN 上的数据",
    DropReason.SYN_SENT_BAD_ACK: "SYN-SENT 中的 ACK 不可接受",
    DropReason.SYN_SENT_NO_SYN: "SYN-SENT 中没有 SYN",
    DropReason.OUT_OF_WINDOW: "在窗口之外", DropReason.PAWS: "PAWS（时间戳太旧）",
    DropReason.RST_OUT_OF_WINDOW: "窗口外的 RST", DropReason.RST_CHALLENGED: "RST 不在预期位置（发挑战 ACK）",
    DropReason.RST_IN_TIME_WAIT: "TIME-WAIT 中的 RST",
    DropReason.SYN_CHALLENGED: "已连接时收到 SYN（发挑战 ACK）",
    DropReason.CHALLENGE_ACK_LIMIT: "挑战 ACK 限速", DropReason.OOW_ACK_LIMIT: "窗口外 ACK 限速",
    DropReason.HALF_OPEN_SYN: "半开窗口内的 SYN", DropReason.NO_ACK_FLAG: "没有 ACK 标志",
    DropReason.BAD_ACK: "ACK 不可接受", DropReason.ACK_OF_UNSENT: "确认了未发送的数据",
    DropReason.OOO_BUDGET: "乱序缓存已满", DropReason.DATA_AFTER_FIN: "FIN 之后的数据",
    DropReason.DATA_AFTER_CLOSE: "关闭之后的数据", DropReason.RCV_BUFFER_FULL: "接收缓冲区满",
}
_NOTES_ZH: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple((re.compile(p), r) for p, r in (
    (r"^app: (.*)$", r"应用：\1"),
    (r"^fault: drop (.*)$", r"故障注入：丢弃 \1"),
    (r"^fault: delay (.*) by (\d+) µs$", r"故障注入：延迟 \1 \2 µs"),
    (r"^fault: (.*)$", r"故障注入：\1"),
    (r"^inject (.*)$", r"注入 \1"),
    (r"^SYN queue (\d+)/(\d+)$", r"半连接队列 \1/\2"),
    (r"^SYN cookie accepted: connection rebuilt from the ACK$", "SYN cookie 有效：由 ACK 重建连接"),
    (r"^TIME-WAIT 4-tuple reused by a new SYN$", "新的 SYN 重用了 TIME-WAIT 的四元组"),
    (r"^two-way server: ESTABLISHED as its SYN,ACK leaves; app: accept\(\)$",
     "两次握手的服务器：SYN,ACK 一发出就 ESTABLISHED；应用：accept()"),
    (r"^two-way server: RST ignored, the connection stays ESTABLISHED$",
     "两次握手的服务器：忽略 RST，连接保持 ESTABLISHED"),
    (r"^link: corrupted bit (\d+) of the TCP part of (.*)$", r"链路：损坏了 \2 的 TCP 部分的第 \1 位"),
))


def _w(lang: Lang, key: str) -> str:
    return _WORDS[lang][key]


def _host_label(name: str, lang: Lang) -> str:
    return HOSTS_ZH.get(name, name) if lang == "zh" else name


def _note_text(text: str, lang: Lang) -> str:
    if lang == "zh":
        for pattern, repl in _NOTES_ZH:
            if pattern.match(text):
                return pattern.sub(repl, text)
    return text


def _timer_text(event: TimerEvent, lang: Lang) -> str | None:
    """``"⏲ RTO fired"``, ``"⏲ TIME-WAIT 60s armed"``; None for the quiet armings."""
    name = _TIMER_NAMES[lang][event.timer]
    acts = _TIMER_ACTIONS[lang]
    if event.action is TimerAction.GAVE_UP:
        text = acts["gave-up"].format(name)
    elif event.action is TimerAction.FIRED:
        text = acts["expired" if event.timer in _EXPIRES else "fired"].format(name)
    elif event.timer in _QUIET_ARMED:
        return None
    elif event.deadline is not None:
        text = acts["armed-for"].format(name, fmt_duration(event.deadline - event.t_us))
    else:
        text = acts["armed"].format(name)
    return "◷ " + text


def _reason_text(reason: DropReason | Loss | None, detail: str | None, lang: Lang) -> str:
    """A drop's or a loss's reason in words (the code itself in English)."""
    if reason is None:
        return ""
    if lang == "zh":
        text = _DROP_ZH.get(reason, reason.value) if isinstance(reason, DropReason) \
            else _LOSS_ZH.get(reason, reason.value)
        return f"{text}：{detail}" if detail else text
    return f"{reason.value}: {detail}" if detail else reason.value


def _loss_text(lost: Lost, lang: Lang) -> str:
    if lost.reason is None:
        return _note_text(lost.text or "", lang)
    text = lost.text or lost.reason.value
    detail = text.split(": ", 1)[1] if ": " in text else None
    return _reason_text(lost.reason, detail, lang)


def _fate(arrival: Arrival, lang: Lang) -> tuple[str, str] | None:
    """The receiving stack's verdict beside its column, and its CSS class; None when taken whole."""
    verdict, reason = arrival.verdict, arrival.reason
    colon = _w(lang, "colon")
    if verdict is Verdict.DROPPED:
        text = "✗ " + _w(lang, "dropped")
        return (text + colon + _reason_text(reason, None, lang) if reason else text), "fate-dropped"
    if verdict is Verdict.TRIMMED:
        text = "✂ " + _w(lang, "trimmed")
        return (text + colon + _reason_text(reason, None, lang) if reason else text), "fate-trimmed"
    if verdict is Verdict.DUPLICATE:
        text = "≡ " + _w(lang, "duplicate")
        if reason is None or reason is DropReason.OUT_OF_WINDOW:
            return text, "fate-duplicate"
        return text + colon + _reason_text(reason, None, lang), "fate-duplicate"
    return None


def _elided_text(event: Elided, lang: Lang) -> str:
    """``"+19,998 spoofed SYNs not drawn, nor the 20,672 segments answering them"``."""
    what = _w(lang, "SYNs" if event.syns else "segments")
    if event.spoofed:
        text = _w(lang, "spoofed").format(f"{event.flights:,}", what)
    else:
        text = _w(lang, "others").format(f"{event.flights:,}", what, f"{event.endpoints:,}")
    if event.answers:
        text += _w(lang, "answers").format(f"{event.answers:,}")
    return text


# -- geometry -------------------------------------------------------------------------------
FONT: Final = 12.0          # px, labels
SMALL: Final = 10.5         # px, options, notes, times
CH: Final = 0.6 * FONT      # a character of the monospace labels
CH_SMALL: Final = 0.6 * SMALL
MID: Final = 480.0          # between the columns
TIME_W: Final = 86.0        # the time axis
STATE_W: Final = 96.0       # a state label beside its column
NOTE_COLS: Final = 36       # notes wrap at this many columns (a CJK character is two)
PANEL_GAP: Final = 36.0
ROW_MIN: Final = 20.0
NOTE_LINE: Final = 14.0
BREAK_US: Final = 500_000   # waits this long break the columns

_STATE_CLASS: Final = {
    State.CLOSED: "st-closed", State.LISTEN: "st-listen", State.SYN_SENT: "st-syn",
    State.SYN_RECEIVED: "st-syn", State.ESTABLISHED: "st-est",
}

_STYLE: Final = """
.synack-ladder{background:#fff}
.synack-ladder text{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,'Noto Sans Mono CJK SC',\
'Noto Sans CJK SC','WenQuanYi Micro Hei','PingFang SC','Microsoft YaHei',monospace;fill:#1f2328}
.synack-ladder .title{font-size:14px;font-weight:bold}
.synack-ladder .host{font-size:14px;font-weight:bold}
.synack-ladder .addr,.synack-ladder .time{font-size:10.5px;fill:#6e7781}
.synack-ladder .life{stroke:#8c959f;stroke-width:1.5}
.synack-ladder .guide{stroke:#eaeef2;stroke-width:1}
.synack-ladder .brk{stroke:#8c959f;stroke-width:1.2;fill:#fff}
.synack-ladder .wait{font-size:10px;fill:#8c959f;font-style:italic}
.synack-ladder .seg line,.synack-ladder .seg path.shaft{stroke-width:1.6;fill:none}
.synack-ladder .seg line.hit{stroke:#000;stroke-opacity:0;stroke-width:12;pointer-events:stroke;
cursor:pointer}
.synack-ladder .seg text{font-size:12px;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.synack-ladder .seg text.opt{font-size:10.5px;fill:#57606a}
.synack-ladder .seg .flags{font-weight:bold}
.synack-ladder .c-syn line,.synack-ladder .c-syn path{stroke:#1a7f37}.synack-ladder .c-syn .head{fill:#1a7f37}
.synack-ladder .c-syn text.lab{fill:#1a7f37}
.synack-ladder .c-fin line,.synack-ladder .c-fin path{stroke:#0969da}.synack-ladder .c-fin .head{fill:#0969da}
.synack-ladder .c-fin text.lab{fill:#0969da}
.synack-ladder .c-rst line,.synack-ladder .c-rst path{stroke:#cf222e}.synack-ladder .c-rst .head{fill:#cf222e}
.synack-ladder .c-rst text.lab{fill:#cf222e}
.synack-ladder .c-ack line,.synack-ladder .c-ack path{stroke:#424a53}.synack-ladder .c-ack .head{fill:#424a53}
.synack-ladder .seg .dashed{stroke-dasharray:5 4}
.synack-ladder .seg .cross{stroke:#cf222e;stroke-width:2.4}
.synack-ladder .seg text.why{fill:#cf222e;font-size:10.5px}
.synack-ladder .seg .head.v-dropped{fill:#cf222e}
.synack-ladder .seg .head.v-trimmed,.synack-ladder .seg .head.v-duplicate{fill:#bc4c00}
.synack-ladder .seg:hover line.shaft{stroke-width:3}
.synack-ladder .seg.sel line.shaft{stroke-width:3.2}
.synack-ladder .note text,.synack-ladder text.note{font-size:10.5px;font-style:italic;fill:#57606a}
.synack-ladder .note text.timer{fill:#9a6700;font-style:normal}
.synack-ladder .note text.fate-dropped{fill:#cf222e;font-style:normal}
.synack-ladder .note text.fate-trimmed,.synack-ladder .note text.fate-duplicate{fill:#bc4c00;
font-style:normal}
.synack-ladder .note text.elided{fill:#6e7781}
.synack-ladder .state rect{stroke-width:1}
.synack-ladder .state text{font-size:10.5px;font-weight:bold}
.synack-ladder .st-closed rect{fill:#f6f8fa;stroke:#8c959f}
.synack-ladder .st-listen rect{fill:#ddf4ff;stroke:#0969da}
.synack-ladder .st-syn rect{fill:#fff8c5;stroke:#9a6700}
.synack-ladder .st-est rect{fill:#dafbe1;stroke:#1a7f37}
.synack-ladder .st-close rect{fill:#fbefff;stroke:#8250df}
"""


def _cols(text: str) -> int:
    """Display width in columns: a wide (CJK) character counts two."""
    return sum(2 if ord(c) >= 0x1100 and (0x1100 <= ord(c) <= 0x115F or 0x2E80 <= ord(c) <= 0xA4CF
                                        or 0xAC00 <= ord(c) <= 0xD7A3 or 0xF900 <= ord(c) <= 0xFAFF
                                        or 0xFE30 <= ord(c) <= 0xFE4F or 0xFF00 <= ord(c) <= 0xFF60
                                        or 0xFFE0 <= ord(c) <= 0xFFE6) else 1 for c in text)


def _wrap(text: str, cols: int = NOTE_COLS) -> list[str]:
    """``text`` in lines of at most ``cols`` columns, broken at spaces where there are
    some (a word longer than a line, and CJK text, anywhere): never cut."""
    lines: list[str] = []
    line = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        if _cols(line + word.rstrip()) <= cols:
            line += word
            continue
        if line.strip():
            lines.append(line.rstrip())
            line = ""
        while _cols(word.rstrip()) > cols:
            n = 0
            while n < len(word) and _cols(word[:n + 1]) <= cols:
                n += 1
            lines.append(word[:n])
            word = word[n:]
        line = word
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _n(x: float) -> str:
    """A coordinate: at most one decimal."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else str(r)


# -- laying out -----------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class _Row:
    t_us: int
    step: int = 0
    y: float = 0.0
    states: list[State | None] = field(default_factory=lambda: [None, None])
    #: Per side: (text, CSS class, attributes of its first line) in order.
    notes: list[list[tuple[str, str, str]]] = field(default_factory=lambda: [[], []])
    deps: list[Flight | None] = field(default_factory=lambda: [None, None])
    arrs: list[Arrival | None] = field(default_factory=lambda: [None, None])
    #: A flight drawn within the row (from outside, or sent and received at once).
    flat: bool = False
    says: list[str] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Panel:
    """One run's ladder: its model, where its records start in the records given, its rows."""

    model: Ladder
    offset: int
    title: str | None
    run: int
    rows: list[_Row] = field(default_factory=list)
    dep_row: dict[int, _Row] = field(default_factory=dict)     # id(flight) -> row
    arr_row: dict[int, _Row] = field(default_factory=dict)     # id(arrival) -> row
    top: float = 0.0
    bottom: float = 0.0
    #: How far down a flight usually goes (known once the rows are placed).
    dy: float | None = None


class _Svg:
    def __init__(self, panels: list[_Panel], lang: Lang) -> None:
        self.panels = panels
        self.lang = lang
        self.out: list[str] = []
        self.step = 0
        self.labels: dict[int, tuple[str, str, str]] = {}
        for panel in panels:
            self._rows(panel)
        self.note_w = max([140.0, *(self._note_width(p) for p in panels)])
        self.x_left = TIME_W + self.note_w + STATE_W + 14
        mid = MID + (60 if any(p.model.show_ports for p in panels) else 0)
        self.x_right = self.x_left + mid
        self.width = self.x_right + STATE_W + 14 + self.note_w + 12

    # -- pass 1: the model's events in rows --------------------------------------------------
    def side(self, model: Ladder, host: str) -> int:
        return 0 if host == model.left.name else 1

    def _row(self, panel: _Panel, t_us: int, free: str, side: int) -> _Row:
        rows = panel.rows
        if rows and rows[-1].t_us == t_us:
            last = rows[-1]
            slot: list[object] = getattr(last, free) if free else [None, None]
            if slot[side] is None:
                return last
        row = _Row(t_us)
        rows.append(row)
        return row

    def _rows(self, panel: _Panel) -> None:
        model, lang = panel.model, self.lang
        for event in model.events:
            if isinstance(event, Flight):
                side = 0 if event.rightwards else 1
                row = self._row(panel, event.sent_us, "deps", side)
                row.deps[side] = event
                panel.dep_row[id(event)] = row
                row.says.append(_w(lang, "sends").format(_host_label(event.sender or "", lang),
                                                         self.label(event, model)[0]))
            elif isinstance(event, Arrival):
                side = self.side(model, event.host)
                row = self._row(panel, event.t_us, "arrs", side)
                row.arrs[side] = event
                panel.arr_row[id(event)] = row
                flight = event.flight
                if flight.sender is None or event.copy or id(flight) not in panel.dep_row:
                    row.flat = row.flat or flight.sender is None
                    if flight.sender is None and event.copy == 0:
                        said = _w(lang, "from").format(flight.src) + " " + self.label(flight, model)[0]
                        row.says.append(said)
                fate = _fate(event, lang)
                if fate is not None:
                    row.notes[side].append((*fate, ""))
                    row.says.append(f"{_host_label(event.host, lang)} {fate[0]}")
            elif isinstance(event, StateChange):
                side = self.side(model, event.host)
                row = self._row(panel, event.t_us, "states", side)
                row.states[side] = event.new
                row.says.append(_w(lang, "state").format(_host_label(event.host, lang), event.new.short))
            else:
                attrs = ""
                if isinstance(event, TimerEvent):
                    text, cls = _timer_text(event, lang), "timer"
                elif isinstance(event, Note):
                    text, cls = _note_text(event.text, lang), "app"
                else:
                    text, cls = _elided_text(event, lang), "elided"
                    attrs = f' data-flights="{event.flights}" data-answers="{event.answers}"'
                if text is None:
                    continue
                side = self.side(model, event.host)
                row = self._row(panel, event.t_us, "", side)
                row.notes[side].append((text, cls, attrs))
                row.says.append(f"{_host_label(event.host, lang)} {text}")
        for row in panel.rows:
            row.step = self.step
            self.step += 1

    def _note_width(self, panel: _Panel) -> float:
        widest = max((_cols(line) for row in panel.rows for side in row.notes for text, _, _ in side
                      for line in _wrap(text)), default=0)
        return widest * CH_SMALL + 8

    # -- labels ----------------------------------------------------------------------------------
    def label(self, flight: Flight, model: Ladder) -> tuple[str, str, str]:
        """(the label, its flag names, the options line) of ``flight``, relative numbers."""
        got = self.labels.get(id(flight))
        if got is not None:
            return got
        seg = flight.seg
        if seg is None:
            out = ("malformed segment", "", "")
        else:
            flags = seg.flags
            names = flags_names(flags)
            seq, ack, options = seg.seq, seg.ack, seg.options
            if flight.numbers is not None:
                seq, ack = flight.numbers.seq, flight.numbers.ack
                if options.sack_blocks:
                    options = options._replace(sack_blocks=flight.numbers.sack_blocks)
            parts = [names, f"seq={seq}"]
            if model.show_ports:
                parts.insert(0, f"{seg.src_port}→{seg.dst_port}")
            if flags & ACK:
                parts.append(f"ack={ack}")
            if seg.payload:
                parts.append(f"len={len(seg.payload)}")
            if flags & URG and seg.urg:
                parts.append(f"urp={seg.urg}")
            parts.append(f"win={seg.window}")
            opts = options.describe()
            out = (" ".join(parts), names, f"<{','.join(opts)}>" if opts else "")
        self.labels[id(flight)] = out
        return out

    # -- pass 2: where each row stands -------------------------------------------------------
    def _place(self, panel: _Panel, top: float) -> None:
        y = top
        prev: _Row | None = None
        for row in panel.rows:
            if prev is not None:
                lines = max(sum(len(_wrap(t)) for t, _, _ in prev.notes[s]) for s in (0, 1))
                need = max(ROW_MIN, NOTE_LINE * lines + 4)
                opts = [f for f in prev.deps if f is not None]
                if opts:
                    need = max(need, 44.0 if any(self.label(f, panel.model)[2] for f in opts) else 32.0)
                y += need + self._extra(row.t_us - prev.t_us)
            if row.flat:   # a flight from outside: its label stands above its arrow
                y += 40
            row.y = y
            prev = row
        panel.bottom = y + 40

    @staticmethod
    def _extra(dt: int) -> float:
        """The room a wait of ``dt`` µs adds: a little, growing with its logarithm."""
        if dt <= 0:
            return 0.0
        return min(60.0, 14.0 * math.log10(1 + dt / 1000))

    # -- pass 3: drawing -----------------------------------------------------------------------
    def render(self, title: str | None) -> str:
        y = 16.0
        head: list[str] = []
        if title:
            y += 8
            head.append(f'<text class="title" x="{_n(self.width / 2)}" y="{_n(y)}" '
                        f'text-anchor="middle">{_esc(title)}</text>')
            y += 14
        for panel in self.panels:
            panel.top = y
            y = self._header_height(panel, y)
            self._place(panel, y + 26)
            y = panel.bottom + PANEL_GAP
        height = y - PANEL_GAP + 8
        out = self.out
        out.append(f'<svg xmlns="{SVG_NS}" class="synack-ladder" lang="{self.lang}" '
                   f'width="{_n(self.width)}" height="{_n(height)}" '
                   f'viewBox="0 0 {_n(self.width)} {_n(height)}" data-steps="{self.step}" '
                   f'data-runs="{len(self.panels)}">')
        out.append(f"<style>{_STYLE}</style>")
        out.append(f'<rect class="bg" x="0" y="0" width="{_n(self.width)}" height="{_n(height)}" '
                   'fill="#fff"/>')
        out.extend(head)
        for panel in self.panels:
            self._panel(panel)
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def _header_height(self, panel: _Panel, y: float) -> float:
        if panel.title:
            y += 22
        return y + 58

    def _panel(self, panel: _Panel) -> None:
        out, lang, model = self.out, self.lang, panel.model
        xl, xr = self.x_left, self.x_right
        y = panel.top
        out.append(f'<g class="run" data-run="{panel.run}" data-left="{_esc(model.left.name)}" '
                   f'data-right="{_esc(model.right.name)}">')
        if panel.title:
            y += 16
            out.append(f'<text class="title" x="{_n((xl + xr) / 2)}" y="{_n(y)}" '
                       f'text-anchor="middle">{_esc(panel.title)}</text>')
            y += 6
        for x, side in ((xl, model.left), (xr, model.right)):
            out.append(f'<text class="host" x="{_n(x)}" y="{_n(y + 18)}" text-anchor="middle">'
                       f'{_esc(_host_label(side.name, lang))}</text>')
            if side.endpoint:
                out.append(f'<text class="addr" x="{_n(x)}" y="{_n(y + 32)}" text-anchor="middle">'
                           f'{_esc(side.endpoint)}</text>')
        life_top = y + 40
        first = panel.rows[0].y if panel.rows else life_top + 20
        for i, side in enumerate((model.left, model.right)):
            if side.initial is not None:
                self._state(panel, i, side.name, side.initial, (life_top + first) / 2 + 2, -1)
        # Lifelines, broken where a long wait is compressed.
        breaks: list[tuple[float, float, int]] = []
        for prev, row in zip(panel.rows, panel.rows[1:], strict=False):
            if row.t_us - prev.t_us >= BREAK_US:
                breaks.append(((prev.y + row.y) / 2, row.y - prev.y, row.t_us - prev.t_us))
        for x in (xl, xr):
            out.append(f'<line class="life" x1="{_n(x)}" y1="{_n(life_top)}" x2="{_n(x)}" '
                       f'y2="{_n(panel.bottom)}"/>')
        for ym, _, dt in breaks:
            for x in (xl, xr):
                out.append(f'<path class="brk" d="M{_n(x - 7)},{_n(ym - 1)} l14,-5 v5 l-14,5 z"/>')
            out.append(f'<text class="wait" x="{_n(TIME_W - 6)}" y="{_n(ym + 3)}" text-anchor="end">'
                       f'{_esc(_w(lang, "wait").format(fmt_duration(dt)))}</text>')
        prev_t: int | None = None
        for row in panel.rows:
            self._row_draw(panel, row, row.t_us != prev_t)
            prev_t = row.t_us
        out.append("</g>")

    def fmt_time(self, model: Ladder, t_us: int) -> str:
        return f"{t_us / 1e6:.3f}s" if model.whole_ms else f"{t_us / 1e6:.6f}s"

    def _row_draw(self, panel: _Panel, row: _Row, show_time: bool) -> None:
        out, model = self.out, panel.model
        say = _w(self.lang, "semi").join(row.says)
        out.append(f'<g class="row" data-step="{row.step}" data-t-us="{row.t_us}" data-y="{_n(row.y)}" '
                   f'data-run="{panel.run}" data-say="{_esc(say)}">')
        if show_time:
            out.append(f'<line class="guide" x1="{_n(TIME_W - 2)}" y1="{_n(row.y)}" x2="{_n(self.x_left)}" '
                       f'y2="{_n(row.y)}"/>')
            out.append(f'<text class="time" x="{_n(TIME_W - 6)}" y="{_n(row.y + 3.5)}" text-anchor="end">'
                       f'{self.fmt_time(model, row.t_us)}</text>')
        out.append("</g>")
        for side in (0, 1):
            state = row.states[side]
            if state is not None:
                host = model.left.name if side == 0 else model.right.name
                self._state(panel, side, host, state, row.y, row.step)
            if row.notes[side]:
                self._notes(side, row)
        for side in (0, 1):
            flight = row.deps[side]
            if flight is not None:
                self._flight(panel, flight, row)
            arrival = row.arrs[side]
            if arrival is not None and arrival.copy == 0 and id(arrival.flight) not in panel.dep_row:
                self._flight(panel, arrival.flight, row)   # from outside: drawn where it arrives

    def _state(self, panel: _Panel, side: int, host: str, state: State, y: float, step: int) -> None:
        name = state.short
        w = len(name) * CH_SMALL + 12
        x = self.x_left - 8 - w if side == 0 else self.x_right + 8
        cls = _STATE_CLASS.get(state, "st-close")
        self.out.append(
            f'<g class="state {cls}" data-host="{_esc(host)}" data-state="{state.value}" '
            f'data-run="{panel.run}" data-step="{step}">'
            f'<rect x="{_n(x)}" y="{_n(y - 8)}" width="{_n(w)}" height="16" rx="8"/>'
            f'<text x="{_n(x + w / 2)}" y="{_n(y + 3.5)}" text-anchor="middle">{name}</text></g>')

    def _notes(self, side: int, row: _Row) -> None:
        lines = [(line, cls, attrs if i == 0 else "") for text, cls, attrs in row.notes[side]
                 for i, line in enumerate(_wrap(text))]
        if side == 0:
            x, anchor = self.x_left - STATE_W - 14, "end"
        else:
            x, anchor = self.x_right + STATE_W + 14, "start"
        parts = [f'<g class="note" data-step="{row.step}">']
        for i, (line, cls, attrs) in enumerate(lines):
            parts.append(f'<text class="{cls}"{attrs} x="{_n(x)}" y="{_n(row.y + 3.5 + i * NOTE_LINE)}" '
                         f'text-anchor="{anchor}">{_esc(line)}</text>')
        parts.append("</g>")
        self.out.append("".join(parts))

    # -- one segment ---------------------------------------------------------------------------
    def _flight(self, panel: _Panel, flight: Flight, row: _Row) -> None:
        """The ``<g>`` of one flight: its arrow to each arrival (or to its loss), its label."""
        model, lang = panel.model, self.lang
        xl, xr = self.x_left, self.x_right
        text, names, opts = self.label(flight, model)
        seg = flight.seg
        flags = seg.flags if seg is not None else 0
        color = "c-rst" if flags & RST else "c-syn" if flags & SYN else "c-fin" if flags & FIN else "c-ack"
        x0 = xl if flight.rightwards else xr
        x1 = xr if flight.rightwards else xl
        direction = 1 if flight.rightwards else -1
        outside = flight.sender is None
        y0 = row.y
        if outside:
            # From beyond the picture: in from the middle, dashed, in the row of its arrival.
            x0 = x1 - direction * 0.55 * (xr - xl)
            opts = " ".join(x for x in (_w(lang, "from").format(flight.src), opts) if x)
        record = panel.offset + flight.record if flight.record >= 0 else -1
        tip = self._tooltip(panel, flight, text, opts)
        parts = [f'<g class="seg {color}" data-flight="{flight.id}" data-event="{record}" '
                 f'data-step="{row.step}" data-run="{panel.run}">', f"<title>{_esc(tip)}</title>"]
        first_end: tuple[float, float] | None = None
        for arrival in flight.arrivals:
            arow = panel.arr_row.get(id(arrival))
            if arow is None:   # an arrival at a host not drawn
                continue
            y1 = arow.y
            dashed = outside or arrival.copy > 0
            verdict = arrival.verdict.value if arrival.verdict is not None else "accepted"
            parts.append(self._arrow(x0, y0, x1, y1, dashed=dashed, verdict=verdict, step=arow.step,
                                     copy=arrival.copy))
            if arrival.copy > 0:
                parts.append(f'<text class="opt" x="{_n(x1 - direction * 10)}" y="{_n(y1 + 13)}" '
                             f'text-anchor="{"end" if direction > 0 else "start"}">{_w(lang, "copy")}</text>')
            if first_end is None:
                first_end = (x1, y1)
        if first_end is None:
            # Lost, or never heard of again, or gone to an address outside the picture.
            dy = self._typical_dy(panel)
            frac = 0.6
            if flight.lost is not None or flight.receiver is not None:
                xe, ye = x0 + (x1 - x0) * frac, y0 + dy * frac
                why = _loss_text(flight.lost, lang) if flight.lost is not None else _w(lang, "never")
                peer = flight.peer
                what = _w(lang, "lost") if flight.lost is not None else ""
                words = [w for w in (what, _w(lang, "to").format(peer) if peer else "", why) if w]
                reason = _w(lang, "sep").join(words) if len(words) > 1 else (words[0] if words else "")
                parts.append(f'<line class="hit" x1="{_n(x0)}" y1="{_n(y0)}" x2="{_n(xe)}" y2="{_n(ye)}"/>'
                             f'<line class="shaft" x1="{_n(x0)}" y1="{_n(y0)}" x2="{_n(xe)}" y2="{_n(ye)}"/>')
                parts.append(f'<path class="cross" data-lost="1" d="M{_n(xe - 6)},{_n(ye - 6)} l12,12 '
                             f'M{_n(xe - 6)},{_n(ye + 6)} l12,-12"/>')
                anchor = "start" if direction > 0 else "end"
                room = abs(x1 - xe) - 22   # from the cross to the other column
                for i, line in enumerate(_wrap("✗ " + reason, max(12, int(room / CH_SMALL)))):
                    parts.append(f'<text class="why" x="{_n(xe + direction * 10)}" '
                                 f'y="{_n(ye + 12 + i * 13)}" text-anchor="{anchor}">{_esc(line)}</text>')
                first_end = (xe, ye)
            else:
                xe, ye = x1 - direction * 4, y0 + dy
                parts.append(self._arrow(x0, y0, xe, ye, dashed=True, verdict="accepted", step=row.step,
                                         copy=0))
                parts.append(f'<text class="opt" x="{_n(xe - direction * 8)}" y="{_n(ye + 13)}" '
                             f'text-anchor="{"end" if direction > 0 else "start"}">'
                             f'{_esc(_w(lang, "to").format(flight.peer))}</text>')
                first_end = (xe, ye)
        parts.append(self._label(x0, y0, first_end, text, names, opts, direction, abs(x1 - x0),
                                 above=outside))
        parts.append("</g>")
        self.out.append("".join(parts))

    def _typical_dy(self, panel: _Panel) -> float:
        """How far down a flight usually goes in this run (for arrows that never arrive)."""
        if panel.dy is not None:
            return panel.dy
        dys = sorted(panel.arr_row[id(a)].y - panel.dep_row[id(f)].y for f in panel.model.flights
                     if id(f) in panel.dep_row for a in f.arrivals[:1] if id(a) in panel.arr_row)
        dys = [d for d in dys if d > 0]
        panel.dy = min(80.0, max(30.0, dys[len(dys) // 2])) if dys else 40.0
        return panel.dy

    def _arrow(self, x0: float, y0: float, x1: float, y1: float, *, dashed: bool, verdict: str, step: int,
               copy: int) -> str:
        angle = math.atan2(y1 - y0, x1 - x0)
        ux, uy = math.cos(angle), math.sin(angle)
        bx, by = x1 - ux * 10, y1 - uy * 10       # the head's base
        px, py = -uy * 4.5, ux * 4.5
        cls = "shaft dashed" if dashed else "shaft"
        out = (f'<line class="hit" x1="{_n(x0)}" y1="{_n(y0)}" x2="{_n(x1)}" y2="{_n(y1)}"/>'
               f'<line class="{cls}" x1="{_n(x0)}" y1="{_n(y0)}" x2="{_n(bx)}" y2="{_n(by)}"/>'
               f'<path class="head v-{verdict}" data-arrives="{step}" data-copy="{copy}" '
               f'd="M{_n(x1)},{_n(y1)} L{_n(bx + px)},{_n(by + py)} L{_n(bx - px)},{_n(by - py)} z"/>')
        if verdict == "dropped":
            cx, cy = x1 - ux * 20, y1 - uy * 20
            out += (f'<path class="cross" d="M{_n(cx - 5)},{_n(cy - 5)} l10,10 M{_n(cx - 5)},{_n(cy + 5)} '
                    f'l10,-10"/>')
        return out

    def _label(self, x0: float, y0: float, end: tuple[float, float], text: str, names: str, opts: str,
               direction: int, span: float, above: bool = False) -> str:
        """The label along the arrow (which ends at ``end``), near its sender, placed as on
        an arrow ``span`` wide; the options under it (or, ``above``, both over the arrow,
        the options first)."""
        x1, y1 = end
        width = max(_cols(text) * CH, _cols(opts) * CH_SMALL)
        # Near the sender, in its half of the way where it fits (segments that cross keep
        # their labels apart), never nearer the sender than its own room.
        dist = max(width / 2 + 12, min(0.22 * span, span / 2 - 4 - width / 2))
        t = dist / abs(x1 - x0) if x1 != x0 else 0.0
        cx, cy = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        # Read left to right whichever way the arrow goes.
        angle = math.degrees(math.atan2((y1 - y0) * direction, abs(x1 - x0) or 1))
        if abs(angle) > 30:   # a long flight: the label flat, beside its start
            cx, cy, angle = x0 + direction * (width / 2 + 12), y0, 0.0
        rot = f' rotate({_n(angle)})' if abs(angle) >= 0.05 else ""
        head, flag, tail = text.partition(names) if names else (text, "", "")
        y_lab, y_opt = (-18, -5) if above else (14, 27)
        label = (f'<text class="lab" x="0" y="{y_lab}" text-anchor="middle">{_esc(head)}'
                 f'<tspan class="flags">{_esc(flag)}</tspan>{_esc(tail)}</text>')
        if opts:
            label += f'<text class="opt" x="0" y="{y_opt}" text-anchor="middle">{_esc(opts)}</text>'
        return f'<g transform="translate({_n(cx)},{_n(cy)}){rot}">{label}</g>'

    def _tooltip(self, panel: _Panel, flight: Flight, text: str, opts: str) -> str:
        lang, model = self.lang, panel.model
        sender = _host_label(flight.sender, lang) if flight.sender else flight.src
        receiver = _host_label(flight.receiver, lang) if flight.receiver else flight.dst
        lines = [f"{sender} → {receiver}: {text}" + (f" {opts}" if opts else "")]
        seg = flight.seg
        if seg is not None:
            lines.append(_w(lang, "raw").format(seg.seq, seg.ack))
        when = [_w(lang, "sent").format(self.fmt_time(model, flight.sent_us))]
        for arrival in flight.arrivals:
            fate = _fate(arrival, lang)
            word = fate[0] if fate else _w(lang, "accepted")
            code = f" ({arrival.reason.value})" if arrival.reason is not None and lang == "zh" else ""
            when.append(f"{_w(lang, 'arrived').format(self.fmt_time(model, arrival.t_us))}: {word}{code}")
        if flight.lost is not None:
            when.append(f"{_w(lang, 'lost')}: {_loss_text(flight.lost, lang)}")
        lines.append(_w(lang, "sep").join(when))
        lines.append(_w(lang, "flight").format(flight.id, panel.offset + flight.record))
        return "\n".join(lines)


# -- which two hosts --------------------------------------------------------------------------
def infer_names(records: Sequence[TraceRecord]) -> tuple[str, str]:
    """The two hosts a run's ladder is drawn between, from its records alone: the hosts
    whose connections changed state (the one that started listening on the right, else
    in order of appearance), then the hosts that sent or received segments, then any
    other host that left a record (an injecting "ghost")."""
    order: dict[str, None] = {}
    stateful: dict[str, bool] = {}     # host -> its first change was from LISTEN
    segments: dict[str, None] = {}
    for rec in records:
        order.setdefault(rec.host)
        if isinstance(rec, StateRecord):
            stateful.setdefault(rec.host, rec.old is State.LISTEN)
        elif isinstance(rec, SegmentRecord) and rec.event in ("send", "recv"):
            segments.setdefault(rec.host)
    ranked = sorted(stateful, key=lambda h: stateful[h])   # stable: listeners last
    ranked += [h for h in segments if h not in stateful]
    ranked += [h for h in order if h not in stateful and h not in segments]
    if not ranked:
        return ("client", "server")
    if len(ranked) == 1:
        return (ranked[0], "server" if ranked[0] != "server" else "client")
    a, b = ranked[0], ranked[1]
    if stateful.get(a) and b not in stateful:
        a, b = b, a   # the only listener on the right, the other (a ghost) on the left
    return (a, b)


# -- entry points ----------------------------------------------------------------------------
def _run_title(n: int, total: int, lang: Lang) -> str:
    return _w(lang, "run").format(n, total)


def ladder_svg(runs: Sequence[tuple[Sequence[TraceRecord], int]], *, lang: Lang = "en",
               names: Sequence[tuple[str, str] | None] | None = None,
               titles: Sequence[str | None] | None = None, title: str | None = None) -> str:
    """The SVG of one or more runs, each ``(its typed records, the index of its first
    record in the records the page holds)``, stacked top to bottom; ``names[i]`` the
    hosts of run ``i`` (None: :func:`infer_names`), ``titles[i]`` its heading."""
    panels = []
    for i, (records, offset) in enumerate(runs):
        pair = names[i] if names is not None and i < len(names) else None
        left, right = pair if pair is not None else infer_names(records)
        heading = titles[i] if titles is not None and i < len(titles) else None
        if heading is None and len(runs) > 1:
            heading = _run_title(i + 1, len(runs), lang)
        panels.append(_Panel(build_ladder(records, left, right), offset, heading, i + 1))
    return _Svg(panels, lang).render(title)


def _split_runs(records: Sequence[Mapping[str, object]]) -> list[tuple[int, int]]:
    """(start, end) of each run's records: consecutive records with the same ``"run"``."""
    bounds: list[tuple[int, int]] = []
    start = 0
    current = records[0].get("run") if records else None
    for i, rec in enumerate(records):
        run = rec.get("run")
        if run != current:
            bounds.append((start, i))
            start, current = i, run
    if records:
        bounds.append((start, len(records)))
    return bounds


def ladder_svg_from_records(records: Sequence[Mapping[str, object]], lang: Lang = "en", *,
                            names: tuple[str, str] | Sequence[tuple[str, str] | None] | None = None,
                            titles: Sequence[str | None] | None = None, title: str | None = None) -> str:
    """The ladder of a trace as SVG, from its JSON records: the list of dicts that
    ``synack scenario run NAME --json`` writes, one per line (or the page's
    ``window.synack.trace``), in order.

    Records carrying ``"run"`` (a scenario of several runs) draw one ladder per run,
    stacked, headed "run 1 of 3" unless ``titles`` says otherwise.  ``names`` gives the
    two hosts (left, right) of a single run, or of each run in order; by default they
    are found from the records (:func:`infer_names`: the active opener on the left, the
    listener on the right).  Every segment's ``data-event`` is the index, in
    ``records``, of its send record.  ``lang`` is ``"en"`` or ``"zh"``.
    """
    if not records:
        raise ValueError("no records to draw")
    parsed: list[tuple[Sequence[TraceRecord], int]] = []
    for start, end in _split_runs(records):
        parsed.append(([record_from_dict(r) for r in records[start:end]], start))
    pairs: Sequence[tuple[str, str] | None] | None
    if names is not None and len(names) == 2 and all(isinstance(n, str) for n in names):
        pairs = [names] * len(parsed)  # type: ignore[list-item]
    else:
        pairs = names  # type: ignore[assignment]
    return ladder_svg(parsed, lang=lang, names=pairs, titles=titles, title=title)


def render_svg(records: Sequence[Mapping[str, object]] | Sequence[TraceRecord] | Ladder, *,
               lang: Lang = "en", names: tuple[str, str] | None = None, title: str | None = None) -> str:
    """The ladder as SVG, from whichever the caller holds: the JSON records (dicts, as
    :func:`ladder_svg_from_records` takes them), the typed records of one run
    (:mod:`synack.core.trace`), or a ladder model already built (``data-event`` then
    indexes the records it was built from)."""
    if isinstance(records, Ladder):
        return _Svg([_Panel(records, 0, None, 1)], lang).render(title)
    if records and isinstance(records[0], Mapping):
        return ladder_svg_from_records(records, lang, names=names, title=title)  # type: ignore[arg-type]
    typed: Sequence[TraceRecord] = records  # type: ignore[assignment]
    return ladder_svg([(typed, 0)], lang=lang, names=[names], title=title)
