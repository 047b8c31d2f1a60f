"""The eleven states of RFC 9293 §3.3.2 and the table of legal transitions.

``TRANSITIONS`` is the single statement of which state may follow which: the
connection's ``_set_state`` checks every change against it, the docs draw the state
diagram from it, and a test checks that the suite exercises every edge.
"""

from __future__ import annotations

import enum
from typing import Final


class State(enum.Enum):
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"

    def __str__(self) -> str:
        return self.value

    @property
    def short(self) -> str:
        """The RFC name, with SYN-RECEIVED as "SYN-RCVD" (the seed's and ss's spelling)."""
        return "SYN-RCVD" if self is State.SYN_RECEIVED else self.value


# Members are singletons, so identity is a valid hash; it is computed in C, where
# Enum's own __hash__ (hash of the name) is a Python call on every set or dict
# lookup of a state on the per-segment path.
State.__hash__ = object.__hash__  # type: ignore[method-assign]

# The states as module names, for the per-segment paths (a global load, not an
# attribute of the Enum class on every test).
CLOSED: Final = State.CLOSED
LISTEN: Final = State.LISTEN
SYN_SENT: Final = State.SYN_SENT
SYN_RECEIVED: Final = State.SYN_RECEIVED
ESTABLISHED: Final = State.ESTABLISHED
FIN_WAIT_1: Final = State.FIN_WAIT_1
FIN_WAIT_2: Final = State.FIN_WAIT_2
CLOSE_WAIT: Final = State.CLOSE_WAIT
CLOSING: Final = State.CLOSING
LAST_ACK: Final = State.LAST_ACK
TIME_WAIT: Final = State.TIME_WAIT

#: States in which data (and our FIN) may be sent.
SENDING: Final = frozenset({ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK})
#: States in which received data is still delivered to the application.
RECEIVING: Final = frozenset({ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2})

S = State

#: Legal (from, to) edges, each with the RFC 9293 reason it exists.
TRANSITIONS: Final[dict[tuple[State, State], str]] = {
    (S.CLOSED, S.SYN_SENT): "active OPEN: send SYN (§3.10.1)",
    (S.LISTEN, S.SYN_RECEIVED): "SYN arrives at a listener: send SYN-ACK (§3.10.7.2)",
    (S.SYN_SENT, S.SYN_RECEIVED): "simultaneous open: SYN without ACK arrives (§3.10.7.3)",
    (S.SYN_SENT, S.ESTABLISHED): "SYN-ACK acknowledging our SYN arrives (§3.10.7.3)",
    (S.SYN_SENT, S.CLOSED): "CLOSE/ABORT, acceptable RST, or SYN retries exhausted",
    (S.SYN_RECEIVED, S.ESTABLISHED): "ACK of our SYN arrives (§3.10.7.4 fifth check)",
    (S.SYN_RECEIVED, S.FIN_WAIT_1): "CLOSE with nothing queued: send FIN (§3.10.4)",
    (S.SYN_RECEIVED, S.CLOSED): "RST, ABORT, or SYN-ACK retries exhausted",
    (S.ESTABLISHED, S.FIN_WAIT_1): "CLOSE: send FIN after queued data (§3.10.4)",
    (S.ESTABLISHED, S.CLOSE_WAIT): "FIN arrives (§3.10.7.4 eighth check)",
    (S.ESTABLISHED, S.CLOSED): "RST, ABORT, or retransmissions exhausted",
    (S.FIN_WAIT_1, S.FIN_WAIT_2): "our FIN is acknowledged",
    (S.FIN_WAIT_1, S.CLOSING): "simultaneous close: FIN arrives before the ACK of ours",
    (S.FIN_WAIT_1, S.TIME_WAIT): "FIN arrives acknowledging our FIN",
    (S.FIN_WAIT_1, S.CLOSED): "RST, ABORT, or retransmissions exhausted",
    (S.FIN_WAIT_2, S.TIME_WAIT): "FIN arrives",
    (S.FIN_WAIT_2, S.CLOSED): "RST, ABORT, or the orphaned FIN-WAIT-2 timeout (Linux)",
    (S.CLOSE_WAIT, S.LAST_ACK): "CLOSE: send FIN (§3.10.4)",
    (S.CLOSE_WAIT, S.CLOSED): "RST, ABORT, or retransmissions exhausted",
    (S.CLOSING, S.TIME_WAIT): "our FIN is acknowledged",
    (S.CLOSING, S.CLOSED): "RST, ABORT, or retransmissions exhausted",
    (S.LAST_ACK, S.CLOSED): "our FIN is acknowledged (or RST, ABORT, retries exhausted)",
    (S.TIME_WAIT, S.CLOSED): "2MSL timer expires (or RST: TIME-WAIT assassination)",
}

#: TRANSITIONS as state -> the states that may follow it (one dict and set lookup).
LEGAL: Final = {a: frozenset(b for (x, b) in TRANSITIONS if x is a) for a in State}


def check_transition(old: State, new: State) -> None:
    """Raise unless ``old -> new`` is an edge of :data:`TRANSITIONS` (a bug otherwise)."""
    if new not in LEGAL[old]:
        raise AssertionError(f"illegal transition {old} -> {new}")


#: States in which the connection is synchronized (RFC 9293 §3.5.2 "group 3").
SYNCHRONIZED: Final = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT,
                                 S.CLOSING, S.LAST_ACK, S.TIME_WAIT})

#: States in which the peer has sent its FIN (we must not accept more data).
FIN_RECEIVED_STATES: Final = frozenset({S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT})

#: States in which we have sent (or queued) our FIN.
FIN_SENT_STATES: Final = frozenset({S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK,
                                    S.TIME_WAIT})
