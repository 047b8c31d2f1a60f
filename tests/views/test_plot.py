"""views/plot: time-sequence graphs as PNG and SVG, and clean failures."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from synack.cli import main
from synack.core.errors import DropReason
from synack.core.trace import Loss, SegmentRecord, TraceRecord, Verdict
from synack.core.wire import ACK, SYN, Options, Segment
from synack.scenarios import get
from synack.views import plot
from synack.views.plot import PlotError, PlotRun, _flows, plot_format, plot_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def runs(name: str) -> list[PlotRun]:
    return [PlotRun(run.label("en"), run.records) for run in get(name).run(seed=1)]


def test_png_is_written_and_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "lossy.png"
    plot_runs(runs("fast-retransmit"), path)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 800 and height > 600  # two panels: sequence numbers and cwnd


def test_svg_is_written_and_is_svg(tmp_path: Path) -> None:
    path = tmp_path / "close.svg"
    plot_runs(runs("close-fin-ack-combined"), path)  # two runs, one figure
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = path.read_text()
    assert "(1/2)" in text and "(2/2)" in text


def test_svg_is_repeatable(tmp_path: Path) -> None:
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for p in (a, b):
        plot_runs(runs("handshake"), p)
    assert a.read_bytes() == b.read_bytes()  # no date in the metadata


@pytest.mark.parametrize("name", ["x.jpg", "x", "x.png.txt", "x.pdf"])
def test_unknown_extension_is_refused_before_drawing(name: str, tmp_path: Path) -> None:
    with pytest.raises(PlotError, match=r"use \.png, \.svg"):
        plot_format(name)
    with pytest.raises(PlotError):
        plot_runs(runs("handshake"), tmp_path / name)
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


def test_flows_go_by_flight() -> None:
    c, s = "10.0.0.1", "10.0.0.2"

    def send(t: int, host: str, seg: Segment, flight: int) -> SegmentRecord:
        src, dst = (c, s) if host == "client" else (s, c)
        return SegmentRecord(t, host, "send", src, dst, seg, flight=flight)

    def recv(t: int, host: str, seg: Segment, flight: int,
             verdict: Verdict = Verdict.ACCEPTED) -> SegmentRecord:
        src, dst = (s, c) if host == "client" else (c, s)
        reason = DropReason.OUT_OF_WINDOW if verdict is Verdict.DROPPED else None
        return SegmentRecord(t, host, "recv", src, dst, seg, reason, flight, verdict)

    def lost(t: int, host: str, seg: Segment, flight: int) -> SegmentRecord:
        return SegmentRecord(t, host, "drop", c, s, seg, Loss.LINK, flight, Verdict.LOST)

    syn = Segment(40000, 80, 1000, 0, SYN, 65535, Options(wscale=7))
    synack = Segment(80, 40000, 5000, 1001, SYN | ACK, 65535, Options(wscale=2))
    data = Segment(40000, 80, 1001, 5001, ACK, 512, payload=b"x" * 100)
    more = Segment(40000, 80, 1101, 5001, ACK, 512, payload=b"y" * 100)
    ack = Segment(80, 40000, 5001, 1201, ACK, 100)
    ms = 1000
    records: list[TraceRecord] = [
        send(0, "client", syn, 1), recv(10 * ms, "server", syn, 1),
        send(10 * ms, "server", synack, 2), recv(20 * ms, "client", synack, 2),
        send(20 * ms, "client", data, 3),
        send(21 * ms, "client", more, 4),
        lost(25 * ms, "router", data, 3),        # lost further on, told by a router
        recv(31 * ms, "server", more, 4),
        send(300 * ms, "client", data, 5), lost(300 * ms, "client", data, 5),   # the first retransmission
        send(600 * ms, "client", data, 6), recv(610 * ms, "server", data, 6),
        send(610 * ms, "server", ack, 7),
        recv(620 * ms, "client", ack, 7), recv(625 * ms, "client", ack, 7),    # and the network's copy
        send(700 * ms, "server", ack, 8), recv(710 * ms, "client", ack, 8, Verdict.DROPPED),
    ]
    (client,) = _flows(records)
    # Each loss stands on the send that was lost, at the time it left.
    assert client.lost == [(0.02, 101), (0.3, 101)]
    assert client.again == [(0.3, 1, 101), (0.6, 1, 101)]
    # One ACK: the copy adds nothing, the dropped one was not read; the window is the
    # server's, scaled by the shift the server offered.
    assert client.acks == [(0.62, 201)] and client.edges == [(0.62, 201 + (100 << 2))]


def test_plot_takes_plain_data_not_scenarios() -> None:
    tree = ast.parse(Path(plot.__file__).read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith("synack.scenarios")]


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
