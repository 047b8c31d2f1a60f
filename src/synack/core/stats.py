"""Counters: every drop by reason, and the events an operator asks about."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .errors import DropReason


@dataclass(slots=True)
class Stats:
    dropped: Counter[DropReason] = field(default_factory=Counter)
    segments_in: int = 0
    segments_out: int = 0
    active_opens: int = 0
    passive_opens: int = 0
    resets_sent: int = 0
    resets_received: int = 0
    retransmits: int = 0
    #: Losses detected by three duplicate ACKs (RFC 5681 §3.2).
    fast_retransmits: int = 0
    syn_retransmits: int = 0
    synack_retransmits: int = 0
    challenge_acks: int = 0
    #: Segments taken by header prediction, the fast path for in-order data and new
    #: ACKs (Linux counts these as TCPHPHits and TCPHPAcks).
    predicted: int = 0
    #: Segments held for reassembly (beyond RCV.NXT).
    out_of_order: int = 0
    syncookies_sent: int = 0
    syncookies_accepted: int = 0
    syncookies_failed: int = 0
    listen_overflows: int = 0
    listen_drops: int = 0
    #: SYN-queue entries given up before ``Config.synack_retries`` SYN-ACK
    #: retransmissions because the queue was more than half full (Linux's
    #: reqsk_timer_handler; Linux counts them only among its TCPTimeouts).  Each is
    #: in ``timeouts`` too.
    syn_queue_pruned: int = 0
    timeouts: int = 0
    #: Keep-alive probes sent.
    keepalive_probes: int = 0
    def drop(self, reason: DropReason) -> None:
        self.dropped[reason] += 1

    def as_dict(self) -> dict[str, int]:
        out = {name: getattr(self, name) for name in self.__slots__ if name != "dropped"}
        for reason, count in sorted(self.dropped.items(), key=lambda kv: kv[0].value):
            out[f"dropped.{reason.value}"] = count
        return out
