"""Links: two one-way paths, each with delay, jitter, bandwidth, loss, duplication,
reordering and corruption, all drawn from the path's own seeded stream.

The order in which a packet meets a path's impairments:

1. targeted faults (:mod:`synack.sim.faults`): drop, extra delay, duplicate;
2. MTU: a packet larger than ``mtu`` is dropped ("mtu"; DF is always set);
3. bandwidth: serialisation delay ``ceil(bits · 10⁶ / bandwidth)`` µs behind a FIFO
   queue; with ``queue_limit``, a packet arriving when that many packets are already
   waiting (not counting the one being serialised) is tail-dropped ("queue-full");
4. ``loss``: dropped on the wire ("link-loss") after using its share of bandwidth;
5. propagation: ``delay`` plus uniform ``jitter`` in ``[0, jitter]``, clamped so that
   packets stay in order (FIFO) unless they are reordered on purpose;
6. ``reorder``: with that probability the packet is held back ``reorder_delay`` µs
   more and later packets may overtake it;
7. ``corrupt``: the packet is serialised, one random bit of its TCP part flipped, and
   the *bytes* delivered through ``Endpoint.receive_packet`` (so the receiver's
   checksum check drops it);
8. ``duplicate``: a second copy arrives right after the first.

Packets travel as :class:`~synack.core.ip.Packet` values; bytes are built only for
corruption (and, at the host, for taps).  Random numbers are drawn only for the
impairments that are switched on.

A path knows its two hosts, the :class:`~synack.sim.scheduler.Scheduler` on which it
posts each arrival (to the receiving host's ``deliver``), a tracer for its drops, and
how to find a host's addresses by name (for faults such as ``from_host("client")``).
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass, field, replace
from heapq import heappush
from typing import TYPE_CHECKING, Any, Final

from synack.core.ip import Packet, build_packet, is_ipv6
from synack.core.trace import Loss, NoteRecord, SegmentRecord, Tracer, Verdict
from synack.core.wire import NO_OPTIONS, Options, encode_options

from .faults import apply_faults

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from .faults import Fault, Resolver
    from .host import Host
    from .scheduler import Scheduler


@functools.lru_cache(maxsize=1024)
def _options_len(options: Options) -> int:
    return len(encode_options(options))


def wire_size(pkt: Packet) -> int:
    """Bytes the packet occupies on the wire: IP header, TCP header, options, payload."""
    seg = pkt.seg
    opts = 0 if seg.options is NO_OPTIONS else _options_len(seg.options)
    return (40 if is_ipv6(pkt.src) else 20) + 20 + opts + len(seg.payload)


@dataclass(frozen=True, slots=True)
class PathParams:
    """One direction's impairments.  Times in µs, bandwidth in bit/s, probabilities in [0, 1]."""

    delay: int = 0
    jitter: int = 0
    bandwidth: int | None = None
    queue_limit: int | None = None
    mtu: int | None = None
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: int = 10_000
    corrupt: float = 0.0

    def __post_init__(self) -> None:
        for name in ("delay", "jitter", "reorder_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: must be >= 0 µs")
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}={p}: a probability is within [0, 1]")
        if self.bandwidth is not None and self.bandwidth <= 0:
            raise ValueError(f"bandwidth={self.bandwidth}: must be > 0 bit/s (None: unlimited)")
        if self.queue_limit is not None:
            if self.queue_limit < 0:
                raise ValueError(f"queue_limit={self.queue_limit}: must be >= 0")
            if self.bandwidth is None:
                raise ValueError("queue_limit needs a bandwidth (without one nothing ever waits)")
        if self.mtu is not None and self.mtu < 68:
            raise ValueError(f"mtu={self.mtu}: below IPv4's minimum of 68")


@dataclass(slots=True)
class PathStats:
    """What a path did to the packets put on it."""

    sent: int = 0
    fault_drops: int = 0
    mtu_drops: int = 0
    queue_drops: int = 0
    lost: int = 0
    delayed: int = 0
    reordered: int = 0
    corrupted: int = 0
    duplicated: int = 0
    bytes_sent: int = field(default=0)

    @property
    def dropped(self) -> int:
        return self.fault_drops + self.mtu_drops + self.queue_drops + self.lost

    @property
    def delivered(self) -> int:
        """Packets scheduled for arrival (copies not counted; corrupted ones are)."""
        return self.sent - self.dropped


