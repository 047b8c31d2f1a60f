"""Timers alone (``synack.core.timers``): a table's deadlines and its earliest, and a
:class:`TimerQueue` of owners (anything with a ``timers`` table).

The queue's promise: the next deadline it reports is exact (never one that was
stopped or moved later), ``pop_due`` never returns an owner whose deadline was
stopped or moved later, and each owner is returned once per deadline; moving a
deadline earlier costs one push."""

from __future__ import annotations

import random

import pytest

from synack.core.timers import EXACT, IDLE, QUEUED, SLOTS, Timer, TimerQueue, earliest, running, stop_all


class Owner:
    """A connection or a listener, as the queue sees one: a table (and a name for failures)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.timers = list(IDLE)

    def __repr__(self) -> str:
        return self.name


def arm(queue: TimerQueue, owner: Owner, deadline: int | None, timer: Timer = Timer.RETRANSMIT) -> None:
    """Set (or stop, with None) one of ``owner``'s timers and tell the queue."""
    owner.timers[timer] = deadline
    queue.update(owner)


def drain(queue: TimerQueue, now: int) -> list[Owner]:
    """Every owner due at ``now``, in the order the queue gives them."""
    due: list[Owner] = []
    while (owner := queue.pop_due(now)) is not None:
        assert isinstance(owner, Owner)
        due.append(owner)
    return due


# -- the table ----------------------------------------------------------------------------
def test_a_new_table_has_no_timer_running() -> None:
    """Every deadline None; not queued; the queue's bookkeeping says exact."""
    table = list(IDLE)
    assert len(table) == SLOTS + 2
    assert earliest(table) is None and running(table) == []
    assert table[QUEUED] is None and table[EXACT] == 1


@pytest.mark.parametrize("slot", range(SLOTS))
def test_earliest_is_the_earliest_deadline_whichever_slot_holds_it(slot: int) -> None:
    """The earliest running deadline; a deadline of 0 is a deadline, not a stopped timer."""
    table = list(IDLE)
    table[:SLOTS] = [1000 + i for i in range(SLOTS)]
    table[slot] = 0
    assert earliest(table) == 0
    table[slot] = None
    assert earliest(table) == (1001 if slot == 0 else 1000)


def test_earliest_ignores_the_queues_bookkeeping() -> None:
    """QUEUED and EXACT are the queue's, not deadlines."""
    table = list(IDLE)
    table[QUEUED] = 5
    assert earliest(table) is None
    table[Timer.KEEPALIVE] = 70
    assert earliest(table) == 70


def test_running_lists_the_timers_earliest_first_and_stop_all_stops_them() -> None:
    """What a trace or a view shows: the running kinds by deadline."""
    table = list(IDLE)
    table[Timer.RETRANSMIT] = 20
    table[Timer.KEEPALIVE] = 10
    assert running(table) == [(Timer.KEEPALIVE, 10), (Timer.RETRANSMIT, 20)]
    stop_all(table)
    assert running(table) == [] and earliest(table) is None and len(table) == SLOTS + 2


def test_persist_and_user_timeout_share_the_retransmission_deadline() -> None:
    """Linux ICSK_TIME_PROBE0 and tcp_clamp_rto_to_user_timeout: kinds with no slot of their own."""
    assert Timer.PERSIST >= SLOTS and Timer.USER_TIMEOUT >= SLOTS
    assert [t.label for t in Timer] == ["retransmit", "delayed-ack", "keepalive", "time-wait",
                                        "fin-wait-2", "synack", "persist", "user-timeout"]


# -- the queue ----------------------------------------------------------------------------
def test_an_owner_is_due_at_its_deadline_not_before_and_once() -> None:
    """pop_due takes the owner out of the queue; an update puts it back."""
    queue = TimerQueue()
    a = Owner("a")
    arm(queue, a, 100)
    assert queue.next() == 100
    assert queue.pop_due(99) is None
    assert drain(queue, 100) == [a]
    assert queue.next() is None  # not queued until updated, though its timer still says 100
    queue.update(a)
    assert queue.next() == 100 and drain(queue, 100) == [a]


def test_the_earliest_of_an_owners_timers_is_its_deadline() -> None:
    """An owner is queued at its table's minimum; stopping that timer leaves the next one."""
    queue = TimerQueue()
    a = Owner("a")
    arm(queue, a, 300, Timer.RETRANSMIT)
    arm(queue, a, 100, Timer.DELAYED_ACK)
    assert queue.next() == 100
    arm(queue, a, None, Timer.DELAYED_ACK)
    assert queue.next() == 300 and queue.pop_due(299) is None
    assert drain(queue, 300) == [a]


@pytest.mark.parametrize("other", [50, 150], ids=["entry-behind", "entry-first"])
def test_a_stopped_deadline_is_never_reported_nor_due(other: int) -> None:
    """A stopped timer wakes nobody, whether its entry was first in the heap or not."""
    queue = TimerQueue()
    a, b = Owner("a"), Owner("b")
    arm(queue, a, 100)
    arm(queue, b, other)
    arm(queue, a, None)
    assert queue.next() == other
    assert drain(queue, 1000) == [b]
    assert queue.next() is None and len(queue) == 0


