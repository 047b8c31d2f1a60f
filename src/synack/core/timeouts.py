"""TIMEOUTS (RFC 9293 §3.10.8) on a connection: the retransmission timer (RFC 6298)
and the persist timer it becomes at a zero window (§3.8.6.1), the user timeout (RFC
5482), keep-alive (§3.8.4), the delayed ACK, TIME-WAIT's 2MSL and an orphaned
FIN-WAIT-2's limit.  Part of :class:`~synack.core.connection.Connection` (see
:mod:`tcb`)."""

from __future__ import annotations

from .events import ConnectionTimedOut
from .seq import MASK, seq_le, seq_sub
from .state import CLOSED, FIN_WAIT_2, SYN_RECEIVED, SYN_SENT, TIME_WAIT
from .tcb import Tcb
from .timers import DELAYED_ACK, FW2, KEEPALIVE, RETRANSMIT, TW, Timer
from .trace import TimerAction, TimerRecord, endpoint_str
from .wire import ACK


class Timeouts(Tcb):
    """What happens when a deadline comes."""

    __slots__ = ()

    # ------------------------------------------------------------------ timers
    def _arm_rto(self, now: int) -> None:
        """The retransmission timer (RFC 6298 5.1), or the persist timer while probing
        (§3.8.6.1: its own exponential backoff, Linux tcp_probe0_when), never beyond
        the user timeout (Linux tcp_clamp_rto_to_user_timeout).  No touch: every caller
        is an input that touches at its end, or ``segments_to_send``."""
        rto = self.rec.rto
        b = self.snd.persist_backoff
        if b:
            rto = min(rto << b, self.config.max_rto)
        deadline = now + rto
        ut = self._user_timeout
        stalled = self._stalled_since
        if ut is not None and stalled is not None and stalled + ut < deadline:
            deadline = max(stalled + ut, now)
        self.timers[RETRANSMIT] = deadline

    def _arm_close_timer(self, length: int, now: int, timer: Timer) -> None:
        """TIME-WAIT's 2MSL, or an orphaned FIN-WAIT-2's limit: nothing is retransmitted
        any more."""
        at = self.timers
        at[RETRANSMIT] = at[TW] = at[FW2] = None
        at[timer] = deadline = now + length
        if self._tracer is not None:
            self._tracer(TimerRecord(now, self._host, endpoint_str(self.local_addr, self.local_port),
                                     endpoint_str(self.remote_addr, self.remote_port), timer,
                                     TimerAction.ARMED, deadline))

    def _timer_fired(self, now: int, timer: Timer, action: TimerAction = TimerAction.FIRED) -> None:
        if self._tracer is not None:
            self._tracer(TimerRecord(now, self._host, endpoint_str(self.local_addr, self.local_port),
                                     endpoint_str(self.remote_addr, self.remote_port), timer, action))

    def _time_out(self, now: int, timer: Timer) -> None:
        """The peer stopped answering: report it and forget the connection."""
        self._timer_fired(now, timer, TimerAction.GAVE_UP)
        self._stats.timeouts += 1
        self._events.append(ConnectionTimedOut(self.conn))

    def handle_timeout(self, now: int) -> None:
        """Run whatever timer is due; nothing when none is (early wake-ups are safe)."""
        self._clock = now
        at = self.timers
        due = at[DELAYED_ACK]
        if due is not None and now >= due:
            at[DELAYED_ACK] = None
            self.rcv.ack_now = True
        due = at[TW]
        if due is not None and now >= due:
            at[TW] = None
            if self.state is TIME_WAIT:
                self._timer_fired(now, Timer.TIME_WAIT)
                self._set_state(CLOSED, now)
                return
        due = at[FW2]
        if due is not None and now >= due:
            at[FW2] = None
            if self.state is FIN_WAIT_2:
                self._timer_fired(now, Timer.FIN_WAIT_2)
                self._stats.timeouts += 1
                self._set_state(CLOSED, now)
                return
        due = at[KEEPALIVE]
        if due is not None and now >= due:
            self._on_keepalive(now)
            if self.state is CLOSED:
                return
        due = at[RETRANSMIT]
        if due is not None and now >= due:
            at[RETRANSMIT] = None
            self._on_retransmit_timer(now)

    def _on_retransmit_timer(self, now: int) -> None:
        """The retransmission timer expired (RFC 6298 5.4-5.7): go back to SND.UNA and
        back off, or probe a zero window (§3.8.6.1), or give up (retries, or the user
        timeout, RFC 5482)."""
        st = self.state
        snd, rec = self.snd, self.rec
        if st is SYN_SENT:
            limit = self.config.syn_retries
        elif st is SYN_RECEIVED:
            limit = self.config.synack_retries
        else:
            limit = self.config.retries2
        # The peer's window is closed and data (or a FIN never sent) waits: the persist
        # timer, whether or not the previous probe's octet is still unacknowledged.
        unsent_fin = snd.fin_queued and seq_le(snd.max, snd.fin_seq)
        zero_window_probe = snd.wnd == 0 and (snd.held > 0 or unsent_fin)
        if self._stalled_since is None:
            self._stalled_since = now - rec.rto  # the episode began when the timer started
        ut = self._user_timeout
        if ut is not None and st is not SYN_SENT and st is not SYN_RECEIVED \
                and now - self._stalled_since >= ut:
            self._time_out(now, Timer.USER_TIMEOUT)
            self._set_state(CLOSED, now)
            return
        if self._retries >= limit:
            self._time_out(now, Timer.RETRANSMIT)
            self._set_state(CLOSED, now)
            return
        self._retries += 1
        self._timer_fired(now, Timer.PERSIST if zero_window_probe else Timer.RETRANSMIT)
        if zero_window_probe:
            snd.persist_backoff += 1  # the probe interval doubles
            snd.probe = True
        else:
            rec.back_off()
            if st is SYN_SENT:
                self._stats.syn_retransmits += 1
            elif st is not SYN_RECEIVED:
                rec.on_timeout(seq_sub(snd.max, snd.una), self._retries == 1, snd.max, now)
        snd.nxt = snd.una  # resend from the first unacknowledged octet
        self._touch()

    def _on_keepalive(self, now: int) -> None:
        """Keep-alive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6; Linux tcp_keepalive_timer):
        after keepalive_time without a segment from the peer, probe every
        keepalive_intvl with <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK> and no data (the
        peer must answer with an ACK, or a RST if it lost the connection); after
        keepalive_probes unanswered probes (or the user timeout), reset and report."""
        cfg = self.config
        at = self.timers
        at[KEEPALIVE] = None
        st = self.state
        if not self._ka_on or st is CLOSED or st is TIME_WAIT or st is SYN_SENT or st is SYN_RECEIVED:
            return
        if self._ka_probes and self._last_heard > self._ka_sent:
            self._ka_probes = 0  # the peer answered
        if not self._ka_probes and now - self._last_heard < cfg.keepalive_time:
            at[KEEPALIVE] = self._last_heard + cfg.keepalive_time
            return
        if self.snd.una != self.snd.max or self.snd.held:
            # Data in flight or queued: the retransmission timer watches the peer.
            self._ka_probes = 0
            at[KEEPALIVE] = now + cfg.keepalive_time
            return
        ut = self._user_timeout
        if self._ka_probes >= cfg.keepalive_probes or (
                ut is not None and self._ka_probes and now - self._last_heard >= ut):
            self._time_out(now, Timer.KEEPALIVE)
            self._send_reset(now)  # Linux: tcp_send_active_reset, then ETIMEDOUT
            return
        self._timer_fired(now, Timer.KEEPALIVE)
        self._ka_probes += 1
        self._ka_sent = now
        self._stats.keepalive_probes += 1
        self._send_now(self._segment((self.snd.nxt - 1) & MASK, ACK))
        at[KEEPALIVE] = now + cfg.keepalive_intvl

    def _enter_fin_wait_2(self, now: int) -> None:
        self._set_state(FIN_WAIT_2, now)
        if self._closed_by_app:
            # Orphaned by close(): Linux's tcp_fin_timeout bounds FIN-WAIT-2.
            self._arm_close_timer(self.config.fin_timeout, now, Timer.FIN_WAIT_2)

    def _enter_time_wait(self, now: int) -> None:
        self._set_state(TIME_WAIT, now)
        if self.config.time_wait <= 0:
            # No TIME-WAIT at all: the final ACK still leaves, then the TCB is gone.
            if self.rcv.ack_now:
                self.rcv.ack_now = False
                self._send_now(self._segment(self.snd.nxt, ACK))
            self._set_state(CLOSED, now)
            return
        self._arm_close_timer(self.config.time_wait, now, Timer.TIME_WAIT)
