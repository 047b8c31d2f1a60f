"""docs/CONFORMANCE.md maps every requirement of RFC 9293 (MUST-1 … MUST-69,
SHLD-1 … SHLD-31, REC-1, MAY-1 … MAY-18: the 119 labels of its Appendix B) to the
tests and drill scripts that check it, or says why nothing can.  This test keeps it
honest: every label has its row, in its group's table; every row names a checker or
gives a reason; every test cited (in "checked by" or in a note) is a test function
that exists; every drill script cited exists (until the drill corpus is merged, a
missing ``drill/`` folder lets the scripts it would hold be missing)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "CONFORMANCE.md"

#: Each group's labels, in the order of its table (RFC 9293 Appendix B).
GROUPS: dict[str, list[str]] = {
    "MUST": [f"MUST-{n}" for n in range(1, 70)],
    "SHLD": [f"SHLD-{n}" for n in range(1, 32)],
    "REC": ["REC-1"],
    "MAY": [f"MAY-{n}" for n in range(1, 19)],
}
LABEL = re.compile(r"^(MUST|SHLD|REC|MAY)-[1-9][0-9]*$")
#: A table's heading: "## MUST ..." (the group is the heading's first word).
HEADING = re.compile(r"^## (MUST|SHLD|REC|MAY)\b")
#: A test cited: tests/path.py::test_name, or ::Class::test_name, maybe [params].
TEST_REF = re.compile(r"^(tests/[\w/]+\.py)::((?:\w+::)?\w+)(\[[^\]]*\])?$")
#: A drill script cited: drill/<topic>/<name>.pkt.
DRILL_REF = re.compile(r"^drill/[\w-]+/[\w.-]+\.pkt$")
#: What "checked by" holds when nothing checks the requirement (the note says why).
NOTHING = "—"


@dataclass(frozen=True)
class Row:
    group: str
    label: str
    section: str
    requirement: str
    checked_by: list[str]
    note: str
    line: int
    #: Tests and drill scripts the note names (a declared divergence, say): they must
    #: exist too.
    mentioned: list[str]


def cells(line: str) -> list[str]:
    """A Markdown table row's cells (no cell of this document holds a "|")."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse(text: str) -> tuple[list[Row], list[str]]:
    """The requirement rows of every group's table, and what is malformed."""
    rows: list[Row] = []
    problems: list[str] = []
    group: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = HEADING.match(line)
        if m:
            group = m.group(1)
            continue
        if line.startswith("#"):
            group = None
            continue
        if not line.startswith("| ") or group is None:
            continue
        row = cells(line)
        if row[0] in ("label", "---") or set(row[0]) <= set("-:"):
            continue
        if len(row) != 5:
            problems.append(f"line {n}: {len(row)} cells, not 5 "
                            "(label | § | requirement | checked by | note)")
            continue
        label, section, requirement, checked, note = row
        if not LABEL.match(label):
            problems.append(f"line {n}: {label!r} is not a label")
            continue
        refs = re.findall(r"`([^`]+)`", checked)
        rest = re.sub(r"`[^`]+`", "", checked).replace("<br>", "").replace(",", "").strip()
        if refs and rest:
            problems.append(f"line {n}: {label}: 'checked by' holds {rest!r} besides the references")
        elif not refs and checked != NOTHING:
            problems.append(f"line {n}: {label}: 'checked by' is {checked!r}: references in backquotes, "
                            f"or {NOTHING} and a reason in the note")
        mentioned = [x for x in re.findall(r"`([^`]+)`", note) if TEST_REF.match(x) or DRILL_REF.match(x)]
        rows.append(Row(group, label, section, requirement, refs, note, n, mentioned))
    return rows, problems


def check_rows(rows: list[Row]) -> list[str]:
    """Every label once, in its own group's table, in order; a checker or a reason."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for r in rows:
        if r.label in seen:
            problems.append(f"line {r.line}: {r.label} again (first on line {seen[r.label]})")
        seen.setdefault(r.label, r.line)
        if r.label.split("-")[0] != r.group:
            problems.append(f"line {r.line}: {r.label} in the {r.group} table")
        if not re.match(r"^\d+(\.\d+)*(, \d+(\.\d+)*)*$", r.section):
            problems.append(f"line {r.line}: {r.label}: section {r.section!r}")
        if not r.requirement:
            problems.append(f"line {r.line}: {r.label}: no requirement")
        if not r.checked_by and len(r.note) < 10:
            problems.append(f"line {r.line}: {r.label}: neither a checker nor a reason")
    for group, labels in GROUPS.items():
        missing = [x for x in labels if x not in seen]
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        order = [r.label for r in rows if r.group == group and r.label in labels]
        if order != sorted(order, key=labels.index):
            problems.append(f"the {group} table is not in label order")
    extra = sorted({r.label for r in rows} - {x for labels in GROUPS.values() for x in labels})
    if extra:
        problems.append(f"not a label of RFC 9293: {', '.join(extra)}")
    return problems


def functions_of(path: Path) -> set[str]:
    """``name`` for each test function of a module, ``Class::name`` for each method."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                    found.add(f"{node.name}::{item.name}")
    return found


