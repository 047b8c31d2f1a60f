"""The stream scenarios' captures read cleanly in tshark (as the tour's do in
tests/test_cli.py): no malformed packet, no expert error, every packet there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support.ci import unavailable
from synack.capture import write_pcap
from synack.scenarios import STREAM, get

PI_ERROR = 8388608  # tshark's expert severity "error"


@pytest.mark.parametrize("name", STREAM)
def test_stream_scenario_pcap_reads_cleanly_in_tshark(name: str, tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    if tshark is None:
        unavailable("tshark is not installed (apt-get install tshark)")
    (run,) = get(name).run(seed=1, capture=True)
    path = tmp_path / f"{name}.pcap"
    write_pcap(path, run.packets)
    proc = subprocess.run(
        [tshark, "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-T", "fields",
         "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
        capture_output=True, text=True, timeout=120, check=False)
    errors = [ln for ln in proc.stderr.splitlines() if "Running as user" not in ln and ln.strip()]
    assert proc.returncode == 0 and not errors, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert len(rows) == len(run.packets) > 0
    assert not any(row[0] for row in rows), f"malformed packet in {name}"
    severities = {int(s) for row in rows for s in row[1].split(",") if s}
    assert PI_ERROR not in severities, f"expert error in {name}"
