"""Every script of the corpus (drill/) on the synack target: it passes, or it declares
why synack departs from Linux (``// synack departs: <reason>``) and indeed fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from synack.drill.parser import parse_file
from synack.drill.runner import Outcome
from synack.drill.synack_target import SynackTarget

CORPUS = Path(__file__).resolve().parents[2] / "drill"
SCRIPTS = sorted(CORPUS.glob("*/*.pkt"))


def test_the_corpus_is_there() -> None:
    assert len(SCRIPTS) >= 1


@pytest.mark.parametrize("path", SCRIPTS, ids=[f"{p.parent.name}/{p.name}" for p in SCRIPTS])
def test_script_on_synack(path: Path) -> None:
    script = parse_file(path)
    result = SynackTarget().run(script)
    if script.departs:
        # A declared departure must still be real: if synack now passes, drop the line.
        assert result.outcome is Outcome.DIVERGED, result.describe()
    else:
        assert result.outcome is Outcome.PASSED, result.describe()
