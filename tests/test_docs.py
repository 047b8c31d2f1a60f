"""docs/ARCHITECTURE.md's state diagram is what scripts/state_diagram.py draws from
``synack.core.state.TRANSITIONS`` now; the script draws every edge and nothing else.
README.zh.md keeps README.md's outline: headings, code blocks, tables."""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from state_diagram import BEGIN, DOC, END, main, section, short, splice
from synack.core.state import TRANSITIONS, State


def test_the_architecture_documents_state_diagram_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert splice(text, section()) == text, "stale: run python scripts/state_diagram.py"


def edges_drawn(body: str) -> dict[tuple[State, State], str]:
    """The Mermaid block's transitions: (from, to) → label."""
    block = body.split("```mermaid\n")[1].split("```")[0]
    lines = [m.groups() for m in re.finditer(r"^    (\w+) --> (\w+) : (.+)$", block, re.M)]
    return {(State[a], State[b]): label for a, b, label in lines}


def edges_tabled(body: str) -> dict[tuple[State, State], str]:
    """The table's rows: (from, to) → reason."""
    rows = re.findall(r"^\| ([A-Z0-9-]+) \| ([A-Z0-9-]+) \| (.+) \|$", body, re.M)
    return {(State(a), State(b)): reason for a, b, reason in rows}


def test_the_diagram_draws_every_transition_with_its_short_reason() -> None:
    drawn = edges_drawn(section())
    assert drawn == {edge: short(reason) for edge, reason in TRANSITIONS.items()}


def test_the_table_lists_every_transition_with_its_full_reason() -> None:
    assert edges_tabled(section()) == dict(TRANSITIONS)


def test_the_diagram_names_each_state_as_the_rfc_does() -> None:
    block = section().split("```mermaid\n")[1]
    for state in {s for edge in TRANSITIONS for s in edge}:
        if "-" in state.value:
            assert f'state "{state.value}" as {state.name}\n' in block


@pytest.mark.parametrize(("reason", "label"), [
    ("active OPEN: send SYN (§3.10.1)", "active OPEN"),
    ("FIN arrives (§3.10.7.4 eighth check)", "FIN arrives"),
    ("2MSL timer expires (or RST: TIME-WAIT assassination)", "2MSL timer expires"),
    ("CLOSE with nothing queued: send FIN (§3.10.4)", "CLOSE with nothing queued"),
    ("RST, ABORT, or the FIN-WAIT-2 timeout (Linux)", "RST, ABORT, or the FIN-WAIT-2 timeout"),
])
def test_an_edges_label_is_its_reasons_event_without_asides(reason: str, label: str) -> None:
    assert short(reason) == label


@pytest.mark.parametrize("reason", ["", "(§3.10.1)", "RST; ABORT", "FIN #1 arrives"])
def test_a_reason_mermaid_cannot_label_an_edge_with_is_refused(reason: str) -> None:
    with pytest.raises(ValueError):
        short(reason)


