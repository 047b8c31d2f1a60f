"""The ladder as SVG (synack.views.svg): parsed with xml.etree, for every tour scenario in
English and Chinese; each segment drawn once and linked to its record; the geometry of
crossing and lost segments; the words; and no rich or matplotlib anywhere near it."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from functools import cache
from typing import Any

import pytest

from synack.core.trace import NoteRecord, SegmentRecord, StateRecord, TimerAction, TimerRecord, TraceRecord
from synack.core.wire import SYN
from synack.scenarios import TOUR, Run, get
from synack.views.jsonl import record_from_dict, record_to_dict
from synack.views.ladder import Elided, build_ladder
from synack.views.ladder.model import StateChange, TimerEvent
from synack.views.svg import SVG_NS, infer_names, ladder_svg, ladder_svg_from_records, render_svg

NS = {"s": SVG_NS}
Records = list[dict[str, Any]]


@cache
def scenario_runs(name: str) -> tuple[Run, ...]:
    return tuple(get(name).run(1))


@cache
def records_of(name: str) -> tuple[dict[str, Any], ...]:
    """What ``synack scenario run NAME --json`` writes, as dicts."""
    runs = scenario_runs(name)
    out = []
    for n, run in enumerate(runs, 1):
        for rec in run.records:
            row = record_to_dict(rec)
            if len(runs) > 1:
                row["run"] = n
            out.append(row)
    return tuple(out)


@cache
def drawn(name: str, lang: str) -> ET.Element:
    svg = ladder_svg_from_records(list(records_of(name)), lang)  # type: ignore[arg-type]
    return ET.fromstring(svg)


def segs(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{{{SVG_NS}}}g") if g.get("class", "").startswith("seg ")]


def run_of(root: ET.Element, n: int) -> ET.Element:
    (g,) = [g for g in root.iter(f"{{{SVG_NS}}}g") if g.get("class") == "run" and g.get("data-run") == str(n)]
    return g


def texts(el: ET.Element, cls: str | None = None) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter(f"{{{SVG_NS}}}text")
            if cls is None or t.get("class") == cls]


def offsets(name: str) -> list[int]:
    out, at = [], 0
    for run in scenario_runs(name):
        out.append(at)
        at += len(run.records)
    return out


# -- every tour scenario, both languages ---------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", TOUR)
def test_every_send_is_one_arrow_linked_to_its_record(name: str, lang: str) -> None:
    root = drawn(name, lang)
    assert root.tag == f"{{{SVG_NS}}}svg"
    records = records_of(name)
    runs = scenario_runs(name)
    groups = segs(root)
    # data-event is a record of the same flight (the send, or a first arrival from outside)
    for g in groups:
        rec = records[int(g.get("data-event", "-1"))]
        assert rec["flight"] == int(g.get("data-flight", "-1")) and rec["event"] in ("send", "recv")
        assert g.find("s:title", NS) is not None and g.find("s:title", NS).text  # type: ignore[union-attr]
    by_event = Counter(int(g.get("data-event", "-1")) for g in groups)
    assert set(by_event.values()) == {1}
    for n, (run, start) in enumerate(zip(runs, offsets(name), strict=True), 1):
        drawn_hosts = (run.left, run.right)
        sends = [start + i for i, r in enumerate(run.records)
                 if isinstance(r, SegmentRecord) and r.event == "send" and r.host in drawn_hosts]
        in_run = [g for g in groups if g.get("data-run") == str(n)]
        arrows = {int(g.get("data-event", "-1")) for g in in_run}
        summary = [t for t in run_of(root, n).iter(f"{{{SVG_NS}}}text") if t.get("data-answers") is not None]
        answered = sum(int(t.get("data-answers", "0")) for t in summary)
        # each send of a drawn host: one arrow, or one of the answers a summary line counts
        assert len(set(sends) - arrows) == answered
        # segments from outside the picture that reached it (or the gateway in front of
        # it, syn-flood's filter): one arrow each, or counted
        ours = {r.flight for r in run.records if isinstance(r, SegmentRecord) and r.event == "send"
                and r.host in drawn_hosts}
        outside = {r.flight for r in run.records if isinstance(r, SegmentRecord) and r.host in drawn_hosts
                   and r.event in ("recv", "drop") and r.flight not in ours}
        from_outside = [g for g in in_run if int(g.get("data-flight", "0")) in outside]
        counted = sum(int(t.get("data-flights", "0")) for t in summary)
        assert len(from_outside) + counted == len(outside)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", TOUR)
def test_states_rows_and_notes_follow_the_model(name: str, lang: str) -> None:
    root = drawn(name, lang)
    rows = [g for g in root.iter(f"{{{SVG_NS}}}g") if g.get("class") == "row"]
    assert [int(g.get("data-step", "-1")) for g in rows] == list(range(len(rows)))
    assert root.get("data-steps") == str(len(rows))
    ys = [float(g.get("data-y", "0")) for g in rows]
    times = [int(g.get("data-t-us", "0")) for g in rows]
    for n, run in enumerate(scenario_runs(name), 1):
        model = build_ladder(run.records, run.left, run.right)
        g_run = run_of(root, n)
        states = [(g.get("data-host"), g.get("data-state")) for g in g_run.iter(f"{{{SVG_NS}}}g")
                  if g.get("class", "").startswith("state ") and g.get("data-step") != "-1"]
        for host in (run.left, run.right):   # each host's states, in order
            assert [st for h, st in states if h == host] == \
                [e.new.value for e in model.events if isinstance(e, StateChange) and e.host == host]
        assert len(states) == len([e for e in model.events if isinstance(e, StateChange)])
        initial = [(g.get("data-host"), g.get("data-state")) for g in g_run.iter(f"{{{SVG_NS}}}g")
                   if g.get("class", "").startswith("state ") and g.get("data-step") == "-1"]
        assert initial == [(s.name, s.initial.value) for s in (model.left, model.right) if s.initial]
        # timers that fire, and those armed but for the per-segment ones, are written
        timers = [e for e in model.events if isinstance(e, TimerEvent)
                  and (e.action is not TimerAction.ARMED or e.timer.label in ("time-wait", "fin-wait-2",
                                                                                "keepalive", "user-timeout"))]
        assert len(texts(g_run, "timer")) == len(timers)
        if name != "syn-flood":
            assert len(timers) == len([r for r in run.records if isinstance(r, TimerRecord)
                                       and r.host in (run.left, run.right) and (
                                           r.action is not TimerAction.ARMED or r.timer.label in (
                                               "time-wait", "fin-wait-2", "keepalive", "user-timeout"))])
    assert ys == sorted(ys) and len(set(times)) <= len(rows)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", TOUR)
def test_rows_go_down_with_time_within_a_run(name: str, lang: str) -> None:
    root = drawn(name, lang)
    for n in range(1, len(scenario_runs(name)) + 1):
        rows = run_rows(root, n)
        pairs = [(int(g.get("data-t-us", "0")), float(g.get("data-y", "0"))) for g in rows]
        assert [t for t, _ in pairs] == sorted(t for t, _ in pairs)
        assert all(y1 < y2 for (_, y1), (_, y2) in itertools.pairwise(pairs))


def run_rows(root: ET.Element, n: int) -> list[ET.Element]:
    return [g for g in root.iter(f"{{{SVG_NS}}}g") if g.get("class") == "row" and g.get("data-run") == str(n)]


# -- geometry --------------------------------------------------------------------------------
def columns(root: ET.Element, n: int = 1) -> tuple[float, float]:
    xs = sorted({float(line.get("x1", "0")) for line in run_of(root, n).iter(f"{{{SVG_NS}}}line")
                 if line.get("class") == "life"})
    assert len(xs) == 2
    return xs[0], xs[1]


def hits(g: ET.Element) -> list[tuple[float, float, float, float]]:
    return [(float(h.get("x1", "0")), float(h.get("y1", "0")), float(h.get("x2", "0")),
             float(h.get("y2", "0"))) for h in g.findall("s:line[@class='hit']", NS)]


def crosses(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two segments intersect strictly inside both."""
    (x1, y1, x2, y2), (x3, y3, x4, y4) = a, b
    d = (x2 - x1) * (y4 - y3) - (y2 - y1) * (x4 - x3)
    if d == 0:
        return False
    t = ((x3 - x1) * (y4 - y3) - (y3 - y1) * (x4 - x3)) / d
    u = ((x3 - x1) * (y2 - y1) - (y3 - y1) * (x2 - x1)) / d
    return 0 < t < 1 and 0 < u < 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_simultaneous_open_syns_cross_and_so_do_the_synacks(lang: str) -> None:
    root = drawn("simultaneous-open", lang)
    records = records_of("simultaneous-open")
    for n in (1, 2):   # the same instant, and 5 ms apart: both pairs cross in flight
        left, right = columns(root, n)
        by_flags: dict[str, list[tuple[float, float, float, float]]] = {}
        for g in segs(root):
            if g.get("data-run") == str(n):
                (line,) = hits(g)
                by_flags.setdefault(records[int(g.get("data-event", "-1"))]["flags"], []).append(line)
        (syn_a, syn_b), (sa_a, sa_b) = by_flags["S"], by_flags["SA"]
        for a, b in ((syn_a, syn_b), (sa_a, sa_b)):
            assert crosses(a, b)
            # each from one column to the other, and downwards (sent before it arrived)
            assert {a[0], a[2]} == {b[0], b[2]} == {left, right}
            assert a[3] > a[1] and b[3] > b[1]
    # the third run: B's SYN leaves after A's has arrived; nothing crosses
    r3 = [hits(g)[0] for g in segs(root) if g.get("data-run") == "3"]
    assert not any(crosses(a, b) for a in r3 for b in r3 if a is not b)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_lost_segment_stops_before_the_other_column_with_a_cross_and_its_reason(lang: str) -> None:
    root = drawn("lost-syn", lang)
    left, right = columns(root)
    lost = [g for g in segs(root) if g.find("s:path[@data-lost]", NS) is not None]
    assert len(lost) == 1
    (g,) = lost
    rec = records_of("lost-syn")[int(g.get("data-event", "-1"))]
    assert (rec["host"], rec["flags"], rec["event"]) == ("client", "S", "send")
    ((x1, y1, x2, y2),) = hits(g)
    assert x1 == left and left < x2 < right - 100 and y2 > y1
    assert g.find("s:path[@class='head']", NS) is None   # no head: it never arrived
    why = {"en": "✗ lost, fault: drop #1 (flags_are('S') & from_host('client'))",
           "zh": "✗ 丢失，故障注入：drop #1 (flags_are('S') & from_host('client'))"}[lang]
    assert " ".join(texts(g, "why")) == why
    # every other segment reaches its receiver's column
    for other in segs(root):
        if other is not g:
            ((a, _, b, _),) = hits(other)
            assert {a, b} == {left, right}


