"""docs/ARCHITECTURE.md's state diagram is what scripts/state_diagram.py draws from
``synack.core.state.TRANSITIONS`` now; the script draws every edge and nothing else."""

from __future__ import annotations

import importlib
import re
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
