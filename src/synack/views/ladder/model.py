"""The ladder's model: what the picture shows, as data, built from the typed trace.

Nothing here knows how the picture is drawn (:mod:`.text` draws it in a terminal):

- two :class:`Side` s, the drawn hosts: names, addresses and ports, the state each
  started in, the times each changed state; whether labels must name the ports (more
  than one connection between them);
- :class:`Flight` s, one per segment: who sent it and when, the segment and its
  relative numbers, and its fate: its :class:`Arrival` s (the receiving stack's verdict
  on each; more than one when the network duplicated it) or its :class:`Lost` record.
  Every arrow runs from ``sent_us`` to an arrival's ``t_us`` (or to the loss), so
  crossing segments cross;
- the events in trace order: a :class:`Flight` where it leaves a drawn host, an
  :class:`Arrival` where it reaches one, :class:`StateChange` s, :class:`Note` s
  (application calls, faults) and :class:`TimerEvent` s;
- each flight and arrival knows the index of its record in the records given
  (``record``), so that a picture can point back into the trace.

A flood is summarised, never the trace: when segments from more than
:data:`OUTSIDE_MAX` endpoints outside the picture reach a drawn host, only those of the
first :data:`OUTSIDE_KEPT` are drawn; the rest (their segments, the drawn host's answers,
its state changes and timers for them) leave the picture, and one :class:`Elided`
event stands where the first of them was, counting them.

A segment's records are paired by their ``flight`` id.  A segment one of the two hosts
receives from anywhere else (a spoofed SYN, with no send from a drawn host) is a
flight from outside (``sender`` None); one sent to any other address leaves the
picture (``receiver`` None).  Records of flight 0 (a real device's, or hand-built)
are paired as before flights existed: a receive takes the open flight of the same
segment on the same path whose time in flight is nearest the path's last one.

Building costs constant work per record (amortised), after a first pass that learns
the hosts' addresses (and a second over the segments, when there is a flood).
Nothing here imports more than the standard library and ``synack.core``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from synack.core.errors import DropReason
from synack.core.state import State
from synack.core.timers import Timer
from synack.core.trace import (
    Loss,
    NoteRecord,
    SegmentRecord,
    StateRecord,
    TimerAction,
    TimerRecord,
    TraceRecord,
    Verdict,
    endpoint_str,
)
from synack.core.wire import ACK, FIN, RST, SYN, Segment

__all__ = [
    "OUTSIDE_KEPT", "OUTSIDE_MAX", "Arrival", "Elided", "Event", "Flight", "Ladder", "Lost", "Note",
    "Numbers", "Side", "StateChange", "TimerEvent", "build_ladder",
]

_MOD: Final = 1 << 32
#: More endpoints than this outside the picture sending to a drawn host is a flood...
OUTSIDE_MAX: Final = 8
#: ... of which the first this many are drawn.
OUTSIDE_KEPT: Final = 2
#: A bare call (``connect()``) in a note is an application call.
_CALL: Final = re.compile(r"[A-Za-z_][\w.]*\(.*\)")

#: (source address, destination address, segment): how a flight-0 record is matched.
_Key = tuple[str, str, Segment | None]


@dataclass(slots=True, eq=False)
class Side:
    """One of the two drawn hosts."""

    name: str
    #: Its addresses, in the order the trace shows them.
    addresses: tuple[str, ...] = ()
    #: The ports it sent from, in order.
    ports: tuple[int, ...] = ()
    #: The state of its first connection before its first change (None: no change seen).
    initial: State | None = None
    #: The distinct times at which it changed state, in order.
    state_times: list[int] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """Its address with the port when it used one port only: ``"192.0.2.2:80"``."""
        if not self.addresses:
            return ""
        if len(self.ports) == 1:
            return endpoint_str(self.addresses[0], self.ports[0])
        return self.addresses[0]


class Numbers(NamedTuple):
    """A segment's numbers relative to each side's ISN, as Wireshark shows them: seq
    from the sender's, ack and SACK blocks from the receiver's (raw without ACK)."""

    seq: int
    ack: int
    sack_blocks: tuple[tuple[int, int], ...]


@dataclass(slots=True, eq=False)
class Arrival:
    """A flight reaching a host, and what its stack made of it."""

    t_us: int
    host: str
    flight: Flight
    #: The stack's verdict (None in hand-built traces that do not say).
    verdict: Verdict | None
    #: Why it was not taken whole (dropped, trimmed, a duplicate's reason).
    reason: DropReason | None
    #: 0 for the first arrival; 1, 2... for copies the network made.
    copy: int = 0
    #: The index of its record in the records the ladder was built from.
    record: int = -1


@dataclass(slots=True, eq=False)
class Lost:
    """A flight the network lost (``host``: where the record came from, the sender's
    side of the link)."""

    t_us: int
    host: str
    reason: Loss | None
    #: How the trace words it: ``"link-loss"``, ``"fault: drop #1 flags_are('S')"``.
    text: str | None


@dataclass(slots=True, eq=False)
class Flight:
    """One segment on its way: an arrow from ``sent_us`` to each arrival's time."""

    #: The trace's flight id (0: not known, paired by the older rule).
    id: int
    src: str
    dst: str
    #: None for bytes that did not parse and were never seen sent.
    seg: Segment | None
    #: The drawn host that sent it; None when it came from outside the picture.
    sender: str | None
    #: The drawn host it is for; None when it leaves the picture.
    receiver: str | None
    #: Drawn from the left host's side to the right's.
    rightwards: bool
    #: When it left (for a flight from outside with no send record: its first arrival).
    sent_us: int
    #: Its numbers relative to the ISNs, as of its departure (None without a segment).
    numbers: Numbers | None
    arrivals: list[Arrival] = field(default_factory=list)
    lost: Lost | None = None
    #: The index of its send record in the records the ladder was built from (for a
    #: flight from outside with no send record: of the record of its first arrival).
    record: int = -1

    @property
    def peer(self) -> str | None:
        """The address outside the picture it comes from or goes to, if any."""
        if self.sender is None:
            return self.src
        return self.dst if self.receiver is None else None