def test_dropped_trimmed_and_duplicate_arrivals_are_told_apart() -> None:
    def heads(name: str) -> Counter[str]:
        return Counter(p.get("class", "") for g in segs(drawn(name, "en")) for p in g.findall("s:path", NS)
                       if p.get("class", "").startswith("head"))

    assert heads("data-on-syn")["head v-trimmed"] == 1
    assert texts(drawn("data-on-syn", "en"), "fate-trimmed") == ["✂ trimmed: data-on-syn"]
    assert texts(drawn("data-on-syn", "zh"), "fate-trimmed") == ["✂ 截断：SYN 上的数据"]
    q = drawn("queues", "en")
    assert heads("queues")["head v-duplicate"] == len(texts(q, "fate-duplicate")) > 0
    assert set(texts(q, "fate-duplicate")) == {"≡ duplicate"}
    assert heads("queues")["head v-dropped"] == len(texts(q, "fate-dropped")) > 0
    assert "✗ dropped: accept-queue-full" in texts(q, "fate-dropped")
    assert "✗ 丢弃：全连接队列满" in texts(drawn("queues", "zh"), "fate-dropped")


# -- the words ---------------------------------------------------------------------------------
def test_chinese_labels() -> None:
    hs = drawn("handshake", "zh")
    assert texts(hs, "host") == ["客户端", "服务器"]
    assert texts(hs, "app") == ["应用：listen(80, backlog=128)", "应用：connect(192.0.2.2:80)",
                                "应用：accept()"]
    assert texts(drawn("handshake", "en"), "host") == ["client", "server"]
    assert texts(drawn("lost-syn", "zh"), "timer") == ["◷ 重传计时器 RTO 到时"]
    assert texts(drawn("lost-syn", "en"), "timer") == ["◷ RTO fired"]
    closing = texts(drawn("close", "zh"), "timer")
    assert "◷ TIME-WAIT 计时器 启动（60s）" in closing and "◷ TIME-WAIT 计时器 到期" in closing
    assert hs.get("lang") == "zh"


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "+19,998 spoofed SYNs not drawn, nor the 668 segments answering them"),
    ("zh", "另有 19,998 个伪造的 SYN 未画出，回应它们的 668 个报文段也未画出"),
])
def test_a_flood_is_summarised_in_the_picture_only(lang: str, words: str) -> None:
    root = drawn("syn-flood", lang)
    first = run_of(root, 1)
    assert "".join(texts(first, "elided")).replace(" ", "") == words.replace(" ", "")
    (line,) = [t for t in first.iter(f"{{{SVG_NS}}}text") if t.get("data-flights")]
    assert (line.get("data-flights"), line.get("data-answers")) == ("19998", "668")
    # the picture keeps two spoofed sources; the trace keeps all of them
    outside = [g for g in segs(first)
               if records_of("syn-flood")[int(g.get("data-event", "-1"))]["event"] == "recv"]
    assert len(outside) == 2
    spoofed = {r["flight"] for r in records_of("syn-flood") if r.get("run") == 1 and r["event"] == "recv"
               and r["host"] == "server" and not r["src"].startswith("192.0.2.1:")}
    assert len(spoofed) == 20_000