@pytest.mark.parametrize("other", [50, 150], ids=["entry-behind", "entry-first"])
def test_a_deadline_moved_later_is_due_only_at_the_new_time(other: int) -> None:
    """Every ACK restarts the RTO (RFC 6298 5.3): the old deadline must wake nobody."""
    queue = TimerQueue()
    a, b = Owner("a"), Owner("b")
    arm(queue, a, 100)
    arm(queue, b, other)
    arm(queue, a, 300)
    assert queue.next() == other
    assert drain(queue, 250) == [b]
    assert queue.next() == 300 and queue.pop_due(299) is None
    assert drain(queue, 300) == [a]


def test_a_deadline_moved_earlier_costs_one_push_and_its_old_entry_wakes_nobody() -> None:
    """The old entry stays in the heap, stale, and is dropped when it surfaces."""
    queue = TimerQueue()
    a = Owner("a")
    arm(queue, a, 300)
    arm(queue, a, 100)
    assert len(queue) == 2 and queue.next() == 100
    assert drain(queue, 100) == [a]
    assert drain(queue, 1000) == [] and queue.next() is None and len(queue) == 0


def test_an_owner_back_at_its_old_deadline_is_due_once() -> None:
    """A stale entry that matches the owner's new deadline must not wake it twice."""
    queue = TimerQueue()
    a = Owner("a")
    arm(queue, a, 300)
    arm(queue, a, 100)          # a stale entry at 300 stays behind
    assert drain(queue, 100) == [a]
    arm(queue, a, 300)          # the timer ran and was set again, to 300
    assert queue.next() == 300
    assert drain(queue, 300) == [a]
    assert drain(queue, 1000) == []


def test_moving_a_deadline_later_and_back_before_it_surfaces_keeps_it() -> None:
    """A deadline restored before its entry comes up is due at that entry's time, once."""
    queue = TimerQueue()
    a, b = Owner("a"), Owner("b")
    arm(queue, b, 50)
    arm(queue, a, 200)
    arm(queue, a, 400)
    arm(queue, a, 200)
    assert drain(queue, 199) == [b]
    assert queue.next() == 200 and drain(queue, 200) == [a]
    assert drain(queue, 1000) == []


def test_equal_deadlines_are_all_due_in_the_order_they_were_set() -> None:
    """Ties are broken by arrival, never by comparing owners (which need not be orderable)."""
    queue = TimerQueue()
    owners = [Owner(name) for name in "abc"]
    for owner in owners:
        arm(queue, owner, 100)
    assert queue.next() == 100
    assert drain(queue, 100) == owners


def test_many_owners_are_due_in_deadline_order() -> None:
    """The heap orders a hundred owners set in reverse."""
    queue = TimerQueue()
    owners = [Owner(f"o{i}") for i in range(100)]
    for i, owner in reversed(list(enumerate(owners))):
        arm(queue, owner, 1000 + 10 * i)
    assert queue.next() == 1000
    assert drain(queue, 1000 + 10 * 49) == owners[:50]
    assert queue.next() == 1500
    assert drain(queue, 10**9) == owners[50:]


def test_the_queue_agrees_with_a_model_through_random_moves() -> None:
    """Stops, moves later and earlier, ties and pops in any order: next() and pop_due() stay exact."""
    rng = random.Random(9293)
    owners = [Owner(f"o{i}") for i in range(12)]
    queue = TimerQueue()
    queued: set[Owner] = set()  # the model: owners updated with a deadline, not popped since
    now = 0

    def expected_next() -> int | None:
        deadlines = [d for o in queued if (d := earliest(o.timers)) is not None]
        return min(deadlines, default=None)

    for _ in range(3000):
        op = rng.random()
        if op < 0.7:
            owner = rng.choice(owners)
            slot = rng.randrange(SLOTS)
            owner.timers[slot] = None if rng.random() < 0.25 else now + rng.randrange(0, 60)
            queue.update(owner)
            if earliest(owner.timers) is None:
                queued.discard(owner)
            else:
                queued.add(owner)
        else:
            now += rng.randrange(0, 20)
            first = expected_next()
            popped = queue.pop_due(now)
            if first is None or first > now:
                assert popped is None
            else:
                assert isinstance(popped, Owner) and popped in queued
                assert earliest(popped.timers) == first
                queued.discard(popped)
                if rng.random() < 0.8:  # it ran its timers: the due ones stop, it is updated
                    popped.timers[:SLOTS] = [d if d is None or d > now else None
                                             for d in popped.timers[:SLOTS]]
                    queue.update(popped)
                    if earliest(popped.timers) is not None:
                        queued.add(popped)
        assert queue.next() == expected_next()
