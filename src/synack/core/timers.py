"""Timers: what kinds there are, one deadline per kind, and the queue an endpoint
wakes from.

:class:`Timer` names every timer of the stack.  A :data:`TimerTable` holds one
deadline (integer µs, or None when stopped) per kind for one owner, a connection or
a listener (quinn-proto's ``TimerTable``); :func:`earliest` is the earliest.  Some
kinds share a deadline, as they do in Linux:

- the persist timer is the retransmission timer running while the peer's window is
  shut and data waits (Linux's ``icsk_retransmit_timer`` with ``ICSK_TIME_PROBE0``):
  its deadline is ``RETRANSMIT``'s, and an expiry is told as ``PERSIST``;
- the user timeout (RFC 5482) shortens the retransmission deadline rather than
  running beside it (Linux ``tcp_clamp_rto_to_user_timeout``); an expiry that gives up
  because of it is told as ``USER_TIMEOUT``;
- ``SYNACK`` is a listener's: the earliest SYN-ACK retransmission of its SYN queue.

A :class:`TimerQueue` is an endpoint's heap of owners by their next deadline.  It
wakes an owner only when that owner's own next deadline is due: a deadline that
moved later or was stopped costs no wake-up, and one that moved earlier costs one
push (the entry it had stays in the heap, stale, until it surfaces).

A table is a plain list, and the per-segment paths index it by the plain-int names
below (``RETRANSMIT``, ``DELAYED_ACK``...), not by the :class:`Timer` members: the
interpreter subscripts an exact list by an exact ``int`` in line, while a list
subclass or an ``IntEnum`` index takes the generic path (a few calls) every time.
"""

from __future__ import annotations

import enum
from heapq import heappop, heappush, heapreplace
from typing import Final, Protocol, TypeAlias


class Timer(enum.IntEnum):
    """The stack's timers; the value indexes a :data:`TimerTable`."""

    #: RFC 6298 (also the SYN's and a simultaneous open's SYN,ACK).
    RETRANSMIT = 0
    #: The delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2; Linux's ato).
    DELAYED_ACK = 1
    #: Keep-alive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6).
    KEEPALIVE = 2
    #: 2·MSL in TIME-WAIT.
    TIME_WAIT = 3
    #: An orphaned FIN-WAIT-2 (Linux tcp_fin_timeout).
    FIN_WAIT_2 = 4
    #: A listener's SYN-ACK retransmissions (Linux's request-sock timer).
    SYNACK = 5
    #: Zero-window probes (§3.8.6.1): ``RETRANSMIT``'s deadline (see above).
    PERSIST = 6
    #: RFC 5482 / Linux TCP_USER_TIMEOUT: clamps ``RETRANSMIT``'s deadline.
    USER_TIMEOUT = 7

    @property
    def label(self) -> str:
        """The name in traces and JSON: ``"retransmit"``, ``"time-wait"``..."""
        return _LABELS[self]


# The slots as module names, for the per-segment paths: plain ints (see the module
# docstring); a record or a call that names a timer takes the Timer member.
RETRANSMIT: Final = int(Timer.RETRANSMIT)
DELAYED_ACK: Final = int(Timer.DELAYED_ACK)
KEEPALIVE: Final = int(Timer.KEEPALIVE)
TW: Final = int(Timer.TIME_WAIT)
FW2: Final = int(Timer.FIN_WAIT_2)
SYNACK: Final = int(Timer.SYNACK)


_LABELS: Final = {
    Timer.RETRANSMIT: "retransmit", Timer.DELAYED_ACK: "delayed-ack", Timer.KEEPALIVE: "keepalive",
    Timer.TIME_WAIT: "time-wait", Timer.FIN_WAIT_2: "fin-wait-2", Timer.SYNACK: "synack",
    Timer.PERSIST: "persist", Timer.USER_TIMEOUT: "user-timeout",
}
#: Kinds with a deadline of their own (the rest share one, see the module docstring).
SLOTS: Final = 6


#: One owner's deadlines (a connection's or a listener's): one per :class:`Timer` kind
#: that has its own, indexed by the kind (``table[RETRANSMIT]``), None when stopped;
#: then a :class:`TimerQueue`'s bookkeeping (:data:`QUEUED`: the deadline of this
#: owner's entry in its heap; :data:`EXACT`: whether that was the owner's next
#: deadline when last looked at).  A plain list, made with ``list(IDLE)``: the
#: per-segment paths read and write a deadline in line, with no call (the
#: interpreter's fast path is for an exact list, indexed by an exact int: a subclass
#: takes the generic path, a few calls, on every read and write).
TimerTable: TypeAlias = list[int | None]


def earliest(table: TimerTable) -> int | None:
    """The earliest deadline of ``table`` (None when every timer is stopped)."""
    a, b, c, d, e, f, _, _ = table  # unrolled (TimerQueue.update has it inlined)
    if b is not None and (a is None or b < a):  # (most slots are None: test that first)
        a = b
    if c is not None and (a is None or c < a):
        a = c
    if d is not None and (a is None or d < a):
        a = d
    if e is not None and (a is None or e < a):
        a = e
    if f is not None and (a is None or f < a):
        a = f
    return a


