"""Run one :class:`~synack.core.endpoint.Endpoint` from asyncio.

Every driver runs the same loop (shared/DESIGN.md): feed input, drain events to
their handlers, drain segments to the link, re-arm one timer.  A :class:`Stack`
does that for one endpoint on one event loop; subclasses say how packets leave
(:meth:`Stack._transmit`) and call :meth:`Stack._flush` after feeding a burst of
input.  :class:`MemoryStack` joins two stacks by an in-process link, so the streams
API runs anywhere, without privileges.

Time is the core's integer microseconds, ``time.monotonic_ns() // 1000``; asyncio's
default clock is the same monotonic clock in seconds, so deadlines convert directly.
"""

from __future__ import annotations

import abc
import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Protocol

from synack.capture import PcapWriter
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.events import AcceptReady, Event
from synack.core.ip import Packet, build_packet
from synack.core.listener import Listener
from synack.core.state import State

__all__ = ["ConnectionHandler", "MemoryStack", "Stack", "default_stack", "memory_pair", "monotonic_us",
           "set_default_stack"]


def monotonic_us() -> int:
    """The drivers' clock: integer microseconds of ``time.monotonic``."""
    return time.monotonic_ns() // 1000


class ConnectionHandler(Protocol):
    """What a stack hands a connection's events to (a transport, a pending connect)."""

    def on_event(self, event: Event) -> None: ...


_defaults: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Stack] = weakref.WeakKeyDictionary()


def set_default_stack(stack: Stack | None) -> None:
    """Make ``stack`` the one ``open_connection``/``start_server`` use on its loop."""
    loop = asyncio.get_running_loop()
    if stack is None:
        _defaults.pop(loop, None)
    else:
        _defaults[loop] = stack


def default_stack() -> Stack:
    """The running loop's default stack; RuntimeError when there is none."""
    stack = _defaults.get(asyncio.get_running_loop())
    if stack is None or stack.closed:
        raise RuntimeError("no synack stack is running on this event loop: open one with "
                           "synack.drivers.tun.open_tun() or synack.drivers.stack.memory_pair(), "
                           "or pass stack=")
    return stack


