"""One TCP connection: the shell around its parts, and RFC 9293 §3.10's event
processing in the RFC's order.

Inputs: :meth:`Connection.receive_segment` (a parsed segment, with ``now``; returns
what became of it), :meth:`Connection.handle_timeout` (a no-op when nothing is due)
and the user calls (``send``, ``read``, ``shutdown``, ``close``, ``abort``).  Outputs
are pulled: :meth:`Connection.segments_to_send`, :meth:`Connection.next_event`,
:meth:`Connection.next_timeout`.

The connection owns no sequence number itself.  Its parts do, and each is read and
tested on its own:

- ``snd`` (:mod:`send`): SND.UNA/NXT/MAX/WND/WL1/WL2/UP, the send buffer, the
  effective MSS, Nagle, SWS avoidance, zero-window probes, retransmission;
- ``rcv`` (:mod:`recv`): RCV.NXT/WND/UP, the receive buffer, reassembly, SACK and
  D-SACK blocks, delayed ACKs, the advertised window;
- ``rec`` (:mod:`recovery`): RTT and RTO, duplicate ACKs, NewReno and SACK recovery,
  the congestion window;
- ``ts`` (:mod:`timestamps`): TSval, TS.Recent, PAWS, RTTM;
- ``timers`` (:mod:`timers`): one deadline per timer;
- ``limits`` (:mod:`replies`): how often unacceptable segments are answered.

A segment that arrives in a synchronized state (§3.10.7.4) goes through the named
steps: :meth:`_check_sequence` (first), :meth:`_check_rst` (second),
:meth:`_check_syn` (fourth), :meth:`_check_ack` (fifth), :meth:`_check_urg`
(sixth), :meth:`_process_text` (seventh), :meth:`_process_fin` (eighth); before
them all, :meth:`receive_segment` itself is header prediction: it takes the common
in-order segment by a short path whose effects are the same.  Every state change goes through
:meth:`_set_state`, checked against ``state.TRANSITIONS``.
"""

from __future__ import annotations

from typing import Final

from .calls import UserCalls
from .errors import DropReason
from .events import (
    Closed,
    Connected,
    ConnectionRefused,
    ConnectionReset,
    PeerClosed,
    Readable,
    Urgent,
    Writable,
)
from .recv import HELD, READABLE
from .replies import Replies, reset_for
from .seq import HALF, MASK, seq_gt, seq_le, seq_lt, seq_sub
from .state import (
    CLOSE_WAIT,
    CLOSED,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    LEGAL,
    LISTEN,
    RECEIVING,
    SYN_RECEIVED,
    SYN_SENT,
    TIME_WAIT,
    State,
)
from .timeouts import Timeouts
from .timers import DELAYED_ACK, KEEPALIVE, RETRANSMIT, Timer, stop_all
from .trace import (
    ACCEPTED,
    CongestionRecord,
    Outcome,
    StateRecord,
    Verdict,
    dropped,
    endpoint_str,
    trimmed,
)
from .wire import ACK, FIN, NO_OPTIONS, PSH, RST, SYN, URG, Segment

_ACK_PSH: Final = ACK | PSH
#: Linux's TCP_TIMEOUT_MIN: two jiffies, 8 ms at HZ=250 (the common distribution
#: kernels'); the SYN-SENT retry after an unacceptable ACK.
SYN_RETRY_AFTER_BAD_ACK: Final = 8_000