def running(table: TimerTable) -> list[tuple[Timer, int]]:
    """The running timers of ``table`` and their deadlines, earliest first."""
    on = [(Timer(i), t) for i, t in enumerate(table[:SLOTS]) if t is not None]
    return sorted(on, key=lambda p: p[1])


def stop_all(table: TimerTable) -> None:
    """Stop every timer of ``table`` (the queue's bookkeeping stays)."""
    table[:SLOTS] = _STOPPED


#: The table's items after the deadlines: the queue's entry, and whether it is exact.
QUEUED: Final = SLOTS
EXACT: Final = SLOTS + 1
_STOPPED: Final[list[int | None]] = [None] * SLOTS
#: A new table's items: no timer running, not queued (exact: nothing to wait for).
IDLE: Final[tuple[int | None, ...]] = (*_STOPPED, None, 1)


class TimerOwner(Protocol):
    """A connection or a listener, as a :class:`TimerQueue` sees it: its table."""

    @property
    def timers(self) -> TimerTable: ...


class TimerQueue:
    """Owners by their next deadline (an endpoint's heap).

    Invariant: an owner with a deadline has an entry in the heap at ``QUEUED`` <= its
    deadline.  ``update`` after anything that may have moved an owner's timers; an
    entry that surfaces before its owner's deadline is pushed again for it, so a
    timer moved later (every ACK restarts the RTO) or stopped wakes nobody.  The
    first entry is its owner's exact deadline unless ``unsettled`` says it may not
    be (it was set when the first entry was taken or replaced): only then does
    ``next`` settle the top.  (``heap`` and ``unsettled`` are read by the endpoint's
    ``next_timeout``, which has ``next`` inlined.)"""

    __slots__ = ("_order", "heap", "unsettled")

    def __init__(self) -> None:
        #: (deadline, order, owner) entries; order breaks ties, in the order pushed.
        self.heap: list[tuple[int, int, TimerOwner]] = []
        self._order = 0
        self.unsettled = False

    def __len__(self) -> int:
        return len(self.heap)

    def update(self, owner: TimerOwner) -> None:
        """``owner``'s deadlines may have changed."""
        table = owner.timers
        a, b, c, d, e, f, q, x = table  # earliest(table), inlined: this runs after every output
        if b is not None and (a is None or b < a):  # (most slots are None: test that first)
            a = b
        if c is not None and (a is None or c < a):
            a = c
        if d is not None and (a is None or d < a):
            a = d
        if e is not None and (a is None or e < a):
            a = e
        if f is not None and (a is None or f < a):
            a = f
        if a == q:
            if not x:
                table[EXACT] = 1
            return
        heap = self.heap
        order = self._order
        if a is not None and (q is None or a < q):  # earlier: a new entry
            table[QUEUED] = a
            table[EXACT] = 1
            heappush(heap, (a, order, owner))
            self._order = order + 1
            return
        top = heap[0]  # (q is not None: its entry is in the heap)
        if top[2] is owner and top[0] == q:
            # Stopped or moved later, and its entry is the first: settle it now.
            table[EXACT] = 1
            table[QUEUED] = a
            if a is None:
                heappop(heap)
                if heap:
                    self.unsettled = True
            else:
                entry = (a, order, owner)
                self._order = order + 1
                if len(heap) == 1:
                    heap[0] = entry
                else:
                    heapreplace(heap, entry)
                    if heap[0] is not entry:
                        self.unsettled = True
        else:
            table[EXACT] = None  # (settled when its entry comes first)

    def settle(self) -> None:
        """Drop or re-push the stale entries at the top, so the top is due for its owner."""
        self.unsettled = False
        heap = self.heap
        while heap:
            deadline, _, owner = heap[0]
            table = owner.timers
            if table[QUEUED] != deadline:
                heappop(heap)  # superseded by an earlier entry of the same owner
                continue
            if table[EXACT]:
                return
            t = earliest(table)
            if t == deadline:
                table[EXACT] = 1
                return
            heappop(heap)
            if t is None:
                table[QUEUED] = None
            else:  # moved later: wait for the new deadline
                table[QUEUED] = t
                table[EXACT] = 1
                heappush(heap, (t, self._order, owner))
                self._order += 1

    def next(self) -> int | None:
        """The earliest deadline of any owner (exact: never a stopped or moved one)."""
        if self.unsettled:
            self.settle()
        heap = self.heap
        return heap[0][0] if heap else None

    def pop_due(self, now: int) -> TimerOwner | None:
        """An owner whose deadline is due at ``now`` (taken out of the queue: ``update``
        it after running its timers), or None."""
        self.settle()
        heap = self.heap
        if heap and heap[0][0] <= now:
            _, _, owner = heappop(heap)
            owner.timers[QUEUED] = None
            if heap:
                self.unsettled = True
            return owner
        return None