# -- entry points ----------------------------------------------------------------------------
def test_typed_records_json_records_and_the_model_draw_the_same() -> None:
    run = scenario_runs("handshake")[0]
    from_json = ladder_svg_from_records([record_to_dict(r) for r in run.records])
    assert render_svg(run.records) == from_json
    assert render_svg([record_to_dict(r) for r in run.records]) == from_json
    assert render_svg(build_ladder(run.records, "client", "server")) == from_json
    assert ladder_svg([(run.records, 0)]) == from_json


def test_json_records_read_back_to_the_same_records() -> None:
    for name in ("handshake", "queues", "old-duplicate-syn", "urgent"):
        for run in scenario_runs(name) if name in TOUR else get(name).run(1):
            back: list[TraceRecord] = [record_from_dict(record_to_dict(r)) for r in run.records]
            assert [record_to_dict(r) for r in back] == [record_to_dict(r) for r in run.records]


@pytest.mark.parametrize("name", TOUR)
def test_the_hosts_are_found_from_the_records(name: str) -> None:
    for run in scenario_runs(name):
        assert infer_names(run.records) == (run.left, run.right)


def test_names_can_be_given() -> None:
    records = list(records_of("handshake"))
    root = ET.fromstring(ladder_svg_from_records(records, names=("server", "client")))  # type: ignore[arg-type]
    assert texts(root, "host") == ["server", "client"]


