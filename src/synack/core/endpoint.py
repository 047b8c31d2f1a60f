"""A host's TCP: demultiplexing, listeners, connections, RSTs for strays.

The endpoint has the same shape as a connection, one level up (shared/DESIGN.md):
inputs ``receive_packet``/``receive_segment``, ``handle_timeout`` and the user calls
``listen``/``connect``; outputs pulled with ``packets_to_send``, ``next_event`` and
``next_timeout``.  Malformed bytes are caught here, once, and counted by reason.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import deque
from collections.abc import Callable, Sequence

from .config import DEFAULT_CONFIG, Config
from .connection import Connection
from .cookies import SynCookies
from .errors import AddressInUse, DropReason, InvalidAddress, MalformedSegment, UsageError
from .events import Event
from .info import SocketInfo
from .ip import Packet, parse_packet
from .isn import IsnSource, Rfc6528Isn
from .listener import Listener
from .replies import reset_for
from .seq import MASK, seq_gt
from .state import State
from .stats import Stats
from .timers import Timer, TimerQueue
from .trace import (
    NoteRecord,
    Outcome,
    SegmentRecord,
    Tracer,
    TraceRecord,
    Verdict,
    dropped,
    endpoint_str,
)
from .wire import ACK, RST, SYN, Segment

_TIME_WAIT = State.TIME_WAIT


@functools.lru_cache(maxsize=4096)
def bad_peer_address(addr: str) -> bool:
    """True for addresses that can never be a TCP peer (MUST-46, MUST-57, MUST-63):
    unspecified, multicast, and IPv4's class E and limited broadcast.

    Addresses arrive in canonical text form (the parser and the drivers make them),
    so the first label decides; the cache is small because spoofed floods never hit it.
    """
    if ":" in addr:
        return addr == "::" or addr[:2].lower() == "ff"
    head, _, _ = addr.partition(".")
    return not head.isdigit() or int(head) >= 224 or addr == "0.0.0.0"


@functools.lru_cache(maxsize=4096)
def canonical_address(addr: str) -> str:
    """``addr`` as the parser and the drivers write it (``"fd00:5ac::2"``); raises
    ValueError for what is not an address."""
    return str(ipaddress.ip_address(addr))


#: ``tuple.__new__``: builds a NamedTuple without its Python-level ``__new__`` (per packet).
_new = tuple.__new__

class Endpoint:
    """All of one host's TCP.  Time (``now``) is integer microseconds, always given.

    With a ``tracer``, every segment sent gets a flight id from ``flights`` (a
    counter of the endpoint's own unless given: a simulator shares one between its
    hosts, so that ids are unique on its network), and every arrival is traced with
    the verdict on it once it has been processed; records made while processing it
    follow its own, so the trace reads in cause-and-effect order."""

    def __init__(self, addresses: Sequence[str], config: Config = DEFAULT_CONFIG, *, name: str = "",
                 secret: bytes = b"", isn: IsnSource | None = None, ephemeral_offset: int = 0,
                 tracer: Tracer | None = None, flights: Callable[[], int] | None = None) -> None:
        if not addresses:
            raise UsageError("an endpoint needs at least one address")
        self.addresses = tuple(str(ipaddress.ip_address(a)) for a in addresses)
        for addr in self.addresses:
            if bad_peer_address(addr):
                raise InvalidAddress(f"{addr} cannot be an endpoint's address "
                                     "(broadcast, multicast, unspecified)")
        #: The addresses this endpoint answers for: segments to any other are dropped.
        self._own = frozenset(self.addresses)
        self.config = config
        self.name = name
        self.tracer = tracer
        self._held: list[TraceRecord] | None = None
        self._flights = flights if flights is not None else _counter()
        self.stats = Stats()
        self._isn: IsnSource = isn if isn is not None else Rfc6528Isn(secret)
        self.cookies = SynCookies(secret)
        self._conns: dict[tuple[str, int, str, int], Connection] = {}
        self._listeners: dict[tuple[str, int], Listener] = {}
        self._out: list[Packet] = []
        #: Connections that may have output or a new deadline (theirs to mark: shared).
        self.dirty: dict[Connection, None] = {}
        self._timers = TimerQueue()
        self._events: deque[Event] = deque()
        span = config.ephemeral_high - config.ephemeral_low + 1
        self._next_port = ephemeral_offset % span

    def __repr__(self) -> str:
        return f"<Endpoint {self.name or self.addresses[0]} conns={len(self._conns)}>"

    # ------------------------------------------------------------------ user calls
    def listen(self, port: int, backlog: int = 128, addr: str = "") -> Listener:
        """Passive OPEN (MUST-41: a new LISTEN record, or an error)."""
        if not 0 < port < 65536:
            raise UsageError(f"port {port} outside 1..65535")
        if addr and addr not in self.addresses:
            raise InvalidAddress(f"{addr} is not an address of this endpoint")
        if (addr, port) in self._listeners or ("", port) in self._listeners:
            raise AddressInUse(f"already listening on port {port}")
        listener = Listener(self, addr, port, backlog)
        self._listeners[(addr, port)] = listener
        return listener

    def connect(self, remote_addr: str, remote_port: int, now: int, *, local_addr: str | None = None,
                local_port: int | None = None) -> Connection:
        """Active OPEN: the SYN leaves with the next ``packets_to_send``."""
        if bad_peer_address(remote_addr):
            raise InvalidAddress(f"cannot open a connection to {remote_addr}")
        if not 0 < remote_port < 65536:
            raise UsageError(f"port {remote_port} outside 1..65535")
        remote_addr = canonical_address(remote_addr)
        if local_addr is None:
            local_addr = self._source_for(remote_addr)
        elif local_addr not in self.addresses:
            raise InvalidAddress(f"{local_addr} is not an address of this endpoint")
        if local_port is None:
            local_port = self._ephemeral_port(local_addr, remote_addr, remote_port)
        key = (local_addr, local_port, remote_addr, remote_port)
        if key in self._conns:
            raise AddressInUse(f"{endpoint_str(local_addr, local_port)} -> "
                               f"{endpoint_str(remote_addr, remote_port)} exists")
        iss = self._isn(local_addr, local_port, remote_addr, remote_port, now)
        conn = self.new_connection(local_addr, local_port, remote_addr, remote_port, iss)
        self.stats.active_opens += 1
        conn.open_active(now)
        return conn

    def _source_for(self, remote: str) -> str:
        v6 = ":" in remote
        for addr in self.addresses:
            if (":" in addr) == v6:
                return addr
        raise InvalidAddress(f"no local address of the family of {remote}")

    def _ephemeral_port(self, local: str, remote: str, rport: int) -> int:
        low, high = self.config.ephemeral_low, self.config.ephemeral_high
        span = high - low + 1
        for _ in range(span):
            port = low + self._next_port
            self._next_port = (self._next_port + 1) % span
            if (local, port, remote, rport) not in self._conns and ("", port) not in self._listeners \
                    and (local, port) not in self._listeners:
                return port
        raise AddressInUse("no free ephemeral port")

    # ------------------------------------------------------------------ inputs
    def receive_packet(self, data: bytes, now: int, verify_checksum: bool = True, flight: int = 0) -> None:
        """An IP packet from the network; malformed ones are dropped and counted.

        ``verify_checksum=False`` is for drivers whose device already checked the TCP
        checksum, or leaves it unfilled (a TUN with checksum offload).  ``flight``: the
        sender's flight id, when the driver knows it (a simulator).
        """
        try:
            src, dst, seg, _ = parse_packet(data, verify_checksum)
        except MalformedSegment as exc:
            self.stats.drop(exc.reason)
            if self.tracer is not None:
                self.tracer(SegmentRecord(now, self.name, "drop", "", "", None, exc.reason, flight,
                                          Verdict.DROPPED))
            return
        self.receive_segment(seg, src, dst, now, flight)

    def receive_segment(self, seg: Segment, src: str, dst: str, now: int, flight: int = 0) -> None:
        """A parsed segment from ``src`` to ``dst``.  Only segments to one of our own
        addresses are answered (a connection's local address always is)."""
        self.stats.segments_in += 1
        tracer = self.tracer
        if tracer is None:
            conn = self._conns.get((dst, seg[1], src, seg[0]))
            if conn is not None and conn.state is not _TIME_WAIT:
                conn.receive_segment(seg, now)  # (the common case, without _process's call)
            else:
                self._process(seg, src, dst, now)
            return
        held = self._held = []
        try:
            verdict, reason = self._process(seg, src, dst, now)
        finally:
            self._held = None
        name = self.name
        tracer(SegmentRecord(now, name, "recv", src, dst, seg, reason, flight, verdict))
        for rec in held:
            tracer(rec)
        if verdict is Verdict.DROPPED:
            tracer(SegmentRecord(now, name, "drop", src, dst, seg, reason, flight, verdict))

    def _process(self, seg: Segment, src: str, dst: str, now: int) -> Outcome:
        # (A connection's peer address was checked when it was made, so only
        # segments matching no connection need bad_peer_address.)
        conn = self._conns.get((dst, seg.dst_port, src, seg.src_port))
        if conn is not None:
            if conn.state is _TIME_WAIT and seg.flags & (SYN | ACK | RST) == SYN \
                    and seq_gt(seg.seq, conn.rcv_nxt) and self._listener_for(dst, seg.dst_port):
                # A new SYN above the old connection's sequence space may reuse
                # the 4-tuple at once (MAY-2; Linux tcp_timewait_state_process).
                # The new ISS starts well above anything the old incarnation sent
                # (Linux: tw_snd_nxt + 65535 + 2), so its old segments cannot fit.
                self._trace_note(now, "TIME-WAIT 4-tuple reused by a new SYN", conn)
                conn.end_time_wait(now)
                listener = self._listener_for(dst, seg.dst_port)
                assert listener is not None
                return listener.receive(seg, src, dst, now, iss=(conn.snd_nxt + 65537) & MASK)
            return conn.receive_segment(seg, now)
        if dst not in self._own:
            # Not ours, or no one's (broadcast, multicast, unspecified): dropped, and
            # answered with nothing (RFC 1122 §4.2.3.10; MUST-57).
            self.stats.drop(DropReason.NOT_OUR_ADDRESS)
            return dropped(DropReason.NOT_OUR_ADDRESS)
        if bad_peer_address(src):
            self.stats.drop(DropReason.BAD_ADDRESS)
            return dropped(DropReason.BAD_ADDRESS)
        listener = self._listener_for(dst, seg.dst_port)
        if listener is not None:
            return listener.receive(seg, src, dst, now)
        # CLOSED (§3.10.7.1): no TCB.  A RST is dropped; anything else gets a RST.
        self.stats.drop(DropReason.NO_CONNECTION)
        if not seg.flags & RST:
            self.reset(seg, src, dst)
        return dropped(DropReason.NO_CONNECTION)

    def _listener_for(self, addr: str, port: int) -> Listener | None:
        return self._listeners.get((addr, port)) or self._listeners.get(("", port))

    def reset(self, seg: Segment, src: str, dst: str) -> None:
        """Answer ``seg`` with the RST of §3.5.2 (``replies.reset_for``)."""
        self.stats.resets_sent += 1
        self._out.append(_new(Packet, (dst, src, reset_for(seg), 0)))

    def handle_timeout(self, now: int) -> None:
        """Run every timer due at ``now``; safe to call early or late (a timer stopped
        or moved later since is never run)."""
        timers = self._timers
        if self.dirty:
            self._note_deadlines()
        while (owner := timers.pop_due(now)) is not None:
            owner.handle_timeout(now)  # type: ignore[attr-defined]
            if isinstance(owner, Connection):
                self.dirty[owner] = None  # its output, then its deadline (packets_to_send)

    # ------------------------------------------------------------------ outputs
    def packets_to_send(self, now: int) -> list[Packet]:
        out = self._out
        self._out = []
        dirty = self.dirty
        if dirty:
            last, _ = dirty.popitem()  # (one connection is the common case: no copy)
            if dirty:  # more: in the order they were marked, the last one last
                conns: tuple[Connection, ...] = (*dirty, last)
                dirty.clear()
            else:
                conns = (last,)
            for conn in conns:
                segs = conn.segments_to_send(now)
                if segs:
                    src, dst = conn.local_addr, conn.remote_addr
                    for seg in segs:
                        out.append(_new(Packet, (src, dst, seg, 0)))  # Packet(src, dst, seg), faster
                self._timers.update(conn)
        if out:
            self._sending(out, now)
        return out

    def replies_to_send(self, now: int) -> list[Packet]:
        """Only the answers made without a connection (a listener's SYN-ACKs, the RSTs
        of segments no one owns) since the last call; :meth:`packets_to_send` returns
        them too, first.  A driver reading a burst may send these as each segment is
        handled, as Linux answers a SYN in the softirq that received it, while the
        connections' own output (ACKs of data above all) waits for the burst's end to
        be coalesced: a SYN-ACK then never waits behind the rest of a SYN flood."""
        out = self._out
        if not out:
            return []
        self._out = []
        self._sending(out, now)
        return out

    def _sending(self, out: list[Packet], now: int) -> None:
        self.stats.segments_out += len(out)
        tracer = self.tracer
        if tracer is not None:
            name = self.name
            flights = self._flights
            for i, (src, dst, seg, _) in enumerate(out):
                flight = flights()
                out[i] = _new(Packet, (src, dst, seg, flight))
                tracer(SegmentRecord(now, name, "send", src, dst, seg, None, flight))

    def next_timeout(self) -> int | None:
        """The earliest deadline of any timer that runs."""
        if self.dirty:
            self._note_deadlines()
        timers = self._timers  # (TimerQueue.next, inlined: after every input)
        if timers.unsettled:
            timers.settle()
        heap = timers.heap
        return heap[0][0] if heap else None

    def _note_deadlines(self) -> None:
        """Connections touched by a user call since the last output (a driver that did
        not drain in between) may have moved a timer earlier."""
        for conn in self.dirty:
            self._timers.update(conn)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    # ------------------------------------------------------------------ views
    @property
    def connections(self) -> list[Connection]:
        return list(self._conns.values())

    @property
    def listeners(self) -> list[Listener]:
        return list(self._listeners.values())

    def snapshot(self, now: int) -> list[SocketInfo]:
        """Every socket as a netstat row (listeners, SYN-queue entries, connections)."""
        rows: list[SocketInfo] = []
        for listener in self._listeners.values():
            rows.extend(listener.snapshot())
        for c in self._conns.values():
            timer: str | None = None
            at = c.timers
            deadline = at[Timer.TIME_WAIT]
            if deadline is not None:
                timer = "timewait"
            elif (deadline := at[Timer.FIN_WAIT_2]) is not None:
                timer = "fin-wait-2"
            elif (deadline := at[Timer.RETRANSMIT]) is not None:
                timer = "on"
            rows.append(SocketInfo(c.state.short, endpoint_str(c.local_addr, c.local_port),
                                   endpoint_str(c.remote_addr, c.remote_port), c.bytes_readable,
                                   c.bytes_unacked, timer, deadline, c.retries))
        return rows

    # ------------------------------------------------------------------ for listeners (ListenerHost)
    @property
    def tracing(self) -> bool:
        return self.tracer is not None

    def isn(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        return self._isn(local, local_port, remote, remote_port, now)

    def ts_offset(self, local: str, remote: str) -> int:
        return self._isn.ts_offset(local, remote)

    def emit(self, src: str, dst: str, seg: Segment) -> None:
        self._out.append(_new(Packet, (src, dst, seg, 0)))

    def new_connection(self, local: str, lport: int, remote: str, rport: int, iss: int,
                       listener: Listener | None = None) -> Connection:
        """A TCB for this 4-tuple, ours to demultiplex to (a listener's, when given: it
        inherits the listener's settings, as an accepted socket inherits the listening
        socket's options in Linux)."""
        config = listener.config if listener is not None else self.config
        conn = Connection(local, lport, remote, rport, iss, config, host=self.name,
                          tracer=self.record if self.tracer is not None else None, stats=self.stats,
                          owner=self, events=self._events, listener=listener,
                          ts_offset=self._isn.ts_offset(local, remote) if config.timestamps else 0)
        self._conns[(local, lport, remote, rport)] = conn
        return conn

    def accept_ready(self, listener: Listener) -> None:
        self._events.append(listener.ready)

    def timers_changed(self, listener: Listener) -> None:
        self._timers.update(listener)

    def listener_closed(self, listener: Listener) -> None:
        self._listeners.pop((listener.addr, listener.port), None)

    # ------------------------------------------------------------------ for connections (Owner)
    def _closed(self, conn: Connection) -> None:
        key = conn.key
        if self._conns.get(key) is conn:
            del self._conns[key]
        self.dirty[conn] = None  # a final RST or ACK may still be waiting to leave

    # ------------------------------------------------------------------ the trace
    def record(self, rec: TraceRecord) -> None:
        """Trace ``rec`` (its own and its connections' and listeners' records): while an
        arrival is processed, they wait for the arrival's own (which needs the verdict)."""
        held = self._held
        if held is not None:
            held.append(rec)
        else:
            assert self.tracer is not None
            self.tracer(rec)

    def _trace_note(self, now: int, text: str, conn: Connection) -> None:
        if self.tracer is not None:
            self.record(NoteRecord(now, self.name, text, endpoint_str(conn.local_addr, conn.local_port),
                                   endpoint_str(conn.remote_addr, conn.remote_port)))


def _counter() -> Callable[[], int]:
    """1, 2, 3 ...: flight ids of an endpoint of its own."""
    n = 0

    def next_flight() -> int:
        nonlocal n
        n += 1
        return n
    return next_flight
