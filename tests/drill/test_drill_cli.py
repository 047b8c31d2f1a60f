"""``synack drill``: one line per script, a table, the exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from synack.cli import main

GOOD = """\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 <mss 1460>
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_passing_failing_and_declared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.pkt", GOOD)
    bad = write(tmp_path, "bad.pkt", GOOD.replace("ack 1", "ack 5"))
    assert main(["drill", good]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"pass     synack: {good}: passed"
    assert out[-1] == "synack: 1 scripts, 1 passed, 0 declared divergences, 0 failed, 0 errors"
    assert main(["drill", good, bad]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"FAIL     synack: {bad}:5: failed: ack: expected 5 got 1"
    declared = write(tmp_path, "declared.pkt", "// synack departs: a test\n" + GOOD.replace("ack 1", "ack 5"))
    assert main(["drill", "--target", "synack", declared]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"departs  synack: {declared}:6: declared divergence (a test): ack: expected 5 got 1"


def test_a_syntax_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(tmp_path, "broken.pkt", "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 frob(3) = 0\n")
    assert main(["drill", broken]) == 1
    assert capsys.readouterr().out.splitlines()[0] == \
        f"ERROR    {broken}:2: unsupported system call 'frob'"


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", str(tmp_path / "missing.pkt")]) == 2
    assert capsys.readouterr().err == f"synack: error: no such script: {tmp_path / 'missing.pkt'}\n"
    good = write(tmp_path, "good.pkt", GOOD)
    with pytest.raises(SystemExit) as info:
        main(["drill", "--tolerance-us", "-5", good])
    assert info.value.code == 2
    assert "not a tolerance" in capsys.readouterr().err
