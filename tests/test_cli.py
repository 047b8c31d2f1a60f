"""The ``synack`` command as a user meets it: output, files, and one-line errors."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from support.ci import unavailable
from synack.capture import write_pcap
from synack.cli import main, parse_duration
from synack.core.ip import parse_packet
from synack.core.wire import flags_str
from synack.scenarios import TOUR, get


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synack.cli", *argv], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "COLUMNS": "120"})


@pytest.mark.parametrize(("argv", "reason"), [
    (["scenario", "run", "no-such-thing"], "unknown scenario 'no-such-thing'"),
    (["scenario", "run", "handshake", "--seed", "x"], "not a seed: 'x'"),
    (["scenario", "run", "handshake", "--seed", "-3"], "not a seed: '-3'"),
    (["scenario", "run", "handshake", "--netstat-at", "soon"], "not a time: 'soon'"),
    (["scenario", "run", "handshake", "--lang", "fr"], "invalid choice: 'fr'"),
    (["scenario", "run", "handshake", "--json", "/nonexistent-dir/t.jsonl"], "cannot write /nonexistent-dir"),
    (["scenario", "run", "handshake", "--pcap", "/nonexistent-dir/t.pcap"], "cannot write /nonexistent-dir"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_print_one_line_and_exit_2(argv: list[str], reason: str) -> None:
    proc = run_cli(*argv)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("synack: error: ") and reason in lines[0]


def test_duration_parsing() -> None:
    assert parse_duration("2.5") == 2_500_000
    assert parse_duration("2.5s") == 2_500_000
    assert parse_duration("500ms") == 500_000
    assert parse_duration("100us") == 100


def test_scenario_list_names_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    for name in TOUR:
        assert name in out
    assert "三次握手" in out


def test_run_writes_json_lines_in_the_documented_format(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trace.jsonl"
    assert main(["scenario", "run", "handshake", "--json", str(path)]) == 0
    assert "SYN" in capsys.readouterr().out
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    segs = [r for r in rows if r["event"] == "send"]
    assert [(r["host"], r["flags"]) for r in segs] == [("client", "S"), ("server", "SA"), ("client", "A")]
    syn, synack, ack = segs
    assert synack["ack"] == (syn["seq"] + 1) % 2**32 and ack["ack"] == (synack["seq"] + 1) % 2**32
    assert syn["src"] == "192.0.2.1:" + syn["src"].split(":")[1] and syn["dst"] == "192.0.2.2:80"
    assert syn["options"] == {"mss": 1460, "wscale": 7, "sack_permitted": True}
    assert (syn["len"], syn["win"]) == (0, 65535)
    states = [(r["host"], r["from"], r["to"]) for r in rows if r["event"] == "state"]
    assert states == [("client", "CLOSED", "SYN-SENT"), ("server", "LISTEN", "SYN-RECEIVED"),
                      ("client", "SYN-SENT", "ESTABLISHED"), ("server", "SYN-RECEIVED", "ESTABLISHED")]
    assert all(isinstance(r["t_us"], int) for r in rows)
    assert [r["t_us"] for r in rows] == sorted(r["t_us"] for r in rows)


def test_multi_run_json_numbers_the_runs(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    assert main(["scenario", "run", "close-fin-ack-combined", "--json", str(path)]) == 0
    runs = {json.loads(line)["run"] for line in path.read_text().splitlines()}
    assert runs == {1, 2}


def test_netstat_at_shows_the_half_open_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "run", "lost-synack", "--netstat-at", "500ms"]) == 0
    out = capsys.readouterr().out
    assert "SYN-RECV" in out and "timer:(synack," in out
    assert "syn-queue 1" in out


def test_same_seed_same_output_other_seed_other_isns(tmp_path: Path) -> None:
    a, b, c = (tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl")
    for path, seed in ((a, "5"), (b, "5"), (c, "6")):
        assert main(["scenario", "run", "close", "--seed", seed, "--json", str(path)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def tshark_or_skip() -> str:
    path = shutil.which("tshark")
    if path is None:
        unavailable("tshark is not installed (apt-get install tshark)")
    return path


@pytest.mark.parametrize("name", TOUR)
def test_every_scenario_pcap_reads_cleanly_in_tshark(name: str, tmp_path: Path) -> None:
    """Each run's capture opens in tshark without errors or malformed packets, and
    holds exactly the segments the trace says went on the wire, in order."""
    tshark = tshark_or_skip()
    runs = get(name).run(seed=1, capture=True)
    for i, run in enumerate(runs):
        path = tmp_path / f"{name}-{i}.pcap"
        write_pcap(path, run.packets)
        proc = subprocess.run(
            [tshark, "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-T", "fields",
             "-e", "tcp.flags.str", "-e", "tcp.seq_raw", "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
            capture_output=True, text=True, timeout=60, check=False)
        errors = [ln for ln in proc.stderr.splitlines() if "Running as user" not in ln and ln.strip()]
        assert proc.returncode == 0 and not errors, proc.stderr
        rows = [line.split("\t") for line in proc.stdout.splitlines()]
        assert len(rows) == len(run.packets) > 0
        assert not any(row[2] for row in rows), f"malformed packet in {name} run {i}"
        # expert "error" severity is 8388608 (PI_ERROR); notes and warnings are expected
        # in a capture with losses and retransmissions, errors are not
        assert not any("8388608" in row[3] for row in rows), rows
        seen = [(int(row[1]), "".join(ch for ch in "FSRPA" if ch in set(row[0]) - {"·"})) for row in rows]
        ours = [(seg.seq, "".join(ch for ch in flags_str(seg.flags) if ch in "FSRPA"))
                for seg in (parse_packet(data).seg for _t, data in run.packets)]
        assert seen == ours


def test_pcap_option_writes_one_file_per_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "cap.pcap"
    assert main(["scenario", "run", "time-wait-lost-ack", "--pcap", str(base)]) == 0
    out = capsys.readouterr().out
    first, second = tmp_path / "cap-run1.pcap", tmp_path / "cap-run2.pcap"
    assert first.stat().st_size > 24 and second.stat().st_size > 24
    assert str(first) in out and str(second) in out


# Failures to write: one line, exit 2, no traceback; a reader that goes away is no error.

def cannot_write(what: str, err: int) -> str:
    return f"synack: error: cannot write {what}: {os.strerror(err)}\n"


def run_cli_with(stdout: int | IO[str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synack.cli", *argv], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=120, check=False, env={**os.environ, "COLUMNS": "120"})


def sysfs_or_skip() -> None:
    # Root ignores permission bits, so a read-only directory of our own would not
    # refuse us; sysfs refuses to create files even for root (EACCES).
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no sysfs at /sys")


@pytest.mark.parametrize(("option", "path", "err"), [
    ("--json", "/dev/full", errno.ENOSPC),  # opened at once; the write fails when it is closed
    ("--plot", "/dev/full/x.png", errno.ENOTDIR),
    ("--json", "/nonexistent/dir/x.json", errno.ENOENT),
    ("--pcap", "/nonexistent/dir/x.pcap", errno.ENOENT),
    ("--json", "/proc/x.json", errno.ENOENT),  # procfs: no new files, even for root
    ("--json", "/sys/x.json", errno.EACCES),  # sysfs: permission denied, even for root
    ("--pcap", "/sys/x.pcap", errno.EACCES),
    ("--plot", "/sys/x.png", errno.EACCES),
])
def test_unwritable_outputs_are_one_line_and_exit_2(option: str, path: str, err: int) -> None:
    if path.startswith("/sys/"):
        sysfs_or_skip()
    proc = run_cli_with(subprocess.PIPE, "scenario", "run", "handshake", option, path)
    assert (proc.returncode, proc.stderr) == (2, cannot_write(path, err))


@pytest.mark.parametrize("option", ["--pcap", "--plot", "--json"])
def test_a_file_that_fills_up_while_written_is_one_line_and_exit_2(option: str, tmp_path: Path) -> None:
    """The file opens (a link to /dev/full) and the run is done; the write fails."""
    path = tmp_path / {"--pcap": "full.pcap", "--plot": "full.png", "--json": "full.jsonl"}[option]
    path.symlink_to("/dev/full")
    proc = run_cli_with(subprocess.PIPE, "scenario", "run", "handshake", option, str(path))
    assert (proc.returncode, proc.stderr) == (2, cannot_write(str(path), errno.ENOSPC))
    assert "SYN" in proc.stdout


@pytest.mark.parametrize("argv", [["tour"], ["scenario", "list"], ["scenario", "run", "handshake"],
                                  ["--help"], ["--version"]])
def test_standard_output_full_is_one_line_and_exit_2(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = run_cli_with(full, *argv)
    assert (proc.returncode, proc.stderr) == (2, cannot_write("standard output", errno.ENOSPC))


def test_a_broken_pipe_on_a_file_is_an_error(tmp_path: Path) -> None:
    """--json into a FIFO whose reader leaves after 100 octets of the 600 KB trace:
    a failed write like any other (only standard output's reader may leave quietly)."""
    fifo = tmp_path / "trace.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["sh", "-c", 'head -c 100 < "$0" > /dev/null', str(fifo)])
    try:
        proc = run_cli_with(subprocess.DEVNULL, "scenario", "run", "bulk", "--json", str(fifo))
        assert reader.wait(timeout=60) == 0
    finally:
        reader.kill()  # (it is gone already unless the command never opened the FIFO)
        reader.wait()
    assert (proc.returncode, proc.stderr) == (2, cannot_write(str(fifo), errno.EPIPE))


@pytest.mark.parametrize("argv", [["tour"], ["scenario", "list"], ["scenario", "run", "handshake"],
                                  ["--help"]])
def test_standard_output_closed_before_a_write_ends_quietly(argv: list[str]) -> None:
    """Standard output a pipe whose read end is already closed: every write fails
    (EPIPE); the command stops at the first, silently, with status 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = run_cli_with(write_end, *argv)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_tour_piped_into_head_ends_quietly() -> None:
    """``synack tour | head -5``: head leaves after five lines of the 300 KB tour (far
    more than a pipe holds, so the tour is still writing); no traceback, no
    "Exception ignored" at exit, status 0."""
    tour = subprocess.Popen([sys.executable, "-m", "synack.cli", "tour"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "120"})
    assert tour.stdout is not None and tour.stderr is not None
    head = subprocess.Popen(["head", "-5"], stdin=tour.stdout, stdout=subprocess.PIPE)
    tour.stdout.close()  # head holds the only read end
    out, _ = head.communicate(timeout=120)
    err = tour.stderr.read()
    tour.stderr.close()
    assert tour.wait(timeout=120) == 0
    assert err == b""
    assert len(out.splitlines()) == 5 and f"[{TOUR[0]}]".encode() in out


def test_a_pcap_into_a_fifo_is_opened_once(tmp_path: Path) -> None:
    """``--pcap >(tcpdump -r -)``: the check that the file can be written must not
    open the FIFO (its reader would see the end of its input before the capture)."""
    fifo, got = tmp_path / "out.pcap", tmp_path / "got"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["sh", "-c", 'cat < "$0" > "$1"', str(fifo), str(got)])
    try:
        proc = run_cli_with(subprocess.DEVNULL, "scenario", "run", "handshake", "--pcap", str(fifo))
        assert reader.wait(timeout=60) == 0
    finally:
        reader.kill()
        reader.wait()
    assert (proc.returncode, proc.stderr) == (0, "")
    assert got.read_bytes().startswith(b"\xd4\xc3\xb2\xa1")  # 0xa1b2c3d4, little-endian: the whole file


def test_tour_step_shows_one_ladder_per_enter_and_ends_quietly_at_end_of_input(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert TOUR[0] == "why-three" and len(get("why-three").run(1)) == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))   # one Enter, then end of input
    assert main(["tour", "--step"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "(1/3) three-way" in out and "(2/3) two-way" in out and "(3/3)" not in out
    assert f"[{TOUR[1]}]" not in out
    assert out.count("[Enter: next · Ctrl-D: stop]") == 2   # answered once, then end of input


def test_tour_step_walks_into_the_next_scenario(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n\n"))
    assert main(["tour", "--step"]) == 0
    out = capsys.readouterr().out
    assert "(3/3) four-way" in out and f"[{TOUR[1]}]" in out and f"[{TOUR[2]}]" not in out
    assert out.count("[Enter: next · Ctrl-D: stop]") == 4


def test_tour_step_in_chinese_stops_at_once_on_end_of_input(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["tour", "--step", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "(1/3)" in out and "(2/3)" not in out and f"[{TOUR[1]}]" not in out
    assert out.count("[回车：下一步 · Ctrl-D：结束]") == 1
    assert "应用：connect(" in out   # the ladder's labels in Chinese too


def test_tour_step_stops_quietly_on_ctrl_c_at_the_prompt(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    class Interrupted(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr("sys.stdin", Interrupted())
    assert main(["tour", "--step"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "(1/3)" in out and "(2/3)" not in out
