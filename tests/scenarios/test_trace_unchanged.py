"""Wire behaviour does not move by accident: every scenario's segments and states,
for seeds 1-3, digest to what tests/golden/trace_digests.json holds.

A deliberate change of behaviour updates the digests in its own commit
(``python scripts/trace_check.py record > tests/golden/trace_digests.json``), and
``python scripts/trace_check.py compare COMMIT`` shows what moved against COMMIT.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import trace_check

ROOT = Path(__file__).resolve().parents[2]

GOLDEN: dict[str, str] = json.loads((ROOT / "tests" / "golden" / "trace_digests.json").read_text())
SCENARIOS = sorted({key.split(" ")[0] for key in GOLDEN})


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_trace_digests_are_unchanged(name: str) -> None:
    got = {key: hashlib.sha256("\n".join(lines).encode()).hexdigest()
           for key, lines in trace_check.runs(name, None)}
    want = {key: digest for key, digest in GOLDEN.items() if key.split(" ")[0] == name}
    assert got == want, f"segments or states of {name} moved: python scripts/trace_check.py compare HEAD"