class Stack(abc.ABC):
    """One endpoint driven by an asyncio event loop (create it inside a running loop)."""

    #: Upper bound of event/segment rounds in one flush (handlers that keep producing
    #: events can never spin the loop forever).
    MAX_ROUNDS = 64
    #: How late (µs) the wake-up for a deadline may come, at most, so that deadlines
    #: close together share one wake-up (Linux's timer wheel batches timers too, by
    #: a jiffy or more).  Most deadlines are of timers long since stopped (the core's
    #: heap keeps them: waking early is safe), one per connection, so a few thousand
    #: connections a second meant as many wake-ups for nothing.  The shortest timer
    #: by default is the 40 ms delayed ACK.
    TIMER_SLACK = 1000

    def __init__(self, endpoint: Endpoint, *, pcap: PcapWriter | None = None) -> None:
        self.endpoint = endpoint
        self.pcap = pcap
        self.closed = False
        self.loop = asyncio.get_running_loop()
        self._handlers: dict[Connection, ConnectionHandler] = {}
        self._listeners: dict[Listener, Callable[[], None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: int | None = None
        self._flush_pending = False
        self.packets_in = 0
        self.packets_out = 0
        if self.loop not in _defaults or _defaults[self.loop].closed:
            _defaults[self.loop] = self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.endpoint!r}>"

    # ------------------------------------------------------------------ registry
    def register(self, conn: Connection, handler: ConnectionHandler) -> None:
        self._handlers[conn] = handler

    def unregister(self, conn: Connection) -> None:
        self._handlers.pop(conn, None)

    def register_listener(self, listener: Listener, on_accept_ready: Callable[[], None]) -> None:
        self._listeners[listener] = on_accept_ready

    def unregister_listener(self, listener: Listener) -> None:
        self._listeners.pop(listener, None)

    # ------------------------------------------------------------------ the loop
    def kick(self) -> None:
        """A user call changed the core: flush soon (coalesced with other calls)."""
        if not self._flush_pending and not self.closed:
            self._flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Drain events to handlers and segments to the link, then re-arm the timer."""
        self._flush_pending = False
        if self.closed:
            return
        ep = self.endpoint
        now = monotonic_us()
        for _ in range(self.MAX_ROUNDS):
            busy = False
            event = ep.next_event()
            while event is not None:
                busy = True
                self._dispatch(event)
                event = ep.next_event()
            packets = ep.packets_to_send(now)
            if packets:
                busy = True
                self.packets_out += len(packets)
                self._transmit(packets, now)
            if not busy:
                break
        else:
            self.kick()  # still busy: carry on after other callbacks had their turn
        self._rearm()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, AcceptReady):
            callback = self._listeners.get(event.listener)
            if callback is not None:
                callback()
            return
        handler = self._handlers.get(event.conn)
        if handler is not None:
            handler.on_event(event)

    def _rearm(self) -> None:
        deadline = self.endpoint.next_timeout()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self.loop.call_at((deadline + self.TIMER_SLACK) / 1e6, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = monotonic_us()
        deadline = self.endpoint.next_timeout()
        # call_at may fire a hair early by the clock's rounding: never before the deadline.
        if deadline is not None and deadline > now:
            now = deadline
        self.endpoint.handle_timeout(now)
        self._flush()

    @abc.abstractmethod
    def _transmit(self, packets: list[Packet], now: int) -> None:
        """Put ``packets`` on the device or link (each driver its own way)."""

    def _tap(self, now: int, raw: bytes) -> None:
        if self.pcap is not None:
            self.pcap.write(now, raw)

    # ------------------------------------------------------------------ shutdown
    def busy_connections(self) -> list[Connection]:
        """Connections still exchanging segments (not CLOSED and not in TIME-WAIT)."""
        return [c for c in self.endpoint.connections if c.state not in (State.CLOSED, State.TIME_WAIT)]

    async def drain_connections(self, timeout: float) -> list[Connection]:
        """Wait up to ``timeout`` s for every connection to finish its close (or reach
        TIME-WAIT); returns those that did not."""
        deadline = self.loop.time() + timeout
        while self.busy_connections() and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        return self.busy_connections()

    async def aclose(self, timeout: float = 2.0) -> None:
        """Let closing connections finish (up to ``timeout`` s), reset the others, stop."""
        if self.closed:
            return
        now = monotonic_us()
        for listener in self.endpoint.listeners:
            listener.close(now)
        self.kick()
        for conn in await self.drain_connections(timeout):
            if conn.state is not State.CLOSED:
                conn.abort(monotonic_us())
        self._flush()
        self.close()

    def close(self) -> None:
        """Stop at once: no more input, output or timers."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if _defaults.get(self.loop) is self:
            del _defaults[self.loop]
        if self.pcap is not None:
            self.pcap.close()


class MemoryStack(Stack):
    """A stack whose packets go to a peer stack in the same process (no privileges).

    Packets are serialised and parsed (checksums included), as on a wire, and
    delivered from the event loop one callback later.
    """

    def __init__(self, endpoint: Endpoint, *, pcap: PcapWriter | None = None) -> None:
        super().__init__(endpoint, pcap=pcap)
        self.peer: MemoryStack | None = None

    def _transmit(self, packets: list[Packet], now: int) -> None:
        raw = [build_packet(p.seg, p.src, p.dst) for p in packets]
        for r in raw:
            self._tap(now, r)
        peer = self.peer
        if peer is not None and not peer.closed:
            self.loop.call_soon(peer._deliver, raw)

    def _deliver(self, raw: list[bytes]) -> None:
        if self.closed:
            return
        now = monotonic_us()
        ep = self.endpoint
        for r in raw:
            ep.receive_packet(r, now)
        self.packets_in += len(raw)
        self._flush()


def memory_pair(a: Endpoint | None = None, b: Endpoint | None = None) -> tuple[MemoryStack, MemoryStack]:
    """Two stacks joined by an in-process link (defaults: 10.0.0.1 and 10.0.0.2, each
    with an IPv6 address too: fd00::1 and fd00::2).  The first becomes the loop's
    default stack if there is none."""
    if a is None:
        a = Endpoint(["10.0.0.1", "fd00::1"], name="a")
    if b is None:
        b = Endpoint(["10.0.0.2", "fd00::2"], name="b")
    sa, sb = MemoryStack(a), MemoryStack(b)
    sa.peer, sb.peer = sb, sa
    return sa, sb
