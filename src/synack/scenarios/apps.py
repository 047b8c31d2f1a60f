"""Small application behaviours scenarios share (accept, read, close on EOF)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synack.core.connection import Connection
from synack.core.events import AcceptReady, Event, PeerClosed, Readable
from synack.core.listener import Listener
from synack.sim import Host, Network

from .base import Context, Run


def accept_all(host: Host[Any], listener: Listener) -> list[Connection]:
    """Accept every connection as soon as it is ready; returns the growing list."""
    accepted: list[Connection] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, AcceptReady) and ev.listener is listener:
            while True:
                conn = host.accept(listener)
                if conn is None:
                    break
                accepted.append(conn)

    host.on_event(on_event)
    return accepted


def read_all(host: Host[Any]) -> dict[Connection, bytearray]:
    """Read everything that arrives on any of ``host``'s connections."""
    received: dict[Connection, bytearray] = {}

    def on_event(ev: Event) -> None:
        if isinstance(ev, Readable):
            conn = ev.conn
            received.setdefault(conn, bytearray()).extend(host.read(conn))

    host.on_event(on_event)
    return received


def on_peer_closed(host: Host[Any], action: Callable[[Connection], object]) -> None:
    """Run ``action(conn)`` when a connection's peer sends FIN (end of file)."""

    def on_event(ev: Event) -> None:
        if isinstance(ev, PeerClosed):
            action(ev.conn)

    host.on_event(on_event)


def events_of(host: Host[Any]) -> list[tuple[int, str]]:
    """Record ``(t_us, event class name)`` for every event ``host`` sees."""
    seen: list[tuple[int, str]] = []
    host.on_event(lambda ev: seen.append((host.now, type(ev).__name__)))
    return seen


def netstat_at(ctx: Context, net: Network, run: Run, at: int) -> None:
    """Snapshot every host's sockets at ``at`` µs for the netstat view, unless the
    runner asked for another moment (``--netstat-at``): a scenario's own choice of
    the moment that shows its queues."""
    if ctx.netstat_at is not None:
        return

    def snap() -> None:
        run.netstat_time = at
        for name, host in net.hosts.items():
            snapshot = getattr(host.endpoint, "snapshot", None)
            if snapshot is not None:
                run.netstat[name] = snapshot(at)

    net.at(at, snap)


#: The request/reply/close script of the close scenarios (times in µs).
CONNECT_AT = 100_000
REQUEST_AT = 200_000
CLOSE_AT = 300_000
#: How long the server application takes to close after it has read end-of-file.
SERVER_CLOSE_DELAY = 1_000_000
REQUEST = b"ping"
REPLY = b"pong"


def ping_pong_then_close(net: Network, client: Host[Any], server: Host[Any], server_addr: str,
                         port: int = 80) -> list[Connection]:
    """The client connects at CONNECT_AT, sends REQUEST at REQUEST_AT (the server
    answers REPLY at once) and closes at CLOSE_AT; the server application closes its
    side SERVER_CLOSE_DELAY after it reads end-of-file.  Returns the client's
    connection (in a list, filled when it connects)."""
    listener = server.listen(port)
    accept_all(server, listener)
    conns: list[Connection] = []

    def serve(ev: Event) -> None:  # the server answers each request at once
        if isinstance(ev, Readable) and server.read(ev.conn) == REQUEST:
            server.send(ev.conn, REPLY)

    server.on_event(serve)
    client.on_event(lambda ev: client.read(ev.conn) if isinstance(ev, Readable) else None)
    on_peer_closed(server, lambda conn: net.after(SERVER_CLOSE_DELAY, server.close, conn))
    net.at(CONNECT_AT, lambda: conns.append(client.connect(server_addr, port)))
    net.at(REQUEST_AT, lambda: client.send(conns[0], REQUEST))
    net.at(CLOSE_AT, lambda: client.close(conns[0]))
    return conns
