"""The playground's learning aids in chromium: the seed's questions as cards (English
and Chinese) whose buttons open the runs that prove them; why-three's table of what
each side has proven, after every step, as :func:`why_three.tables` has it; the quiz,
with the choices of :mod:`synack.views.quiz` and the real answer; and the what-if
"who closes first and when"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.webpage import CJK, Page, assert_trace_is, cli_jsonl
from synack import playground
from synack.scenarios import LANGS, get
from synack.scenarios.why_three import tables
from synack.views.cards import CARDS
from synack.views.proofs import TABLE_HEADERS, proof_table
from synack.views.quiz import quiz

#: Every run a card names, once: (scenario, run).
EVIDENCE = sorted({(e.scenario, e.run) for c in CARDS for e in (*c.proof, *c.counterfactual)})


def shown_run(web: Page) -> int:
    """The run the page shows (from 1): its tab is the one lit."""
    text: str = web.page.inner_text("#runs button.on")
    return int(text.split(".")[0])


def click_and_wait(web: Page, selector: str) -> None:
    web.page.evaluate("window.synack.ready = false")
    web.page.click(selector)
    web.wait_ready()


def test_a_step_in_the_url(web: Page) -> None:
    web.open("scenario=handshake&seed=1&lang=en&step=4")
    assert web.page.inner_text("#where").startswith("step 4 of 13")
    assert web.page.inner_text("#now").startswith("client sends SYN")
    web.open("scenario=handshake&seed=1&lang=en&step=end")
    assert web.page.inner_text("#where").startswith("step 13 of 13")


@pytest.mark.parametrize("lang", LANGS)
def test_the_cards_in_both_languages(web: Page, tmp_path: Path, lang: str) -> None:
    web.open(f"scenario=handshake&seed=1&lang={lang}")
    page = web.page
    cards = page.locator("#cards .card")
    assert cards.count() == len(CARDS)
    for i, card in enumerate(CARDS):
        el = cards.nth(i)
        assert el.get_attribute("data-card") == card.key
        assert el.locator("h4").inner_text().startswith(getattr(card.question, lang))
        assert el.locator(".answer").inner_text() == getattr(card.answer, lang)
        proofs = el.locator("button.open-run.proof")
        counters = el.locator("button.open-run.counter")
        assert proofs.count() == len(card.proof) and counters.count() == len(card.counterfactual)
        for buttons, runs in ((proofs, card.proof), (counters, card.counterfactual)):
            for k, e in enumerate(runs):
                assert buttons.nth(k).get_attribute("data-scenario") == e.scenario
                assert buttons.nth(k).get_attribute("data-run") == str(e.run)
        for e in (*card.proof, *card.counterfactual):
            assert getattr(e.shows, lang) in el.inner_text()
    for sel in ("#cards-box h3", "#cards-box .hint", "#cards .caption"):
        for text in page.locator(sel).all_inner_texts():
            assert (CJK.search(text) is not None) == (lang == "zh"), f"{sel}: {text!r}"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(tmp_path / f"cards-{lang}.png"), full_page=True)


@pytest.mark.parametrize(("scenario", "run"), EVIDENCE)
def test_a_cards_button_opens_the_run_that_proves_it(web: Page, scenario: str, run: int) -> None:
    web.open("scenario=handshake&seed=1&lang=en")
    button = f'#cards button.open-run[data-scenario="{scenario}"][data-run="{run}"]'
    click_and_wait(web, button)
    page = web.page
    assert f"scenario={scenario}&seed=1" in page.evaluate("location.hash")
    assert ("run=" not in page.evaluate("location.hash")) if run == 1 else \
        (f"run={run}" in page.evaluate("location.hash"))
    assert_trace_is(web, cli_jsonl(scenario))
    assert shown_run(web) == run
    # It opens at its end, the whole run drawn.
    assert page.evaluate("location.hash").endswith("&step=end")
    assert page.input_value("#scrub") == page.get_attribute("#scrub", "max")
    assert page.locator("#ladder [data-event].future").count() == 0
    assert page.locator(f'#cards .card.here button.open-run[data-scenario="{scenario}"]').count() >= 1


def test_a_cards_button_in_chinese_and_within_one_scenario(web: Page, tmp_path: Path) -> None:
    web.open("scenario=why-three&seed=2&lang=zh")
    click_and_wait(web, '#cards [data-card="why-not-four"] button.open-run[data-run="3"]')
    page = web.page
    assert shown_run(web) == 3
    assert "seed=2" in page.evaluate("location.hash") and "run=3" in page.evaluate("location.hash")
    assert_trace_is(web, cli_jsonl("why-three", 2))
    assert CJK.search(page.inner_text("#runs button.on"))
    click_and_wait(web, '#cards [data-card="why-2msl"] '
                        'button.open-run.counter[data-scenario="time-wait-lost-ack"][data-run="2"]')
    assert shown_run(web) == 2
    assert_trace_is(web, cli_jsonl("time-wait-lost-ack", 2))
    page.screenshot(path=str(tmp_path / "card-opened-zh.png"), full_page=True)


def visible_rows(web: Page) -> list[list[str]]:
    rows: list[list[str]] = web.page.evaluate("""() =>
        [...document.querySelectorAll('#proofs tbody tr')].filter((r) => !r.hidden)
            .map((r) => [...r.cells].map((c) => c.textContent))""")
    return rows


@pytest.mark.parametrize("lang", LANGS)
def test_why_threes_table_after_each_step(web: Page, tmp_path: Path, lang: str) -> None:
    expected = tables(1)
    for n, (label, rows) in enumerate(expected, 1):
        web.open(f"scenario=why-three&seed=1&lang={lang}" + (f"&run={n}" if n > 1 else ""))
        page = web.page
        assert shown_run(web) == n
        assert not page.locator("#proofs-box").is_hidden()
        heads = page.evaluate("[...document.querySelectorAll('#proofs thead th')].map((h) => h.textContent)")
        assert heads == list(TABLE_HEADERS[lang])
        assert getattr(label, lang) in page.inner_text("#proofs-run")
        table = [list(r) for r in proof_table(rows, lang)]
        # Which records each step shows, and where the drawn hosts' arrivals are.
        info: dict[str, Any] = page.evaluate("""(n) => {
            const run = window.synack.doc.runs[n - 1];
            const recs = window.synack.trace.slice(run.start, run.end);
            return {steps: recs.map((r, i) => [r.event, i]).filter(([e]) => e !== 'cc').map(([, i]) => i),
                    arrivals: recs.map((r, i) => [r, i]).filter(([r]) => r.event === 'recv'
                        && r.flags !== undefined && (r.host === run.left || r.host === run.right))
                        .map(([, i]) => i)};
        }""", n)
        assert len(info["arrivals"]) == len(table)
        page.evaluate("window.synack.step(0)")
        assert visible_rows(web) == []
        assert page.is_visible("#proofs-empty")
        for k, upto in enumerate(info["steps"], 1):
            page.evaluate(f"window.synack.step({k})")
            seen = sum(1 for a in info["arrivals"] if a <= upto)
            assert visible_rows(web) == table[:seen], f"run {n}, step {k}"
        assert visible_rows(web) == table
        page.locator("#proofs-box").screenshot(path=str(tmp_path / f"why-three-{n}-{lang}.png"))
    assert (CJK.search(web.page.inner_text("#proofs-box")) is not None) == (lang == "zh")


def quiz_ids(web: Page, name: str) -> tuple[list[Any], list[int]]:
    """The quiz of run 1 of ``name`` (seed 1) as synack.views.quiz has it, and the
    indices of the segments it asks about in the page's trace."""
    run = get(name).run(1)[0]
    questions = quiz(run.records, run.left, run.right)
    sends: list[int] = web.page.evaluate("""() => {
        const run = window.synack.doc.runs[0];
        return window.synack.trace.map((r, i) => [r, i]).filter(([r, i]) => i < run.end && r.event === 'send'
            && (r.host === run.left || r.host === run.right)).map(([, i]) => i);
    }""")
    assert len(sends) == len(questions)
    return questions, sends


