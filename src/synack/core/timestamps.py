"""TCP timestamps (RFC 7323): the TSval clock, TS.Recent, PAWS and RTTM, in one place.

- **TSval** is a 1 ms clock (Linux's) plus an offset per host pair, a keyed hash
  (§5.4, ``IsnSource.ts_offset``): :func:`tsval` is the one formula, used by
  connections and by listeners for their SYN-ACKs.
- **TS.Recent** is the TSval to echo in TSecr (§4.3); it is updated only from a
  segment that covers Last.ACK.sent (rule R3), so a delayed old segment cannot set it.
- **PAWS** (§5.3 R1): a segment whose TSval is older than TS.Recent is an old
  duplicate and is dropped (with an ACK); TS.Recent idle for 24 days is outdated
  (§5.5) and no longer protects.
- **RTTM** (§4): an ACK of new data that echoes one of our TSvals dates the segment
  it answers, retransmitted or not (no Karn ambiguity).

A connection whose configuration offers timestamps holds a :class:`Timestamps` of
its own (``ok`` says whether the option was negotiated); the others share
:data:`NO_TIMESTAMPS`, which nothing writes (every write is under ``ok``, or under
the configuration's offer).  A listener uses only :func:`tsval`.
"""

from __future__ import annotations

from typing import Final

from .config import SECOND
from .seq import HALF, MASK

#: RFC 7323 §5.5 / Linux TCP_PAWS_24DAYS: TS.Recent older than this is outdated.
PAWS_24DAYS: Final = 24 * 86400 * SECOND
#: What the option takes in every segment once negotiated: NOP, NOP, kind, length,
#: TSval, TSecr (RFC 7323 Appendix A's layout, as Linux sends it).
TIMESTAMPS_OPTION: Final = 12
#: An echo older than this (ms), or from the future, is no RTT sample.
MAX_ECHO_MS: Final = 60_000


def tsval(now: int, offset: int) -> int:
    """Our TSval at ``now`` (µs): a 1 ms clock, as Linux's, plus the pair's offset."""
    return (now // 1000 + offset) & MASK


class Timestamps:
    """One connection's timestamp state."""

    __slots__ = ("ack_tsecr", "offset", "ok", "recent", "recent_at")

    def __init__(self, offset: int = 0) -> None:
        #: Both SYNs carried the option: every segment carries it from now on (§3.2).
        self.ok = False
        #: TS.Recent: the TSval to echo, and PAWS's reference.
        self.recent = 0
        #: When TS.Recent was set (§5.5: outdated after 24 days).
        self.recent_at = 0
        #: What this host adds to its clock towards this peer (§5.4).
        self.offset = offset
        #: The TSecr of the ACK being processed (RTTM); 0: none.
        self.ack_tsecr = 0

    def negotiate(self, enabled: bool, peer: tuple[int, int] | None, now: int) -> None:
        """The peer's SYN (or SYN-ACK) carried ``peer`` (or no option): §3.2, the SYN's
        TSval initialises TS.Recent (§5.2)."""
        if enabled and peer is not None:
            self.ok = True
            self.recent = peer[0]
            self.recent_at = now

    def option(self, clock: int) -> tuple[int, int]:
        """(TSval, TSecr) for a segment sent at ``clock`` (§3.2: TSecr = TS.Recent, §4.3)."""
        return (clock // 1000 + self.offset) & MASK, self.recent

    def paws_rejects(self, val: int, now: int) -> bool:
        """R1: SEG.TSval < TS.Recent marks an old duplicate.  An outdated TS.Recent
        (24 days idle, §5.5) is replaced by this TSval instead."""
        if 0 < ((self.recent - val) & MASK) < HALF:
            if now - self.recent_at <= PAWS_24DAYS:
                return True
            self.recent, self.recent_at = val, now
        return False

    def update_recent(self, seq: int, val: int, last_ack_sent: int, now: int) -> None:
        """R3: SEG.SEQ =< Last.ACK.sent and SEG.TSval >= TS.Recent: echo it from now on."""
        if ((last_ack_sent - seq) & MASK) < HALF and ((val - self.recent) & MASK) < HALF:
            self.recent = val
            self.recent_at = now

    def echo_ms(self, now: int) -> int | None:
        """RTTM: the round trip (ms) that the TSecr of the ACK being processed
        measures, and forget it; None without a usable echo (none, 0 as Linux reads
        it, from the future, or older than :data:`MAX_ECHO_MS`)."""
        tsecr = self.ack_tsecr
        if not tsecr:
            return None
        self.ack_tsecr = 0
        delta = (now // 1000 + self.offset - tsecr) & MASK
        return delta if delta < MAX_ECHO_MS else None


#: The timestamps of every connection whose configuration does not offer them: never
#: negotiated, never written.
NO_TIMESTAMPS: Final = Timestamps()
