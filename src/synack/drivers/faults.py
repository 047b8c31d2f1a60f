"""Faults on the real path: the TUN driver drops, delays, duplicates and reorders.

netem is not available everywhere, so the driver impairs its own traffic, in
either direction, between the device and the endpoint:

- **inbound**: packets read from the device (kernel → synack), before the
  endpoint sees them;
- **outbound**: packets the endpoint sends (synack → kernel), before they are
  written to the device.

Each direction is a :class:`PathFaults`: random :class:`Impairments` (``loss``,
``delay``, ``jitter``, ``duplicate``, ``reorder``, named and applied as the
simulator's :class:`~synack.sim.link.PathParams`) drawn from the direction's own
seeded stream, and targeted faults, the simulator's own classes
(:class:`~synack.sim.faults.Drop`, :class:`~synack.sim.faults.Delay`,
:class:`~synack.sim.faults.Hold`, :class:`~synack.sim.faults.Duplicate`) with its
predicates (``flags_are("S")``, ``has_payload()``, ``nth``/``count`` ...).  A
match may name the two sides, ``from_host("kernel")`` or ``to_host("synack")``.

A packet meets them in the simulator's order: the targeted faults (drop, extra
delay, extra copies), then ``loss``, then ``delay`` plus ``jitter`` (kept in
order), then ``reorder`` (held back ``reorder_delay`` more, so later packets
overtake it), then ``duplicate`` (a second copy right after the first).
:meth:`PathFaults.fate` says what becomes of one packet: the times its copies are
due (none: dropped).  Random numbers are drawn only for the impairments that are
on, so a seed and the sequence of packets give the same decisions every time
(the real path's timing varies from run to run, so the sequence may too).

The driver holds the packets due later in a :class:`Held` queue, released by one
event-loop timer.  Nothing feeds a copy back in: every packet is decided once, so
whatever is held drains by itself.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

from synack.core.wire import Segment
from synack.sim.faults import (
    Delay,
    Drop,
    Duplicate,
    Fault,
    Hold,
    Match,
    any_segment,
    apply_faults,
    flags_are,
    from_addr,
    from_host,
    from_port,
    has_flags,
    has_payload,
    to_addr,
    to_host,
    to_port,
    where,
)
from synack.sim.rng import make_rng

__all__ = [
    "MAX_DELAY",
    "Delay",
    "Drop",
    "Duplicate",
    "Fault",
    "FaultStats",
    "Held",
    "Hold",
    "Impairments",
    "Match",
    "PathFaults",
    "TunFaults",
    "any_segment",
    "flags_are",
    "from_addr",
    "from_host",
    "from_port",
    "has_flags",
    "has_payload",
    "to_addr",
    "to_host",
    "to_port",
    "where",
]

#: Longest delay (µs) a packet may be given: one minute.  Everything held is
#: released by then, so the fault layer always drains by itself.
MAX_DELAY: Final = 60_000_000
#: Packets one direction may hold at once; more are dropped (``stack.drops["hold-full"]``).
#: TCP's windows keep far fewer in flight: this bounds the memory of a bad setting.
MAX_HELD: Final = 20_000
#: Packets due this close (µs) to a wake-up leave with it.
RELEASE_SLACK: Final = 200


@dataclass(frozen=True, slots=True)
class Impairments:
    """One direction's random impairments: the simulator's ``PathParams`` names.

    Probabilities in [0, 1], times in µs.  Not here: bandwidth, queue limits, MTU
    (the kernel has its own) and corruption (with checksum offload the kernel never
    checks what synack writes, and synack never checks what it reads).
    """

    loss: float = 0.0
    delay: int = 0
    jitter: int = 0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: int = 10_000

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}={p}: a probability is within [0, 1]")
        for name in ("delay", "jitter", "reorder_delay"):
            t = getattr(self, name)
            if not 0 <= t <= MAX_DELAY:
                raise ValueError(f"{name}={t}: must be within 0..{MAX_DELAY} µs")
        if self.delay + self.jitter + self.reorder_delay > MAX_DELAY:
            raise ValueError(f"delay + jitter + reorder_delay exceed {MAX_DELAY} µs")

    @property
    def active(self) -> bool:
        return bool(self.loss or self.delay or self.jitter or self.duplicate or self.reorder)

    def describe(self) -> str:
        """``"loss 5%, delay 2 ms, duplicate 1%"``; ``"none"`` when nothing is on."""
        parts = []
        if self.loss:
            parts.append(f"loss {self.loss:.4g}")
        if self.delay:
            parts.append(f"delay {self.delay / 1000:g} ms")
        if self.jitter:
            parts.append(f"jitter {self.jitter / 1000:g} ms")
        if self.duplicate:
            parts.append(f"duplicate {self.duplicate:.4g}")
        if self.reorder:
            parts.append(f"reorder {self.reorder:.4g} (held {self.reorder_delay / 1000:g} ms)")
        return ", ".join(parts) or "none"


@dataclass(slots=True)
class FaultStats:
    """What one direction's faults did (the simulator's ``PathStats`` names)."""

    #: Packets decided.
    seen: int = 0
    #: Dropped by a targeted fault (:class:`Drop`).
    fault_drops: int = 0
    #: Dropped by ``loss``.
    lost: int = 0
    #: Given extra time by a targeted fault (:class:`Delay`, :class:`Hold`).
    delayed: int = 0
    #: Held back by ``reorder``.
    reordered: int = 0
    #: Extra copies made (``duplicate`` and :class:`Duplicate`).
    duplicated: int = 0

    @property
    def dropped(self) -> int:
        return self.fault_drops + self.lost

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


#: The addresses of a side by name ("synack", "kernel"), or None.
Resolver = Callable[[str], "tuple[str, ...] | None"]


class PathFaults:
    """One direction's faults: random impairments from a seeded stream, then
    targeted faults, as :meth:`fate` applies them."""

    def __init__(self, name: str, impairments: Impairments | None = None, faults: Iterable[Fault] = (),
                 *, seed: int = 1) -> None:
        self.name = name
        self.seed = seed
        self.impairments = impairments if impairments is not None else Impairments()
        self.faults: list[Fault] = []
        #: The direction's random stream: ``make_rng(seed, "tun/" + name)``, as the
        #: simulator derives one per path, so each direction draws independently.
        self.rng = make_rng(seed, f"tun/{name}")
        self.stats = FaultStats()
        self._resolve: Resolver | None = None
        self._last = 0  # the latest due time given in order (FIFO under jitter)
        for fault in faults:
            self.add_fault(fault)

    def __repr__(self) -> str:
        faults = "; ".join(f.describe() for f in self.faults)
        return f"<PathFaults {self.name}: {self.impairments.describe()}{'; ' + faults if faults else ''}>"

    @property
    def active(self) -> bool:
        return self.impairments.active or bool(self.faults)

    def add_fault(self, fault: Fault) -> Fault:
        """Apply ``fault`` too (after those added before)."""
        if fault.value > MAX_DELAY:
            raise ValueError(f"{fault.describe()}: longer than {MAX_DELAY} µs")
        if self._resolve is not None:
            fault.bind(self._resolve)
        self.faults.append(fault)
        return fault

    def bind(self, resolve: Resolver) -> None:
        """Let matches that name a side (``from_host("kernel")``) find its addresses."""
        self._resolve = resolve
        for fault in self.faults:
            fault.bind(resolve)

    def fate(self, now: int, src: str, dst: str, seg: Segment | None) -> list[int]:
        """The times (µs) at which the copies of this packet are due, in order: ``[]``
        when it is dropped, ``[now]`` when it passes untouched.  ``seg`` is None for a
        packet the driver could not parse: only the random impairments apply to it."""
        stats = self.stats
        stats.seen += 1
        extra = 0
        copies: list[int] | None = None
        if seg is not None and self.faults:
            dropper, extra, copies = apply_faults(self.faults, src, dst, seg, stats)
            if dropper is not None:
                return []
        imp = self.impairments
        rng = self.rng
        if imp.loss and rng.random() < imp.loss:
            stats.lost += 1
            return []
        due = now + imp.delay
        if imp.jitter:
            due += int(rng.random() * (imp.jitter + 1))
        if extra or (imp.reorder and rng.random() < imp.reorder):
            if not extra:
                stats.reordered += 1
                extra = imp.reorder_delay
            due += extra  # out of order: later packets may overtake it
        else:
            if due < self._last:
                due = self._last
            self._last = due
        times = [due]
        if imp.duplicate and rng.random() < imp.duplicate:
            stats.duplicated += 1
            times.append(due)
        if copies:
            for after in copies:
                stats.duplicated += 1
                times.append(due + after)
        return times


class TunFaults:
    """Faults for both directions of a TUN device.

    ``inbound``: packets read from the device (kernel → synack); ``outbound``:
    packets written to it (synack → kernel).  Either may be None (untouched).
    """

    def __init__(self, inbound: PathFaults | None = None, outbound: PathFaults | None = None) -> None:
        self.inbound = inbound
        self.outbound = outbound

    @classmethod
    def both(cls, impairments: Impairments, *, seed: int = 1) -> TunFaults:
        """The same impairments in each direction, each drawing from its own stream
        (``--loss 0.1`` drops a tenth of the packets each way, independently)."""
        return cls(PathFaults("inbound", impairments, seed=seed),
                   PathFaults("outbound", impairments, seed=seed))

    def __repr__(self) -> str:
        return f"<TunFaults inbound={self.inbound!r} outbound={self.outbound!r}>"

    def bind(self, sides: dict[str, tuple[str, ...]]) -> None:
        """Name the sides for matches such as ``from_host("kernel")``."""
        resolve: Resolver = sides.get
        for path in (self.inbound, self.outbound):
            if path is not None:
                path.bind(resolve)

    def as_dict(self) -> dict[str, Any]:
        paths = (("inbound", self.inbound), ("outbound", self.outbound))
        return {name: {"impairments": path.impairments.describe(),
                       "faults": [f.describe() for f in path.faults], **path.stats.as_dict()}
                for name, path in paths if path is not None}

    def describe(self) -> list[str]:
        """What is on, a line per direction that has something on."""
        lines = []
        for name, path in (("inbound (kernel -> synack)", self.inbound),
                           ("outbound (synack -> kernel)", self.outbound)):
            if path is not None and path.active:
                extra = "".join(f"; {f.describe()}" for f in path.faults)
                lines.append(f"{name}: {path.impairments.describe()}{extra} (seed {path.seed})")
        return lines

    def summary(self) -> str:
        """One line: what each direction's faults did."""
        parts = []
        for name, path in (("inbound", self.inbound), ("outbound", self.outbound)):
            if path is None:
                continue
            s = path.stats
            parts.append(f"{name} {s.seen} packets: {s.dropped} dropped, {s.duplicated} duplicated, "
                         f"{s.reordered} reordered, {s.delayed} delayed by a fault")
        return "; ".join(parts) or "no faults"


