"""A host: one endpoint, driven by a virtual clock.

After every input (a packet, a timer, an application call) the host runs the loop
every synack driver runs: drain ``packets_to_send`` onto the links, drain
``next_event`` into the application callbacks (and again if they produced output),
then re-arm one wake-up from ``next_timeout``.

The wake-up is lazy: when the deadline moves later, the pending wake-up is kept and,
when it comes, finds nothing due and re-arms; when the deadline moves earlier, an
earlier wake-up is pushed.  ``handle_timeout`` is only called when something is due.
This costs no cancellation on the per-packet path (the RTO moves on every ACK).

The application helpers (``connect``, ``listen``, ``send``, ``close`` ...) call the
endpoint's user API at the host's current virtual time, note the call in the trace
("app: close()") and flush the output at once.

Filters (:mod:`synack.sim.filters`, ``add_filter``) stand between arrivals and the
endpoint, as a firewall would; a host without any hands arrivals straight over.

A host knows no network: it is given the :class:`~synack.sim.scheduler.Scheduler`
whose clock it reads and on which it posts its wake-ups, a :data:`Route` that finds
the :class:`Carrier` (a link's path) for a destination address, a tracer, and an
egress hook that sees every packet it sends.  :class:`~synack.sim.network.Network`
wires these together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heappush
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from synack.core.errors import MalformedSegment
from synack.core.events import Event
from synack.core.ip import Packet, parse_packet
from synack.core.trace import Loss, NoteRecord, SegmentRecord, Tracer, Verdict, endpoint_str
from synack.core.wire import Segment

from .filters import Filter

if TYPE_CHECKING:
    from synack.core.connection import Connection
    from synack.core.endpoint import Endpoint
    from synack.core.info import SocketInfo
    from synack.core.listener import Listener

    from .scheduler import Scheduler


class EndpointLike(Protocol):
    """What a host needs from its endpoint: the core's driver contract."""

    def receive_packet(self, data: bytes, now: int, verify_checksum: bool = True,
                       flight: int = 0) -> None: ...

    def receive_segment(self, seg: Segment, src: str, dst: str, now: int, flight: int = 0) -> None: ...

    def handle_timeout(self, now: int) -> None: ...

    def packets_to_send(self, now: int) -> list[Packet]: ...

    def next_timeout(self) -> int | None: ...

    def next_event(self) -> Event | None: ...


class Carrier(Protocol):
    """What takes a host's packets towards their destination: one direction of a link."""

    def transmit(self, pkt: Packet, now: int) -> None: ...


E = TypeVar("E", bound=EndpointLike)
F = TypeVar("F", bound=Filter)
EventCallback = Callable[[Event], object]
#: Finds the carrier of ``host``'s packets to an address, or None when nothing leads
#: there (called once per destination; the host keeps the answer until told to forget).
Route = Callable[["Host[Any]", str], "Carrier | None"]
#: Sees every packet a host sends, ``(now, packet)``, before it is routed.
EgressHook = Callable[[int, Packet], object]
#: Called with ``(host, conn)`` for every application close() of a connection on a
#: host; True: the hook has taken the call (an experiment that decides itself who
#: closes and when, calling :meth:`Host.close_now`), False: it closes as asked.
CloseHook = Callable[["Host[Any]", "Connection"], bool]