@pytest.mark.parametrize("doc", ["no markers", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n"])
def test_a_document_without_one_pair_of_markers_is_refused(doc: str) -> None:
    with pytest.raises(ValueError):
        splice(doc, "x")


def test_check_fails_on_a_stale_file_and_the_script_makes_it_current(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "ARCHITECTURE.md"
    stale = f"# title\n\n{BEGIN}\nan old diagram\n{END}\n\nafter\n"
    doc.write_text(stale, encoding="utf-8")
    assert main(["--check", "--file", str(doc)]) == 1
    assert doc.read_text(encoding="utf-8") == stale  # --check writes nothing
    assert main(["--file", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == f"# title\n\n{BEGIN}\n{section()}\n{END}\n\nafter\n"
    assert main(["--check", "--file", str(doc)]) == 0
    assert "stale" in capsys.readouterr().err


def test_every_function_the_architecture_names_exists() -> None:
    """docs/ARCHITECTURE.md's "where each rule lives": each `module.Name.attr` resolves
    under synack.core (a renamed or moved function shows here)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Where each rule lives", 1)[1].split("\n## ", 1)[0]
    rows = "\n".join(line for line in section.splitlines() if line.startswith("| ") and "`" in line)
    names = re.findall(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`", rows)
    assert len(names) > 60
    missing = []
    for name in names:
        module, *attrs = name.split(".")
        obj: object = importlib.import_module(f"synack.core.{module}")
        for attr in attrs:
            if not hasattr(obj, attr):
                missing.append(name)
                break
            obj = getattr(obj, attr)
    assert missing == []


# README.zh.md translates README.md: the prose is free, the outline is not.

ROOT = Path(__file__).resolve().parents[1]
SHELL = {"sh", "bash", "shell", "console"}


def without_comment(line: str) -> str:
    """A shell line up to its comment, as sh reads it: a # that begins a word outside
    quotes (not `'#'`, `\\#` or `a#b`), trailing blanks dropped."""
    quote = ""
    escaped = False
    word_start = True
    for i, char in enumerate(line):
        starts_word, word_start = word_start, False
        if escaped:
            escaped = False
        elif quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                escaped = True
        elif char == "\\":
            escaped = True
        elif char in "'\"":
            quote = char
        elif char == "#" and starts_word:
            return line[:i].rstrip()
        elif char in " \t;&|()<>":
            word_start = True
    return line.rstrip()


def first_cell(row: str) -> str:
    """A table row's first cell (a | inside `code` does not end it)."""
    inside = False
    for i, char in enumerate(row[1:], 1):
        if char == "`":
            inside = not inside
        elif char == "|" and not inside:
            return row[1:i]
    return row[1:]


def outline(text: str) -> dict[str, Sequence[object]]:
    """What a translation must keep: the heading levels in order; each fenced block
    (info string and lines, a shell block's comments stripped); each table's columns,
    rows and the `code` spans of every row's first cell."""
    headings: list[int] = []
    blocks: list[tuple[str, list[str]]] = []
    tables: list[list[str]] = []
    block: list[str] | None = None
    info = ""
    in_table = False
    for line in text.splitlines():
        if block is not None:
            if line.rstrip() == "```":
                if info in SHELL:
                    block = [without_comment(code) for code in block]
                blocks.append((info, block))
                block = None
            else:
                block.append(line)
            continue
        if line.startswith("```"):
            info, block = line[3:].strip(), []
        elif heading := re.match(r"(#{1,6}) ", line):
            headings.append(len(heading.group(1)))
        if line.startswith("|"):
            if not in_table:
                tables.append([])
            tables[-1].append(line)
        in_table = line.startswith("|")
    assert block is None, "a code fence left open"
    shapes = [(rows[1 if len(rows) > 1 else 0].count("|") - 1,  # the |---|---| row's columns
               [re.findall(r"`([^`]+)`", first_cell(row)) for row in rows])
              for rows in tables]
    return {"headings": headings, "code blocks": blocks, "tables": shapes}


def readme(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("part", ["headings", "code blocks", "tables"])
def test_the_chinese_readme_keeps_the_english_ones_outline(part: str) -> None:
    english = outline(readme("README.md"))
    assert english[part], f"README.md has no {part}"
    assert outline(readme("README.zh.md"))[part] == english[part]


def test_each_readme_links_to_the_other_under_the_title() -> None:
    assert readme("README.md").splitlines()[:2] == ["# synack", "[中文](README.zh.md)"]
    assert readme("README.zh.md").splitlines()[:2] == ["# synack", "[English](README.md)"]


@pytest.mark.parametrize(("line", "command"), [
    ("make demo   # the tour", "make demo"),
    ("python3 -m http.server 8000 &    # a kernel server", "python3 -m http.server 8000 &"),
    ("# a comment alone", ""),
    ("x;# after a semicolon", "x;"),
    ("curl http://host/page#anchor", "curl http://host/page#anchor"),
    ("echo '# quoted' \"# quoted\" \\# escaped a\\ #b", "echo '# quoted' \"# quoted\" \\# escaped a\\ #b"),
    ("printf 'it''s # still quoted' # but this is not", "printf 'it''s # still quoted'"),
    ("echo \"a \\\" # b\"  # c", "echo \"a \\\" # b\""),
])
def test_a_shell_lines_comment_is_what_sh_would_skip(line: str, command: str) -> None:
    assert without_comment(line) == command


@pytest.mark.parametrize(("old", "new"), [
    ("--pcap tun.pcap   #", "--pcap tun2.pcap   #"),  # a command before a comment
    ("--loss 3%", "--loss 4%"),  # a command without one
    ("make test   #", "make  test   #"),
    ("# namespace \"synack\", device synack0", "# 命名空间 \"synack\"，设备 synack0"),  # Python's are kept
    ("\n### 场景\n", "\n"),  # a heading dropped
    ("\n### 场景\n", "\n## 场景\n"),  # a heading moved up a level
    ("| `half-close` |", "| half-close |"),  # a first column's code span lost
    ("| `lost-syn` | 第一个 SYN 丢失；在初始 RTO（1 秒）之后重传 |\n", ""),  # a row dropped
    ("| 名称 | 展示的内容 |\n|---|---|", "| 名称 | 展示的内容 | |\n|---|---|---|"),  # a column added
])
def test_the_outline_notices_a_change_a_translation_must_not_make(old: str, new: str) -> None:
    text = readme("README.zh.md")
    assert old in text
    assert outline(text.replace(old, new, 1)) != outline(text)


def test_the_outline_ignores_a_translated_shell_comment_and_the_prose() -> None:
    text = readme("README.zh.md")
    changed = text.replace("# 在另一个终端里", "# in another terminal").replace("使用方法", "Using it")
    assert changed != text
    assert outline(changed) == outline(text)
