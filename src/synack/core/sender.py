"""The send side of a connection: sending data as the windows, Nagle and SWS
avoidance allow; retransmission; cumulative and duplicate ACKs with fast retransmit
and fast recovery (RFC 5681 §3.2, RFC 6582, RFC 6675 with the SACK
:class:`Scoreboard`); keep-alive probes; the congestion trace.  (The gvisor
snd.go / rcv.go split: :mod:`connection` holds the TCB and the RFC 9293 §3.10 order,
these functions the sender's work on it.)

The SACK scoreboard (RFC 6675 §3-4) records which octets above SND.UNA the peer has
selectively acknowledged, which are deemed lost, the "pipe" estimate of octets in
flight, and NextSeg()'s choice of what to retransmit.  A connection holds a
:class:`Scoreboard` only while SACK information exists (``None`` otherwise), so ACKs
without SACK blocks pay nothing.  Ranges are absolute sequence numbers; arithmetic
is done as offsets from SND.UNA (all within the window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .events import ConnectionTimedOut, Writable
from .rtt import rto_from, rtt_update
from .seq import HALF, MASK, MOD, seq_ge, seq_gt, seq_le, seq_lt, seq_sub
from .state import State
from .timers import Timer
from .trace import CongestionRecord, TimerAction, endpoint_str
from .wire import ACK, FIN, PSH, Segment

if TYPE_CHECKING:
    from .connection import Connection

_SYN_SENT: Final = State.SYN_SENT
_SYN_RECEIVED: Final = State.SYN_RECEIVED
_CLOSED: Final = State.CLOSED
_TIME_WAIT: Final = State.TIME_WAIT

#: Duplicate ACKs that signal a loss (RFC 5681 §3.2; RFC 6675 DupThresh; Linux
#: TCP_FASTRETRANS_THRESH).
DUPTHRESH: Final = 3


#: ``tuple.__new__``: builds a Segment without its Python-level ``__new__`` (per segment).
_new = tuple.__new__

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
        and is lost, and how many to send.  (Rule 2, new data, is ``send_data``'s.)

        Rules 3 and 4 are left out, as Linux has neither (its scoreboard resends
        only what it has marked lost).  Rule 3 resends a hole that is *not* deemed
        lost when no new data can go; a hole with fewer than DupThresh segments
        SACKed above it is as likely a segment overtaken by those behind it, so
        under reordering every such retransmission is spurious.  Rule 4's rescue
        resends the last unSACKed segment on the same guess.  A lost tail is found
        by the partial ACK of a retransmission (``ack_advance``) or by the RTO."""
        rx = seq_sub(self.high_rxt, una)
        for a, b, lost in self._holes(una, snd_max, mss):
            if b <= rx:
                continue
            if lost:
                start = max(a, rx)
                return (una + start) & MASK, min(mss, b - start)
        return None


def retransmit(c: Connection, out: list[Segment], seq: int, limit: int, now: int) -> int:
    """Resend up to ``limit`` octets from ``seq`` (already sent once), whatever
    cwnd says; SND.NXT stays where it is.  Returns the sequence space resent."""
    buf = c._sndbuf
    off = seq_sub(seq, c._snd_data_seq)
    n = min(limit, len(buf) - off, seq_sub(c.snd_max, seq))
    if n < 0:
        n = 0
    flags = ACK
    if off + n >= len(buf):
        if n:
            flags |= PSH
        if c._fin_queued and seq_gt(c.snd_max, c._fin_seq):
            flags |= FIN
    if not n and not flags & FIN:
        return 0
    out.append(c._segment(seq, flags, bytes(buf[off:off + n])))
    c._stats.retransmits += 1
    sb = c._sb
    if sb is not None:
        sb.rxt_at = now  # for the partial ACK that may answer it (ack_advance)
    c._rtt_seq = None  # Karn: no sample across a retransmission
    c._ack_now = False
    if c._rto_deadline is None:
        c._arm_rto(now)
    return n + (1 if flags & FIN else 0)


