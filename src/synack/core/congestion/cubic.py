"""CUBIC (RFC 9438), Linux's default congestion control, in octets and µs.

W_cubic(t) = C·(t − K)³ + W_max (segments, t in seconds; §4.2), K = ∛((W_max −
cwnd_epoch)/C) (eq. 2), multiplicative decrease β = 0.7 with fast convergence
(§4.6, §4.7), and the Reno-friendly estimate W_est (§4.3).  Slow start is RFC 5681's
(HyStart++ is not implemented).  The curve is computed in floating point; that only
shapes the window, never time, and is deterministic.
"""

from __future__ import annotations

from typing import Final

from .base import INITIAL_SSTHRESH

#: RFC 9438 §5: C = 0.4, β_cubic = 0.7.
C: Final = 0.4
BETA: Final = 0.7
#: α_cubic = 3·(1 − β)/(1 + β) (§4.3).
ALPHA: Final = 3 * (1 - BETA) / (1 + BETA)


class Cubic:
    __slots__ = ("_epoch", "_k", "_w_est", "_w_max", "cwnd", "mss", "ssthresh")

    def __init__(self, mss: int, cwnd: int) -> None:
        self.mss = mss
        self.cwnd = cwnd
        self.ssthresh = INITIAL_SSTHRESH
        self._epoch: int | None = None  # start of the current congestion-avoidance epoch
        self._w_max = 0.0               # window (octets) before the last reduction
        self._k = 0.0                   # seconds from the epoch's start to W_max
        self._w_est = 0.0               # Reno-friendly window (octets)

    def w_cubic(self, t: float) -> float:
        """W_cubic(t) in octets, ``t`` seconds into the epoch (eq. 1)."""
        d = t - self._k
        return C * d * d * d * self.mss + self._w_max

    def on_ack(self, acked: int, srtt: int | None, now: int) -> None:
        mss = self.mss
        cwnd = self.cwnd
        if cwnd < self.ssthresh:
            self.cwnd = cwnd + (acked if acked < mss else mss)  # slow start (RFC 5681)
            return
        if self._epoch is None:
            self._epoch = now
            if self._w_max < cwnd:
                self._w_max, self._k = float(cwnd), 0.0  # no reduction to recover from
            else:
                self._k = ((self._w_max - cwnd) / (C * mss)) ** (1 / 3)
            self._w_est = float(cwnd)
        t = (now - self._epoch) / 1e6
        rtt = (srtt or 0) / 1e6
        # §4.3: the Reno-friendly estimate grows by α per window of ACKed data.
        self._w_est += ALPHA * mss * acked / cwnd
        w_now = self.w_cubic(t)
        if w_now < self._w_est:
            self.cwnd = max(cwnd, int(self._w_est))
            return
        # §4.4/4.5: aim for W_cubic one RTT ahead, within [cwnd, 1.5·cwnd].
        target = min(max(self.w_cubic(t + rtt), float(cwnd)), 1.5 * cwnd)
        self.cwnd = cwnd + max(int((target - cwnd) * acked / cwnd), 0)

    def _reduce(self) -> None:
        cwnd = self.cwnd
        # §4.7 fast convergence: a flow that lost below its previous W_max yields.
        self._w_max = cwnd * (1 + BETA) / 2 if cwnd < self._w_max else float(cwnd)
        self.ssthresh = max(int(cwnd * BETA), 2 * self.mss)  # §4.6 (Linux: of cwnd)
        self._epoch = None

    def on_loss(self, flight: int, now: int) -> None:
        self._reduce()
        self.cwnd = self.ssthresh

    def on_rto(self, flight: int, first: bool, now: int) -> None:
        if first:
            self._reduce()
        self._epoch = None
        self.cwnd = self.mss
