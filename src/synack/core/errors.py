"""Drop reasons, the exception for malformed input, and local-misuse errors.

Three tiers (shared/DESIGN.md): malformed bytes raise :class:`MalformedSegment`
inside the wire parser and are caught once by the endpoint, which counts the
:class:`DropReason`; well-formed but unacceptable segments follow the RFC and are
counted under a :class:`DropReason` too, never raised; only local API misuse raises
a :class:`UsageError`.
"""

from __future__ import annotations

import enum


class DropReason(enum.Enum):
    """Why a received segment (or part of it) was not processed."""

    # -- malformed: the bytes themselves are wrong ---------------------------------
    TRUNCATED = "truncated"
    BAD_IP_HEADER = "bad-ip-header"
    BAD_IP_CHECKSUM = "bad-ip-checksum"
    NOT_TCP = "not-tcp"
    BAD_DATA_OFFSET = "bad-data-offset"
    BAD_OPTION = "bad-option"
    BAD_CHECKSUM = "bad-checksum"
    BAD_PORT = "bad-port"
    BAD_FLAGS = "bad-flags"
    BAD_ADDRESS = "bad-address"
    #: To an address this endpoint does not own (nor can: broadcast, multicast,
    #: unspecified): not ours to answer (RFC 1122 §4.2.3.10, RFC 9293 MUST-57).
    NOT_OUR_ADDRESS = "not-our-address"
    # -- well formed, but unacceptable (RFC 9293 §3.10.7) -------------------------
    NO_CONNECTION = "no-connection"
    LISTEN_RST = "rst-to-listener"
    LISTEN_ACK = "ack-to-listener"
    LISTEN_NO_SYN = "no-syn-to-listener"
    SYN_QUEUE_FULL = "syn-queue-full"
    ACCEPT_QUEUE_FULL = "accept-queue-full"
    BAD_COOKIE = "bad-syn-cookie"
    SYN_DATA = "data-on-syn"
    SYN_SENT_BAD_ACK = "syn-sent-bad-ack"
    SYN_SENT_NO_SYN = "syn-sent-no-syn"
    OUT_OF_WINDOW = "out-of-window"
    PAWS = "paws"
    RST_OUT_OF_WINDOW = "rst-out-of-window"
    RST_CHALLENGED = "rst-challenged"
    RST_IN_TIME_WAIT = "rst-in-time-wait"
    SYN_CHALLENGED = "syn-challenged"
    CHALLENGE_ACK_LIMIT = "challenge-ack-limit"
    OOW_ACK_LIMIT = "out-of-window-ack-limit"
    HALF_OPEN_SYN = "syn-in-half-open-window"
    NO_ACK_FLAG = "no-ack-flag"
    BAD_ACK = "unacceptable-ack"
    ACK_OF_UNSENT = "ack-of-unsent-data"
    OOO_BUDGET = "out-of-order-budget"
    DATA_AFTER_FIN = "data-after-fin"
    DATA_AFTER_CLOSE = "data-after-close"
    RCV_BUFFER_FULL = "receive-buffer-full"


class MalformedSegment(Exception):
    """Raised by the wire parser; always caught at the endpoint boundary."""

    def __init__(self, reason: DropReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class UsageError(Exception):
    """Local misuse of the API (the application's mistake, never the peer's)."""


class ConnectionExists(UsageError):
    """OPEN on a connection that already exists (RFC 9293 §3.10.1)."""


class ConnectionClosing(UsageError):
    """SEND or RECEIVE after the connection was closed by this side (§3.10.2-3)."""


class ConnectionDoesNotExist(UsageError):
    """A call on a connection that has been deleted (CLOSED)."""


class AddressInUse(UsageError):
    """``listen`` or ``connect`` on a port or 4-tuple that is taken."""


class InvalidAddress(UsageError):
    """An active OPEN to an address that can never be a peer (MUST-46)."""
