"""Every segment that answers rather than carries: resets, ACKs, challenge ACKs,
window updates and SYN-ACKs, and the limits on how often an unacceptable segment is
answered.

- :func:`reset_for` is the RST answering a segment that belongs to no connection or
  acknowledges something never sent (RFC 9293 §3.5.2, §3.10.7.1).
- :func:`syn_options` are the options of our SYN, or of the SYN,ACK answering a
  peer's SYN (from a listener, or in a simultaneous open): what the peer offered and
  we support (§3.7.1, RFC 7323 §1.3 and §3.2, RFC 2018 §2).
- :class:`Replies` is a connection's side of it (part of
  :class:`~synack.core.connection.Connection`): it builds every segment the
  connection sends but its SYN (data, ACKs, the active reset, window updates,
  probes: ACK = RCV.NXT, the advertised window, SACK blocks, timestamps and the
  urgent pointer, each asked of the part that owns it), answers unacceptable
  segments with an ACK or a challenge ACK, and resets.
- :class:`ReplyLimits` decides whether an unacceptable segment gets its ACK: the
  RFC 5961 §7 challenge-ACK throttle and Linux's ``tcp_invalid_ratelimit``.
- :func:`half_open_ack` is a listener's ACK for a SYN-queue entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .config import SECOND, Config
from .errors import DropReason
from .seq import HALF, MASK
from .state import State
from .tcb import Tcb
from .timestamps import tsval
from .trace import Outcome, dropped
from .wire import ACK, FIN, NO_OPTIONS, RST, SYN, URG, Options, Segment

if TYPE_CHECKING:
    from .stats import Stats

#: ``tuple.__new__``: a Segment without the NamedTuple's Python-level ``__new__`` (per segment).
_new = tuple.__new__
#: SACK blocks per segment: 4 fit the 40 option octets (RFC 2018 §3; 3 beside timestamps).
MAX_SACK_BLOCKS: Final = 4


def reset_for(seg: Segment) -> Segment:
    """The RST answering ``seg`` (§3.5.2 groups 1 and 2, §3.10.7.1): <SEQ=SEG.ACK><CTL=RST>
    if it carries an ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    if seg.flags & ACK:
        return Segment(seg.dst_port, seg.src_port, seg.ack, 0, RST, 0)
    return Segment(seg.dst_port, seg.src_port, 0, (seg.seq + seg.seg_len) & MASK, RST | ACK, 0)


def syn_options(config: Config, peer: Options | None, tsval: int, ts_recent: int = 0, *,
                mss: int | None = None, negotiable: bool = True) -> Options:
    """Our SYN's options (``peer`` None): MSS (MAY-3: on every SYN), window scale,
    SACK-permitted, timestamps as configured.  A SYN,ACK's: each only if the peer's SYN
    offered it; TSecr echoes ``ts_recent`` (its TSval).  ``negotiable`` False: a SYN
    cookie without timestamps, which cannot remember window scaling or SACK (as Linux);
    ``mss``: the MSS to offer (``Config.mss_for`` the peer; ``Config.mss`` if not given)."""
    if mss is None:
        mss = config.mss
    if peer is None:
        return Options(mss=mss, wscale=config.wscale, sack_permitted=config.sack,
                       timestamps=(tsval, 0) if config.timestamps else None)
    return Options(mss=mss,
                   wscale=config.wscale if negotiable and peer.wscale is not None else None,
                   sack_permitted=negotiable and peer.sack_permitted and config.sack,
                   timestamps=(tsval, ts_recent)
                   if negotiable and peer.timestamps is not None and config.timestamps else None)


def half_open_ack(port: int, remote_port: int, iss: int, irs: int, config: Config, peer: Options,
                  offset: int, now: int) -> Segment:
    """A listener's <SEQ=ISS+1><ACK=IRS+1><CTL=ACK> for a SYN-queue entry, answering an
    unacceptable segment (§3.10.7.4 first check): the window scaled as the connection's
    will be, timestamps when negotiated (RFC 7323 §3.2)."""
    shift = config.wscale if config.wscale is not None and peer.wscale is not None else 0
    opts = NO_OPTIONS
    if peer.timestamps is not None and config.timestamps:
        opts = Options(timestamps=(tsval(now, offset), peer.timestamps[0]))
    return Segment(port, remote_port, (iss + 1) & MASK, (irs + 1) & MASK, ACK,
                   min(config.rcv_buf, 0xFFFF) >> shift, opts)


def occupies_sequence_space(flags: int, payload: bytes) -> bool:
    """Data or a FIN (and no SYN): a segment whose ACK the sender waits for."""
    return bool(payload or flags & FIN) and not flags & SYN


def oow_rate_allows(last: int | None, now: int, config: Config) -> bool:
    """May an answer to an unacceptable or repeated segment go, the last one having
    gone at ``last``?  At most one per ``Config.oow_ack_interval`` (Linux's
    tcp_invalid_ratelimit, in __tcp_oow_rate_limited)."""
    return last is None or now - last >= config.oow_ack_interval


