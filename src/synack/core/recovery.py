"""Loss recovery and the congestion window: RTT and RTO (RFC 6298, RTTM of RFC 7323
§4), duplicate ACKs, fast retransmit and fast recovery (RFC 5681 §3.2, NewReno's
RFC 6582), SACK-based recovery with a scoreboard (RFC 6675), and the congestion
controller (``congestion/``: CUBIC by default, NewReno).

:class:`Recovery` is the only writer of cwnd and ssthresh: the controller's own
methods change them for ACKs, losses and timeouts, and the recovery rules below
(NewReno's inflation and deflation, leaving recovery at ssthresh, one segment after
a lost handshake) are written here and nowhere else.

The SACK :class:`Scoreboard` (RFC 6675 §3-4) records which octets above SND.UNA the
peer has selectively acknowledged, which are deemed lost, the "pipe" estimate of
octets in flight, and NextSeg()'s choice of what to retransmit.  A connection holds
one only while SACK information exists (``None`` otherwise), so ACKs without SACK
blocks pay nothing.  Ranges are absolute sequence numbers; arithmetic is done as
offsets from SND.UNA (all within the window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .congestion import CongestionControl, NewReno
from .rtt import FALLBACK_RTO, rto_from, rtt_update
from .seq import HALF, MASK, MOD, seq_ge, seq_le, seq_sub

if TYPE_CHECKING:
    from .config import Config
    from .stats import Stats

#: Duplicate ACKs that signal a loss (RFC 5681 §3.2; RFC 6675 DupThresh; Linux
#: TCP_FASTRETRANS_THRESH).
DUPTHRESH: Final = 3
#: The controller of a connection not yet synchronized (never updated).
_NO_CC: Final = NewReno(536, 536)


class Scoreboard:
    __slots__ = ("_blocks", "high_rxt", "rxt_at")

    def __init__(self, una: int) -> None:
        #: SACKed ranges (left, right), merged and in sequence order, all above SND.UNA.
        self._blocks: list[tuple[int, int]] = []
        #: HighRxt: one past the highest octet retransmitted in this recovery.
        self.high_rxt = una
        #: When the latest retransmission left, until an ACK covers HighRxt (None:
        #: no retransmission waits for its ACK).
        self.rxt_at: int | None = None

    @property
    def blocks(self) -> list[tuple[int, int]]:
        return list(self._blocks)

    def __len__(self) -> int:
        return len(self._blocks)

    def update(self, una: int, snd_max: int, sack_blocks: tuple[tuple[int, int], ...]) -> bool:
        """Merge the SACK blocks of one ACK (RFC 2018 §5); blocks that are not within
        (SND.UNA, SND.MAX] are ignored (D-SACKs, forgeries).  True if any octet is
        newly SACKed."""
        top = seq_sub(snd_max, una)
        offs = [(seq_sub(a, una), seq_sub(b, una)) for a, b in self._blocks]
        before = sum(b - a for a, b in offs)
        for left, right in sack_blocks:
            a, b = seq_sub(left, una), seq_sub(right, una)
            if b <= 0 or b > top or a >= b:
                continue
            if a < 0:
                a = 0
            merged: list[tuple[int, int]] = []
            placed = False
            for x, y in offs:
                if y < a:
                    merged.append((x, y))
                elif x > b:
                    if not placed:
                        merged.append((a, b))
                        placed = True
                    merged.append((x, y))
                else:
                    a, b = min(a, x), max(b, y)
            if not placed:
                merged.append((a, b))
            offs = merged
        self._blocks = [((una + a) & MASK, (una + b) & MASK) for a, b in offs]
        return sum(b - a for a, b in offs) > before

    def advance(self, una: int) -> None:
        """SND.UNA moved to ``una``: forget what it covers."""
        out = []
        for a, b in self._blocks:
            if seq_sub(b, una) <= 0:
                continue
            out.append((una, b) if seq_sub(a, una) < 0 else (a, b))
        self._blocks = out
        if seq_sub(self.high_rxt, una) < 0:
            self.high_rxt = una

    def _holes(self, una: int, snd_max: int, mss: int) -> list[tuple[int, int, bool]]:
        """Unsacked ranges [a, b) as offsets from ``una``, each with IsLost (§4:
        DupThresh SACKed blocks above it, or more than (DupThresh − 1)·SMSS SACKed
        octets above it)."""
        offs = [(seq_sub(a, una), seq_sub(b, una)) for a, b in self._blocks]
        holes: list[tuple[int, int, bool]] = []
        sacked_above = sum(b - a for a, b in offs)
        pos = 0
        for i, (a, b) in enumerate(offs):
            if a > pos:
                lost = len(offs) - i >= DUPTHRESH or sacked_above > (DUPTHRESH - 1) * mss
                holes.append((pos, a, lost))
            sacked_above -= b - a
            pos = b
        top = seq_sub(snd_max, una)
        if top > pos:
            holes.append((pos, top, False))  # nothing SACKed above: not lost
        return holes

    def is_lost(self, una: int, snd_max: int, mss: int) -> bool:
        """IsLost(SND.UNA): the first unacknowledged segment is deemed lost."""
        holes = self._holes(una, snd_max, mss)
        return bool(holes) and holes[0][0] == 0 and holes[0][2]

    def pipe(self, una: int, snd_max: int, mss: int) -> int:
        """SetPipe() (§4): octets not SACKed and not lost, plus those retransmitted."""
        rx = seq_sub(self.high_rxt, una)
        pipe = 0
        for a, b, lost in self._holes(una, snd_max, mss):
            if not lost:
                pipe += b - a
            if rx > a:
                pipe += min(b, rx) - a
        return pipe

    def next_seg(self, una: int, snd_max: int, mss: int) -> tuple[int, int] | None:
        """NextSeg() (§4) rule 1: the first octet above HighRxt that is not SACKed
        and is lost, and how many to send.  (``SendSpace.resend_lost`` follows it;
        rule 2, new data, is ``SendSpace.send``'s.)

        Rules 3 and 4 are left out, as Linux has neither (its scoreboard resends
        only what it has marked lost).  Rule 3 resends a hole that is *not* deemed
        lost when no new data can go; a hole with fewer than DupThresh segments
        SACKed above it is as likely a segment overtaken by those behind it, so
        under reordering every such retransmission is spurious.  Rule 4's rescue
        resends the last unSACKed segment on the same guess.  A lost tail is found
        by the partial ACK of a retransmission (:meth:`Recovery.on_new_ack`) or by
        the RTO."""
        rx = seq_sub(self.high_rxt, una)
        for a, b, lost in self._holes(una, snd_max, mss):
            if b <= rx:
                continue
            if lost:
                start = max(a, rx)
                return (una + start) & MASK, min(mss, b - start)
        return None


class Recovery:
    """One connection's RTT estimate, RTO, loss recovery and congestion window."""

    __slots__ = ("_config", "_stats", "cc", "dupacks", "in_recovery", "recover", "rexmit", "rto", "rtt_seq",
                 "rtt_time", "rttvar", "sb", "srtt")

    def __init__(self, config: Config, stats: Stats) -> None:
        self._config = config
        self._stats = stats
        #: The controller, made once the send MSS is known (:meth:`start`); until then
        #: a shared placeholder that nothing before synchronisation touches.
        self.cc: CongestionControl = _NO_CC
        self.rto = config.initial_rto
        self.srtt: int | None = None
        self.rttvar = 0
        #: The segment being timed (Karn: never a retransmitted one): the sequence
        #: number its ACK must reach, and when it left.
        self.rtt_seq: int | None = None
        self.rtt_time = 0
        self.dupacks = 0
        #: In fast recovery (RFC 5681 §3.2 / RFC 6582).
        self.in_recovery = False
        #: RFC 6582 "recover" (RFC 6675 RecoveryPoint), until SND.UNA passes it.
        self.recover: int | None = None
        #: Retransmit the segment at SND.UNA with the next output (fast retransmit, a
        #: NewReno partial ACK, a lost tail).
        self.rexmit = False
        #: SACK scoreboard (RFC 6675), while SACK information exists.
        self.sb: Scoreboard | None = None

    # ------------------------------------------------------------------ the handshake
    def start(self, mss: int, handshake_retransmits: int) -> None:
        """The send MSS is known: the controller starts with the initial window (RFC
        6928's 10 segments, as Linux), one segment after a lost SYN or SYN-ACK (RFC
        5681 §3.1).  As Linux (tcp_init_transfer), only after more than one
        retransmission: with a 1 s initial RTO, one retransmission is as likely a
        slow path as a loss."""
        cfg = self._config
        self.cc = cfg.congestion_factory(mss, cfg.initial_window * mss)
        if handshake_retransmits > 1:
            self.cc.cwnd = mss

    def handshake_rtt(self, sample: int | None, retransmitted: bool) -> None:
        """The handshake's round trip, when it can be measured (the SYN-ACK's, as Linux's
        tcp_synack_rtt_meas); after a retransmitted SYN or SYN-ACK without one, RFC
        6298 5.7's 3 s fallback (MUST)."""
        if sample is not None:
            self._sample(sample)
        elif retransmitted and self.srtt is None:
            self.rto = max(self.rto, FALLBACK_RTO)

    def _sample(self, rtt: int, expected: int = 1) -> None:
        self.srtt, self.rttvar = rtt_update(self.srtt, self.rttvar, rtt, expected)
        self.rto = rto_from(self.srtt, self.rttvar, self._config.min_rto, self._config.max_rto)

    def time_syn(self, end: int, now: int) -> None:
        """Our SYN (or SYN,ACK) leaves for the first time: time it."""
        self.rtt_seq, self.rtt_time = end, now

    # ------------------------------------------------------------------ ACKs
    def on_new_ack(self, una: int, ack: int, snd_max: int, data_acked: int, echo_ms: int | None, mss: int,
                   grow: bool, now: int) -> None:
        """SND.UNA moved from ``una`` to ``ack``, ``data_acked`` octets of data with it
        (``grow``: the ACK may grow cwnd, not the ACK of our SYN, RFC 5681 §3.1).

        RTTM (RFC 7323 §4) when the ACK echoes our TSval (``echo_ms``): a sample from
        every ACK of new data, weighted by Appendix G; else the timed segment's, once
        its ACK arrives (RFC 6298, Karn's rule)."""
        acked = (ack - una) & MASK
        if echo_ms is not None:
            expected = -(-((snd_max - una) & MASK) // (2 * mss)) or 1
            # at least 1 ms, as tcp_rtt_tsopt_us
            self.srtt, self.rttvar = rtt_update(self.srtt, self.rttvar, (echo_ms or 1) * 1000, expected)
            self.rto = rto_from(self.srtt, self.rttvar, self._config.min_rto, self._config.max_rto)
            self.rtt_seq = None
        elif self.rtt_seq is not None and ((ack - self.rtt_seq) & MASK) < HALF:
            self.srtt, self.rttvar = rtt_update(self.srtt, self.rttvar, now - self.rtt_time)
            self.rto = rto_from(self.srtt, self.rttvar, self._config.min_rto, self._config.max_rto)
            self.rtt_seq = None
        self.dupacks = 0
        sb = self.sb
        if sb is not None:
            sb.advance(ack)
            if not len(sb) and not self.in_recovery:
                self.sb = None
        cc = self.cc
        if self.in_recovery:
            if self.recover is None or seq_ge(ack, self.recover):
                # RFC 6582 step 3, full ACK: leave fast recovery with cwnd = ssthresh,
                # the second of its two options and what Linux does
                # (tcp_end_cwnd_reduction from tcp_complete_cwr / tcp_fastretrans_alert).
                # The first, min(ssthresh, max(FlightSize, SMSS) + SMSS), guards against
                # a burst but throws the reduced window away whenever the flight is small
                # at the full ACK (the receive window held the sender back during
                # recovery, or the last hole was the tail): cwnd falls to two segments
                # and slow start has to win back what the loss had already halved once.
                self.in_recovery = False
                self.recover = None
                cc.cwnd = cc.ssthresh
                if sb is not None and not len(sb):
                    self.sb = None
            elif sb is not None:
                # RFC 6675: the scoreboard decides what to resend.  The first ACK to
                # cover all retransmitted data may also show a loss NextSeg cannot see,
                # the segment now at SND.UNA with nothing SACKed above it (a lost tail):
                # if the retransmission got there, that segment, sent before it, should
                # have too (RACK's reasoning, RFC 8985 §6.2 with no reordering window in
                # recovery, as Linux).  But the ACK may be the original's, held up by
                # reordering: then the segments behind it are merely in flight, and
                # resending at every partial ACK would resend the rest of the window.
                # An ACK back sooner than half an SRTT after the retransmission cannot
                # be for it (RFC 8985 and Linux tcp_rack_advance use min RTT, Linux
                # tcp_packet_delayed the timestamp echo; SRTT / 2 is our stand-in for
                # the first).  Later partial ACKs tell nothing new.
                rxt_at = sb.rxt_at
                if rxt_at is not None and seq_le(sb.high_rxt, ack):
                    sb.rxt_at = None
                    if now - rxt_at >= (self.srtt or 0) >> 1:
                        self.rexmit = True
            else:
                # Partial ACK: the next hole is lost too; resend it at once and
                # deflate by what was ACKed (adding one segment back when ≥ SMSS).
                self.rexmit = True
                cc.cwnd = max(cc.cwnd - acked + (mss if acked >= mss else 0), mss)
        elif data_acked > 0 and grow:
            # RFC 5681 §3.1: data (and FIN) grows cwnd -- only while cwnd is what limits
            # the sender (RFC 9438 §4.6 MUST, RFC 7661; Linux tcp_is_cwnd_limited: in
            # slow start, flight above half of cwnd; after it, flight within a segment
            # of cwnd).  A flow held back by the receive window or the application
            # would otherwise grow a cwnd it never uses.
            flight = (snd_max - ack) & MASK  # (seq_sub, inlined: per ACK)
            if flight >= HALF:
                flight -= MOD
            flight += acked
            if (2 * flight > cc.cwnd) if cc.cwnd < cc.ssthresh else (flight + mss > cc.cwnd):
                cc.on_ack(data_acked, self.srtt, now)
            if self.recover is not None and seq_ge(ack, self.recover):
                self.recover = None  # past the data of the last RTO

    def sack(self, una: int, snd_max: int, blocks: tuple[tuple[int, int], ...]) -> bool:
        """An ACK's SACK blocks (RFC 2018 §5) onto the scoreboard; True when they SACK
        an octet not SACKed before."""
        sb = self.sb
        if sb is None:
            sb = self.sb = Scoreboard(una)
        return sb.update(una, snd_max, blocks)

    def on_dup_ack(self, una: int, snd_max: int, mss: int, now: int) -> None:
        """A duplicate ACK (RFC 5681 §2): fast retransmit and fast recovery (§3.2 with
        RFC 6582)."""
        self.dupacks += 1
        cc = self.cc
        sb = self.sb
        if self.in_recovery:
            if sb is None:
                cc.cwnd += mss  # step 4: each further dup ACK inflates cwnd
        elif self.dupacks >= DUPTHRESH or (sb is not None and sb.is_lost(una, snd_max, mss)):
            if self.recover is not None:
                return  # RFC 6582 step 2: dup ACKs for data sent before the last recovery
            # Steps 2-3: ssthresh from the controller, retransmit SND.UNA's segment;
            # "recover" (RFC 6675 RecoveryPoint) = the highest sequence number sent.
            # Without SACK, cwnd = ssthresh + 3·SMSS and inflates (RFC 5681); with a
            # scoreboard, cwnd = ssthresh and the pipe decides (RFC 6675 §5 4.2).
            self.recover = snd_max
            cc.on_loss(seq_sub(snd_max, una), now)
            if sb is None:
                cc.cwnd = cc.ssthresh + DUPTHRESH * mss
            self.in_recovery = True
            self.rexmit = True
            self._stats.fast_retransmits += 1

    def congestion_window(self, snd_nxt: int, snd_max: int, mss: int) -> int:
        """What cwnd lets the send space put in flight: cwnd, plus limited transmit's
        one segment per duplicate ACK below DupThresh for new data (RFC 3042)."""
        cwnd = self.cc.cwnd
        d = self.dupacks
        if 0 < d < DUPTHRESH and not self.in_recovery and snd_nxt == snd_max:
            cwnd += d * mss
        return cwnd

    def resent(self, now: int) -> None:
        """Octets already sent left again: no RTT sample across them (Karn), and the
        scoreboard notes when, for the partial ACK that may answer them."""
        self.rtt_seq = None
        if self.sb is not None:
            self.sb.rxt_at = now

    def retransmitted(self, seq: int, sent: int) -> None:
        """``sent`` octets from ``seq`` were resent (fast retransmit, SACK recovery):
        HighRxt (RFC 6675) moves past them."""
        if self.sb is not None:
            self.sb.high_rxt = (seq + sent) & MASK

    # ------------------------------------------------------------------ timeouts
    def on_timeout(self, flight: int, first: bool, snd_max: int, now: int) -> None:
        """The retransmission timer expired with data in flight: RFC 5681 eq. 4 once per
        loss episode, then one segment (LW); RFC 6582 step 4: leave fast recovery and
        remember the highest sent; the scoreboard restarts (go-back-N resends all)."""
        self.cc.on_rto(flight, first, now)
        self.in_recovery = False
        self.dupacks = 0
        self.recover = snd_max
        self.rexmit = False
        self.sb = None

    def back_off(self) -> None:
        """RFC 6298 5.5: the RTO doubles (up to ``max_rto``); Karn: no sample from what
        is resent."""
        self.rto = min(self.rto * 2, self._config.max_rto)
        self.rtt_seq = None
