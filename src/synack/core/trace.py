"""The typed trace: every segment sent, received, dropped or lost, every state
change, timer event and congestion sample, each stamped with the ``now`` the core
was given (never a wall clock).

The core calls an optional :data:`Tracer` (any callable taking a record); without
one, nothing is built.  Every view (ladder, JSON Lines, netstat, plot) reads these
records and none re-derives TCP from them:

- a segment's records share its ``flight`` id: the send, its arrival (or arrivals,
  when the network duplicates it) or its loss in the network, and the stack's drop;
- an arrival carries the receiving stack's :class:`Verdict`, with a reason when
  something was refused (a :class:`~synack.core.errors.DropReason`);
- a loss in the network carries a :class:`Loss`, never a ``DropReason``: the two
  are told apart by type;
- timers are :class:`~synack.core.timers.Timer` kinds and :class:`TimerAction` s.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from .errors import DropReason
from .state import State
from .timers import Timer
from .wire import Segment


def endpoint_str(addr: str, port: int) -> str:
    """``"198.18.0.2:80"``, or ``"[fd00:5ac::2]:80"`` for IPv6."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


class Verdict(enum.Enum):
    """What became of a segment (RFC 9293 §3.10.7.4's outcomes, as the stack decided)."""

    #: Everything it carried was taken (data held out of order included).
    ACCEPTED = "accepted"
    #: Part of it was taken; the rest (``reason``) was not: data beyond the window or
    #: the buffer, data on a SYN, data after a FIN, the front already received.
    TRIMMED = "trimmed"
    #: It carried nothing new: all of its sequence space had arrived before (a
    #: retransmission); answered with an ACK.
    DUPLICATE = "duplicate"
    #: Not processed (``reason``), beyond the answer the RFC asks for (an ACK, a
    #: challenge ACK, a RST).
    DROPPED = "dropped"
    #: Lost in the network (a :class:`Loss`), never reached a stack.
    LOST = "lost"


class Loss(enum.Enum):
    """Why the network lost a segment (the simulator's links and routes)."""

    LINK = "link-loss"
    FAULT = "fault"
    MTU = "mtu"
    QUEUE_FULL = "queue-full"
    NO_ROUTE = "no-route"
    #: A filter in front of a host (a firewall) refused it.
    FILTERED = "filtered"


#: The outcome of one segment's processing: a verdict and, unless accepted, why.
Outcome = tuple[Verdict, DropReason | None]
ACCEPTED: Final[Outcome] = (Verdict.ACCEPTED, None)


def dropped(reason: DropReason) -> Outcome:
    return (Verdict.DROPPED, reason)


def trimmed(reason: DropReason | None) -> Outcome:
    return (Verdict.TRIMMED, reason)


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A segment sent, received, dropped by ``host``'s stack, or lost in the network.

    ``flight`` links the records of one segment (0: not known, as for bytes read
    from a real device).  ``verdict`` is set on arrivals, drops and losses; ``reason``
    says why a segment was not taken whole (a ``DropReason`` of the stack, or a
    ``Loss`` of the network, with ``detail`` for a fault's description)."""

    t_us: int
    host: str
    event: Literal["send", "recv", "drop"]
    src: str
    dst: str
    seg: Segment | None  # None for bytes that did not parse (malformed)
    reason: DropReason | Loss | None = None
    flight: int = 0
    verdict: Verdict | None = None
    detail: str | None = None

    @property
    def reason_text(self) -> str | None:
        """The reason as JSON and the views show it: ``"out-of-window"``,
        ``"link-loss"``, ``"fault: drop 1st SYN"``."""
        if self.reason is None:
            return None
        text: str = self.reason.value
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(frozen=True, slots=True)
class StateRecord:
    """A connection of ``host`` changed state."""

    t_us: int
    host: str
    local: str
    remote: str
    old: State
    new: State


class TimerAction(enum.Enum):
    ARMED = "armed"
    FIRED = "fired"
    #: It fired and the connection (or half-open entry) gave up: retries exhausted.
    GAVE_UP = "gave-up"


@dataclass(frozen=True, slots=True)
class TimerRecord:
    """A timer was armed (from idle), fired, or fired and gave up."""

    t_us: int
    host: str
    local: str
    remote: str
    timer: Timer
    action: TimerAction
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
