"""What the core tells the application, as values (compare them with ``==``).

Every event names the connection (or listener) it is about.  Outcomes the peer
causes (a reset, a refusal, a time-out) are events here, never exceptions; the
streams API turns them into ``ConnectionResetError`` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Connection
    from .listener import Listener


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake completed: ESTABLISHED."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class Readable:
    """New in-order data is waiting in the receive buffer."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class Writable:
    """Room opened in a send buffer that had been full."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class Urgent:
    """The peer's urgent pointer arrived or advanced (RFC 9293 §3.8.5, MUST-32): urgent
    data lies ahead in the stream (``conn.urgent_pending`` octets, MUST-33)."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The peer's FIN arrived: no more data will come (end of file)."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class ConnectionRefused:
    """The connect was answered with RST (RFC 9293: "connection refused")."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class ConnectionReset:
    """The peer reset an established connection ("connection reset", MUST-12)."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class ConnectionTimedOut:
    """The peer stopped answering: retransmissions (SYN, SYN-ACK, data or FIN) ran
    out, the user timeout expired (RFC 5482), or keep-alive probes went unanswered."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection reached CLOSED and its TCB is deleted."""

    conn: Connection


@dataclass(frozen=True, slots=True)
class AcceptReady:
    """A completed connection waits in the listener's accept queue."""

    listener: Listener


Event = (Connected | Readable | Writable | Urgent | PeerClosed | ConnectionRefused | ConnectionReset
         | ConnectionTimedOut | Closed | AcceptReady)
