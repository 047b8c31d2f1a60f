"""The animated page (synack.views.html): one self-contained file, nothing fetched, its
controls and script in place; and, where a browser is at hand, its steps run."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

from synack.cli import main
from synack.views.svg import SVG_NS

CONTROLS = ("first", "back", "play", "pause", "step", "last", "speed")


@cache
def page(name: str, lang: str) -> str:
    """What ``synack scenario run NAME --lang LANG --html FILE`` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.html"
        assert main(["scenario", "run", name, "--lang", lang, "--html", str(path)]) == 0
        return path.read_text(encoding="utf-8")


def svg_of(html: str) -> ET.Element:
    (svg,) = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    return ET.fromstring(svg)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", ["handshake", "lost-syn", "simultaneous-open", "time-wait-lost-ack"])
def test_the_page_is_self_contained(name: str, lang: str, capsys: pytest.CaptureFixture[str]) -> None:
    html = page(name, lang)
    capsys.readouterr()
    # No URL but the SVG namespace (in the picture and in the script that adds to it).
    assert set(re.findall(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>)]*", html)) == {SVG_NS}
    assert not re.search(r"(?i)<(link|img|iframe|object|embed|audio|video|source)\b", html)
    assert not re.search(r"(?i)\s(src|href|srcset|action|xlink:href)\s*=", html)
    assert not re.search(r"(?i)@import|\bfetch\(|XMLHttpRequest|WebSocket|import\(", html)
    assert set(re.findall(r"url\([^)]*\)", html)) == {"url(#synack-reveal)"}
    assert html.startswith("<!DOCTYPE html>\n") and html.count("<script") == 2 and html.count("<style>") == 2
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in html


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_has_its_controls_its_words_and_the_steps_of_its_ladder(lang: str) -> None:
    html = page("simultaneous-open", lang)
    for control in CONTROLS:
        assert html.count(f'id="{control}"') == 1
    words = json.loads(re.search(r'<script type="application/json" id="synack-words">(.*?)</script>',
                                 html, flags=re.S).group(1))  # type: ignore[union-attr]
    if lang == "zh":
        assert words["of"] == "第 {k} 步，共 {n} 步" and words["hosts"]["client"] == "客户端"
        assert ">◀ 上一步<" in html and ">▶ 播放<" in html and ">❚❚ 暂停<" in html and ">下一步 ▶<" in html
    else:
        assert words["of"] == "step {k} of {n}" and words["hosts"] == {}
        assert ">◀ back<" in html and ">▶ play<" in html and ">❚❚ pause<" in html and ">step ▶<" in html
    svg = svg_of(html)
    rows = [g for g in svg.iter(f"{{{SVG_NS}}}g") if g.get("class") == "row"]
    n = int(svg.get("data-steps", "0"))
    assert n == len(rows) == 15 and [int(g.get("data-step", "")) for g in rows] == list(range(n))
    steps = [int(el.get("data-step", "")) for el in svg.iter() if el.get("data-step") is not None]
    assert min(steps) == -1 and max(steps) == n - 1   # -1: the states the hosts start in
    # what each step says, in words
    says = [g.get("data-say") for g in rows]
    first = {"en": "A app: connect(192.0.2.2:50000); A: SYN-SENT; A sends SYN seq=0 win=65535; "
                   "B app: connect(192.0.2.1:40000); B: SYN-SENT; B sends SYN seq=0 win=65535",
             "zh": "A 应用：connect(192.0.2.2:50000)；A：SYN-SENT；A 发送 SYN seq=0 win=65535；"
                   "B 应用：connect(192.0.2.1:40000)；B：SYN-SENT；B 发送 SYN seq=0 win=65535"}
    assert says[0] == first[lang]
    # the script reads what the picture carries
    for attribute in ("data-step", "data-y", "data-say", "data-run", "data-host", "data-left", "data-right"):
        assert attribute in html


def test_a_multi_run_scenario_lists_each_runs_facts() -> None:
    html = page("close-fin-ack-combined", "en")
    assert html.count("<h3>") == 2 and html.count("<li>") >= 2


# -- in a browser, when there is one -------------------------------------------------------
def chromium_or_skip() -> str:
    pytest.importorskip("playwright.sync_api")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium")
    return exe


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_steps_run_in_a_browser(lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exe = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    path = tmp_path / "lost-syn.html"
    assert main(["scenario", "run", "lost-syn", "--lang", lang, "--html", str(path)]) == 0
    capsys.readouterr()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            view = browser.new_page(viewport={"width": 1300, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            view.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            view.on("pageerror", lambda e: errors.append(str(e)))
            view.on("request", lambda r: requests.append(r.url))
            view.goto(path.as_uri())

            def shown() -> int:
                return int(view.evaluate("document.querySelectorAll('#ladder g.seg:not(.hidden)').length"))

            n = view.evaluate("window.synackLadder.steps")
            assert n == 6 and shown() == 0
            status = {"en": "clientCLOSEDserverLISTEN", "zh": "客户端CLOSED服务器LISTEN"}[lang]
            assert view.inner_text("#status").replace("\n", "").replace(" ", "") == status
            view.click("#step")
            view.click("#step")   # the listen, then the connect: the first SYN leaves
            assert view.evaluate("window.synackLadder.step()") == 1 and shown() == 1
            assert "SYN-SENT" in view.inner_text("#status")
            view.click("#step")   # the RTO fires: the SYN again
            assert shown() == 2
            view.click("#back")
            assert shown() == 1 and view.evaluate("window.synackLadder.step()") == 1
            view.select_option("#speed", "8")
            view.click("#play")
            view.wait_for_function("window.synackLadder.step() === 5", timeout=10_000)
            assert shown() == 4 and view.is_disabled("#step") and view.is_disabled("#pause")
            assert view.inner_text("#status").count("ESTABLISHED") == 2
            view.locator("#ladder g.seg[data-flight='1'] line.hit").dispatch_event("click")
            detail = view.inner_text("#detail")
            assert ("lost" if lang == "en" else "丢失") in detail and "flight 1" in detail
            view.screenshot(path=str(tmp_path / "lost-syn.png"))
            assert errors == [] and requests == [path.as_uri()]
        finally:
            browser.close()