_HUGE: Final = 1 << 62


class Path:
    """One direction of a link: from ``src`` host to ``dst`` host."""

    __slots__ = ("_backlog", "_bandwidth", "_busy_until", "_corrupt", "_delay", "_deliver",
                 "_deliver_raw", "_dup", "_heap", "_jitter", "_last_arrival", "_loss", "_mtu", "_order",
                 "_plain", "_plain_bw", "_qlimit", "_reorder", "_reorder_delay", "_resolve", "_tracer", "dst",
                 "faults", "name", "params", "rng", "src", "stats")

    def __init__(self, src: Host[Any], dst: Host[Any], params: PathParams, rng: random.Random, name: str,
                 *, scheduler: Scheduler, tracer: Tracer | None = None,
                 resolve: Resolver | None = None) -> None:
        self.src = src
        self.dst = dst
        self.name = name
        self.rng = rng
        self.stats = PathStats()
        self.faults: list[Fault] = []
        self._heap, self._order = scheduler.lane()
        self._deliver = dst.deliver
        self._deliver_raw = dst.deliver_raw
        self._tracer = tracer
        self._resolve = resolve
        self._last_arrival = 0
        self._busy_until = 0
        self._backlog: deque[int] = deque()
        self.params = params
        self.configure(params)

    def configure(self, params: PathParams | None = None, **changes: int | float | None) -> None:
        """Replace the parameters (or change some: ``path.configure(loss=0.1)``)."""
        p = params if params is not None else self.params
        if changes:
            p = replace(p, **changes)  # type: ignore[arg-type]
        self.params = p
        self._delay = p.delay
        self._jitter = p.jitter
        self._bandwidth = p.bandwidth or 0
        self._qlimit = p.queue_limit if p.queue_limit is not None else _HUGE
        self._mtu = p.mtu or 0
        self._loss = p.loss
        self._dup = p.duplicate
        self._reorder = p.reorder
        self._reorder_delay = p.reorder_delay
        self._corrupt = p.corrupt
        self._plain = not (p.jitter or p.bandwidth or p.mtu or p.loss or p.duplicate or p.reorder
                           or p.corrupt)
        # Only a bandwidth (no queue limit): the common bulk-transfer link, on a lean path.
        self._plain_bw = bool(p.bandwidth) and p.queue_limit is None and not (
            p.jitter or p.mtu or p.loss or p.duplicate or p.reorder or p.corrupt)

    def add_fault(self, fault: Fault) -> Fault:
        """Apply ``fault`` to the packets on this path (in the order faults were added)."""
        if self._resolve is not None:
            fault.bind(self._resolve)
        self.faults.append(fault)
        return fault

    def _drop(self, pkt: Packet, now: int, reason: Loss, detail: str | None = None) -> None:
        tracer = self._tracer
        if tracer is not None:
            tracer(SegmentRecord(now, self.src.name, "drop", pkt.src, pkt.dst, pkt.seg, reason, pkt.flight,
                                 Verdict.LOST, detail))

    def _fault_noter(self, now: int) -> Callable[[Fault], None]:
        """What traces a fault's note at ``now`` (a closure of its own, so that
        ``transmit`` keeps no cell variables: every call would make them)."""
        tracer = self._tracer
        assert tracer is not None
        name = self.src.name
        return lambda fault: tracer(NoteRecord(now, name, "fault: " + fault.describe()))

    def transmit(self, pkt: Packet, now: int) -> None:
        """Put ``pkt`` on the path at ``now``: schedule its arrival, or drop it."""
        stats = self.stats
        stats.sent += 1
        if (self._plain or self._plain_bw) and not self.faults:
            # The lean path: no impairment but a delay, and maybe a bandwidth.
            depart = now
            if self._plain_bw:
                seg = pkt[2]
                opts = seg[6]
                size = (40 if ":" in pkt[0] else 20) + 20 + len(seg[7]) + (
                    0 if opts is NO_OPTIONS else _options_len(opts))
                start = self._busy_until if self._busy_until > now else now
                depart = self._busy_until = start - (-(size * 8_000_000) // self._bandwidth)
                stats.bytes_sent += size
            arrival = depart + self._delay
            if arrival < self._last_arrival:
                arrival = self._last_arrival
            self._last_arrival = arrival
            heappush(self._heap, (arrival, self._order(), self._deliver, pkt))
            return
        extra = 0
        copies: list[int] | None = None
        if self.faults:
            src, dst, seg, _ = pkt
            noted = None if self._tracer is None else self._fault_noter(now)
            dropper, extra, copies = apply_faults(self.faults, src, dst, seg, stats, noted)
            if dropper is not None:
                self._drop(pkt, now, Loss.FAULT, dropper.describe())
                return

        depart = now
        if self._bandwidth or self._mtu:
            size = wire_size(pkt)
            if self._mtu and size > self._mtu:
                stats.mtu_drops += 1
                self._drop(pkt, now, Loss.MTU)
                return
            if self._bandwidth:
                backlog = self._backlog
                while backlog and backlog[0] <= now:
                    backlog.popleft()
                if len(backlog) > self._qlimit:
                    stats.queue_drops += 1
                    self._drop(pkt, now, Loss.QUEUE_FULL)
                    return
                start = self._busy_until if self._busy_until > now else now
                # ceil(bits * 1e6 / bandwidth): exact integer µs
                depart = start - (-(size * 8_000_000) // self._bandwidth)
                self._busy_until = depart
                backlog.append(depart)
            stats.bytes_sent += size

        rng = self.rng
        if self._loss and rng.random() < self._loss:
            stats.lost += 1
            self._drop(pkt, now, Loss.LINK)
            return

        arrival = depart + self._delay
        if self._jitter:
            arrival += int(rng.random() * (self._jitter + 1))
        if extra or (self._reorder and rng.random() < self._reorder):
            if not extra:
                stats.reordered += 1
                extra = self._reorder_delay
            arrival += extra  # out of the FIFO: later packets may overtake it
        else:
            if arrival < self._last_arrival:
                arrival = self._last_arrival
            self._last_arrival = arrival

        heap = self._heap
        order = self._order
        if self._corrupt and rng.random() < self._corrupt:
            stats.corrupted += 1
            raw = (self._corrupt_bytes(pkt, now), pkt.flight)
            deliver_raw = self._deliver_raw
            heappush(heap, (arrival, order(), deliver_raw, raw))
            if self._dup and rng.random() < self._dup:
                stats.duplicated += 1
                heappush(heap, (arrival, order(), deliver_raw, raw))
            if copies:
                for after in copies:
                    stats.duplicated += 1
                    heappush(heap, (arrival + after, order(), deliver_raw, raw))
            return
        deliver = self._deliver
        heappush(heap, (arrival, order(), deliver, pkt))
        if self._dup and rng.random() < self._dup:
            stats.duplicated += 1
            heappush(heap, (arrival, order(), deliver, pkt))
        if copies:
            for after in copies:
                stats.duplicated += 1
                heappush(heap, (arrival + after, order(), deliver, pkt))

    def _corrupt_bytes(self, pkt: Packet, now: int) -> bytes:
        data = bytearray(build_packet(pkt.seg, pkt.src, pkt.dst))
        ip_len = 40 if is_ipv6(pkt.src) else 20
        bit = self.rng.randrange((len(data) - ip_len) * 8)
        data[ip_len + bit // 8] ^= 1 << (bit % 8)
        if self._tracer is not None:
            self._tracer(NoteRecord(now, self.src.name,
                                    f"link: corrupted bit {bit} of the TCP part of {pkt.seg.summary()}"))
        return bytes(data)

    def __repr__(self) -> str:
        return f"<Path {self.name} {self.params}>"


class Link:
    """Two paths between two hosts: ``forward`` (a → b) and ``backward`` (b → a)."""

    __slots__ = ("a", "b", "backward", "forward")

    def __init__(self, a: Host[Any], b: Host[Any], forward: Path, backward: Path) -> None:
        self.a = a
        self.b = b
        self.forward = forward
        self.backward = backward

    def path_from(self, host: Host[Any]) -> Path:
        """The path that carries ``host``'s packets."""
        if host is self.a:
            return self.forward
        if host is self.b:
            return self.backward
        raise ValueError(f"{host.name} is not on this link")

    def configure(self, params: PathParams | None = None, **changes: int | float | None) -> None:
        """Change both directions alike."""
        self.forward.configure(params, **changes)
        self.backward.configure(params, **changes)

    def __repr__(self) -> str:
        return f"<Link {self.a.name} <-> {self.b.name}>"
