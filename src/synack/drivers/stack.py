"""Run one :class:`~synack.core.endpoint.Endpoint` from asyncio.

Every driver runs the same loop (shared/DESIGN.md): feed input, drain events to
their handlers, drain segments to the link, re-arm one timer.  A :class:`Stack`
does that for one endpoint on one event loop; subclasses say how packets leave
(:meth:`Stack._transmit`) and call :meth:`Stack._flush` after feeding a burst of
input.  :class:`MemoryStack` joins two stacks by an in-process link, so the streams
API runs anywhere, without privileges.

Time is the core's integer microseconds, ``time.monotonic_ns() // 1000``; asyncio's
default clock is the same monotonic clock in seconds, so deadlines convert directly.

**A driver contains its faults.**  No exception leaves a stack's callbacks (a burst
read, a timer, a flush, a release of held packets):

- a packet that cannot be encoded (an IPv4 total length past 65535, say) is
  dropped and counted in :attr:`Stack.drops` by reason; the rest of its batch goes
  out;
- an exception escaping the core or a handler is counted in :attr:`Stack.errors` by
  where it happened, and the first of each kind is reported through the loop's
  exception handler (asyncio logs it to stderr with its traceback); the stack goes
  on with the next packet, event or wake-up.  The core's input is processed one
  packet or one timeout at a time, so one that failed leaves the other connections
  as they were: closing the whole stack would punish them all for one bug.  A timer
  whose handling failed is retried no sooner than :attr:`Stack.ERROR_BACKOFF`, so a
  deadline that stays due cannot spin the loop.

Exceptions raised by an application's protocol are the transport's business
(:mod:`synack.drivers.streams`), as in asyncio: that connection is aborted.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from synack.capture import PcapWriter
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.events import AcceptReady, Event
from synack.core.ip import Packet, build_packet
from synack.core.listener import Listener
from synack.core.state import State
from synack.core.wire import NO_OPTIONS, encode_options

__all__ = ["ConnectionHandler", "MemoryStack", "Stack", "default_stack", "encode_failure", "memory_pair",
           "monotonic_us", "set_default_stack", "wake_time"]


def monotonic_us() -> int:
    """The drivers' clock: integer microseconds of ``time.monotonic``."""
    return time.monotonic_ns() // 1000


#: Linux's jiffy at HZ 250 (Debian's kernels, and the machines synack is measured
#: on), µs.
JIFFY = 4000
#: How late the wake-up for a deadline near at hand may come, at most (µs): finer
#: than Linux's jiffy, so that deadlines close together still share one wake-up.
#: Most deadlines are of timers long since stopped (the core's heap keeps them:
#: waking early is safe), one per connection, so a few thousand connections a second
#: meant as many wake-ups for nothing.  The shortest timer by default is the 40 ms
#: delayed ACK.
NEAR_SLACK = 1000
#: Linux's timer wheel (kernel/time/timer.c): 9 levels of 64 slots, each level's
#: slots 8 times as wide as the level below's.
_WHEEL_LEVELS = 9


