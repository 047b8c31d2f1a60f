"""The terminal ladder at 80 columns (labels wrap, never cut) and in Chinese."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from synack.cli import render_scenario
from synack.core.errors import DropReason
from synack.core.timers import Timer
from synack.core.trace import NoteRecord, TimerAction
from synack.scenarios import TOUR, Lang, get
from synack.views.ladder import build_ladder, ladder_text
from synack.views.ladder.model import Note, TimerEvent
from synack.views.ladder.text import timer_text, wrap_cells
from synack.views.words import drop_reason, host_label, note_text

#: The "… N rows …" line of a ladder that leaves rows out, in either language.
ROWS_LEFT_OUT = re.compile(r"… (省略 )?\d+ (rows )?(行 )?…")
WIDE = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")


def tour_output(name: str, lang: Lang, width: int = 80) -> str:
    """What ``synack tour`` prints for ``name`` on a terminal ``width`` columns wide."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, highlight=False)
    scenario = get(name)
    render_scenario(console, scenario, scenario.run(1), lang, relative_seq=True)
    return buf.getvalue()


def test_wrap_cells_breaks_at_spaces_commas_and_between_chinese_characters() -> None:
    assert wrap_cells("SYN,ACK seq=0 ack=1 win=65535", 20) == ["SYN,ACK seq=0 ack=1", "win=65535"]
    assert wrap_cells("<mss 1460,sackOK,wscale 7>", 18, commas=True) == ["<mss 1460,sackOK,", "wscale 7>"]
    assert wrap_cells("半连接队列已满，丢弃", 8) == ["半连接队", "列已满，", "丢弃"]
    assert wrap_cells("by 890000 µs", 9) == ["by", "890000 µs"]
    # A word wider than the line is the one place a break falls inside a word.
    assert wrap_cells("4294742297:4294742305", 10) == ["4294742297", ":429474230", "5"]
    assert wrap_cells("short", 80) == ["short"]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", TOUR)
def test_every_tour_scenario_fits_80_columns_and_cuts_nothing(name: str, lang: Lang) -> None:
    out = tour_output(name, lang)
    for line in out.split("\n"):
        assert cell_len(line) <= 80, line
        if "…" in line:
            assert ROWS_LEFT_OUT.search(line), f"cut: {line!r}"
    # Every word of every note, timer and segment label in the ladders is there, whole.
    for run in get(name).run(1):
        model = build_ladder(run.records, run.left, run.right)
        whole = ladder_text(run.records, run.left, run.right, width=76, lang=lang)   # raw numbers
        texts = [note_text(e.text, lang) for e in model.events if isinstance(e, Note)]
        texts += [t for e in model.events if isinstance(e, TimerEvent) and (t := timer_text(e, lang))]
        for text in texts:
            for token in text.split():   # Chinese may break between any two characters
                for piece in WIDE.split(token) + WIDE.findall(token):
                    assert piece in whole, (piece, text)
        for flight in model.flights:
            if flight.seg is not None:
                assert f"seq={flight.seg.seq}" in whole and f"win={flight.seg.window}" in whole
                for option in flight.seg.options.describe():
                    assert option in whole, option
        assert "…" not in whole
        assert all(cell_len(line) <= 76 for line in whole.split("\n"))


def test_the_handshake_ladder_in_chinese() -> None:
    run = get("handshake").run(1)[0]
    assert ladder_text(run.records, "client", "server", width=76, relative_seq=True, lang="zh") == """\
                 客户端                                     服务器
             192.0.2.1:48995                             192.0.2.2:80
             CLOSED │                                          │ LISTEN
0.000s              │            应用：listen(80, backlog=128) │
0.100s     SYN-SENT │ 应用：connect(192.0.2.2:80)              │
                    ├─── SYN seq=0 win=65535 ─────────────────▶│
                    │    <mss 1460,sackOK,wscale 7>            │
0.110s              │◀─────── SYN,ACK seq=0 ack=1 win=65535 ───┤ SYN-RCVD
                    │         <mss 1460,sackOK,wscale 7>       │
0.120s  ESTABLISHED ├─── ACK seq=1 ack=1 win=511 ─────────────▶│
0.130s              │                           应用：accept() │ ESTABLISHED
"""


def test_chinese_fates_timers_and_notes() -> None:
    out = tour_output("old-duplicate-syn", "zh")
    assert "✗ 丢弃：没有这个连接" in out
    assert "⏲ 重传定时器 触发" in out
    assert "⏲ TIME-WAIT 定时器 启动，60s" in out
    assert "两次握手服务器：忽略 RST，连接仍是" in out
    assert "故障：延迟 #1" in out
    out = tour_output("lost-syn", "zh")
    assert "✗ 丢失" in out and "故障：丢弃 #1" in out
    for english in ("app:", "✗ lost", "fired", "armed", "dropped:"):
        assert english not in out


def test_every_drop_reason_and_the_stacks_notes_have_chinese() -> None:
    for reason in DropReason:
        assert drop_reason(reason, "zh") != reason.value
        assert drop_reason(reason, "en") == reason.value
    assert note_text("SYN queue 3/128", "zh") == "半连接队列 3/128"
    assert note_text("app: send(5 bytes, urgent) -> 5", "zh") == "应用：send(5 字节，紧急) -> 5"
    assert note_text("fault: delay #1 flags_are('SA') by 500000 µs", "zh") == \
        "故障：延迟 #1 flags_are('SA')，500000 微秒"
    assert note_text("+19998 spoofed SYNs not drawn", "zh") == "另有 19998 个伪造 SYN 未画出"
    assert note_text("something new", "zh") == "something new"
    assert note_text("app: close()", "en") == "app: close()"
    assert host_label("client", "zh") == "客户端" and host_label("A", "zh") == "A"
    assert timer_text(TimerEvent(0, "c", Timer.TIME_WAIT, TimerAction.ARMED, 60_000_000), "zh") == \
        "⏲ TIME-WAIT 定时器 启动，60s"
    # A note the record stores in English is translated only when drawn.
    assert NoteRecord(0, "server", "SYN queue 0/2").text == "SYN queue 0/2"
