"""A base for the small protocol *models* some scenarios put beside the real stack
(a naive two-way-handshake server, a client that puts data on its SYN): everything
of the simulator's endpoint contract (``synack.sim.EndpointLike``) except what a
model does with a segment.  Models have no timers and no events."""

from __future__ import annotations

import abc
from collections.abc import Callable

from synack.core.events import Event
from synack.core.ip import Packet, parse_packet
from synack.core.trace import SegmentRecord, Tracer, Verdict
from synack.core.wire import Segment


class ModelEndpoint(abc.ABC):
    """Traces what it sends and receives; subclasses implement :meth:`on_segment`."""

    def __init__(self, name: str, tracer: Tracer | None, flights: Callable[[], int] | None = None) -> None:
        self.name = name
        self._tracer = tracer
        self._flights = flights
        self._out: list[Packet] = []

    @abc.abstractmethod
    def on_segment(self, seg: Segment, src: str, dst: str, now: int) -> None:
        """What the model does with a segment it receives (after it is traced)."""

    def emit(self, src: str, dst: str, seg: Segment) -> None:
        self._out.append(Packet(src, dst, seg))

    # -- the driver contract ------------------------------------------------------------
    def receive_packet(self, data: bytes, now: int, verify_checksum: bool = True, flight: int = 0) -> None:
        src, dst, seg, _ = parse_packet(data)
        self.receive_segment(seg, src, dst, now, flight)

    def receive_segment(self, seg: Segment, src: str, dst: str, now: int, flight: int = 0) -> None:
        if self._tracer is not None:
            self._tracer(SegmentRecord(now, self.name, "recv", src, dst, seg, None, flight, Verdict.ACCEPTED))
        self.on_segment(seg, src, dst, now)

    def handle_timeout(self, now: int) -> None:
        return None

    def next_timeout(self) -> int | None:
        return None

    def next_event(self) -> Event | None:
        return None

    def packets_to_send(self, now: int) -> list[Packet]:
        out, self._out = self._out, []
        if self._tracer is not None:
            for i, p in enumerate(out):
                flight = self._flights() if self._flights is not None else 0
                out[i] = p._replace(flight=flight)
                self._tracer(SegmentRecord(now, self.name, "send", p.src, p.dst, p.seg, None, flight))
        return out