def wake_time(deadline: int, now: int) -> int:
    """When a driver wakes for ``deadline`` (µs) when it is armed at ``now``: as
    Linux's timer wheel fires a timer.  A deadline less than 63 jiffies (252 ms)
    ahead: within :data:`NEAR_SLACK` after it.  Further ahead, the level the wheel
    would keep it in decides: rounded up to the end of its slot, 32 ms wide up to
    2.016 s ahead, 256 ms up to 16.128 s, 2.048 s up to 129 s, and so on
    (``calc_wheel_index``).  Never before the deadline.  So timers armed close
    together fire together, as Linux's do: the SYN-queue entries of a flood that came
    within a few milliseconds of each other expire in one batch, before any new SYN
    can take a freed place (``reqsk_timer_handler``'s pruning then works on the whole
    generation, as in Linux)."""
    delta = deadline - now
    width, limit = JIFFY, 63 * JIFFY
    if delta < limit:
        return deadline + NEAR_SLACK
    for _ in range(_WHEEL_LEVELS - 1):
        width <<= 3
        limit <<= 3
        if delta < limit:
            break
    return (deadline // width + 1) * width


def encode_failure(p: Packet) -> str:
    """The drop reason for a packet its encoder refused: ``"too-long"`` when the IP
    header's length field cannot hold it (IPv4 total length, IPv6 payload length,
    both 16 bits), else ``"unencodable"``."""
    try:
        seg = p.seg
        opts = 0 if seg.options is NO_OPTIONS else len(encode_options(seg.options))
        tcp_len = 20 + opts + len(seg.payload)
    except Exception:
        return "unencodable"
    limit = 0xFFFF if ":" in p.src else 0xFFFF - 20
    return "too-long" if tcp_len > limit else "unencodable"


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
    #: After a timer wake-up whose handling raised, the next comes no sooner than
    #: this (µs): the deadline may still be due, and must not wake the loop at once
    #: again and again.
    ERROR_BACKOFF = 100_000

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
        self._not_before = 0  # no timer wake-up before this (µs): see ERROR_BACKOFF
        self.packets_in = 0
        self.packets_out = 0
        #: Packets the driver could not pass on, by reason: "too-long" and
        #: "unencodable" (the encoder refused it), "write-error" (the device refused
        #: it), and the TUN driver's "hold-full" and "held-at-close" (faults).
        self.drops: Counter[str] = Counter()
        #: Exceptions caught in the driver's callbacks, by where: "receive" (a packet
        #: in), "timer", "flush", "dispatch" (an event to its handler), "read" (the
        #: device), "pcap" (the capture stops), and the TUN driver's "fault" (a
        #: fault's predicate; the packet passes) and "release" (held packets out).
        #: Each is a bug somewhere; see the module's doc.
        self.errors: Counter[str] = Counter()
        self._reported: set[tuple[str, type[BaseException]]] = set()
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
        try:
            self._drain()
        except Exception as exc:
            self.report("flush", exc)
        if not self.closed:
            self._rearm()

    def _drain(self) -> None:
        ep = self.endpoint
        now = monotonic_us()
        for _ in range(self.MAX_ROUNDS):
            busy = False
            event = ep.next_event()
            while event is not None:
                busy = True
                try:
                    self._dispatch(event)
                except Exception as exc:
                    self.report("dispatch", exc)
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
        try:
            deadline = self.endpoint.next_timeout()
        except Exception as exc:
            self.report("timer", exc)
            deadline = monotonic_us() + self.ERROR_BACKOFF
        if deadline is not None and deadline < self._not_before:
            deadline = self._not_before
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self.loop.call_at(wake_time(deadline, monotonic_us()) / 1e6, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self.closed:
            return
        now = monotonic_us()
        try:
            deadline = self.endpoint.next_timeout()
            # call_at may fire a hair early by the clock's rounding: never before the deadline.
            if deadline is not None and deadline > now:
                now = deadline
            self.endpoint.handle_timeout(now)
            self._not_before = 0
        except Exception as exc:
            self.report("timer", exc)
            self._not_before = monotonic_us() + self.ERROR_BACKOFF
        self._flush()

    @abc.abstractmethod
    def _transmit(self, packets: list[Packet], now: int) -> None:
        """Put ``packets`` on the device or link (each driver its own way)."""

    def _tap(self, now: int, raw: bytes) -> None:
        pcap = self.pcap
        if pcap is not None:
            try:
                pcap.write(now, raw)
            except Exception as exc:
                # A capture that cannot be written (a full disk) stops; the traffic goes on.
                self.report("pcap", exc)
                self.pcap = None
                with contextlib.suppress(Exception):
                    pcap.close()

    # ------------------------------------------------------------------ faults
    def report(self, where: str, exc: Exception) -> None:
        """An exception caught in a callback: counted in :attr:`errors`; the first of
        each kind (where, type) goes to the loop's exception handler."""
        self.errors[where] += 1
        self._report_once(where, exc, f"unexpected {type(exc).__name__} in {where}; the stack goes on "
                                      f"(later ones of this kind are only counted, in stack.errors)")

    def drop(self, reason: str, exc: Exception | None = None) -> None:
        """A packet the driver could not pass on: counted in :attr:`drops`; the first
        one dropped for an exception, of each reason, is reported like an error."""
        self.drops[reason] += 1
        if exc is not None:
            self._report_once(f"drop:{reason}", exc,
                              f"a packet dropped ({reason}: {exc}); the rest of its batch goes on "
                              "(later ones only counted, in stack.drops)")

    def _report_once(self, where: str, exc: Exception, message: str) -> None:
        key = (where, type(exc))
        if key in self._reported:
            return
        self._reported.add(key)
        self.loop.call_exception_handler({"message": f"synack {self!r}: {message}", "exception": exc,
                                          "synack_stack": self})

    def counters(self) -> dict[str, Any]:
        """The driver's counters, for ``synack ss``'s document: packets in and out,
        drops and errors by reason."""
        return {"packets_in": self.packets_in, "packets_out": self.packets_out,
                "drops": dict(self.drops), "errors": dict(self.errors)}

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
        self._last_words()
        self.close()

    def _last_words(self) -> None:  # noqa: B027 - a hook: most stacks hold nothing back
        """Before :meth:`aclose` closes: send what is still due to leave (the TUN
        driver's held packets)."""

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
        raw = []
        for p in packets:
            try:
                r = build_packet(p.seg, p.src, p.dst)
            except Exception as exc:
                self.drop(encode_failure(p), exc)
                continue
            raw.append(r)
            self._tap(now, r)
        peer = self.peer
        if raw and peer is not None and not peer.closed:
            self.loop.call_soon(peer._deliver, raw)

    def _deliver(self, raw: list[bytes]) -> None:
        if self.closed:
            return
        now = monotonic_us()
        ep = self.endpoint
        for r in raw:
            try:
                ep.receive_packet(r, now)
            except Exception as exc:
                self.report("receive", exc)
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
