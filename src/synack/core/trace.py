"""Trace records: every segment sent, received or dropped, every state change and
timer event, each stamped with the ``now`` the core was given (never a wall clock).

The core calls an optional :data:`Tracer` (any callable taking a record); without
one, nothing is built.  Views (ladder, JSON Lines, netstat) read these records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .state import State
from .wire import Segment


def endpoint_str(addr: str, port: int) -> str:
    """``"198.18.0.2:80"``, or ``"[fd00:5ac::2]:80"`` for IPv6."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A segment sent, received, or dropped (with the reason) by ``host``."""

    t_us: int
    host: str
    event: Literal["send", "recv", "drop"]
    src: str
    dst: str
    seg: Segment | None  # None for bytes that did not parse (malformed)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StateRecord:
    """A connection of ``host`` changed state."""

    t_us: int
    host: str
    local: str
    remote: str
    old: State
    new: State


@dataclass(frozen=True, slots=True)
class TimerRecord:
    """A timer was armed (from idle) or fired."""

    t_us: int
    host: str
    local: str
    remote: str
    timer: str
    action: Literal["armed", "fired"]
    deadline: int | None = None


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """Anything else worth showing: an application call, a queue change."""

    t_us: int
    host: str
    text: str
    local: str | None = None
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class CongestionRecord:
    """A connection's congestion state after an input or output that changed it:
    cwnd, ssthresh, SRTT (None before a sample), RTO and bytes in flight (SND.NXT −
    SND.UNA), in octets and µs.  Only built when tracing is on."""

    t_us: int
    host: str
    local: str
    remote: str
    cwnd: int
    ssthresh: int
    srtt: int | None
    rto: int
    inflight: int


TraceRecord = SegmentRecord | StateRecord | TimerRecord | NoteRecord | CongestionRecord
Tracer = Callable[[TraceRecord], None]
