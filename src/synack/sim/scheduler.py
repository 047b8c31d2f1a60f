"""A discrete-event scheduler: a heap of ``(t, order, fn, arg)`` and a virtual clock.

Time is integer microseconds.  Actions that fall at the same instant run in the
order they were scheduled (``order`` is a global counter), so a run is a pure
function of its inputs.  ``now`` only moves forward.

Two ways in:

- :meth:`Scheduler.call_at` / :meth:`Scheduler.call_later` take any callable and
  arguments and return a cancellable :class:`Handle` (for scripts and tests);
- :meth:`Scheduler.post` is the lean way: one tuple pushed, no handle, no closure.
  The callable receives exactly one argument.
- :meth:`Scheduler.lane` hands the parts on the per-packet path (hosts, links) the
  heap and the order counter themselves, once: they push ``(t, order(), fn, arg)``
  with :func:`heapq.heappush`, which is :meth:`post` without a call into the
  scheduler (a call per packet costs a few per cent of the simulator's own time).

A run is bounded: :meth:`Scheduler.run` raises :class:`EventLimitExceeded` after
``max_events`` actions, because a simulation that never settles is a bug (a timer
that re-arms in the past, two endpoints answering each other forever).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any, Final, NamedTuple, TypeVar

T = TypeVar("T")
#: A scheduled action: when, the order it was scheduled in (ties run in that order),
#: what to call and its one argument.
Entry = tuple[int, int, Callable[[Any], object], Any]

_NEVER: Final = 1 << 62

#: Actions one ``run`` call may execute before it is declared runaway.
DEFAULT_MAX_EVENTS: Final = 20_000_000


class EventLimitExceeded(RuntimeError):
    """``run`` executed ``max_events`` actions without reaching its end."""


class Handle:
    """A scheduled call that can be cancelled before it runs."""

    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: int, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run (a no-op when it already ran)."""
        self.cancelled = True

    def _run(self) -> None:
        if not self.cancelled:
            self.cancelled = True  # a handle runs at most once
            self.fn(*self.args)

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Handle t={self.when}{state} {getattr(self.fn, '__qualname__', self.fn)!r}>"


def _run_handle(handle: Handle) -> None:
    handle._run()


class Lane(NamedTuple):
    """The scheduler's heap and order counter, for pushing actions without a call:
    ``heapq.heappush(lane.heap, (t, lane.order(), fn, arg))`` runs ``fn(arg)`` at ``t``.
    The pusher promises what :meth:`Scheduler.post` checks: ``t`` is not in the past."""

    heap: list[Entry]
    order: Callable[[], int]


class Scheduler:
    """The event heap and the virtual clock (``now``, integer µs)."""

    __slots__ = ("_counter", "_heap", "events_run", "now")

    def __init__(self, start: int = 0) -> None:
        self.now: int = start
        #: Actions executed so far, over all runs.
        self.events_run: int = 0
        self._heap: list[Entry] = []
        self._counter = itertools.count()

    # -- scheduling ----------------------------------------------------------------
    def call_at(self, t: int, fn: Callable[..., object], *args: object) -> Handle:
        """Run ``fn(*args)`` at virtual time ``t`` (µs); ``t`` may not be in the past."""
        if t < self.now:
            raise ValueError(f"call_at({t}) is in the past (now is {self.now})")
        handle = Handle(t, fn, args)
        heapq.heappush(self._heap, (t, next(self._counter), _run_handle, handle))
        return handle

    def call_later(self, dt: int, fn: Callable[..., object], *args: object) -> Handle:
        """Run ``fn(*args)`` ``dt`` µs from now."""
        if dt < 0:
            raise ValueError(f"call_later({dt}): negative delay")
        return self.call_at(self.now + dt, fn, *args)

    def post(self, t: int, fn: Callable[[T], object], arg: T) -> None:
        """The lean path: run ``fn(arg)`` at ``t``; no handle, not cancellable."""
        if t < self.now:
            raise ValueError(f"post({t}) is in the past (now is {self.now})")
        heapq.heappush(self._heap, (t, next(self._counter), fn, arg))

    def lane(self) -> Lane:
        """The heap and the order counter, for the per-packet path (see :class:`Lane`)."""
        return Lane(self._heap, self._counter.__next__)

    # -- running -------------------------------------------------------------------
    def peek(self) -> int | None:
        """The time of the next pending action (cancelled handles included)."""
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        """How many actions are in the heap (cancelled handles included)."""
        return len(self._heap)

    def run(self, until: int | None = None, max_events: int = DEFAULT_MAX_EVENTS) -> int:
        """Run actions in time order; return how many ran.

        With ``until``, actions at times ``<= until`` run and the clock then stands
        at ``until`` (it never goes back: ``until`` before ``now`` is an error).
        Without it, run until the heap is empty.  Raises :class:`EventLimitExceeded`
        when ``max_events`` actions ran and more are due.
        """
        if until is not None and until < self.now:
            raise ValueError(f"run(until={until}) is in the past (now is {self.now})")
        heap = self._heap
        pop = heapq.heappop
        limit = until if until is not None else _NEVER
        n = 0
        try:
            while heap:
                entry = pop(heap)
                t, _, fn, arg = entry
                if t > limit or n >= max_events:
                    heapq.heappush(heap, entry)  # same (t, order): it keeps its place
                    if t > limit:
                        break
                    raise EventLimitExceeded(
                        f"{max_events} events ran without the simulation settling (now={self.now} µs, "
                        f"next at {t} µs, {len(heap)} pending): a runaway loop, or raise max_events")
                self.now = t
                n += 1
                fn(arg)
        finally:
            self.events_run += n
        if until is not None:
            self.now = until
        return n

    def run_until_idle(self, max_events: int = DEFAULT_MAX_EVENTS) -> int:
        """Run until nothing is scheduled."""
        return self.run(None, max_events)