def check_references(rows: list[Row], root: Path) -> tuple[list[str], list[str], list[str]]:
    """Problems with the tests cited (or with references of neither kind), problems
    with the drill scripts cited, and the scripts cited that are missing while
    ``drill/`` itself is (those wait for the corpus to be merged)."""
    problems: list[str] = []
    drill_problems: list[str] = []
    waiting: list[str] = []
    modules: dict[Path, set[str]] = {}
    drill_merged = (root / "drill").is_dir()
    for r in rows:
        for ref in r.checked_by + r.mentioned:
            m = TEST_REF.match(ref)
            if m:
                path = root / m.group(1)
                if not path.is_file():
                    problems.append(f"line {r.line}: {r.label}: no module {m.group(1)}")
                    continue
                if path not in modules:
                    modules[path] = functions_of(path)
                if m.group(2) not in modules[path]:
                    problems.append(f"line {r.line}: {r.label}: "
                                    f"no test function {m.group(2)} in {m.group(1)}")
            elif DRILL_REF.match(ref):
                if (root / ref).is_file():
                    continue
                if drill_merged:
                    drill_problems.append(f"line {r.line}: {r.label}: no drill script {ref}")
                else:
                    waiting.append(ref)
            else:
                problems.append(f"line {r.line}: {r.label}: {ref!r} is neither tests/…py::test_… "
                                f"nor drill/<topic>/<name>.pkt")
    return problems, drill_problems, waiting


# -- the document ---------------------------------------------------------------------------
def test_every_requirement_has_a_row_with_a_checker_or_a_reason() -> None:
    rows, problems = parse(DOC.read_text(encoding="utf-8"))
    assert problems + check_rows(rows) == []
    assert len(rows) == 119


def test_every_test_cited_exists() -> None:
    rows, _ = parse(DOC.read_text(encoding="utf-8"))
    problems, _, _ = check_references(rows, ROOT)
    assert problems == []


def test_every_drill_script_cited_exists() -> None:
    rows, _ = parse(DOC.read_text(encoding="utf-8"))
    _, problems, waiting = check_references(rows, ROOT)
    assert problems == []
    if waiting:
        pytest.skip(f"drill/ is not merged yet: {len(waiting)} script references wait for it")


# -- the checks themselves ------------------------------------------------------------------
def doc(*rows: str, group: str = "MUST") -> str:
    head = f"# Conformance\n\n## {group}\n\n| label | § | requirement (short) | checked by | note |\n"
    return head + "|---|---|---|---|---|\n" + "\n".join(rows) + "\n"


def test_a_row_without_checker_or_reason_is_refused() -> None:
    rows, problems = parse(doc("| MUST-1 | 3.1 | window unsigned | — | |"))
    assert problems == []
    assert any("neither a checker nor a reason" in p for p in check_rows(rows))


def test_a_missing_label_and_a_label_in_the_wrong_table_are_refused() -> None:
    rows, _ = parse(doc("| SHLD-1 | 3.4.1 | ISN | — | the ISN generator is RFC 6528's |"))
    problems = check_rows(rows)
    assert any(p.startswith("missing: MUST-1, MUST-2") for p in problems)
    assert any("SHLD-1 in the MUST table" in p for p in problems)


def test_checked_by_holds_only_references() -> None:
    _, problems = parse(doc("| MUST-1 | 3.1 | window | tests/a.py::test_b | |",
                            "| MUST-2 | 3.1 | checksum | `tests/a.py::test_b` and more | |"))
    assert len(problems) == 2


def test_a_test_or_script_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('a', [1])\ndef test_real(a: int) -> None:\n    pass\n\n"
        "class TestGroup:\n    def test_method(self) -> None:\n        pass\n\n"
        "def helper() -> None:\n    pass\n")
    rows, _ = parse(doc("| MUST-1 | 3.1 | w | `tests/test_x.py::test_real[1]`, "
                        "`tests/test_x.py::TestGroup::test_method` | |",
                        "| MUST-2 | 3.1 | c | `tests/test_x.py::test_gone` | |",
                        "| MUST-3 | 3.1 | c | `tests/test_x.py::helper` | |",
                        "| MUST-4 | 3.1 | o | `tests/test_y.py::test_real` | |",
                        "| MUST-5 | 3.1 | o | `drill/options/any.pkt` | Linux differs (`drill/x/y.pkt`). |",
                        "| MUST-6 | 3.1 | o | `src/synack/core/wire.py` | |"))
    problems, drill, waiting = check_references(rows, tmp_path)
    assert [p.split(": ")[1] for p in problems] == ["MUST-2", "MUST-3", "MUST-4", "MUST-6"]
    assert (drill, waiting) == ([], ["drill/options/any.pkt", "drill/x/y.pkt"])  # no drill/ yet: they wait
    (tmp_path / "drill" / "options").mkdir(parents=True)
    _, drill, waiting = check_references(rows, tmp_path)
    assert [p.split(": ", 1)[1] for p in drill] == ["MUST-5: no drill script drill/options/any.pkt",
                                                    "MUST-5: no drill script drill/x/y.pkt"]
    assert waiting == []
    (tmp_path / "drill" / "options" / "any.pkt").write_text("// a script\n")
    (tmp_path / "drill" / "x").mkdir()
    (tmp_path / "drill" / "x" / "y.pkt").write_text("// synack departs: ...\n")
    _, drill, waiting = check_references(rows, tmp_path)
    assert (drill, waiting) == ([], [])