def test_a_trace_of_many_outside_endpoints_is_summarised_as_such() -> None:
    """More than eight endpoints outside the picture, each sending a real (not spoofed)
    SYN: two are drawn, the rest counted, not called spoofed."""
    from synack.core.state import State
    from synack.core.trace import Verdict
    from synack.core.wire import Segment

    recs: list[TraceRecord] = [StateRecord(0, "server", "10.0.0.2:80", "10.0.0.1:4000", State.LISTEN,
                                           State.SYN_RECEIVED),
                               NoteRecord(0, "client", "app: connect(10.0.0.2:80)")]
    for k in range(12):
        seg = Segment(5000 + k, 80, 1000 * k, 0, SYN, 64240)
        src = f"198.51.100.{k + 1}"
        recs.append(SegmentRecord(k * 10, "other", "send", src, "10.0.0.2", seg, flight=k + 1))
        recs.append(SegmentRecord(k * 10 + 5, "server", "recv", src, "10.0.0.2", seg, flight=k + 1,
                                  verdict=Verdict.ACCEPTED))
    model = build_ladder(recs, "client", "server")
    (elided,) = [e for e in model.events if isinstance(e, Elided)]
    assert (elided.flights, elided.endpoints, elided.syns, elided.spoofed, elided.answers) == \
        (10, 10, True, False, 0)
    root = ET.fromstring(render_svg(model))
    assert texts(root, "elided") == ["+10 SYNs from 10 other endpoints not", "drawn"]
    assert [g.get("data-event") for g in segs(root)] == ["2", "4"]   # their send records


# -- no rich, no matplotlib ----------------------------------------------------------------
def test_it_imports_and_draws_with_rich_and_matplotlib_blocked() -> None:
    """The browser runs this module: it must not need rich or matplotlib, even indirectly."""
    code = r"""
import json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('rich', 'matplotlib', 'numpy', 'PIL'):
            raise ImportError('blocked: ' + name)
        return None
sys.meta_path.insert(0, Block())
from synack.views.svg import ladder_svg_from_records
from synack.views.html import ladder_html
records = [json.loads(line) for line in sys.stdin]
svg = ladder_svg_from_records(records, lang='zh')
page = ladder_html(svg, lang='zh')
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'matplotlib'))
print(json.dumps([svg.count('class="seg '), bad, page.count('<svg')]))
"""
    lines = "".join(json.dumps(r) + "\n" for r in records_of("handshake"))
    proc = subprocess.run([sys.executable, "-c", code], input=lines, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [3, [], 1]
