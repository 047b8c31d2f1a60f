"""Small stand-ins for the core's Endpoint, for testing the simulator on its own."""

from __future__ import annotations

from collections import Counter
from typing import Any

from synack.core.errors import DropReason, MalformedSegment
from synack.core.events import Event
from synack.core.ip import Packet, parse_packet
from synack.core.wire import ACK, SYN, Segment
from synack.sim import Host, Network


class FakeEndpoint:
    """Records what arrives; sends what the test puts in ``outbox``; optional timers."""

    def __init__(self) -> None:
        self.received: list[tuple[int, Packet]] = []
        self.malformed: Counter[DropReason] = Counter()
        self.outbox: list[Packet] = []
        self.deadlines: list[int] = []
        self.fired: list[int] = []
        self.timeout_calls: list[int] = []
        self.answer_syn = False

    def receive_packet(self, data: bytes, now: int, verify_checksum: bool = True, flight: int = 0) -> None:
        try:
            src, dst, seg, _ = parse_packet(data)
        except MalformedSegment as exc:
            self.malformed[exc.reason] += 1
            return
        self.receive_segment(seg, src, dst, now)

    def receive_segment(self, seg: Segment, src: str, dst: str, now: int, flight: int = 0) -> None:
        self.received.append((now, Packet(src, dst, seg)))
        if self.answer_syn and seg.flags == SYN:
            self.outbox.append(Packet(dst, src, Segment(seg.dst_port, seg.src_port, 1000, seg.seq + 1,
                                                        SYN | ACK, 65535)))

    def handle_timeout(self, now: int) -> None:
        self.timeout_calls.append(now)
        due = [d for d in self.deadlines if d <= now]
        self.deadlines = [d for d in self.deadlines if d > now]
        self.fired.extend(due)

    def packets_to_send(self, now: int) -> list[Packet]:
        out = self.outbox
        self.outbox = []
        return out

    def next_timeout(self) -> int | None:
        return min(self.deadlines) if self.deadlines else None

    def next_event(self) -> Event | None:
        return None

    # -- for tests --------------------------------------------------------------------
    @property
    def segments(self) -> list[Segment]:
        return [p.seg for _, p in self.received]

    @property
    def times(self) -> list[int]:
        return [t for t, _ in self.received]


class EchoEndpoint(FakeEndpoint):
    """Answers every segment at once with one segment back (ping-pong), ``limit`` times."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.count = 0

    def receive_segment(self, seg: Segment, src: str, dst: str, now: int, flight: int = 0) -> None:
        self.count += 1
        if self.count <= self.limit:
            self.outbox.append(Packet(dst, src, seg))


def seg(seq: int = 0, flags: int = ACK, payload: bytes = b"", sport: int = 1000, dport: int = 80) -> Segment:
    return Segment(sport, dport, seq, 0, flags, 65535, payload=payload)


def fake_pair(net: Network, **link: Any) -> tuple[Host[FakeEndpoint], Host[FakeEndpoint]]:
    a = net.add_node("a", ["10.0.0.1"], FakeEndpoint())
    b = net.add_node("b", ["10.0.0.2"], FakeEndpoint())
    net.connect(a, b, **link)
    return a, b


def send(host: Host[FakeEndpoint], dst: str, segment: Segment) -> None:
    """Have ``host`` send ``segment`` to ``dst`` now."""
    host.endpoint.outbox.append(Packet(host.addresses[0], dst, segment))
    host.service()


def send_at(net: Network, t: int, host: Host[FakeEndpoint], dst: str, segment: Segment) -> None:
    net.at(t, send, host, dst, segment)
