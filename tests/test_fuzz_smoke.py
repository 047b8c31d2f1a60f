"""The fuzzer (scripts/fuzz.py, docs/FUZZ.md) for a bounded time: about 60 s under CI
(``CI=true``), 5 s otherwise so that ``make test`` stays quick (``SYNACK_FUZZ_SECONDS``
overrides both; ``SYNACK_FUZZ_SEED`` picks another seed).  It fails if the fuzzer
reports any failure but the known ones (``scripts/synfuzz/known.py``, each an xfail
test of its own; none today); the reproducer it wrote is named in the message.

And the fuzzer itself: a seed reproduces a run exactly (in this process and in
another with a different hash seed), a planted bug is found and written out as a
reproducer that fails the same way, and the command's exit status says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fuzz
from synfuzz.driver import fails_as, load_reproducer
from synfuzz.engine import run
from synfuzz.known import KNOWN

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI") == "true"
SECONDS = float(os.environ.get("SYNACK_FUZZ_SECONDS") or (60 if CI else 5))
SEED = int(os.environ.get("SYNACK_FUZZ_SEED") or 9)


def test_the_fuzzer_finds_nothing_new() -> None:
    repro_dir = ROOT / "out" / "fuzz-smoke"
    result = run(SEED, seconds=SECONDS, repro_dir=repro_dir, shrink_seconds=min(30.0, SECONDS),
                 tolerate=frozenset(KNOWN), log=lambda _: None, progress_every=0)
    print(result.summary())
    assert result.inputs > (20_000 if CI else 1_000), result.summary()
    assert not result.findings, "\n".join(
        f"{f.message}\n  at input {f.input_index:,} (episode {f.episode}, seed {f.seed}); reproducer {f.path}"
        for f in result.findings.values())


def test_a_seed_gives_the_same_run() -> None:
    a = run(5, max_inputs=3000, repro_dir=None, tolerate=frozenset(KNOWN), log=lambda _: None)
    b = run(5, max_inputs=3000, repro_dir=None, tolerate=frozenset(KNOWN), log=lambda _: None)
    c = run(6, max_inputs=3000, repro_dir=None, tolerate=frozenset(KNOWN), log=lambda _: None)
    assert (a.inputs, a.episodes, a.digest) == (b.inputs, b.episodes, b.digest)
    assert a.digest != c.digest


def test_a_seed_gives_the_same_run_in_another_process() -> None:
    def digest(hash_seed: str) -> str:
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        cmd = [sys.executable, str(ROOT / "scripts" / "fuzz.py"), "--seed", "5", "--inputs", "3000",
               "--quiet", "--digest", "--repro-dir", str(ROOT / "out" / "fuzz-smoke")]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        return next(line for line in out.splitlines() if "digest" in line)

    assert digest("1") == digest("2")


@pytest.fixture
def planted_bug(monkeypatch: pytest.MonkeyPatch) -> str:
    """Receive-window acceptability off by one: a segment one octet beyond RCV.NXT
    counts as acceptable even when the window is shut."""
    from synack.core import recv

    real = recv.ReceiveSpace.acceptable

    def acceptable(self: recv.ReceiveSpace, seq: int, seglen: int) -> bool:
        return real(self, seq, seglen) or (seglen > 0 and (seq - self.nxt) & 0xFFFFFFFF == 1)

    monkeypatch.setattr(recv.ReceiveSpace, "acceptable", acceptable)
    return "reassembly-blocks|"


def test_a_planted_bug_is_found_shrunk_and_reproduced(planted_bug: str, tmp_path: Path) -> None:
    result = run(1, seconds=60, max_inputs=200_000, repro_dir=tmp_path, shrink_seconds=20, max_findings=1,
                 tolerate=frozenset(KNOWN), log=lambda _: None)
    assert list(result.findings) == [planted_bug], result.findings
    found = result.findings[planted_bug]
    assert found.path is not None and found.shrunk <= found.steps
    setup, steps, signature = load_reproducer(found.path)
    assert signature == planted_bug and len(steps) == found.shrunk
    assert fails_as(setup, steps, signature)


def test_the_command_exits_1_and_names_the_reproducer(planted_bug: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    status = fuzz.main(["--seed", "1", "--inputs", "200000", "--quiet", "--shrink-seconds", "5",
                        "--max-failures", "1", "--repro-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1
    assert "FAILURE at input" in out and "seed 1" in out and "reproducer" in out
    assert list(tmp_path.glob("fuzz-1-*.py"))
    assert out.splitlines()[-1].startswith("fuzz: ") and "1 failure, seed 1" in out.splitlines()[-1]


def test_every_known_failure_has_its_xfail_test() -> None:
    """A failure tolerated as known has its minimal reproduction somewhere in tests/,
    marked xfail (strict) with the reason "fuzz finding KIND: ..." (none is now)."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    for kind in KNOWN:
        assert f"fuzz finding {kind}:" in sources, kind