class Connection(UserCalls, Timeouts, Replies):
    """One TCP connection (RFC 9293): its parts and fields (:class:`~synack.core.tcb.Tcb`),
    the user calls (:class:`~synack.core.calls.UserCalls`), the timeouts
    (:class:`~synack.core.timeouts.Timeouts`), and here, segment arrival in the RFC's
    order and the changes of state."""

    __slots__ = ()

    # ------------------------------------------------------------------ segment arrival
    def receive_segment(self, seg: Segment, now: int) -> Outcome:
        """Process one segment addressed to this connection (RFC 9293 §3.10.7); returns
        what became of it.

        First, header prediction (Van Jacobson; Linux tcp_rcv_established's fast
        path): the next segment in order, in ESTABLISHED with nothing unusual going on
        (no recovery, reassembly, FIN, persist or close in progress), the window as
        before and open, no option but timestamps that pass PAWS.  If it carries a new
        ACK (not beyond SND.MAX) or data that fits the buffer with the same ACK, every
        check of §3.10.7.4 would pass, and only their effects are applied.  (A pure
        duplicate ACK counts towards fast retransmit: the full path.)  Anything else
        gets the full processing: §3.10.7.3 in SYN-SENT, §3.10.7.4 in the other states.
        Data beyond RCV.NXT has a prediction of its own (:meth:`_predict_held`)."""
        rcv = self.rcv
        if self.state is ESTABLISHED and self._predict:
            # The fields, unpacked once: indexing a tuple subclass is the generic, slow path.
            _, _, seq, ack, flags, window, opts, payload, _ = seg
            ts = self.ts
            if opts is NO_OPTIONS:
                tsopt = None
                usual = flags | PSH == _ACK_PSH
            else:
                mss, wscale, sack_permitted, tsopt, sack_blocks = opts
                usual = (flags | PSH == _ACK_PSH and ts.ok and tsopt is not None and not sack_blocks
                         and mss is None and wscale is None and not sack_permitted
                         and ((tsopt[0] - ts.recent) & MASK) < HALF)  # PAWS passes
            if usual:
                if seq != rcv.nxt:
                    held = self._predict_held(seg, now)
                    if held is not None:
                        return held
                else:
                    snd, rec = self.snd, self.rec
                    wnd = snd.wnd
                    n = len(payload)
                    una = snd.una
                    acked = (ack - una) & MASK
                    if not (rec.in_recovery or rec.sb is not None or rcv.ooo is not None
                            or rcv.ooo_fin is not None or snd.fin_queued or snd.persist_backoff
                            or self._closed_by_app or not wnd or window << snd.wscale != wnd
                            or n > rcv.size - len(rcv.buf)) \
                            and (n > 0 if acked == 0 else acked <= ((snd.max - una) & MASK)):
                        self._stats.predicted += 1
                        self._last_heard = self._clock = now
                        if tsopt is not None and ((rcv.wup - seq) & MASK) < HALF:
                            ts.recent = tsopt[0]  # RFC 7323 R3 (PAWS passed above)
                            ts.recent_at = now
                        if acked:
                            if tsopt is not None:
                                ts.ack_tsecr = tsopt[1]
                            self._on_new_ack(ack, now)
                        # the window update's bookkeeping (the window itself is unchanged)
                        wl1 = snd.wl1
                        if 0 < ((seq - wl1) & MASK) < HALF \
                                or (wl1 == seq and ((ack - snd.wl2) & MASK) < HALF):
                            snd.wl1, snd.wl2 = seq, ack
                        if n and rcv.accept_in_order(payload, now, rec.rto, snd.mss):
                            ev = self._readable  # (_on_readable, inlined)
                            if ev is None:
                                ev = self._readable = Readable(self)
                            self._events.append(ev)
                        if self._tracer is not None:
                            self._trace_cc(now)
                        self._dirty[self] = None  # (_touch, inlined)
                        return ACCEPTED
        st = self.state
        if st is SYN_SENT:
            outcome = self._on_segment_syn_sent(seg, now)
            self._dirty[self] = None  # (_touch, inlined)
            return outcome
        if st is CLOSED or st is LISTEN:
            self._stats.drop(DropReason.NO_CONNECTION)
            return dropped(DropReason.NO_CONNECTION)
        self._last_heard = now
        self._clock = now
        outcome = self._on_segment_synchronized(seg, now)
        if self._tracer is not None and self.state is not CLOSED:
            self._trace_cc(now)
        self._dirty[self] = None  # (_touch, inlined)
        return outcome

    def _predict_held(self, seg: Segment, now: int) -> Outcome | None:
        """Header prediction's second case (``receive_segment``'s caller checked the
        state, flags and options): data beyond RCV.NXT, wholly inside the receive
        window, with the ACK and window as before (SEG.ACK = SND.UNA: neither a new
        ACK nor, carrying data, a duplicate one; RFC 5681 §2), in ESTABLISHED with no
        FIN held, no persist and no close in progress.  Every check of §3.10.7.4
        would pass with no effect but the window's bookkeeping, TS.Recent stays
        (SEG.SEQ > Last.ACK.sent, RFC 7323 R3), and the text is held with a
        duplicate ACK at once: what a loss costs the receiver of every segment
        after it.  None: not such a segment, the full processing decides."""
        rcv, snd = self.rcv, self.snd
        payload = seg[7]
        n = len(payload)
        seq, ack = seg[2], seg[3]
        wnd = snd.wnd
        if not n or ack != snd.una or rcv.ooo_fin is not None or snd.persist_backoff or self._closed_by_app \
                or not wnd or seg[5] << snd.wscale != wnd \
                or not 0 < ((seq - rcv.nxt) & MASK) <= rcv.size - len(rcv.buf) - n:
            return None
        self._stats.predicted += 1
        self._last_heard = self._clock = now
        wl1 = snd.wl1
        if 0 < ((seq - wl1) & MASK) < HALF or (wl1 == seq and ((ack - snd.wl2) & MASK) < HALF):
            snd.wl1, snd.wl2 = seq, ack
        outcome = rcv.hold(seq, payload)
        self._duplicate_ack()
        if self._tracer is not None:
            self._trace_cc(now)
        self._dirty[self] = None  # (_touch, inlined)
        return outcome

    def _on_new_ack(self, ack: int, now: int) -> None:
        """SND.UNA < SEG.ACK =< SND.MAX: the send space releases what it covers, recovery
        takes the RTT sample and its rules, and the retransmission timer stops when
        everything is acknowledged, else restarts (RFC 6298 5.2/5.3)."""
        snd = self.snd
        una = snd.una
        data_acked = snd.acked(ack)
        if snd.want_writable and snd.writable():
            self._events.append(Writable(self))
        rec = self.rec
        ts = self.ts
        rec.on_new_ack(una, ack, snd.max, data_acked, ts.echo_ms(now) if ts.ack_tsecr else None, snd.mss,
                       self.state is not SYN_SENT, now)
        self._retries = 0
        self._stalled_since = None
        self.timers[RETRANSMIT] = None if ack == snd.max else now + rec.rto

    def _on_segment_syn_sent(self, seg: Segment, now: int) -> Outcome:
        """§3.10.7.3."""
        _, _, seq, ack, flags, window, opts, payload, _ = seg  # (one unpacking: see receive_segment)
        snd = self.snd
        # first: an ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT
        if flags & ACK and not (seq_lt(snd.iss, ack) and seq_le(ack, snd.max)):
            self._stats.drop(DropReason.SYN_SENT_BAD_ACK)
            if self._retries == 0:
                # Linux (tcp_rcv_synsent_state_process): "previous FIN/ACK or RST/ACK
                # might be ignored", so the SYN goes again after TCP_TIMEOUT_MIN
                # rather than the whole initial RTO; later ones back off as usual.
                self.timers[RETRANSMIT] = now + SYN_RETRY_AFTER_BAD_ACK
                self._touch()
            if not flags & RST:
                self._send_now(reset_for(seg))
                self._stats.resets_sent += 1
            return dropped(DropReason.SYN_SENT_BAD_ACK)
        if flags & RST:
            # second: a RST is acceptable only if it acknowledges our SYN (RFC 5961 §3.2)
            if flags & ACK:
                self._stats.resets_received += 1
                self._events.append(ConnectionRefused(self))
                self._set_state(CLOSED, now)
                return ACCEPTED
            self._stats.drop(DropReason.RST_OUT_OF_WINDOW)
            return dropped(DropReason.RST_OUT_OF_WINDOW)
        if not flags & SYN:
            self._stats.drop(DropReason.SYN_SENT_NO_SYN)
            return dropped(DropReason.SYN_SENT_NO_SYN)
        # fourth: SYN
        self.rcv.start(seq)
        self._peer_syn = opts
        self._clock = now
        self._negotiate(opts, self._retries)
        outcome = ACCEPTED
        if payload:
            self._stats.drop(DropReason.SYN_DATA)  # data on a SYN is not kept
            outcome = trimmed(DropReason.SYN_DATA)
        if flags & ACK:
            syn_retransmitted = self._retries > 0
            if self.ts.ok and opts.timestamps is not None:
                self.ts.ack_tsecr = opts.timestamps[1]
            self._on_new_ack(ack, now)
            self.rec.handshake_rtt(None, syn_retransmitted)
            snd.handshake_window(seq, ack, window)
            self.rcv.ack_now = True
            self._set_state(ESTABLISHED, now)
        else:
            # Simultaneous open (MUST-10): answer with SYN,ACK from ISS.
            snd.first_window(seq, ack, window)
            snd.nxt = snd.iss
            self.timers[RETRANSMIT] = None
            self._set_state(SYN_RECEIVED, now)
        return outcome

    # -- §3.10.7.4: SYN-RECEIVED and the synchronized states, in the RFC's order ------
    def _on_segment_synchronized(self, seg: Segment, now: int) -> Outcome:
        # (Fields unpacked once, as above; seq and flags again whenever seg is replaced.)
        _, _, seq, _, flags, _, opts, _, _ = seg
        rcv = self.rcv
        if flags & SYN and flags & ACK and seq == rcv.irs and self.snd.una == self.snd.iss:
            # Simultaneous open: the peer's SYN,ACK repeats the SYN we already
            # acknowledged; trim it ("trim to the window") and go on with the ACK.
            # (In SYN-RECEIVED, or FIN-WAIT-1 after a close there.)
            seg = seg._replace(seq=(seq + 1) & MASK, flags=flags & ~SYN, payload=b"")
            seq, flags = seg.seq, seg.flags
        ts = opts.timestamps if self.ts.ok else None
        if ts is not None and not flags & RST and self.ts.paws_rejects(ts[0], now):
            # RFC 7323 §5.3 R1, before the sequence check: SEG.TSval < TS.Recent, an old
            # duplicate.  ACK (rate-limited, as Linux's tcp_invalid_ratelimit) and drop.
            self._stats.drop(DropReason.PAWS)
            return dropped(self._answer_unacceptable(seg, now) or DropReason.PAWS)
        if seq == rcv.nxt and rcv.size > len(rcv.buf):
            outcome = ACCEPTED  # in order, with an open window: acceptable (no call)
        else:
            checked, outcome = self._check_sequence(seg, now)
            if checked is None:
                return outcome
            seg = checked
            seq, flags = seg.seq, seg.flags
        if ts is not None and not flags & RST:
            self.ts.update_recent(seq, ts[0], rcv.wup, now)  # R3
        if flags & RST:
            return self._check_rst(seg, now)
        if flags & SYN:
            return self._check_syn(now)
        stop = self._check_ack(seg, ts, now)
        if stop is not None:
            return stop
        if flags & URG:
            self._check_urg(seg)
        fin_in_order = True
        payload = seg.payload
        if payload:
            text = self._process_text(seg, now)
            if text is None:
                return dropped(DropReason.DATA_AFTER_CLOSE)
            fin_in_order, result = text
            if result is not ACCEPTED:
                outcome = result
        if flags & FIN or (rcv.ooo_fin is not None and payload):
            self._process_fin(seg, fin_in_order, now)
        return outcome

    def _check_sequence(self, seg: Segment, now: int) -> tuple[Segment | None, Outcome]:
        """First: the sequence number (Table 6).  Returns the segment to go on with
        (its text and FIN removed at a zero window: MUST-66, the ACK and RST still
        count), or None and what became of an unacceptable one: answered with an ACK
        (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>) unless it is a RST."""
        rcv = self.rcv
        seq, flags, payload = seg.seq, seg.flags, seg.payload
        seglen = seg.seg_len
        if rcv.acceptable(seq, seglen):
            return seg, ACCEPTED
        if seq == rcv.nxt:  # a zero window
            if payload or flags & FIN:
                self._stats.drop(DropReason.RCV_BUFFER_FULL)
                rcv.ack_now = True
                return seg._replace(payload=b"", flags=flags & ~FIN), trimmed(DropReason.RCV_BUFFER_FULL)
            return seg, ACCEPTED
        if flags & RST:
            self._stats.drop(DropReason.RST_OUT_OF_WINDOW)
            return None, dropped(DropReason.RST_OUT_OF_WINDOW)
        self._stats.drop(DropReason.OUT_OF_WINDOW)
        st = self.state
        if payload and rcv.sack_ok and st is not TIME_WAIT and 0 < ((rcv.nxt - seq) & MASK) < HALF:
            # Old data, a retransmission we already have: say so (D-SACK, RFC 2883 §4;
            # Linux tcp_send_dupack), the part below RCV.NXT.  (Not from TIME-WAIT:
            # Linux's timewait socket keeps no SACK state.)
            end = (seq + len(payload)) & MASK
            rcv.dsack = (seq, end if seq_le(end, rcv.nxt) else rcv.nxt)
        limited = None
        if st is TIME_WAIT and flags & FIN:
            # A retransmitted FIN: our last ACK was lost.  ACK again and restart the
            # 2MSL timer (§3.10.7.4, TIME-WAIT).
            self._arm_close_timer(self.config.time_wait, now, Timer.TIME_WAIT)
            rcv.ack_now = True
        else:
            limited = self._answer_unacceptable(seg, now)
        if limited is None and seglen and seq_le((seq + seglen) & MASK, rcv.nxt):
            return None, (Verdict.DUPLICATE, DropReason.OUT_OF_WINDOW)  # all of it arrived before
        return None, dropped(limited or DropReason.OUT_OF_WINDOW)

    def _check_rst(self, seg: Segment, now: int) -> Outcome:
        """Second: RST (RFC 5961 §3.2): exactly at RCV.NXT it resets; elsewhere in the
        window it gets a challenge ACK."""
        if seg.seq != self.rcv.nxt:
            return self._challenge(now, DropReason.RST_CHALLENGED)
        st = self.state
        if st is TIME_WAIT and self.config.rfc1337:
            self._stats.drop(DropReason.RST_IN_TIME_WAIT)  # RFC 1337 F1
            return dropped(DropReason.RST_IN_TIME_WAIT)
        self._stats.resets_received += 1
        if st is SYN_RECEIVED:
            if self._listener is None:
                self._events.append(ConnectionRefused(self))
        elif st is not TIME_WAIT:
            # Also in CLOSING and LAST-ACK, where RFC 9293 just deletes the TCB: our
            # FIN was never acknowledged, so the close was not clean (Linux tcp_reset
            # reports ECONNRESET there too).  TIME-WAIT has nothing left to report.
            self._events.append(ConnectionReset(self))
        self._set_state(CLOSED, now)
        return ACCEPTED

    def _check_syn(self, now: int) -> Outcome:
        """Fourth: a SYN in the window of a synchronized connection (RFC 5961 §4): a
        challenge ACK, nothing else (the third step, security, does not apply)."""
        return self._challenge(now, DropReason.SYN_CHALLENGED)

    def _check_ack(self, seg: Segment, ts: tuple[int, int] | None, now: int) -> Outcome | None:
        """Fifth: the ACK field.  SYN-RECEIVED becomes ESTABLISHED on an ACK of our SYN
        (a bad one gets <SEQ=SEG.ACK><CTL=RST>); an ACK of unsent data, or too old to be
        real (RFC 5961 §5), is answered and dropped; a new ACK moves SND.UNA; a
        duplicate ACK counts towards fast retransmit (RFC 5681); the window updates;
        the ACK of our FIN moves the closing states on.  None: go on."""
        _, _, seq, ack, flags, window, opts, payload, _ = seg  # (one unpacking: see above)
        if not flags & ACK:
            self._stats.drop(DropReason.NO_ACK_FLAG)
            return dropped(DropReason.NO_ACK_FLAG)
        snd, rec = self.snd, self.rec
        if self.state is SYN_RECEIVED:
            if not (seq_lt(snd.una, ack) and seq_le(ack, snd.max)):
                self._send_now(reset_for(seg))
                self._stats.resets_sent += 1
                self._stats.drop(DropReason.BAD_ACK)
                return dropped(DropReason.BAD_ACK)
            snd.handshake_window(seq, ack, window << snd.wscale)
            rec.handshake_rtt(None, self._retries > 0)
            if snd.nxt == snd.iss:
                # Our SYN,ACK is still waiting to be pulled and now never will be: the
                # peer's SYN must be acknowledged all the same.
                self.rcv.ack_now = True
            self._set_state(ESTABLISHED, now)
        if 0 < ((ack - snd.max) & MASK) < HALF:  # SEG.ACK > SND.MAX
            self._stats.drop(DropReason.ACK_OF_UNSENT)
            return dropped(self._answer_unacceptable(seg, now) or DropReason.ACK_OF_UNSENT)
        if snd.max_wnd and 0 < ((snd.una - snd.max_wnd - ack) & MASK) < HALF:
            self._stats.drop(DropReason.BAD_ACK)  # RFC 5961 §5: too old to be a real ACK
            return dropped(self._answer_unacceptable(seg, now) or DropReason.BAD_ACK)
        sacked = False
        if opts.sack_blocks and self.rcv.sack_ok:
            sacked = rec.sack(snd.una, snd.max, opts.sack_blocks)
        if 0 < ((ack - snd.una) & MASK) < HALF:  # SEG.ACK > SND.UNA
            if ts is not None:
                self.ts.ack_tsecr = ts[1]
            self._on_new_ack(ack, now)
        elif snd.wnd == 0:
            self._retries = 0  # a probe was answered: keep the connection (MUST-37)
        elif ack == snd.una and snd.max != ack and (
                sacked if self.rcv.sack_ok else
                not payload and not flags & (SYN | FIN) and window << snd.wscale == snd.wnd):
            # A duplicate ACK.  With SACK, one that SACKs octets not SACKed before,
            # whatever its window or payload (RFC 6675 §2; Linux counts SACKed
            # segments, tcp_fastretrans_alert): a receiver's window may grow while it
            # SACKs.  Without, RFC 5681 §2's: no data, the same window.
            rec.on_dup_ack(snd.una, snd.max, snd.mss, now)
        if snd.update_window(seq, ack, window) and snd.persist_backoff and snd.wnd:
            # The window opened: probing is over; an ordinary RTO runs again.
            snd.persist_backoff = 0
            self._stalled_since = None
            if self.timers[RETRANSMIT] is not None:
                self.timers[RETRANSMIT] = now + rec.rto
        if snd.fin_queued and 0 < ((snd.una - snd.fin_seq) & MASK) < HALF:  # our FIN acknowledged
            st = self.state
            if st is FIN_WAIT_1 and not flags & FIN:
                self._enter_fin_wait_2(now)
            elif st is CLOSING:
                self._enter_time_wait(now)
                return ACCEPTED
            elif st is LAST_ACK:
                self._set_state(CLOSED, now)
                return ACCEPTED
        return None

    def _check_urg(self, seg: Segment) -> None:
        """Sixth: URG (also at a zero window, MUST-66): RCV.UP advances, and the
        application hears of it (MUST-32)."""
        if self.state in RECEIVING and self.rcv.urgent((seg.seq + seg.urg) & MASK):
            self._events.append(Urgent(self))

    def _process_text(self, seg: Segment, now: int) -> tuple[bool, Outcome] | None:
        """Seventh: the segment text, in ESTABLISHED and FIN-WAIT-1/2 (after the peer's
        FIN there is none to take).  Returns whether it was taken in order (a FIN
        behind it is then in order too) and what became of it; None when the
        connection was reset for data after a full close (SHLD-3; Linux answers with
        RST and counts TCPAbortOnData: nobody will read it)."""
        payload = seg.payload
        if self.state not in RECEIVING:
            self._stats.drop(DropReason.DATA_AFTER_FIN)
            if self.state is TIME_WAIT:
                # Linux's timewait socket answers anything but a bare in-window ACK
                # with an ACK, and an ACK-bearing segment restarts its timer
                # (tcp_timewait_state_process); RFC 9293 just ignores the text.
                self._arm_close_timer(self.config.time_wait, now, Timer.TIME_WAIT)
                self._answer_unacceptable(seg, now)
            return True, trimmed(DropReason.DATA_AFTER_FIN)
        if self._closed_by_app and seq_gt((seg.seq + len(payload)) & MASK, self.rcv.nxt):
            self._stats.drop(DropReason.DATA_AFTER_CLOSE)
            self._send_now(reset_for(seg))
            self._stats.resets_sent += 1
            self._set_state(CLOSED, now)
            return None
        in_order, outcome, todo = self.rcv.process_text(seg.seq, payload, now, self.rec.rto, self.snd.mss)
        if todo & READABLE:
            self._on_readable()
        elif todo & HELD:
            self._duplicate_ack()
        return in_order, outcome

    def _duplicate_ack(self) -> None:
        """Data held out of order: a duplicate ACK at once (RFC 5681 §4.2), one per
        such segment (the sender counts them), with the SACK blocks it changed."""
        self._send_now(self._segment(self.snd.ack_seq(), ACK))

    def _process_fin(self, seg: Segment, in_order: bool, now: int) -> None:
        """Eighth: the FIN.  In order, it ends the peer's stream (CLOSE-WAIT, CLOSING,
        TIME-WAIT); beyond RCV.NXT it is held with the out-of-order data (as Linux) and
        answered with a duplicate ACK; a hole filled before a held FIN takes it."""
        rcv = self.rcv
        payload = seg.payload
        if seg.flags & FIN:
            fin_at = (seg.seq + len(payload)) & MASK
            if in_order and fin_at == rcv.nxt:
                self._take_fin(now)
                return
            if not payload:  # (with data, the text step has answered already)
                rcv.ack_now = True  # beyond RCV.NXT: a duplicate ACK (RFC 5681 §4.2)
            st = self.state
            if st in RECEIVING and not rcv.peer_fin and seq_gt(fin_at, rcv.nxt):
                rcv.ooo_fin = fin_at
            if st is FIN_WAIT_1 and self.snd.fin_acked:
                self._enter_fin_wait_2(now)  # the ACK of our FIN still counts
        elif rcv.ooo_fin is not None and rcv.ooo_fin == rcv.nxt and payload:
            rcv.ooo_fin = None
            self._take_fin(now)

    def _take_fin(self, now: int) -> None:
        rcv = self.rcv
        rcv.ack_now = True
        st = self.state
        if rcv.peer_fin:
            # One FIN per connection: another one is ACKed, not consumed.
            if st is TIME_WAIT:
                self._arm_close_timer(self.config.time_wait, now, Timer.TIME_WAIT)
            return
        rcv.take_fin()
        self._events.append(PeerClosed(self))
        if st is ESTABLISHED:
            self._set_state(CLOSE_WAIT, now)
            if self.config.fin_ack_delay > 0:
                # Linux tcp_fin(): the ACK waits for the delayed-ACK timer, and rides on
                # our FIN if the application closes by then (three-segment close).
                rcv.ack_now = False
                self.timers[DELAYED_ACK] = now + self.config.fin_ack_delay
        elif st is FIN_WAIT_1:
            if self.snd.fin_acked:
                self._enter_time_wait(now)
            else:
                self._set_state(CLOSING, now)
        elif st is FIN_WAIT_2:
            self._enter_time_wait(now)

    # ------------------------------------------------------------------ state changes
    def _on_readable(self) -> None:
        """In-order data reached an empty receive buffer."""
        ev = self._readable
        if ev is None:
            ev = self._readable = Readable(self)
        self._events.append(ev)

    def _touch(self) -> None:
        """Segments to send or a new deadline, maybe: the owner looks at the next output."""
        self._dirty[self] = None

    def _set_state(self, new: State, now: int, *, traced: bool = True) -> None:
        """The one way to change state: checked against ``state.TRANSITIONS``."""
        old = self.state
        if new not in LEGAL[old]:
            raise AssertionError(f"illegal transition {old} -> {new}")
        self.state = new
        if traced and self._tracer is not None:
            self._tracer(StateRecord(now, self._host, endpoint_str(self.local_addr, self.local_port),
                                     endpoint_str(self.remote_addr, self.remote_port), old, new))
        if new is ESTABLISHED:
            self._events.append(Connected(self))
            if self._ka_on:
                self.timers[KEEPALIVE] = now + self.config.keepalive_time
            if self._listener is not None:
                self._listener.established(self, now)
        elif new is CLOSED:
            stop_all(self.timers)
            self.snd.discard()
            self.rcv.ooo = None
            self._readable = None
            self._events.append(Closed(self))
            if self._owner is not None:
                self._owner._closed(self)
        elif new is TIME_WAIT:
            # No data to tell of, no SYN to resend: hold fewer objects for the collector.
            self._readable = self._peer_syn = None

    def _trace_cc(self, now: int) -> None:
        """A CongestionRecord when cwnd, ssthresh, SRTT, RTO or the flight changed."""
        if self.state is SYN_SENT or self.state is SYN_RECEIVED:
            return
        rec, snd = self.rec, self.snd
        cc = rec.cc
        cur = (cc.cwnd, cc.ssthresh, rec.srtt or 0, rec.rto, seq_sub(snd.nxt, snd.una))
        if cur != self._cc_last:
            self._cc_last = cur
            assert self._tracer is not None
            self._tracer(CongestionRecord(now, self._host, endpoint_str(self.local_addr, self.local_port),
                                          endpoint_str(self.remote_addr, self.remote_port), cur[0], cur[1],
                                          rec.srtt, cur[3], cur[4]))
