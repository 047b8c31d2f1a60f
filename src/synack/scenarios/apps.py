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