def sack_recovery_send(c: Connection, out: list[Segment], now: int) -> int:
    """RFC 6675 §5 (C): while cwnd − pipe ≥ 1 SMSS, NextSeg(): lost holes first
    (rule 1), then new data (rule 2, by ``send_data``); no rule 3 or 4 (see
    :meth:`Scoreboard.next_seg`).  Returns pipe − (SND.NXT − SND.UNA), the flight
    correction ``send_data`` applies."""
    sb = c._sb
    assert sb is not None
    una, top, mss = c.snd_una, c.snd_max, c.snd_mss
    cwnd = c._cc.cwnd
    pipe = sb.pipe(una, top, mss)
    while cwnd - pipe >= mss:
        nxt = sb.next_seg(una, top, mss)
        if nxt is None:
            break
        seq, n = nxt
        sent = retransmit(c, out, seq, n, now)
        if not sent:
            break
        sb.high_rxt = (seq + sent) & MASK
        pipe += sent
    return pipe - seq_sub(c.snd_nxt, una)


def send_data(c: Connection, out: list[Segment], now: int, adjust: int = 0) -> None:
    """New data (and the FIN) as the windows, Nagle and SWS avoidance allow;
    ``adjust`` corrects SND.NXT − SND.UNA to RFC 6675's pipe in SACK recovery."""
    buf = c._sndbuf
    mss = c.snd_mss
    while True:
        snd_nxt = c.snd_nxt
        off = (snd_nxt - c._snd_data_seq) & MASK  # (seq_sub, inlined: per segment)
        if off >= HALF:
            off -= MOD
        avail = len(buf) - off
        fin_due = c._fin_queued and seq_le(snd_nxt, c._fin_seq)
        if avail <= 0 and not fin_due:
            return
        in_flight = ((snd_nxt - c.snd_una) & MASK) + adjust  # SND.NXT >= SND.UNA
        cwnd = c._cc.cwnd
        if 0 < c._dupacks < DUPTHRESH and not c._in_recovery and snd_nxt == c.snd_max:
            cwnd += c._dupacks * mss  # limited transmit (RFC 3042)
        room = (c.snd_una + c.snd_wnd - snd_nxt) & MASK  # may be < 0: a shrunk window
        if room >= HALF:
            room -= MOD
        if cwnd - in_flight < room:
            room = cwnd - in_flight
        n = min(avail, mss, room) if avail > 0 else 0
        if c._probe and avail > 0 and n <= 0:
            # Zero-window probe (§3.8.6.1, MUST-36), as Linux sends it (tcp_xmit_probe_skb):
            # <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK> without data.  The octet is old, so the
            # receiver must answer with an ACK carrying its current window; nothing is
            # ever sent beyond the window.  (RFC 9293 suggests one octet of new data; when
            # both ends probe at once, each accepting the other's octet while still
            # believing the other's window shut, their ACKs fall below each other's
            # RCV.NXT and both stall.  A probe without data changes no state.)
            c._probe = False
            up = c._snd_up
            if up is not None and 0 < ((up - c.snd_una) & MASK) <= 0xFFFF:
                # In urgent mode, first an acceptable bare ACK at SND.UNA: it carries URG
                # and the pointer through the zero window (MUST-66), as Linux's
                # tcp_write_wakeup sends it.
                out.append(c._segment(c.snd_una, ACK))
            out.append(c._segment((c.snd_una - 1) & MASK, ACK))
            if c._rto_deadline is None:
                c._arm_rto(now)
            c._ack_now = False
            return
        c._probe = False
        if n <= 0 and avail > 0:
            if c._rto_deadline is None:
                c._arm_rto(now)  # doubles as the persist timer while nothing flies
            return
        if 0 < n < mss and in_flight > 0 and snd_nxt == c.snd_max:
            if n < avail:
                # Sender SWS avoidance (§3.8.6.2.1): less than a full segment fits
                # the window or cwnd.  Wait for ACKs (data is in flight) unless at
                # least half the peer's largest window can go (Fs = 1/2).
                wnd_room = seq_sub((c.snd_una + c.snd_wnd) & MASK, snd_nxt)
                if n < c.max_snd_wnd >> 1 or n < wnd_room:
                    return
            elif not c._nodelay and not fin_due and c._snd_up is None and seq_gt(c._snd_sml, c.snd_una):
                # Nagle (§3.7.4, RFC 896) in Linux's form (Minshall's variant,
                # tcp_minshall_check): a small segment waits while an earlier
                # small segment is unacknowledged.
                return
        if n == mss and snd_nxt == c.snd_max and c._snd_up is None:
            # New full-sized segments: as many as the windows allow short of the
            # buffer's end (whose segment carries PSH, maybe FIN) leave in a batch,
            # sharing the ACK, window and options of the first.
            k = min(avail - 1, room) // mss
            if k > 1:
                view = memoryview(buf)
                first = c._segment(snd_nxt, ACK, bytes(view[off:off + mss]))
                out.append(first)
                sport, dport, _, ack, _, wnd, opts, _, _ = first
                seq = snd_nxt
                for _ in range(k - 1):
                    off += mss
                    seq = (seq + mss) & MASK
                    out.append(_new(Segment, (sport, dport, seq, ack, ACK, wnd, opts,
                                              bytes(view[off:off + mss]), 0)))
                view.release()
                if c._rtt_seq is None:
                    c._rtt_seq, c._rtt_time = (snd_nxt + mss) & MASK, now  # time the first
                c.snd_nxt = c.snd_max = (snd_nxt + k * mss) & MASK
                if c._rto_deadline is None:
                    c._arm_rto(now)
                c._ack_now = False
                continue
        flags = ACK
        last = off + n >= len(buf)
        if last and n > 0:
            flags |= PSH  # MUST-61: PSH when the send queue drains
        if last and fin_due:
            flags |= FIN
        payload = bytes(buf[off:off + n]) if n > 0 else b""
        if n < mss:
            c._snd_sml = (snd_nxt + n) & MASK
        out.append(c._segment(snd_nxt, flags, payload))
        end = (snd_nxt + n + (1 if flags & FIN else 0)) & MASK
        if snd_nxt != c.snd_max and seq_lt(snd_nxt, c.snd_max):
            c._stats.retransmits += 1
        elif c._rtt_seq is None:
            c._rtt_seq, c._rtt_time = end, now  # time one segment per flight
        c.snd_nxt = end
        if seq_gt(end, c.snd_max):
            c.snd_max = end
        if c._rto_deadline is None:
            c._arm_rto(now)
        c._ack_now = False  # the ACK rides on this segment
        if flags & FIN:
            return