class _Loop(Protocol):
    """What :class:`Held` needs of an event loop (a fake one in tests)."""

    def call_at(self, when: float, callback: Callable[[], object], /) -> asyncio.TimerHandle: ...


T = TypeVar("T")


class Held(Generic[T]):
    """Items due later, released in due order (ties in the order they came) by one
    timer of the event loop: ``release(items, now)`` gets each batch that is due."""

    def __init__(self, loop: _Loop, clock: Callable[[], int], release: Callable[[list[T], int], None],
                 limit: int = MAX_HELD) -> None:
        self._loop = loop
        self._clock = clock
        self._release = release
        self.limit = limit
        self._heap: list[tuple[int, int, T]] = []  # (due, order, item): order is unique
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def next_due(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def hold(self, due: int, item: T) -> bool:
        """Keep ``item`` until ``due`` (µs); False when the queue is full."""
        if len(self._heap) >= self.limit:
            return False
        heapq.heappush(self._heap, (due, next(self._order), item))
        if self._timer_at is None or due < self._timer_at:
            self._arm(due)
        return True

    def _arm(self, due: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = self._loop.call_at(due / 1e6, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self._clock()
        items = self.take_due(now)
        if self._heap:
            self._arm(self._heap[0][0])  # first, so a failing release cannot stop the queue
        if items:
            self._release(items, now)

    def take_due(self, now: int) -> list[T]:
        """Remove and return the items due by ``now`` (within :data:`RELEASE_SLACK`)."""
        heap = self._heap
        limit = now + RELEASE_SLACK
        items = []
        while heap and heap[0][0] <= limit:
            items.append(heapq.heappop(heap)[2])
        return items

    def take_all(self) -> list[T]:
        """Everything held, in due order; the timer stops."""
        self._cancel()
        items = [heapq.heappop(self._heap)[2] for _ in range(len(self._heap))]
        return items

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None
