"""Reno's window arithmetic (RFC 5681 §3.1; NewReno's recovery is RFC 6582, in the
connection): slow start, congestion avoidance with byte counting, halving on loss."""

from __future__ import annotations

from .base import INITIAL_SSTHRESH


class NewReno:
    __slots__ = ("cwnd", "mss", "ssthresh")

    def __init__(self, mss: int, cwnd: int) -> None:
        self.mss = mss
        self.cwnd = cwnd
        self.ssthresh = INITIAL_SSTHRESH

    def on_ack(self, acked: int, srtt: int | None, now: int) -> None:
        mss = self.mss
        if self.cwnd < self.ssthresh:
            self.cwnd += acked if acked < mss else mss            # eq. 2 (ABC, L = 1 SMSS)
        else:
            self.cwnd += max(1, mss * mss // self.cwnd)           # eq. 3

    def on_loss(self, flight: int, now: int) -> None:
        self.ssthresh = max(flight // 2, 2 * self.mss)            # eq. 4
        self.cwnd = self.ssthresh

    def on_rto(self, flight: int, first: bool, now: int) -> None:
        if first:
            self.ssthresh = max(flight // 2, 2 * self.mss)        # eq. 4, once per episode
        self.cwnd = self.mss                                       # LW = 1 segment
