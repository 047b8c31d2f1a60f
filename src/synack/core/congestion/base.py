"""The congestion controller's interface (RFC 5681 §3; cf. smoltcp's Controller,
aioquic's QuicCongestionControl, Linux's tcp_congestion_ops).

The connection owns loss *detection* and *recovery* (fast retransmit, NewReno's
partial ACKs, cwnd inflation while dup ACKs arrive: RFC 5681 §3.2, RFC 6582); the
controller decides how the window grows on ACKs and how far it falls on a loss or a
timeout.  Every method takes ``now`` (integer µs); none reads a clock.  Windows are
in octets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

#: ssthresh before the first loss: "arbitrarily high" (RFC 5681 §3.1).
INITIAL_SSTHRESH = 1 << 30


class CongestionControl(Protocol):
    """One connection's congestion window."""

    #: Congestion window (octets); the connection may inflate it during recovery.
    cwnd: int
    #: Slow-start threshold (octets).
    ssthresh: int

    def on_ack(self, acked: int, srtt: int | None, now: int) -> None:
        """``acked`` new octets were cumulatively acknowledged outside loss recovery
        (slow start below ssthresh, congestion avoidance above)."""

    def on_loss(self, flight: int, now: int) -> None:
        """Loss detected by duplicate ACKs (entering fast recovery, once per window
        of data): set ssthresh, and cwnd to it (RFC 5681 §3.2 step 2)."""

    def on_rto(self, flight: int, first: bool, now: int) -> None:
        """The retransmission timer expired; ``first`` for the first expiry of this
        episode (RFC 5681 eq. 4 lowers ssthresh only then).  cwnd becomes one
        segment (the loss window)."""


#: A controller factory: (send MSS, initial cwnd in octets) -> controller.
Factory = Callable[[int, int], CongestionControl]