def ack_advance(c: Connection, ack: int, now: int) -> None:
    """A new cumulative ACK: SND.UNA moves to ``ack`` (SND.UNA < ack <= SND.MAX)."""
    acked = (ack - c.snd_una) & MASK  # > 0: the caller checked SEG.ACK > SND.UNA
    data_acked = (ack - c._snd_data_seq) & MASK
    if data_acked >= HALF:
        data_acked -= MOD
    if data_acked > 0:
        buf = c._sndbuf
        n = min(data_acked, len(buf))
        del buf[:n]
        c._snd_data_seq = (c._snd_data_seq + n) & MASK
        # Writable once a third of the buffer is free, as Linux's sk_stream_write_space
        # (free >= queued / 2): a writer wakes to fill a useful gap, not per ACK.
        if c._want_writable and 3 * len(buf) <= 2 * c.config.snd_buf:
            c._want_writable = False
            c._events.append(Writable(c))
    una = c.snd_una
    c.snd_una = ack
    if 0 < ((ack - c.snd_nxt) & MASK) < HALF:  # SND.NXT < SEG.ACK (after go-back)
        c.snd_nxt = ack
    # RTTM (RFC 7323 §4): the echoed TSval dates the segment this ACK answers, even
    # a retransmitted one (no Karn ambiguity): a sample from every ACK of new data, at
    # the timestamp clock's 1 ms (at least 1 ms, as Linux's tcp_rtt_tsopt_us), weighted
    # by Appendix G.  A TSecr of 0 is no echo (Linux); one from the future or more
    # than a minute old is garbage.  Without a usable echo, the timed segment's sample.
    tsecr = c._ack_tsecr
    delta = 60_000  # no usable echo
    if tsecr:
        c._ack_tsecr = 0
        delta = (now // 1000 + c._ts_offset - tsecr) & MASK
    if delta < 60_000:
        expected = -(-((c.snd_max - una) & MASK) // (2 * c.snd_mss)) or 1
        c._srtt, c._rttvar = rtt_update(c._srtt, c._rttvar, (delta or 1) * 1000, expected)
        c._rto = rto_from(c._srtt, c._rttvar, c.config.min_rto, c.config.max_rto)
        c._rtt_seq = None
    elif c._rtt_seq is not None and ((ack - c._rtt_seq) & MASK) < HALF:
        c._srtt, c._rttvar = rtt_update(c._srtt, c._rttvar, now - c._rtt_time)
        c._rto = rto_from(c._srtt, c._rttvar, c.config.min_rto, c.config.max_rto)
        c._rtt_seq = None
    up = c._snd_up
    if up is not None and ((ack - up) & MASK) < HALF:  # SND.UNA >= SND.UP: urgent mode over
        c._snd_up = None
    c._retries = 0
    c._dupacks = 0
    c._persist_backoff = 0
    c._stalled_since = None
    sb = c._sb
    if sb is not None:
        sb.advance(ack)
        if not len(sb) and not c._in_recovery:
            c._sb = None
    if c._in_recovery:
        cc = c._cc
        mss = c.snd_mss
        if c._recover is None or seq_ge(ack, c._recover):
            # RFC 6582 step 3, full ACK: leave fast recovery with cwnd = ssthresh, the
            # second of its two options and what Linux does (tcp_end_cwnd_reduction
            # from tcp_complete_cwr / tcp_fastretrans_alert).  The first option,
            # min(ssthresh, max(FlightSize, SMSS) + SMSS), guards against a burst but
            # throws the reduced window away whenever the flight is small at the full
            # ACK (the receive window held the sender back during recovery, or the last
            # hole was the tail): cwnd falls to two segments and slow start has to win
            # back what the loss had already halved once.
            c._in_recovery = False
            c._recover = None
            cc.cwnd = cc.ssthresh
            if sb is not None and not len(sb):
                c._sb = None
        elif sb is not None:
            # RFC 6675: the scoreboard decides what to resend (segments_to_send).
            # The first ACK to cover all retransmitted data may also show a loss
            # NextSeg cannot see, the segment now at SND.UNA with nothing SACKed
            # above it (a lost tail): if the retransmission got there, that segment,
            # sent before it, should have too (RACK's reasoning, RFC 8985 §6.2 with
            # no reordering window in recovery, as Linux).  But the ACK may be the
            # original's, held up by reordering: then the segments behind it are
            # merely in flight, and resending at every partial ACK would resend the
            # rest of the window.  An ACK back sooner than half an SRTT after the
            # retransmission cannot be for it (RFC 8985 and Linux tcp_rack_advance
            # use min RTT, Linux tcp_packet_delayed the timestamp echo; SRTT / 2 is
            # our stand-in for the first).  Later partial ACKs tell nothing new.
            rxt_at = sb.rxt_at
            if rxt_at is not None and seq_le(sb.high_rxt, ack):
                sb.rxt_at = None
                if now - rxt_at >= (c._srtt or 0) >> 1:
                    c._rexmit = True
        else:
            # Partial ACK: the next hole is lost too; resend it at once and
            # deflate by what was ACKed (adding one segment back when ≥ SMSS).
            c._rexmit = True
            cc.cwnd = max(cc.cwnd - acked + (mss if acked >= mss else 0), mss)
    elif data_acked > 0 and c.state is not _SYN_SENT:
        # RFC 5681 §3.1: the ACK of a SYN never grows cwnd; data (and FIN) does --
        # and only while cwnd is what limits the sender (RFC 9438 §4.6 MUST, RFC 7661;
        # Linux tcp_is_cwnd_limited: in slow start, flight above half of cwnd; after
        # it, flight within a segment of cwnd).  A flow held back by the receive
        # window or the application would otherwise grow a cwnd it never uses.
        cc = c._cc
        flight = seq_sub(c.snd_max, ack) + acked
        if (2 * flight > cc.cwnd) if cc.cwnd < cc.ssthresh else (flight + c.snd_mss > cc.cwnd):
            cc.on_ack(data_acked, c._srtt, now)
        if c._recover is not None and seq_ge(ack, c._recover):
            c._recover = None  # past the data of the last RTO
    # RFC 6298 5.2/5.3: stop the timer when all is acknowledged, else restart it.
    c._rto_deadline = None if ack == c.snd_max else now + c._rto


def on_dup_ack(c: Connection, now: int) -> None:
    """Fast retransmit and fast recovery (RFC 5681 §3.2 with RFC 6582)."""
    c._dupacks += 1
    cc = c._cc
    sb = c._sb
    if c._in_recovery:
        if sb is None:
            cc.cwnd += c.snd_mss  # step 4: each further dup ACK inflates cwnd
    elif c._dupacks >= DUPTHRESH or (
            sb is not None and sb.is_lost(c.snd_una, c.snd_max, c.snd_mss)):
        if c._recover is not None:
            return  # RFC 6582 step 2: dup ACKs for data sent before the last recovery
        # Steps 2-3: ssthresh from the controller, retransmit SND.UNA's segment;
        # "recover" (RFC 6675 RecoveryPoint) = the highest sequence number sent.
        # Without SACK, cwnd = ssthresh + 3·SMSS and inflates (RFC 5681); with a
        # scoreboard, cwnd = ssthresh and the pipe decides (RFC 6675 §5 4.2).
        c._recover = c.snd_max
        cc.on_loss(seq_sub(c.snd_max, c.snd_una), now)
        if sb is None:
            cc.cwnd = cc.ssthresh + DUPTHRESH * c.snd_mss
        c._in_recovery = True
        c._rexmit = True
        c._stats.fast_retransmits += 1


def trace_cc(c: Connection, now: int) -> None:
    """A CongestionRecord when cwnd, ssthresh, SRTT, RTO or the flight changed."""
    if c.state is _SYN_SENT or c.state is _SYN_RECEIVED:
        return
    cc = c._cc
    cur = (cc.cwnd, cc.ssthresh, c._srtt or 0, c._rto, seq_sub(c.snd_nxt, c.snd_una))
    if cur != c._cc_last:
        c._cc_last = cur
        assert c._tracer is not None
        c._tracer(CongestionRecord(now, c._host, endpoint_str(c.local_addr, c.local_port),
                                      endpoint_str(c.remote_addr, c.remote_port), cur[0], cur[1],
                                      c._srtt, cur[3], cur[4]))


def on_keepalive_timer(c: Connection, now: int) -> None:
    """Keep-alive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6; Linux tcp_keepalive_timer):
    after keepalive_time without a segment from the peer, probe every
    keepalive_intvl with <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK> and no data (the
    peer must answer with an ACK, or a RST if it lost the connection); after
    keepalive_probes unanswered probes (or the user timeout), reset and report."""
    cfg = c.config
    c._ka_deadline = None
    st = c.state
    if not c._ka_on or st is _CLOSED or st is _TIME_WAIT or st is _SYN_SENT or st is _SYN_RECEIVED:
        return
    if c._ka_probes and c._last_heard > c._ka_sent:
        c._ka_probes = 0  # the peer answered
    if not c._ka_probes and now - c._last_heard < cfg.keepalive_time:
        c._arm_keepalive(c._last_heard)
        return
    if c.snd_una != c.snd_max or c._sndbuf:
        # Data in flight or queued: the retransmission timer watches the peer.
        c._ka_probes = 0
        c._arm_keepalive(now)
        return
    ut = c._user_timeout
    if c._ka_probes >= cfg.keepalive_probes or (
            ut is not None and c._ka_probes and now - c._last_heard >= ut):
        c._timer_fired(now, Timer.KEEPALIVE, TimerAction.GAVE_UP)
        c._stats.timeouts += 1
        c._events.append(ConnectionTimedOut(c))
        c._send_reset(now)  # Linux: tcp_send_active_reset, then ETIMEDOUT
        return
    c._timer_fired(now, Timer.KEEPALIVE)
    c._ka_probes += 1
    c._ka_sent = now
    c._stats.keepalive_probes += 1
    c._ctl.append(c._segment((c.snd_nxt - 1) & MASK, ACK))
    c._ka_deadline = now + cfg.keepalive_intvl