@dataclass(frozen=True, slots=True)
class StateChange:
    t_us: int
    host: str
    old: State
    new: State


@dataclass(frozen=True, slots=True)
class Note:
    """Anything a host said: an application call (``"app: connect()"``), a fault."""

    t_us: int
    host: str
    text: str


@dataclass(frozen=True, slots=True)
class TimerEvent:
    t_us: int
    host: str
    timer: Timer
    action: TimerAction
    deadline: int | None


@dataclass(frozen=True, slots=True)
class Elided:
    """Where the picture leaves out a flood: the segments of endpoints outside it beyond
    the first :data:`OUTSIDE_KEPT`, and all the drawn hosts did about them.  It stands
    at the first record left out (``host``: the drawn host of that record)."""

    t_us: int
    host: str
    #: Segments from those endpoints that reached a drawn host.
    flights: int
    #: How many endpoints (address and port) they came from.
    endpoints: int
    #: Every one of them a SYN (no ACK, RST or FIN).
    syns: bool
    #: No host of the trace sent any of them: they were injected with forged sources.
    spoofed: bool
    #: Segments the drawn hosts sent to those endpoints (answers, retransmissions).
    answers: int = 0


#: What happened, in trace order: a flight where it leaves a drawn host, an arrival at
#: one, a state change, a note, a timer, a flood left out.
Event = Flight | Arrival | StateChange | Note | TimerEvent | Elided


@dataclass(slots=True, eq=False)
class Ladder:
    """Everything the picture shows, between ``left`` and ``right``."""

    left: Side
    right: Side
    #: More than one connection between the two: labels must name the ports.
    show_ports: bool
    events: list[Event]
    #: Every flight that touches a drawn host, in order of first appearance.
    flights: list[Flight]
    #: The time of the trace's last record (of those not left out, :class:`Elided`).
    end_us: int
    #: Every record's time is a whole millisecond (of those not left out).
    whole_ms: bool

    def side(self, host: str) -> Side:
        return self.left if host == self.left.name else self.right

    def changed_state(self, host: str, after: int, before: int) -> bool:
        """Whether ``host`` changed state strictly between the two times."""
        times = self.side(host).state_times
        i = bisect_right(times, after)
        return i < len(times) and times[i] < before