@pytest.mark.parametrize(("name", "lang"), [("handshake", "en"), ("handshake", "zh"), ("close", "en")])
def test_the_quiz_asks_before_each_segment_and_tells_the_real_answer(web: Page, tmp_path: Path, name: str,
                                                                    lang: str) -> None:
    web.open(f"scenario={name}&seed=1&lang={lang}")
    page = web.page
    questions, sends = quiz_ids(web, name)
    page.check("#quiz-on")
    page.wait_for_selector("#quiz:not([hidden]) p.hint")
    page.click("#first")
    total: int = page.evaluate("window.synack.doc.runs[0].end - window.synack.doc.runs[0].start")
    asked = right = 0
    last = page.get_attribute("#scrub", "max")
    steps: list[int] = page.evaluate("""() => window.synack.trace.slice(0, window.synack.doc.runs[0].end)
        .map((r, i) => [r.event, i]).filter(([e]) => e !== 'cc').map(([, i]) => i)""")
    for _ in range(3 * total):
        if page.input_value("#scrub") == last:
            break
        page.click("#step")
        if page.locator("#quiz .q-choice").count() == 0:
            continue
        q = questions[asked]
        labels = page.locator("#quiz .q-choice").all_inner_texts()
        assert labels == [c.label(lang) for c in q.choices]
        assert page.inner_text("#quiz .q-prompt") == getattr(q.prompt, lang)
        # The segment asked about is not drawn yet, nor the state change that comes with it.
        assert "future" in (page.get_attribute(f'#ladder [data-event="{sends[asked]}"]', "class") or "")
        if asked == 0:
            assert "SYN-SENT" not in page.inner_text("#now") + page.inner_text("#edge-why")
            label = page.locator('#ladder g.state[data-host="client"][data-state="SYN-SENT"]').first
            assert "future" in (label.get_attribute("class") or "")
        pick = q.answer if asked % 2 == 0 else (q.answer + 1) % len(q.choices)
        page.locator("#quiz .q-choice").nth(pick).click()
        assert page.locator("#quiz .q-choice.right").inner_text() == q.correct.label(lang)
        verdict = page.inner_text("#quiz .q-verdict")
        if pick == q.answer:
            right += 1
            assert verdict == ("答对了。" if lang == "zh" else "Right.")
        else:
            assert q.correct.label(lang) in verdict
            assert page.locator("#quiz .q-choice.wrong").inner_text() == q.choices[pick].label(lang)
        assert getattr(q.why, lang) in page.inner_text("#quiz .q-why")
        if asked == 0:
            page.screenshot(path=str(tmp_path / f"quiz-{name}-{lang}.png"))
        page.click("#quiz-continue")
        # The step proceeds to the segment: it is sent.
        assert "future" not in (page.get_attribute(f'#ladder [data-event="{sends[asked]}"]', "class") or "")
        assert page.input_value("#scrub") == str(steps.index(sends[asked]) + 1)
        asked += 1
    assert asked == len(questions)
    score = page.inner_text("#quiz .q-score")
    said = f"答对 {right} 题，共答 {asked} 题" if lang == "zh" else f"{right} of {asked} answered right"
    assert said in score
    page.uncheck("#quiz-on")
    assert page.is_hidden("#quiz")


