"""Time-sequence graphs of runs, drawn with matplotlib (as tcptrace and Wireshark's
"Stream Graph" draw them): PNG or SVG.

For every run, one panel per host that sent data (or, in a run without data, per host
that sent anything):

- each segment it sent is a vertical bar from its first to its last sequence number,
  at the time it left (relative to the host's ISN, as Wireshark does); SYN, FIN and
  window probes, one sequence number each, are dots;
- retransmissions (a segment ending at or below the highest sequence number already
  sent) are red, with an ``x`` on top;
- segments the network lost are marked with a black ``✕`` on top of the very send
  that was lost (found by its flight id: the original or a retransmission), at the
  time it left;
- the ACKs the host received and took form a step line (green), and the right edge
  of the window the peer advertised (ACK + window, scaled when window scaling was
  agreed) a second, fainter one above it: the gap between them is what the sender may
  send.  An ACK counts once per flight (a copy the network made adds nothing), and
  not when the stack left its ACK field unread (a dropped or duplicate segment);

and, when the trace has congestion records for a host that sent data, a panel below
with cwnd, ssthresh and bytes in flight over time.

``matplotlib`` is imported on first use, with its non-interactive Agg canvas: no
display is needed and nothing global is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

from synack.core.seq import seq_add, seq_le, seq_sub
from synack.core.trace import CongestionRecord, SegmentRecord, TraceRecord, Verdict
from synack.core.wire import ACK, FIN, SYN

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["FORMATS", "PlotError", "PlotRun", "plot_format", "plot_runs"]

#: File name extensions we can write, and matplotlib's name for each format.
FORMATS: Final = {".png": "png", ".svg": "svg"}


class PlotError(ValueError):
    """The plot cannot be made as asked (an unknown file extension)."""


class PlotRun(NamedTuple):
    """One run to draw: the words its panels are titled with, and its trace."""

    label: str
    records: Sequence[TraceRecord]


def plot_format(path: str | Path) -> str:
    """The format for ``path`` from its extension; :class:`PlotError` for anything else."""
    suffix = Path(path).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(FORMATS)
        raise PlotError(f"cannot draw a plot as {suffix or 'a file without extension'!r}: use {known}")
    return fmt


@dataclass
class _Flow:
    """What one host sent, and the ACKs and windows it got back, in the host's own
    sequence space (relative to its ISN)."""

    host: str
    isn: int | None = None
    #: (t_s, first, last + 1) for new data, and for retransmissions.
    new: list[tuple[float, int, int]] = field(default_factory=list)
    again: list[tuple[float, int, int]] = field(default_factory=list)
    lost: list[tuple[float, int]] = field(default_factory=list)
    acks: list[tuple[float, int]] = field(default_factory=list)
    edges: list[tuple[float, int]] = field(default_factory=list)
    cc: list[CongestionRecord] = field(default_factory=list)
    #: Payload octets sent the first time.
    payload: int = 0


#: Verdicts on an arrival whose ACK field the stack did not read.
_ACK_UNREAD: Final = frozenset({Verdict.DROPPED, Verdict.DUPLICATE})


def _flows(records: Sequence[TraceRecord]) -> list[_Flow]:
    flows: dict[str, _Flow] = {}
    highest: dict[str, int] = {}
    # Window scaling: the shift each host offered on its SYN (None: none offered).
    offered: dict[str, int | None] = {}
    order: list[str] = []
    #: By flight id: who sent it, when, and the top of its sequence range (None: it
    #: carried no sequence space).
    sent: dict[int, tuple[str, float, int | None]] = {}
    acked: set[int] = set()   # flights whose ACK was counted

    def flow(host: str) -> _Flow:
        if host not in flows:
            flows[host] = _Flow(host)
            order.append(host)
        return flows[host]

    for rec in records:
        if isinstance(rec, CongestionRecord):
            flow(rec.host).cc.append(rec)
            continue
        if not isinstance(rec, SegmentRecord) or rec.seg is None:
            continue
        seg = rec.seg
        t = rec.t_us / 1e6
        if rec.event == "send":
            f = flow(rec.host)
            if seg.flags & SYN:
                offered[rec.host] = seg.options.wscale
            if f.isn is None:
                f.isn = seg.seq
            length = len(seg.payload) + (1 if seg.flags & SYN else 0) + (1 if seg.flags & FIN else 0)
            top: int | None = None
            if length:
                first = seq_sub(seg.seq, f.isn)
                top = first + length
                end = seq_add(seg.seq, length)
                highest_end = highest.get(rec.host)
                if highest_end is not None and seq_le(end, highest_end):
                    f.again.append((t, first, top))
                else:
                    highest[rec.host] = end
                    f.new.append((t, first, top))
                    f.payload += len(seg.payload)
            if rec.flight:
                sent[rec.flight] = (rec.host, t, top)
        elif rec.event == "drop" and rec.verdict is Verdict.LOST:
            known = sent.get(rec.flight) if rec.flight else None
            if known is not None:   # the send that was lost: its sender, time and top
                host, t_sent, top = known
                if top is not None:
                    flow(host).lost.append((t_sent, top))
                continue
            # No flight to go by (a real device's trace): the record's host sent it.
            f = flow(rec.host)
            if f.isn is not None and (seg.payload or seg.flags & (SYN | FIN)):
                f.lost.append((t, seq_sub(seg.seq, f.isn) + max(len(seg.payload), 1)))
        elif rec.event == "recv" and seg.flags & ACK and not seg.flags & SYN:
            if rec.verdict in _ACK_UNREAD:
                continue
            if rec.flight:
                if rec.flight in acked:
                    continue   # a copy the network made
                acked.add(rec.flight)
            f = flow(rec.host)
            if f.isn is None:
                continue
            ack = seq_sub(seg.ack, f.isn)
            if ack < 0 or ack > 1 << 31:
                continue
            f.acks.append((t, ack))
            # The peer scales its windows by the shift it offered, when both offered one.
            known = sent.get(rec.flight) if rec.flight else None
            if known is not None:   # from the host that sent it
                peer_shift = offered.get(known[0])
            else:
                peer_shift = next((v for h, v in offered.items() if h != rec.host), None)
            own_shift = offered.get(rec.host)
            shift = peer_shift if peer_shift is not None and own_shift is not None else 0
            f.edges.append((t, ack + (seg.window << shift)))
    senders = [flows[h] for h in order if flows[h].payload]
    if senders:
        return senders
    return [flows[h] for h in order if flows[h].new]


def _kb(n: float) -> float:
    return n / 1000


def _draw_sequence(ax: Axes, flow: _Flow, title: str) -> None:
    scale = 1000 if flow.payload >= 20_000 else 1
    unit = "kB" if scale == 1000 else "bytes"
    if flow.new:
        ax.vlines([t for t, _a, _b in flow.new], [a / scale for _t, a, _b in flow.new],
                  [b / scale for _t, _a, b in flow.new], colors="#1f5fbf", linewidths=1.2, zorder=3,
                  label="data sent")
    small = [(t, b) for t, a, b in flow.new if b - a <= 2]
    if small:  # SYN, FIN, window probes: too short for a bar to show
        ax.plot([t for t, _b in small], [b / scale for _t, b in small], ".", color="#1f5fbf", markersize=4)
    if flow.again:
        ax.vlines([t for t, _a, _b in flow.again], [a / scale for _t, a, _b in flow.again],
                  [b / scale for _t, _a, b in flow.again], colors="#d62728", linewidths=1.6)
        ax.plot([t for t, _a, _b in flow.again], [b / scale for _t, _a, b in flow.again], "x",
                color="#d62728", markersize=5, label=f"retransmitted ({len(flow.again)})")
    if flow.lost:
        ax.plot([t for t, _s in flow.lost], [s / scale for _t, s in flow.lost], "X", color="black",
                markersize=5, label=f"lost in the network ({len(flow.lost)})")
    if flow.acks:
        ax.step([t for t, _a in flow.acks], [a / scale for _t, a in flow.acks], where="post",
                color="#2ca02c", linewidth=1.0, label="ACK received")
    if flow.edges and flow.payload:  # beside a handshake or close, it would only flatten them
        ax.step([t for t, _e in flow.edges], [e / scale for _t, e in flow.edges], where="post",
                color="#bcbd22", linewidth=0.8, alpha=0.8, label="window edge (ACK + window)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(f"sequence ({unit}, relative)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.85)


def _draw_congestion(ax: Axes, flow: _Flow, title: str) -> None:
    cc = flow.cc
    times = [r.t_us / 1e6 for r in cc]
    ax.step(times, [_kb(r.cwnd) for r in cc], where="post", color="#1f5fbf", linewidth=1.2, label="cwnd")
    ax.step(times, [_kb(r.inflight) for r in cc], where="post", color="#7f7f7f", linewidth=0.8,
            alpha=0.8, label="in flight")
    top = max(r.cwnd for r in cc)
    # ssthresh starts "infinite" (2**30 and the like): draw it only once it means something.
    finite = [(t, _kb(r.ssthresh)) for t, r in zip(times, cc, strict=True) if r.ssthresh <= 4 * max(top, 1)]
    if finite:
        ax.step([t for t, _v in finite], [v for _t, v in finite], where="post", color="#ff7f0e",
                linewidth=1.0, linestyle="--", label="ssthresh")
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel("kB")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.85)


def plot_runs(runs: Sequence[PlotRun], path: str | Path, *, title: str | None = None) -> None:
    """Draw the time-sequence graph (and cwnd, when traced) of every run into one
    figure at ``path`` (``.png`` or ``.svg``)."""
    fmt = plot_format(path)
    # Slow imports: only when drawing.
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    panels: list[tuple[str, _Flow, str]] = []
    for n, run in enumerate(runs, 1):
        label = run.label
        prefix = f"({n}/{len(runs)}) " if len(runs) > 1 else ""
        for flow in _flows(run.records):
            panels.append(("seq", flow, f"{prefix}{label}: {flow.host} → sequence numbers"))
            if flow.cc and flow.payload:
                panels.append(("cc", flow, f"{prefix}{flow.host}: congestion window"))
    if not panels:
        raise PlotError("nothing to plot: no segment was sent")
    fig = Figure(figsize=(11, 3.4 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for i, (ax, (kind, flow, text)) in enumerate(zip(axes, panels, strict=True)):
        if kind == "seq":
            _draw_sequence(ax, flow, text)
        else:
            ax.sharex(axes[i - 1])  # the same time axis as the flow's sequence panel
            _draw_congestion(ax, flow, text)
        ax.set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=12)
    # The same runs give the same bytes: no date, and SVG ids from a fixed salt.
    metadata: dict[str, str | None] = {"Date": None} if fmt == "svg" else {}
    with rc_context({"svg.hashsalt": "synack"}):
        fig.savefig(path, format=fmt, dpi=110, metadata=metadata)