def _split_endpoint(ep: str) -> str:
    """The address part of ``"10.0.0.1:80"`` or ``"[fd00::1]:80"``."""
    if ep.startswith("["):
        return ep[1:].split("]", 1)[0]
    return ep.rsplit(":", 1)[0] if ep.count(":") == 1 else ep


def _drop_reason(rec: SegmentRecord) -> DropReason | None:
    return rec.reason if isinstance(rec.reason, DropReason) else None


class _Builder:
    """Two passes over the records: who is who, then flights and events."""

    def __init__(self, left: str, right: str) -> None:
        self.left, self.right = left, right
        self.addrs: dict[str, dict[str, None]] = {left: {}, right: {}}  # ordered sets
        self.ports: dict[str, dict[int, None]] = {left: {}, right: {}}
        self.initial: dict[str, State] = {}
        self.state_times: dict[str, list[int]] = {left: [], right: []}
        self.show_ports = False
        self.events: list[Event] = []
        self.flights: list[Flight] = []
        self.by_id: dict[int, Flight] = {}
        #: Send times (and record indexes) of flights from hosts not drawn, until a drawn
        #: host receives them.
        self.outside_sends: dict[int, tuple[int, int]] = {}
        #: The index of the record being read.
        self.index = 0
        #: The endpoints outside the picture left out (a flood), and the event saying so.
        self.elided: set[str] = set()
        self.drawn_addrs: frozenset[str] = frozenset()
        self.elided_event: Elided | None = None
        #: Arrivals the stack dropped, until their "drop" record.
        self.awaiting_drop: dict[int, Arrival] = {}
        self.bases: dict[tuple[str, int, str, int], int] = {}
        # Flight 0: open flights by segment and by path, the last delay of each path,
        # the last arrival of each segment at each host, the last flight of a segment.
        self.pending: dict[_Key, list[Flight]] = {}
        self.by_path: dict[tuple[str, str], deque[Flight]] = {}
        self.delays: dict[tuple[str, str], int] = {}
        self.last_recv: dict[tuple[str, _Key], Arrival] = {}
        self.last_sent: dict[_Key, Flight] = {}

    # -- pass 0: who is who ---------------------------------------------------------
    def prescan(self, records: Sequence[TraceRecord]) -> None:
        conns: set[frozenset[tuple[str, int]]] = set()
        for rec in records:
            host = rec.host
            if host not in self.addrs:
                continue
            if isinstance(rec, SegmentRecord):
                if rec.event == "send":
                    self.addrs[host].setdefault(rec.src)
                    if rec.seg is not None:
                        self.ports[host].setdefault(rec.seg.src_port)
                        conns.add(frozenset({(rec.src, rec.seg.src_port), (rec.dst, rec.seg.dst_port)}))
                elif rec.event == "recv" or rec.verdict is Verdict.DROPPED:   # not the link's drops
                    self.addrs[host].setdefault(rec.dst)
                    if rec.seg is not None:
                        conns.add(frozenset({(rec.src, rec.seg.src_port), (rec.dst, rec.seg.dst_port)}))
            elif isinstance(rec, StateRecord):
                self.addrs[host].setdefault(_split_endpoint(rec.local))
                self.initial.setdefault(host, rec.old)
        self.show_ports = len(conns) > 1
        self._find_flood(records)

    @staticmethod
    def _outside(rec: TraceRecord, drawn: frozenset[str]) -> str | None:
        """The endpoint outside the picture that ``rec`` is about, if any."""
        if isinstance(rec, SegmentRecord):
            seg = rec.seg
            if seg is None:
                return None
            if rec.src not in drawn:
                return endpoint_str(rec.src, seg.src_port)
            if rec.dst not in drawn:
                return endpoint_str(rec.dst, seg.dst_port)
            return None
        remote = getattr(rec, "remote", None)
        if remote is None or _split_endpoint(remote) in drawn:
            return None
        return str(remote)

    def _find_flood(self, records: Sequence[TraceRecord]) -> None:
        """Which outside endpoints to leave out, and the :class:`Elided` that says so."""
        drawn = frozenset(a for addrs in self.addrs.values() for a in addrs)
        hosts = self.addrs
        peers: dict[str, None] = {}   # in order of first appearance at a drawn host
        for rec in records:
            if isinstance(rec, SegmentRecord) and rec.host in hosts:
                peer = self._outside(rec, drawn)
                if peer is not None:
                    peers.setdefault(peer)
        if len(peers) <= OUTSIDE_MAX:
            return
        elided = set(list(peers)[OUTSIDE_KEPT:])
        incoming: set[int] = set()
        answers: set[int] = set()
        unnumbered = 0
        syns = True
        sent: set[int] = set()
        first: SegmentRecord | None = None
        for rec in records:
            if not isinstance(rec, SegmentRecord) or rec.seg is None:
                continue
            if rec.event == "send" and rec.flight and rec.src not in drawn:
                sent.add(rec.flight)
            if rec.host not in hosts:
                continue
            if rec.src in drawn:
                if rec.event == "send" and endpoint_str(rec.dst, rec.seg.dst_port) in elided:
                    answers.add(rec.flight or -len(answers) - 1)
                continue
            if endpoint_str(rec.src, rec.seg.src_port) not in elided:
                continue
            if first is None:
                first = rec
            if rec.flight:
                incoming.add(rec.flight)
            elif rec.event == "recv":
                unnumbered += 1
            if rec.seg.flags & (SYN | ACK | RST | FIN) != SYN:
                syns = False
        self.elided = elided
        self.drawn_addrs = drawn
        host = first.host if first is not None else self.right
        spoofed = not unnumbered and not (incoming & sent)
        self.elided_event = Elided(0, host, len(incoming) + unnumbered, len(elided), syns, spoofed,
                                   len(answers))

    def _left_out(self, rec: TraceRecord) -> bool:
        """Whether ``rec`` is about an endpoint left out; the first such record of a
        drawn host places the :class:`Elided` event."""
        peer = self._outside(rec, self.drawn_addrs)
        if peer is None or peer not in self.elided:
            return False
        event = self.elided_event
        if event is not None and rec.host in self.addrs:
            self.events.append(Elided(rec.t_us, rec.host, event.flights, event.endpoints, event.syns,
                                      event.spoofed, event.answers))
            self.elided_event = None
        return True

    # -- pass 1: flights and events -------------------------------------------------
    def build(self, records: Sequence[TraceRecord]) -> Ladder:
        self.prescan(records)
        drawn = self.addrs
        events = self.events
        flood = bool(self.elided)
        end_us = 0
        whole_ms = True
        for index, rec in enumerate(records):
            host = rec.host
            self.index = index
            if flood and self._left_out(rec):
                continue
            t_us = rec.t_us
            if t_us > end_us:
                end_us = t_us
            if t_us % 1000:
                whole_ms = False
            if isinstance(rec, SegmentRecord):
                self._segment(rec, host in drawn)
            elif host not in drawn:
                continue
            elif isinstance(rec, StateRecord):
                events.append(StateChange(rec.t_us, host, rec.old, rec.new))
                times = self.state_times[host]
                if not times or times[-1] != rec.t_us:
                    times.append(rec.t_us)
            elif isinstance(rec, TimerRecord):
                events.append(TimerEvent(rec.t_us, host, rec.timer, rec.action, rec.deadline))
            elif isinstance(rec, NoteRecord):
                text = rec.text
                events.append(Note(rec.t_us, host, f"app: {text}" if _CALL.fullmatch(text) else text))
        sides = [Side(h, tuple(self.addrs[h]), tuple(self.ports[h]), self.initial.get(h),
                      self.state_times[h]) for h in (self.left, self.right)]
        return Ladder(sides[0], sides[1], self.show_ports, events, self.flights, end_us, whole_ms)

    def _segment(self, rec: SegmentRecord, drawn: bool) -> None:
        if rec.event == "send":
            if drawn:
                self._send(rec)
            elif rec.flight:
                self.outside_sends[rec.flight] = (rec.t_us, self.index)
        elif rec.event == "recv":
            if rec.flight:
                self._arrive(rec, drawn)
            elif drawn:
                self._receive_unknown(rec)
        elif rec.verdict is Verdict.DROPPED:
            if rec.flight:
                self._stack_drop(rec, drawn)
            elif drawn:
                self._refuse_unknown(rec)
        else:
            # Lost in the network: the record is the link's (or the sending host's).
            flight = self.by_id.get(rec.flight) if rec.flight else \
                self._take_for((rec.src, rec.dst, rec.seg), rec.t_us, received=False)
            if flight is not None:
                loss = rec.reason if isinstance(rec.reason, Loss) else None
                flight.lost = Lost(rec.t_us, rec.host, loss, rec.reason_text)

    def _numbers(self, src: str, dst: str, seg: Segment | None) -> Numbers | None:
        """``seg``'s numbers relative to the ISNs as seen so far (a SYN sets its side's)."""
        if seg is None:
            return None
        flags = seg.flags
        fwd = (src, seg.src_port, dst, seg.dst_port)
        bases = self.bases
        if flags & SYN or fwd not in bases:
            bases[fwd] = seg.seq
        seq = (seg.seq - bases[fwd]) % _MOD
        ack, blocks = seg.ack, seg.options.sack_blocks
        if flags & ACK:
            base = bases.setdefault((dst, seg.dst_port, src, seg.src_port), ack)
            ack = (ack - base) % _MOD
            if blocks:  # they number the peer's octets, as the ACK does
                blocks = tuple(((a - base) % _MOD, (b - base) % _MOD) for a, b in blocks)
        return Numbers(seq, ack, blocks)

    def _send(self, rec: SegmentRecord) -> None:
        host = rec.host
        rightwards = host == self.left
        other = self.right if rightwards else self.left
        known = self.addrs[other]   # when the other host left no record, assume it is the peer
        flight = Flight(rec.flight, rec.src, rec.dst, rec.seg, host,
                        other if not known or rec.dst in known else None, rightwards, rec.t_us,
                        self._numbers(rec.src, rec.dst, rec.seg), record=self.index)
        self.events.append(flight)
        self.flights.append(flight)
        if rec.flight:
            self.by_id[rec.flight] = flight
            return
        key = (rec.src, rec.dst, rec.seg)
        if rec.seg is not None:
            self.pending.setdefault(key, []).append(flight)
            self.last_sent[key] = flight
        self.by_path.setdefault((rec.src, rec.dst), deque()).append(flight)

    def _from_outside(self, rec: SegmentRecord) -> Flight:
        """A flight a drawn host receives with no send from the other: from the edge."""
        host = rec.host
        sent_us, index = self.outside_sends.pop(rec.flight, (rec.t_us, self.index)) if rec.flight \
            else (rec.t_us, self.index)
        flight = Flight(rec.flight, rec.src, rec.dst, rec.seg, None, host, host == self.right, sent_us,
                        self._numbers(rec.src, rec.dst, rec.seg), record=index)
        self.flights.append(flight)
        if rec.flight:
            self.by_id[rec.flight] = flight
        return flight

    def _add_arrival(self, flight: Flight, rec: SegmentRecord, drawn: bool, verdict: Verdict | None,
                     reason: DropReason | None) -> Arrival:
        arrival = Arrival(rec.t_us, rec.host, flight, verdict, reason, len(flight.arrivals), self.index)
        flight.arrivals.append(arrival)
        if drawn:
            if flight.receiver is None and flight.sender is not None and rec.host != flight.sender:
                flight.receiver = rec.host   # it was for the other host after all
            self.events.append(arrival)
        return arrival

    def _arrive(self, rec: SegmentRecord, drawn: bool, *, parsed: bool = True) -> None:
        """An arrival of a known flight (``parsed``: a "recv" record, whose drop, if
        the stack drops it, follows)."""
        flight = self.by_id.get(rec.flight)
        if flight is None:
            if not drawn:
                return
            flight = self._from_outside(rec)
        arrival = self._add_arrival(flight, rec, drawn, rec.verdict, _drop_reason(rec))
        if parsed and rec.verdict is Verdict.DROPPED:
            self.awaiting_drop[rec.flight] = arrival

    def _stack_drop(self, rec: SegmentRecord, drawn: bool) -> None:
        arrival = self.awaiting_drop.pop(rec.flight, None)
        if arrival is not None:   # the arrival already said so
            if arrival.reason is None:
                arrival.reason = _drop_reason(rec)
            return
        # Bytes that did not parse (a corrupted packet): no "recv" came before.
        self._arrive(rec, drawn, parsed=False)

    # -- flight 0: pairing without ids --------------------------------------------
    @staticmethod
    def _is_open(flight: Flight) -> bool:
        return not flight.arrivals and flight.lost is None

    def _take_for(self, key: _Key, t_us: int, *, received: bool) -> Flight | None:
        """The open flight a receive (or a drop, or a loss) of ``key`` at ``t_us`` ends.

        Identical segments can be in flight together (a retransmission and its
        original, duplicate ACKs).  A receive takes the one whose time in flight is
        nearest the path's last seen delay (or the reverse path's); with none seen, or
        for a drop, the latest sent (the network loses or overtakes the older one, as
        a retransmission overtakes a held original).  Malformed records (no segment)
        go first in, first out by path.
        """
        if key[2] is None:
            q = self.by_path.get((key[0], key[1]))
            while q:
                flight = q.popleft()
                if self._is_open(flight):
                    return flight
            return None
        cands = self.pending.get(key)
        if not cands:
            return None
        open_ = [f for f in cands if self._is_open(f)]
        if len(open_) != len(cands):
            cands[:] = open_
        if not open_:
            return None
        best = len(open_) - 1
        delay = None
        if received:
            delay = self.delays.get((key[0], key[1]), self.delays.get((key[1], key[0])))
        if delay is not None and len(open_) > 1:
            best = min(range(len(open_)), key=lambda i: abs(t_us - open_[i].sent_us - delay))
        flight = open_[best]
        del cands[best]
        if received:
            self.delays[(key[0], key[1])] = t_us - flight.sent_us
        return flight

    def _receive_unknown(self, rec: SegmentRecord) -> Arrival:
        """A flight-0 arrival: matched to its send, or a copy of an earlier one that
        arrived, or from outside."""
        key: _Key = (rec.src, rec.dst, rec.seg)
        flight = self._take_for(key, rec.t_us, received=True)
        if flight is None:
            earlier = self.last_sent.get(key)
            flight = earlier if earlier is not None and earlier.arrivals else self._from_outside(rec)
        arrival = self._add_arrival(flight, rec, True, rec.verdict, _drop_reason(rec))
        self.last_recv[(rec.host, key)] = arrival
        return arrival

    def _refuse_unknown(self, rec: SegmentRecord) -> None:
        key: _Key = (rec.src, rec.dst, rec.seg)
        got = self.last_recv.pop((rec.host, key), None)
        arrival = got if got is not None and got.t_us == rec.t_us else self._receive_unknown(rec)
        arrival.verdict = Verdict.DROPPED
        arrival.reason = _drop_reason(rec)


def build_ladder(records: Sequence[TraceRecord], left: str, right: str) -> Ladder:
    """The model of the ladder between hosts ``left`` and ``right`` (names as in the
    records' ``host`` field); records of other hosts only complete their flights."""
    return _Builder(left, right).build(records)


def fmt_duration(us: int) -> str:
    """A duration as the ladders write it: ``60s``, ``1.5s``, ``200ms``, ``250µs``."""
    if us >= 1_000_000:
        return f"{us // 1_000_000}s" if us % 1_000_000 == 0 else f"{us / 1e6:g}s"
    if us % 1000 == 0:
        return f"{us // 1000}ms"
    return f"{us}µs"