def test_play_stops_at_a_question(web: Page) -> None:
    web.open("scenario=handshake&seed=1&lang=en")
    page = web.page
    page.check("#quiz-on")
    page.click("#first")
    page.select_option("#speed", "50")
    page.click("#play")
    page.wait_for_selector("#quiz .q-choice")
    assert page.inner_text("#play") == "▶ Play"
    # Asked before the client's CLOSED → SYN-SENT, which would give the SYN away.
    assert page.inner_text("#where").startswith("step 2 of ")
    page.uncheck("#quiz-on")


def fins(trace: list[dict[str, Any]], run: int = 1) -> list[tuple[int, str]]:
    return [(r["t_us"], r["host"]) for r in trace
            if r["event"] == "send" and "F" in r["flags"] and r.get("run", 1) == run]


@pytest.mark.parametrize("lang", LANGS)
def test_who_closes_first_and_when(web: Page, tmp_path: Path, lang: str) -> None:
    web.open(f"scenario=close&seed=1&lang={lang}")
    page = web.page
    assert not page.is_hidden("#close-fields")
    assert fins(page.evaluate("window.synack.trace"))[0][1] == "client"
    page.select_option("#settings select[name=close]", "server")
    page.fill("#settings input[name=close_at]", "500")
    click_and_wait(web, "#apply")
    assert "close=server&close_at=500" in page.evaluate("location.hash")
    trace = page.evaluate("window.synack.trace")
    assert trace == playground.run("close", 1, {"close": "server", "close_at": "500"})["records"]
    got = fins(trace)
    assert got[0] == (500_000, "server") and got[1][1] == "client" and got[1][0] > 500_000
    states = [(r["host"], r["to"]) for r in trace if r["event"] == "state"]
    assert ("server", "FIN-WAIT-1") in states and ("client", "CLOSE-WAIT") in states
    assert ("server", "TIME-WAIT") in states and ("client", "TIME-WAIT") not in states
    changes = page.inner_text("#changes")
    said = "先关闭的一方 = 服务器" if lang == "zh" else "first to close = the server"
    assert said in changes
    said = "第一个 FIN 来自服务器，在 0.5 秒" if lang == "zh" else "the first FIN: the server's, at 0.5 s"
    assert said in page.inner_text("#facts")
    page.locator("#whatif").screenshot(path=str(tmp_path / f"close-whatif-{lang}.png"))
    # Both at once: a simultaneous close, both through CLOSING.
    page.select_option("#settings select[name=close]", "both")
    click_and_wait(web, "#apply")
    trace = page.evaluate("window.synack.trace")
    assert fins(trace)[:2] == [(500_000, "client"), (500_000, "server")]
    states = [(r["host"], r["to"]) for r in trace if r["event"] == "state"]
    assert ("client", "CLOSING") in states and ("server", "CLOSING") in states
    # Removing who closes first removes its times too, and the seed's run is back.
    click_and_wait(web, "#changes button.remove")
    assert page.evaluate("location.hash") == "#scenario=close&seed=1&lang=" + lang
    assert_trace_is(web, cli_jsonl("close"))


def test_who_closes_first_in_the_url(web: Page) -> None:
    web.open("scenario=simultaneous-close&seed=1&lang=en&close=client")
    trace = web.page.evaluate("window.synack.trace")
    assert trace == playground.run("simultaneous-close", 1, {"close": "client"})["records"]
    first, second = fins(trace)[:2]
    assert first == (300_000, "client") and second[1] == "server" and second[0] > first[0]
    assert web.page.is_visible("#close-fields")
    web.open("scenario=time-wait-lost-ack&seed=1&lang=en&close=server&close_then=0")
    trace = web.page.evaluate("window.synack.trace")
    for run in (1, 2):
        assert fins(trace, run)[0][1] == "server"
    web.open("scenario=handshake&seed=1&lang=en")
    assert web.page.is_hidden("#close-fields")
