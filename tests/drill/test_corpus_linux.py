"""Every script of the corpus (drill/) on the linux target: the kernel is the reference,
so each must pass there, declared departure or not (a departure is synack's, never
Linux's).

These need root and /dev/net/tun: without them they skip with the reason, except under
CI (``CI=true``), where that is a failure.  The scripts run in real time (a TIME-WAIT
script takes its minute).  A script that fails on timing alone (``... expected at X s,
happened at Y s``) is run once more: on a loaded machine a wake-up can come late by
more than the tolerance, which says nothing of the kernel; any other failure, or a
second timing failure, fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.ci import unavailable
from synack.drill.linux import LinuxTarget
from synack.drill.parser import parse_file
from synack.drill.runner import Outcome, ScriptResult

CORPUS = Path(__file__).resolve().parents[2] / "drill"
SCRIPTS = sorted(CORPUS.glob("*/*.pkt"))


@pytest.fixture(scope="module")
def target() -> LinuxTarget:
    problem = LinuxTarget.problem()
    if problem is not None:
        unavailable(problem)
    return LinuxTarget()


def timing_only(result: ScriptResult) -> bool:
    return result.outcome is Outcome.FAILED and ", happened at " in result.message


@pytest.mark.parametrize("path", SCRIPTS, ids=[f"{p.parent.name}/{p.name}" for p in SCRIPTS])
def test_script_on_linux(target: LinuxTarget, path: Path) -> None:
    script = parse_file(path)
    result = target.run(script)
    if timing_only(result):
        result = target.run(script)
    assert result.outcome is Outcome.PASSED, result.describe()
