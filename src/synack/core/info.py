"""Read-only snapshots of sockets, for the netstat view (like ``ss -tan -o``)."""

from __future__ import annotations

from typing import NamedTuple


class SocketInfo(NamedTuple):
    """One row of the connection table.

    ``state`` uses ss's spellings for the queues view ("LISTEN", "SYN-RECV" for a
    half-open entry in a listener's SYN queue) and RFC names for connections.
    For a listener, ``recv_q`` is the accept queue's length and ``send_q`` its
    backlog, as ss shows them; ``syn_q`` is its SYN queue's length.
    """

    state: str
    local: str
    remote: str
    recv_q: int
    send_q: int
    timer: str | None = None          # "retrans", "timewait", "synack", "fin-wait-2"
    timer_deadline: int | None = None  # absolute, microseconds
    retries: int = 0
    syn_q: int = 0