class ReplyLimits:
    """How often one connection answers unacceptable segments."""

    __slots__ = ("_chal_count", "_chal_start", "_config", "_last_oow", "_stats")

    def __init__(self, config: Config, stats: Stats) -> None:
        self._config = config
        self._stats = stats
        self._chal_start = 0
        self._chal_count = 0
        self._last_oow: int | None = None

    def challenge(self, now: int, reason: DropReason) -> DropReason | None:
        """RFC 5961 §3.2/§4: a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> answers
        ``reason``, at most ``Config.challenge_ack_limit`` per second (§7).  Counts the
        drop; returns the reason when the ACK may go, None when the throttle holds it
        back (counted as CHALLENGE_ACK_LIMIT)."""
        limit = self._config.challenge_ack_limit
        if limit is not None:
            if now - self._chal_start >= SECOND:
                self._chal_start, self._chal_count = now, 0
            if self._chal_count >= limit:
                self._stats.drop(DropReason.CHALLENGE_ACK_LIMIT)
                return None
            self._chal_count += 1
        self._stats.challenge_acks += 1
        self._stats.drop(reason)
        return reason

    def out_of_window(self, now: int, occupies: bool) -> bool:
        """May the ACK answering an unacceptable segment (§3.10.7.4) go?  At most one per
        ``Config.oow_ack_interval`` (Linux tcp_invalid_ratelimit), so that two ends that
        disagree about the sequence space cannot ACK each other in a loop; but a segment
        that ``occupies`` sequence space (data or a FIN, no SYN) is always answered, as
        Linux's tcp_oow_rate_limited: it is most likely a retransmission whose ACK was
        lost, and its sender waits for this one.  A held-back ACK is counted."""
        if occupies:
            return True
        if not oow_rate_allows(self._last_oow, now, self._config):
            self._stats.drop(DropReason.OOW_ACK_LIMIT)
            return False
        self._last_oow = now
        return True


class Replies(Tcb):
    """What a connection sends that is not its SYN, and its answers."""

    __slots__ = ()

    def _segment(self, seq: int, flags: int, payload: bytes = b"") -> Segment:
        """Our segment from ``seq``: ACK = RCV.NXT and the window the receive space
        advertises, its SACK blocks when it has some to report (RFC 2018 §4, D-SACK
        first), timestamps once negotiated (RFC 7323 §3.2), URG and the pointer in
        urgent mode (MUST-62).  An ACK on it is the pending ACK (no delayed ACK left)."""
        ts = self.ts
        rcv = self.rcv
        field = rcv.advertise(flags & ACK)
        opts = NO_OPTIONS
        if flags & ACK and rcv.sack_ok and (rcv.ooo is not None or rcv.dsack is not None):
            # As many blocks as the option space holds (4; 3 beside timestamps, RFC 2018
            # §3) and the segment has room for: a full-sized one has none (the effective
            # MSS leaves none, §3.7.1), and its blocks wait for the next.  A block takes
            # 8 octets, the option's head 4 (NOP, NOP, kind, length).
            room = (self.snd.mss - len(payload) - 4) >> 3
            if room > 0:
                limit = MAX_SACK_BLOCKS - 1 if ts.ok else MAX_SACK_BLOCKS
                opts = _new(Options, (None, None, False, None,  # Options(sack_blocks=...), faster
                                      rcv.sack_blocks(room if room < limit else limit)))
        if ts.ok:
            opts = opts._replace(timestamps=ts.option(self._clock))
        urg = 0
        up = self.snd.up
        if up is not None and 0 < ((up - seq) & MASK) < HALF and not flags & RST:
            # Urgent mode: the pointer, as an offset from SEG.SEQ, to the octet after
            # the urgent data (MUST-62); beyond 64 KiB, the furthest it can say.
            flags |= URG
            urg = min((up - seq) & MASK, 0xFFFF)
        return _new(Segment, (self.local_port, self.remote_port, seq, rcv.nxt if flags & ACK else 0, flags,
                              field, opts, payload, urg))

    def _send_now(self, seg: Segment) -> None:
        """``seg`` goes with the next output, before anything else."""
        ctl = self._ctl
        if ctl is None:
            self._ctl = [seg]
        else:
            ctl.append(seg)

    def _send_reset(self, now: int) -> None:
        """The active reset (ABORT, a close with unread data, keep-alive giving up):
        Linux's RST,ACK at SND.NXT (RFC 9293 §3.10.5 shows a bare RST), and CLOSED.
        Its TSval is the clock's now: a user call may come after a long idle time."""
        self._clock = now
        self._send_now(self._segment(self.snd.nxt, RST | ACK))
        self._stats.resets_sent += 1
        self._set_state(State.CLOSED, now)

    @property
    def limits(self) -> ReplyLimits:
        """How often this connection answers unacceptable segments (made when first needed)."""
        limits = self._limits
        if limits is None:
            limits = self._limits = ReplyLimits(self.config, self._stats)
        return limits

    def _answer_unacceptable(self, seg: Segment, now: int) -> DropReason | None:
        """The ACK answering an unacceptable segment (§3.10.7.4), unless ``limits`` hold
        it back (then the reason: OOW_ACK_LIMIT)."""
        if self.limits.out_of_window(now, occupies_sequence_space(seg.flags, seg.payload)):
            self.rcv.ack_now = True
            return None
        return DropReason.OOW_ACK_LIMIT

    def _challenge(self, now: int, reason: DropReason) -> Outcome:
        """A challenge ACK (RFC 5961 §3.2, §4) for what ``reason`` says, if the
        throttle (§7) lets it go; the segment is dropped either way."""
        allowed = self.limits.challenge(now, reason)
        if allowed is None:
            return dropped(DropReason.CHALLENGE_ACK_LIMIT)
        self.rcv.ack_now = True
        return dropped(allowed)
