"""asyncio streams over synack: ``open_connection`` and ``start_server``.

The objects returned are asyncio's own :class:`asyncio.StreamReader` and
:class:`asyncio.StreamWriter`, driven by :class:`SynackTransport`, an
:class:`asyncio.Transport` over one core connection (the way asyncio's selector
transports drive a socket).  Ordinary asyncio code therefore runs unchanged:
``read``, ``readexactly``, ``readline``, ``readuntil``, ``write``, ``drain``,
``write_eof``, ``close``, ``wait_closed``, ``get_extra_info("peername")``.

Flow control follows the core's design: the receive buffer lives in the core and
only :meth:`~synack.core.connection.Connection.read` reopens the window.  The
transport moves data from the core into the StreamReader while the reader is not
paused; when the application stops reading, the reader pauses the transport, the
core's buffer fills and the advertised window closes, as in the kernel.

Peer outcomes become the exceptions asyncio code expects: a refused connect raises
:class:`ConnectionRefusedError`, a reset :class:`ConnectionResetError`, running out
of retransmissions :class:`TimeoutError`.

An exception raised by the protocol is handled as asyncio's own transports do: one
from ``connection_made``, ``data_received`` or ``eof_received`` (or a server's
protocol factory) is fatal to that connection alone, which is reset and whose
protocol hears ``connection_lost(exc)``; one from ``pause_writing`` or
``resume_writing`` is only reported.  Either way it goes to the loop's exception
handler and never into the stack's callbacks.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
from collections.abc import Awaitable, Callable, Iterable

from synack.core.connection import Connection
from synack.core.errors import AddressInUse, UsageError
from synack.core.events import (
    Closed,
    Connected,
    ConnectionRefused,
    ConnectionReset,
    ConnectionTimedOut,
    Event,
    PeerClosed,
    Readable,
    Writable,
)
from synack.core.listener import Listener
from synack.core.state import State

from .stack import Stack, default_stack, monotonic_us

__all__ = ["Server", "SynackTransport", "open_connection", "start_server"]

_DEFAULT_LIMIT = 2 ** 16
_READ_CHUNK = 1 << 20

ClientConnectedCb = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None]


def _sockaddr(addr: str, port: int) -> tuple[str, int] | tuple[str, int, int, int]:
    return (addr, port, 0, 0) if ":" in addr else (addr, port)


class SynackTransport(asyncio.Transport):
    """An asyncio transport over one synack connection."""

    def __init__(self, stack: Stack, conn: Connection, protocol: asyncio.Protocol) -> None:
        super().__init__({
            "peername": _sockaddr(conn.remote_addr, conn.remote_port),
            "sockname": _sockaddr(conn.local_addr, conn.local_port),
            "socket": None,
            "synack_connection": conn,
            "synack_stack": stack,
        })
        self._stack = stack
        self._conn = conn
        self._protocol = protocol
        self._pending = bytearray()    # written, not yet taken by the core's send buffer
        self._closing = False          # close() called: FIN after the pending bytes
        self._eof_written = False      # write_eof() called
        self._shut = False             # the core has been told (shutdown/close)
        self._lost = False             # connection_lost delivered (or scheduled)
        self._reading = True
        self._eof_fed = False
        self._protocol_paused = False
        self._high = 4 * _DEFAULT_LIMIT
        self._low = _DEFAULT_LIMIT
        #: The server that accepted us: it forgets us once the connection is lost.
        self._server: Server | None = None
        stack.register(conn, self)

    def __repr__(self) -> str:
        return f"<SynackTransport {self._conn!r}>"

    @property
    def connection(self) -> Connection:
        return self._conn

    def _start(self) -> None:
        """After connection_made: take what arrived before the transport existed."""
        try:
            self._protocol.connection_made(self)
        except Exception as exc:
            self._fatal_error(exc, "protocol.connection_made() call failed")
            return
        self._pull()
        if self._conn.state is State.CLOSED and not self._lost:
            self._connection_lost(ConnectionResetError("connection reset by peer"))

    # ------------------------------------------------------------------ asyncio.BaseTransport
    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        if self._closing or self._lost:
            return
        self._closing = True
        self._reading = False
        if not self._pending:
            self._finish_close()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        if not isinstance(protocol, asyncio.Protocol):
            raise TypeError("a synack transport needs a streaming asyncio.Protocol")
        self._protocol = protocol

    def get_protocol(self) -> asyncio.Protocol:
        return self._protocol

    # ------------------------------------------------------------------ reading
    def is_reading(self) -> bool:
        return self._reading and not self.is_closing()

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if self._reading or self.is_closing():
            return
        self._reading = True
        # Not re-entrantly: StreamReader calls this from inside read().
        self._stack.loop.call_soon(self._resume)

    def _resume(self) -> None:
        if self._reading and not self._lost:
            self._pull()
            self._stack.kick()  # read() may have reopened the window: an update goes out

    def _pull(self) -> None:
        conn = self._conn
        protocol = self._protocol
        delivered = False
        while self._reading and not self._lost and conn.bytes_readable:
            data = conn.read(_READ_CHUNK)
            try:
                protocol.data_received(data)
            except Exception as exc:
                self._fatal_error(exc, "protocol.data_received() call failed")
                return
            delivered = True
        if delivered:
            # The reader's task wakes up in the loop's next round (call_soon): a flush
            # queued now runs right after it, so what it writes in answer leaves in
            # that same round rather than one later.
            self._stack.kick()
        if conn.at_eof and not self._eof_fed and not self._lost and not self._closing:
            self._eof_fed = True
            try:
                keep_open = protocol.eof_received()
            except Exception as exc:
                self._fatal_error(exc, "protocol.eof_received() call failed")
                return
            if not keep_open:
                self.close()

    # ------------------------------------------------------------------ writing
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof_written:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._closing or self._lost:
            return
        if not self._pending:
            try:
                n = self._conn.send(bytes(data))
            except UsageError:  # the core closed it; the event saying why is on its way
                return
            if n < len(data):
                self._pending += memoryview(data)[n:]
        else:
            self._pending += data
        self._stack.kick()
        self._maybe_pause_protocol()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        if self._eof_written or self._closing or self._lost:
            return
        self._eof_written = True
        if not self._pending:
            self._shutdown()

    def can_write_eof(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return len(self._pending)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 4 * _DEFAULT_LIMIT if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._maybe_pause_protocol()

    def abort(self) -> None:
        if self._lost:
            return
        if self._conn.state is not State.CLOSED:
            self._conn.abort(monotonic_us())
            self._stack.kick()
        self._closing = True
        self._connection_lost(None)

    # ------------------------------------------------------------------ internals
    def _maybe_pause_protocol(self) -> None:
        if not self._protocol_paused and len(self._pending) > self._high:
            self._protocol_paused = True
            try:
                self._protocol.pause_writing()
            except Exception as exc:
                self._report(exc, "protocol.pause_writing() failed")

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and len(self._pending) <= self._low:
            self._protocol_paused = False
            try:
                self._protocol.resume_writing()
            except Exception as exc:
                self._report(exc, "protocol.resume_writing() failed")

    def _report(self, exc: Exception, message: str) -> None:
        self._stack.loop.call_exception_handler({"message": message, "exception": exc, "transport": self,
                                                 "protocol": self._protocol})

    def _fatal_error(self, exc: Exception, message: str) -> None:
        """The protocol raised: report it, reset the connection, tell the protocol
        (asyncio's transports do the same)."""
        self._report(exc, f"Fatal error: {message}")
        if self._lost:
            return
        self._reading = False
        if self._conn.state is not State.CLOSED:
            self._conn.abort(monotonic_us())
            self._stack.kick()
        self._closing = True
        self._connection_lost(exc)

    def _push(self) -> None:
        """Move pending bytes into the core's send buffer as room opens."""
        pending = self._pending
        if pending and not self._lost:
            try:
                n = self._conn.send(bytes(pending))
            except UsageError:
                return
            if n:
                del pending[:n]
                self._stack.kick()
        if not pending:
            if self._closing and not self._lost:
                self._finish_close()
            elif self._eof_written and not self._shut:
                self._shutdown()
        self._maybe_resume_protocol()

    def _shutdown(self) -> None:
        if self._shut or self._conn.state is State.CLOSED:
            return
        self._shut = True
        self._conn.shutdown(monotonic_us())
        self._stack.kick()

    def _finish_close(self) -> None:
        """close() with nothing pending: the core closes (FIN, or RST with unread
        data) and goes on closing in the background, as the kernel does."""
        if self._conn.state is not State.CLOSED:
            self._conn.close(monotonic_us())
            self._stack.kick()
        self._connection_lost(None)

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._pending.clear()
        self._stack.unregister(self._conn)
        if self._server is not None:
            self._server._transports.discard(self)
            self._server = None
        self._stack.loop.call_soon(self._protocol.connection_lost, exc)

    # ------------------------------------------------------------------ core events
    def on_event(self, event: Event) -> None:
        if isinstance(event, Readable):
            self._pull()
        elif isinstance(event, Writable):
            self._push()
        elif isinstance(event, PeerClosed):
            self._pull()
        elif isinstance(event, ConnectionReset):
            self._connection_lost(ConnectionResetError("connection reset by peer"))
        elif isinstance(event, ConnectionTimedOut):
            self._connection_lost(TimeoutError("connection timed out"))
        elif isinstance(event, ConnectionRefused):
            self._connection_lost(ConnectionRefusedError("connection refused"))
        elif isinstance(event, Closed):
            if not self._eof_fed and not self._closing:
                self._pull()
            self._connection_lost(None)


class _Connecting:
    """A connect in progress: settles a future on the handshake's outcome."""

    def __init__(self, stack: Stack, conn: Connection,
                 make_protocol: Callable[[], asyncio.Protocol]) -> None:
        self.stack = stack
        self.conn = conn
        self.make_protocol = make_protocol
        self.future: asyncio.Future[tuple[SynackTransport, asyncio.Protocol]] = \
            stack.loop.create_future()

    def on_event(self, event: Event) -> None:
        if self.future.done():
            self.stack.unregister(self.conn)
            return
        if isinstance(event, Connected):
            try:
                protocol = self.make_protocol()
            except Exception as failure:
                self.stack.unregister(self.conn)
                self.conn.abort(monotonic_us())
                self.stack.kick()
                self.future.set_exception(failure)
                return
            transport = SynackTransport(self.stack, self.conn, protocol)  # replaces us as handler
            transport._start()
            self.future.set_result((transport, protocol))
            return
        peer = f"{self.conn.remote_addr} port {self.conn.remote_port}"
        if isinstance(event, ConnectionRefused | ConnectionReset):
            exc: Exception = ConnectionRefusedError(errno.ECONNREFUSED, f"connection to {peer} refused")
        elif isinstance(event, ConnectionTimedOut):
            exc = TimeoutError(errno.ETIMEDOUT, f"connection to {peer} timed out")
        elif isinstance(event, Closed):
            exc = ConnectionError("connection closed during the handshake")
        else:
            return
        self.stack.unregister(self.conn)
        self.future.set_exception(exc)


def _check_host(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"synack takes IP addresses, not host names: {host!r}") from None


async def create_connection(protocol_factory: Callable[[], asyncio.Protocol], host: str, port: int, *,
                            stack: Stack | None = None, local_addr: tuple[str, int] | None = None,
                            ) -> tuple[SynackTransport, asyncio.Protocol]:
    """Like ``loop.create_connection``: a transport and protocol over synack."""
    stack = stack if stack is not None else default_stack()
    remote = _check_host(host)
    laddr, lport = local_addr if local_addr is not None else (None, None)
    try:
        conn = stack.endpoint.connect(remote, port, monotonic_us(), local_addr=laddr or None,
                                      local_port=lport or None)
    except UsageError as exc:
        raise OSError(str(exc)) from None
    pending = _Connecting(stack, conn, protocol_factory)
    stack.register(conn, pending)
    stack.kick()
    try:
        return await pending.future
    except asyncio.CancelledError:
        stack.unregister(conn)
        if conn.state is not State.CLOSED:
            conn.abort(monotonic_us())
            stack.kick()
        raise


async def open_connection(host: str, port: int, *, stack: Stack | None = None, limit: int = _DEFAULT_LIMIT,
                          local_addr: tuple[str, int] | None = None,
                          ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``host`` (an IP address) and ``port`` over synack, like
    :func:`asyncio.open_connection`.  ``stack`` defaults to the loop's default stack.

    Raises ConnectionRefusedError (RST to our SYN) or TimeoutError (SYN retries ran out).
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    transport, protocol = await create_connection(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), host, port, stack=stack,
        local_addr=local_addr)
    assert isinstance(protocol, asyncio.StreamReaderProtocol)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


class Server:
    """A listening synack port (like :class:`asyncio.Server`)."""

    def __init__(self, stack: Stack, listener: Listener,
                 protocol_factory: Callable[[], asyncio.Protocol]) -> None:
        self.stack = stack
        self.listener = listener
        self._protocol_factory = protocol_factory
        self._transports: set[SynackTransport] = set()
        self._closed = stack.loop.create_future()
        self._serving = True
        stack.register_listener(listener, self._accept_all)

    def __repr__(self) -> str:
        return f"<synack Server {self.listener!r}>"

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def sockets(self) -> tuple[()]:
        return ()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self.stack.loop

    def is_serving(self) -> bool:
        return self._serving

    def _accept_all(self) -> None:
        while True:
            conn = self.listener.accept()
            if conn is None:
                return
            try:
                protocol = self._protocol_factory()
            except Exception as exc:
                self.stack.loop.call_exception_handler({"message": "Fatal error: the server's protocol "
                                                        "factory failed; connection reset",
                                                        "exception": exc, "synack_server": self})
                conn.abort(monotonic_us())
                self.stack.kick()
                continue
            transport = SynackTransport(self.stack, conn, protocol)
            transport._server = self
            self._transports.add(transport)
            transport._start()

    def transports(self) -> list[SynackTransport]:
        """The accepted connections' transports that are still open."""
        return [t for t in self._transports if not t.is_closing()]

    def close(self) -> None:
        """Stop listening (unaccepted connections are reset, as by Linux's close)."""
        if not self._serving:
            return
        self._serving = False
        self.listener.close(monotonic_us())
        self.stack.unregister_listener(self.listener)
        self.stack.kick()
        if not self._closed.done():
            self._closed.set_result(None)

    def close_clients(self) -> None:
        """Close every accepted connection (FIN after what is already written)."""
        for transport in self.transports():
            transport.close()

    def abort_clients(self) -> None:
        for transport in self.transports():
            transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:
        try:
            await asyncio.shield(self._closed)
        finally:
            self.close()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        await self.wait_closed()


async def create_server(protocol_factory: Callable[[], asyncio.Protocol], host: str | None = None,
                        port: int = 0, *, stack: Stack | None = None, backlog: int = 128) -> Server:
    """Like ``loop.create_server``: listen on ``port`` (all addresses of the stack
    when ``host`` is None or empty)."""
    stack = stack if stack is not None else default_stack()
    addr = _check_host(host) if host else ""
    ep = stack.endpoint
    candidates = [port] if port else range(ep.config.ephemeral_low, ep.config.ephemeral_high + 1)
    for candidate in candidates:
        try:
            listener = ep.listen(candidate, backlog, addr)
            break
        except AddressInUse:
            if port:
                raise OSError(errno.EADDRINUSE, f"address already in use: port {port}") from None
        except UsageError as exc:
            raise OSError(str(exc)) from None
    else:
        raise OSError(errno.EADDRINUSE, "no free port to listen on")
    return Server(stack, listener, protocol_factory)


async def start_server(client_connected_cb: ClientConnectedCb, host: str | None = None, port: int = 0, *,
                       stack: Stack | None = None, limit: int = _DEFAULT_LIMIT, backlog: int = 128,
                       ) -> Server:
    """Like :func:`asyncio.start_server`: call ``client_connected_cb(reader, writer)``
    for each accepted connection (a coroutine function runs as a task)."""
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.Protocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    return await create_server(factory, host, port, stack=stack, backlog=backlog)

