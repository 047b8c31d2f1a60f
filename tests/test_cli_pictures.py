"""``synack scenario run NAME --svg FILE`` and ``--html FILE``: the pictures written next to
the JSON trace (and pointing into it), failures to write as one line and status 2; and
the JSON trace of the syn-flood scenario, complete."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from synack.cli import main
from synack.scenarios import get
from synack.views.svg import SVG_NS


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synack.cli", *argv], capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "COLUMNS": "120"})


def segs(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{{{SVG_NS}}}g") if g.get("class", "").startswith("seg ")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_svg_and_html_point_into_the_json_written_with_them(lang: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    trace, svg, html = tmp_path / "t.jsonl", tmp_path / "t.svg", tmp_path / "t.html"
    assert main(["scenario", "run", "time-wait-lost-ack", "--lang", lang, "--json", str(trace),
                 "--svg", str(svg), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert f"ladder written to {svg}" in out and f"page written to {html}" in out
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    groups = segs(root)
    # every send of the two runs is one arrow whose data-event is its line in the JSON
    sends = [i for i, r in enumerate(rows) if r["event"] == "send"]
    assert sorted(int(g.get("data-event", "")) for g in groups) == sends
    for g in groups:
        row = rows[int(g.get("data-event", ""))]
        assert row["flight"] == int(g.get("data-flight", "")) and row["run"] == int(g.get("data-run", ""))
    titles = [t.text for t in root.iter(f"{{{SVG_NS}}}text") if t.get("class") == "title"]
    scenario = get("time-wait-lost-ack")
    runs = scenario.run(1)
    assert titles == [f"time-wait-lost-ack: {scenario.title(lang)}", *(r.label(lang) for r in runs)]
    page = html.read_text(encoding="utf-8")
    assert page.count(svg.read_text(encoding="utf-8").strip()) == 1   # the same picture, inline


def test_the_picture_follows_the_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, c = tmp_path / "a.svg", tmp_path / "b.svg", tmp_path / "c.svg"
    for path, seed in ((a, "1"), (b, "1"), (c, "2")):
        assert main(["scenario", "run", "handshake", "--seed", seed, "--svg", str(path)]) == 0
    capsys.readouterr()
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def cannot_write(what: str, err: int) -> str:
    return f"synack: error: cannot write {what}: {os.strerror(err)}\n"


@pytest.mark.parametrize("option", ["--svg", "--html"])
@pytest.mark.parametrize(("path", "err"), [("/dev/full", errno.ENOSPC), ("/nonexistent/dir/x", errno.ENOENT),
                                           ("/proc/x", errno.ENOENT)])
def test_unwritable_pictures_are_one_line_and_exit_2(option: str, path: str, err: int) -> None:
    proc = run_cli("scenario", "run", "handshake", option, path)
    assert (proc.returncode, proc.stderr) == (2, cannot_write(path, err))
    if path != "/dev/full":   # known before the run: nothing else is done
        assert proc.stdout == ""


def test_syn_flood_json_is_the_whole_trace(tmp_path: Path) -> None:
    """Every spoofed SYN of every run is in the JSON; only the pictures summarise."""
    trace, svg = tmp_path / "flood.jsonl", tmp_path / "flood.svg"
    proc = run_cli("scenario", "run", "syn-flood", "--json", str(trace), "--svg", str(svg))
    assert proc.returncode == 0, proc.stderr
    runs = get("syn-flood").run(1)
    with trace.open() as f:
        rows = [json.loads(line) for line in f]
    assert Counter(r["run"] for r in rows) == {n: len(run.records) for n, run in enumerate(runs, 1)}
    assert not [r for r in rows if r["event"] == "note" and "not drawn" in r["text"]]
    root = ET.parse(svg).getroot()
    for n in range(1, len(runs) + 1):
        spoofed = {r["flight"] for r in rows if r["run"] == n and r["host"] == "server"
                   and r["event"] in ("recv", "drop") and r.get("flags") == "S"
                   and not r["src"].startswith("192.0.2.1:")}
        assert len(spoofed) == 20_000
        # the picture draws the first two sources' SYNs and counts the rest
        (run,) = [g for g in root.iter(f"{{{SVG_NS}}}g")
                  if g.get("class") == "run" and g.get("data-run") == str(n)]
        drawn = {int(g.get("data-flight", "")) for g in segs(run)} & spoofed
        (summary,) = [t for t in run.iter(f"{{{SVG_NS}}}text") if t.get("data-flights")]
        assert int(summary.get("data-flights", "")) == 20_000 - len(drawn) and len(drawn) == 2
