"""The user calls of RFC 9293 §3.10.1-5 on a connection (OPEN, SEND, RECEIVE,
CLOSE, ABORT), its socket options, and the output they cause: what
``segments_to_send`` pulls (our SYN or SYN,ACK, retransmissions, new data, the FIN,
the ACK owed).  Part of :class:`~synack.core.connection.Connection` (see
:mod:`tcb`)."""

from __future__ import annotations

from .errors import ConnectionClosing, ConnectionDoesNotExist, UsageError
from .events import Event
from .replies import syn_options
from .seq import MASK, seq_gt
from .state import (
    CLOSE_WAIT,
    CLOSED,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    LAST_ACK,
    LISTEN,
    RECEIVING,
    SENDING,
    SYN_RECEIVED,
    SYN_SENT,
    TIME_WAIT,
)
from .tcb import Tcb
from .timers import FW2, KEEPALIVE, RETRANSMIT, TW, Timer, earliest
from .timestamps import TIMESTAMPS_OPTION, tsval
from .wire import ACK, SYN, Options, Segment


class UserCalls(Tcb):
    """OPEN, SEND, RECEIVE, CLOSE, ABORT and the output."""

    __slots__ = ()

    # ------------------------------------------------------------------ socket options
    @property
    def nodelay(self) -> bool:
        """Nagle's algorithm off (TCP_NODELAY); from ``Config.nodelay`` at first."""
        return self.snd.nodelay

    @nodelay.setter
    def nodelay(self, value: bool) -> None:
        self.snd.nodelay = value
        if value and self.snd.held:
            self._touch()  # as Linux's setsockopt(TCP_NODELAY): push what Nagle held

    @property
    def keepalive(self) -> bool:
        """SO_KEEPALIVE: probe an idle connection; from ``Config.keepalive`` at first."""
        return self._ka_on

    def set_keepalive(self, on: bool, now: int) -> None:
        """Turn keep-alive on or off (setsockopt SO_KEEPALIVE); the idle time counts
        from ``now`` or the last segment heard, whichever is later."""
        self._ka_on = on
        self._ka_probes = 0
        self.timers[KEEPALIVE] = None
        if on and self.state is not CLOSED and self.state is not SYN_SENT:
            self.timers[KEEPALIVE] = max(now, self._last_heard) + self.config.keepalive_time
        self._touch()

    @property
    def user_timeout(self) -> int | None:
        """TCP_USER_TIMEOUT (RFC 5482): how long data may stay unacknowledged (or
        zero-window probes unanswered) before the connection is aborted; None = off."""
        return self._user_timeout

    @user_timeout.setter
    def user_timeout(self, value: int | None) -> None:
        if value is not None and value <= 0:
            raise UsageError("user_timeout must be positive (or None for off)")
        self._user_timeout = value

    # ------------------------------------------------------------------ opening
    def open_active(self, now: int) -> None:
        """Active OPEN (§3.10.1): the SYN leaves with the next ``segments_to_send``."""
        if self.state is not CLOSED or self.snd.max != self.snd.iss:
            raise UsageError("connection already opened")
        self._set_state(SYN_SENT, now)
        self._touch()

    def open_passive(self, syn_irs: int, peer: Options, peer_window: int, now: int,
                     synack_rtt: int | None = None, *, handshake_retransmits: int = 0) -> None:
        """Become the SYN-RECEIVED connection of the listener whose SYN-ACK (seq ISS) is
        already out: used when the handshake's final ACK arrives.  ``synack_rtt`` is the
        SYN-ACK's round trip, when it can be measured; ``handshake_retransmits`` counts
        the SYN-ACK's retransmissions."""
        if self.state is not LISTEN:
            raise UsageError("only a listener's new connection opens passively")
        rcv, snd = self.rcv, self.snd
        rcv.start(syn_irs)
        rcv.wup = rcv.nxt  # our SYN-ACK acknowledged the SYN
        self._peer_syn = peer
        self._clock = now
        self._negotiate(peer, handshake_retransmits)
        snd.wnd = peer_window
        snd.nxt = snd.max = (snd.iss + 1) & MASK
        self.rec.handshake_rtt(synack_rtt, handshake_retransmits > 0)
        # The listener's half-open entry went LISTEN -> SYN-RECEIVED when the SYN came
        # (and traced it); this TCB takes over in that state.
        self._set_state(SYN_RECEIVED, now, traced=False)

    def _negotiate(self, peer: Options, handshake_retransmits: int) -> None:
        """Options from the peer's SYN (§3.7.1, RFC 7323 §2.3, RFC 2018)."""
        cfg = self.config
        self.ts.negotiate(cfg.timestamps, peer.timestamps, self._clock)
        self.snd.set_mss(peer.mss, cfg.mss_for(self.remote_addr), cfg.min_snd_mss, self.remote_addr,
                         TIMESTAMPS_OPTION if self.ts.ok else 0)
        if peer.wscale is not None and cfg.wscale is not None:
            self.snd.wscale = peer.wscale if peer.wscale < 14 else 14  # RFC 7323 §2.3: use 14 if larger
            self.rcv.wscale = cfg.wscale
        else:
            self.snd.wscale = self.rcv.wscale = 0
        self.rcv.sack_ok = peer.sack_permitted and cfg.sack
        self.rec.start(self.snd.mss, handshake_retransmits)

    # ------------------------------------------------------------------ user calls
    def send(self, data: bytes, *, urgent: bool = False) -> int:
        """Queue data; returns how many bytes the send buffer took (maybe 0).

        ``urgent``: the data is urgent (§3.8.5, MUST-30; new applications should not
        use it, SHLD-13): SND.UP moves to the end of what was queued, and the
        segments carry URG and the pointer, with no wait for Nagle."""
        st = self.state
        if st is CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        if self.snd.fin_queued or st in (FIN_WAIT_1, FIN_WAIT_2, CLOSING, LAST_ACK, TIME_WAIT):
            raise ConnectionClosing("connection closing: send after shutdown/close")
        n = self.snd.queue(data, urgent)
        if n:
            self._touch()
        return n

    def read(self, n: int = -1) -> bytes:
        """Take up to ``n`` bytes (all with -1) of in-order received data; a window
        update follows when it matters (``ReceiveSpace.read``)."""
        if self._closed_by_app:
            raise ConnectionClosing("connection closing: read after close")
        st = self.state
        rcv = self.rcv
        data = rcv.read(n, self.snd.mss, st in RECEIVING or st is SYN_RECEIVED)
        if rcv.ack_now:
            self._touch()
        return data

    def shutdown(self, now: int) -> None:
        """Half-close: send FIN after the queued data; keep receiving (§3.10.4)."""
        st = self.state
        if st is CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        if st is SYN_SENT:
            self._set_state(CLOSED, now)  # §3.10.4: delete the TCB; nothing to send
            return
        if self.snd.fin_queued:
            return
        self.snd.queue_fin()
        if st is ESTABLISHED or st is SYN_RECEIVED:
            self._set_state(FIN_WAIT_1, now)
        elif st is CLOSE_WAIT:
            self._set_state(LAST_ACK, now)
        self._touch()

    def close(self, now: int) -> None:
        """Full close: like ``shutdown``, and the application reads no more.  With
        unread received data the connection is reset instead (SHLD-3, as Linux does):
        the peer learns that data was lost."""
        st = self.state
        if st is CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        self._closed_by_app = True
        if self.rcv.buf and st in (SYN_RECEIVED, ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, FIN_WAIT_2):
            self.rcv.buf.clear()
            self._send_reset(now)
            return
        self.shutdown(now)
        at = self.timers
        if self.state is FIN_WAIT_2 and at[FW2] is None and at[TW] is None:
            self._arm_close_timer(self.config.fin_timeout, now, Timer.FIN_WAIT_2)
        self._touch()

    def abort(self, now: int) -> None:
        """ABORT (§3.10.5): RST the peer (in synchronized states) and forget."""
        st = self.state
        if st is CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        self._closed_by_app = True
        if st in (SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT):
            self._send_reset(now)
        else:
            self._set_state(CLOSED, now)

    def end_time_wait(self, now: int) -> None:
        """A new SYN reuses this TIME-WAIT connection's 4-tuple (the endpoint decides):
        the old incarnation ends now."""
        if self.state is not TIME_WAIT:
            raise UsageError(f"not in TIME-WAIT: {self.state}")
        self._set_state(CLOSED, now)

    # ------------------------------------------------------------------ outputs
    def next_event(self) -> Event | None:
        """For a connection without an endpoint: its next event (None when none)."""
        return self._events.popleft() if self._events else None

    def next_timeout(self) -> int | None:
        return earliest(self.timers)

    def segments_to_send(self, now: int) -> list[Segment]:
        """Everything to transmit now; arms the retransmission timer as data leaves."""
        self._clock = now
        out = self._ctl
        if out is None:
            out = []
        else:
            self._ctl = None
        st = self.state
        if st is CLOSED:
            return out
        snd, rcv = self.snd, self.rcv
        if st is SYN_SENT or st is SYN_RECEIVED:
            if snd.nxt == snd.iss:
                out.append(self._build_syn(st is SYN_RECEIVED, now))
            elif rcv.ack_now:
                rcv.ack_now = False
                out.append(self._segment(snd.nxt, ACK))
            return out
        if snd.nxt == snd.iss:
            # FIN-WAIT-1 entered from SYN-RECEIVED, and the timer went back to our
            # unacknowledged SYN: the SYN,ACK goes again, then the FIN.
            out.append(self._build_syn(True, now))
        if st in SENDING and (snd.held or snd.fin_queued):
            before = len(out)
            rec = self.rec
            build = self._segment
            adjust = 0
            if rec.rexmit:
                # Fast retransmit / a partial ACK: the first unacknowledged segment.
                rec.rexmit = False
                una = snd.una
                if una != snd.max:
                    rec.retransmitted(una, snd.retransmit(out, build, una, snd.mss, now))
            if rec.in_recovery and rec.sb is not None:
                adjust = snd.resend_lost(out, build, now)
            if (snd.send(out, build, now, adjust) or len(out) > before) \
                    and self.timers[RETRANSMIT] is None:
                self._arm_rto(now)  # RFC 6298 5.1 (or the persist timer, while probing)
            if len(out) > before:
                rcv.ack_now = False  # the ACK rides on what left
        if rcv.ack_now:
            rcv.ack_now = False
            out.append(self._segment(snd.max if snd.nxt == snd.max else snd.ack_seq(), ACK))
        if self._tracer is not None:
            self._trace_cc(now)
        return out

    def _build_syn(self, with_ack: bool, now: int) -> Segment:
        """Our SYN, or the SYN,ACK of a simultaneous open (with what the peer's SYN
        allowed); options as Linux lays them out (MAY-3: MSS on every SYN)."""
        snd, rcv, ts = self.snd, self.rcv, self.ts
        peer = self._peer_syn if with_ack else None
        opts = syn_options(self.config, peer, tsval(now, ts.offset), ts.recent,
                           mss=self.config.mss_for(self.remote_addr))
        seg = Segment(self.local_port, self.remote_port, snd.iss, rcv.nxt if with_ack else 0,
                      SYN | ACK if with_ack else SYN, rcv.syn_window(), opts)
        snd.nxt = (snd.iss + 1) & MASK
        if seq_gt(snd.nxt, snd.max) or snd.max == snd.iss:
            snd.max = snd.nxt
        if self._retries == 0:
            self.rec.time_syn(snd.nxt, now)
        if self.timers[RETRANSMIT] is None:
            self._arm_rto(now)
        return seg



