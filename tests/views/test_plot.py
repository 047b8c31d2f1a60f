"""views/plot: time-sequence graphs as PNG and SVG, and clean failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from synack.cli import main
from synack.scenarios import get
from synack.views.plot import PlotError, _flows, plot_format, plot_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_png_is_written_and_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "lossy.png"
    plot_runs(get("fast-retransmit").run(seed=1), path)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 800 and height > 600  # two panels: sequence numbers and cwnd


def test_svg_is_written_and_is_svg(tmp_path: Path) -> None:
    path = tmp_path / "close.svg"
    plot_runs(get("close-fin-ack-combined").run(seed=1), path)  # two runs, one figure
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = path.read_text()
    assert "(1/2)" in text and "(2/2)" in text


def test_svg_is_repeatable(tmp_path: Path) -> None:
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for p in (a, b):
        plot_runs(get("handshake").run(seed=1), p)
    assert a.read_bytes() == b.read_bytes()  # no date in the metadata


@pytest.mark.parametrize("name", ["x.jpg", "x", "x.png.txt", "x.pdf"])
def test_unknown_extension_is_refused_before_drawing(name: str, tmp_path: Path) -> None:
    with pytest.raises(PlotError, match=r"use \.png, \.svg"):
        plot_format(name)
    with pytest.raises(PlotError):
        plot_runs(get("handshake").run(seed=1), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_extension_case_does_not_matter() -> None:
    assert plot_format("A.PNG") == "png" and plot_format("b.Svg") == "svg"


def test_flows_mark_retransmissions_losses_and_acks() -> None:
    run = get("fast-retransmit").run(seed=1)[0]
    (client,) = _flows(run.records)  # only the client sent data
    assert client.host == "client" and client.payload == 20 * 1460
    data_again = [a for a in client.again if a[2] - a[1] > 1]  # (a FIN may be resent too)
    assert len(client.lost) == 1 and len(data_again) == 1
    lost_t, lost_top = client.lost[0]
    again_t, first, end = data_again[0]
    assert again_t > lost_t and end == lost_top and end - first == 1460
    acks = [a for _t, a in client.acks]
    assert acks == sorted(acks) and acks[-1] == 20 * 1460 + 2  # SYN, data, FIN
    assert client.cc  # the core traces cwnd


def test_cli_plot_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zw.png"
    assert main(["scenario", "run", "zero-window", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert f"plot written to {path}" in capsys.readouterr().out.replace("\n", "")


@pytest.mark.parametrize(("target", "reason"), [
    ("out.jpg", "cannot draw a plot as '.jpg'"),
    ("missing-dir/out.png", "cannot write"),
])
def test_cli_plot_errors_are_one_line_exit_2(target: str, reason: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / target
    assert main(["scenario", "run", "handshake", "--plot", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # refused before anything ran
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("synack: error: ") and reason in lines[0]
    assert not path.exists()
