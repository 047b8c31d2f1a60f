"""Every tour scenario's terminal ladder, whole, for seed 1 at 100 columns.

A change to what the ladder draws shows here as a diff of the picture.  When the
change is meant, rewrite the files and read the diff before committing it:

    SYNACK_UPDATE_GOLDEN=1 python -m pytest tests/views/test_ladder_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synack.scenarios import TOUR, get
from synack.views.ladder import ladder_text

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ladders"


def ladders(name: str) -> str:
    runs = get(name).run(1)
    parts = []
    for n, run in enumerate(runs, 1):
        title = run.label("en") if len(runs) == 1 else f"({n}/{len(runs)}) {run.label('en')}"
        parts.append(ladder_text(run.records, run.left, run.right, title=title, width=100,
                                 relative_seq=True, max_rows=run.max_rows))
    return "\n".join(parts)


@pytest.mark.parametrize("name", TOUR)
def test_tour_ladder_is_the_golden_picture(name: str) -> None:
    path = GOLDEN / f"{name}.txt"
    got = ladders(name)
    if os.environ.get("SYNACK_UPDATE_GOLDEN") == "1":
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden picture {path}: run with SYNACK_UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")