class Host(Generic[E]):
    """A named machine with addresses and an endpoint, on a scheduler's clock."""

    __slots__ = ("_busy", "_callbacks", "_filters", "_heap", "_order", "_receive", "_receive_packet",
                 "_route", "_routes", "_tracer", "_wake_at", "addresses", "backlog", "close_hook", "egress",
                 "endpoint", "name", "no_route", "scheduler")

    def __init__(self, name: str, addresses: Sequence[str], endpoint: E, scheduler: Scheduler,
                 route: Route, *, tracer: Tracer | None = None, egress: EgressHook | None = None) -> None:
        self.name = name
        self.addresses = tuple(addresses)
        self.endpoint = endpoint
        #: The clock this host runs on, and where its wake-ups go.
        self.scheduler = scheduler
        #: Called with ``(now, packet)`` for every packet this host sends, before it is
        #: routed (a network's taps and observers); None: nobody watches.
        self.egress = egress
        #: Packets this host sent that no route led anywhere (traced as "no-route" drops).
        self.no_route = 0
        #: Every listen's backlog, whatever the application asks (None: as asked): an
        #: experiment on a whole run (the network sets it).
        self.backlog: int | None = None
        #: Every application close() of a connection goes through it first (None: none
        #: does): an experiment on a whole run (the network sets it).
        self.close_hook: CloseHook | None = None
        self._heap, self._order = scheduler.lane()
        self._route = route
        self._tracer = tracer
        self._callbacks: list[EventCallback] = []
        self._routes: dict[str, Carrier] = {}
        self._wake_at: int | None = None
        self._busy = False
        # Where arrivals go: the endpoint itself, or the filters first once there are any
        # (so that a host without filters pays nothing for them).
        self._filters: list[Filter] = []
        self._receive: Callable[[Segment, str, str, int, int], None] = endpoint.receive_segment
        self._receive_packet: Callable[[bytes, int, bool, int], None] = endpoint.receive_packet

    # -- the driver loop -------------------------------------------------------------
    @property
    def now(self) -> int:
        """The scheduler's virtual time (µs)."""
        return self.scheduler.now

    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(event)`` for every core event of this host's endpoint."""
        self._callbacks.append(callback)

    def forget_routes(self) -> None:
        """Ask the route again for every destination (the topology changed)."""
        self._routes.clear()

    def deliver(self, pkt: Packet) -> None:
        """A packet arrives (what a carrier schedules, and what an injection calls)."""
        src, dst, seg, flight = pkt
        self._receive(seg, src, dst, self.scheduler.now, flight)
        self.service()

    def deliver_raw(self, raw: tuple[bytes, int]) -> None:
        """Bytes arrive (a corrupted packet), with the flight they belong to."""
        self._receive_packet(raw[0], self.scheduler.now, True, raw[1])
        self.service()

    # -- filters ---------------------------------------------------------------------
    def add_filter(self, gate: F) -> F:
        """Put ``gate`` in front of the endpoint, after the filters added before it:
        every segment arriving from then on (over a link, or injected) must pass them
        all.  A refused one never reaches the endpoint and is traced as a drop
        (:attr:`~synack.core.trace.Loss.FILTERED`, the gate's reason as detail)."""
        self._filters.append(gate)
        self._receive = self._receive_filtered
        self._receive_packet = self._receive_packet_filtered
        return gate

    @property
    def filters(self) -> tuple[Filter, ...]:
        """The filters in front of the endpoint, in the order they are asked."""
        return tuple(self._filters)

    def _receive_filtered(self, seg: Segment, src: str, dst: str, now: int, flight: int) -> None:
        for gate in self._filters:
            reason = gate.admit(src, dst, seg, now)
            if reason is not None:
                if self._tracer is not None:
                    self._tracer(SegmentRecord(now, self.name, "drop", src, dst, seg, Loss.FILTERED, flight,
                                               Verdict.LOST, reason))
                return
        self.endpoint.receive_segment(seg, src, dst, now, flight)

    def _receive_packet_filtered(self, data: bytes, now: int, verify_checksum: bool, flight: int) -> None:
        """Bytes meet the filters as the segment they carry; bytes that do not parse (a
        failed checksum) go to the endpoint, which counts and traces the drop."""
        try:
            src, dst, seg, _ = parse_packet(data, verify_checksum)
        except MalformedSegment:
            self.endpoint.receive_packet(data, now, verify_checksum, flight)
            return
        self._receive_filtered(seg, src, dst, now, flight)

    def _on_timer(self, t: int) -> None:
        if t == self._wake_at:
            self._wake_at = None
        now = self.scheduler.now
        ep = self.endpoint
        due = ep.next_timeout()
        if due is not None and due <= now:
            ep.handle_timeout(now)
            self.service()
        elif self._wake_at is None and due is not None:
            self._wake_at = due
            heappush(self._heap, (due, self._order(), self._on_timer, due))

    def service(self) -> None:
        """Drain packets and events, then re-arm the wake-up (after any input).

        A call from inside an event callback (an application helper) returns at once:
        the running loop drains again after the callbacks, at the same instant.
        """
        if self._busy:
            return
        ep = self.endpoint
        now = self.scheduler.now
        routes = self._routes
        while True:
            pkts = ep.packets_to_send(now)
            if pkts:
                hooked = self.egress is not None
                for pkt in pkts:
                    path = routes.get(pkt[1])
                    if path is None or hooked:
                        self._egress(pkt, now)
                    else:
                        path.transmit(pkt, now)
            ev = ep.next_event()
            if ev is None:
                break
            self._busy = True
            try:
                callbacks = self._callbacks
                while ev is not None:
                    for cb in callbacks:
                        cb(ev)
                    ev = ep.next_event()
            finally:
                self._busy = False
        due = ep.next_timeout()
        if due is not None:
            wake = self._wake_at
            if wake is None or due < wake:
                if due < now:
                    due = now
                self._wake_at = due
                heappush(self._heap, (due, self._order(), self._on_timer, due))

    def _egress(self, pkt: Packet, now: int) -> None:
        if self.egress is not None:
            self.egress(now, pkt)
        path = self._routes.get(pkt.dst)
        if path is None:
            found = self._route(self, pkt.dst)
            if found is None:
                self.no_route += 1
                if self._tracer is not None:
                    self._tracer(SegmentRecord(now, self.name, "drop", pkt.src, pkt.dst, pkt.seg,
                                               Loss.NO_ROUTE, pkt.flight, Verdict.LOST))
                return
            path = self._routes[pkt.dst] = found
        path.transmit(pkt, now)

    # -- application helpers (need a real Endpoint) ------------------------------------
    def _note(self, text: str, local: str | None = None, remote: str | None = None) -> None:
        if self._tracer is not None:
            self._tracer(NoteRecord(self.scheduler.now, self.name, text, local, remote))

    def _conn_note(self, text: str, conn: Connection) -> None:
        if self._tracer is not None:
            self._note(text, endpoint_str(conn.local_addr, conn.local_port),
                       endpoint_str(conn.remote_addr, conn.remote_port))

    def connect(self: Host[Endpoint], remote_addr: str, remote_port: int, *,
                local_addr: str | None = None, local_port: int | None = None) -> Connection:
        """Active OPEN now; the SYN leaves at once."""
        self._note(f"app: connect({endpoint_str(remote_addr, remote_port)})",
                   None, endpoint_str(remote_addr, remote_port))
        conn = self.endpoint.connect(remote_addr, remote_port, self.scheduler.now,
                                     local_addr=local_addr, local_port=local_port)
        self.service()
        return conn

    def listen(self: Host[Endpoint], port: int, backlog: int = 128, addr: str = "") -> Listener:
        """Passive OPEN on ``port`` (with :attr:`backlog` instead of ``backlog`` when set)."""
        if self.backlog is not None:
            backlog = self.backlog
        self._note(f"app: listen({port}, backlog={backlog})",
                   endpoint_str(addr or self.addresses[0], port) if self.addresses else None)
        listener = self.endpoint.listen(port, backlog, addr)
        self.service()
        return listener

    def accept(self: Host[Endpoint], listener: Listener) -> Connection | None:
        """Take a connection from ``listener``'s accept queue (None when it is empty)."""
        conn = listener.accept()
        if conn is not None:
            self._conn_note("app: accept()", conn)
        self.service()
        return conn

    def send(self: Host[Endpoint], conn: Connection, data: bytes, *, urgent: bool = False) -> int:
        """Queue ``data`` (``urgent``: as urgent data); returns how many bytes the send
        buffer took."""
        n = conn.send(data, urgent=urgent)
        self._conn_note(f"app: send({len(data)} bytes{', urgent' if urgent else ''}) -> {n}", conn)
        self.service()
        return n

    def read(self: Host[Endpoint], conn: Connection, n: int = -1) -> bytes:
        """Read from the receive buffer (which reopens the window)."""
        data = conn.read(n)
        if data:
            self._conn_note(f"app: read() -> {len(data)} bytes", conn)
        self.service()
        return data

    def shutdown(self: Host[Endpoint], conn: Connection) -> None:
        """Half-close: send FIN, keep receiving."""
        self._conn_note("app: shutdown()", conn)
        conn.shutdown(self.scheduler.now)
        self.service()

    def close(self: Host[Endpoint], conn: Connection) -> None:
        """Full close (unless :attr:`close_hook` takes the call)."""
        if self.close_hook is not None and self.close_hook(self, conn):
            return
        self.close_now(conn)

    def close_now(self: Host[Endpoint], conn: Connection) -> None:
        """Full close, now, whatever :attr:`close_hook` would say."""
        self._conn_note("app: close()", conn)
        conn.close(self.scheduler.now)
        self.service()

    def abort(self: Host[Endpoint], conn: Connection) -> None:
        """ABORT: send RST, delete the TCB."""
        self._conn_note("app: abort()", conn)
        conn.abort(self.scheduler.now)
        self.service()

    def close_listener(self: Host[Endpoint], listener: Listener) -> None:
        """Stop listening."""
        self._note(f"app: close listener :{listener.port}")
        listener.close(self.scheduler.now)
        self.service()

    def snapshot(self: Host[Endpoint]) -> list[SocketInfo]:
        """The connection table now (for the netstat view)."""
        return self.endpoint.snapshot(self.scheduler.now)

    def __repr__(self) -> str:
        return f"<Host {self.name} {', '.join(self.addresses)}>"


AnyHost = Host[Any]
