"""A listening socket and its two queues, modelled on Linux.

- The **SYN queue** holds half-open connections as small :class:`HalfOpen` records
  (Linux's ``request_sock``), bounded by the listen backlog and
  ``Config.max_syn_backlog`` (:attr:`Listener.syn_queue_limit`).  Each one
  retransmits its SYN-ACK with exponential backoff (1, 2, 4, 8, 16 s ...) up to
  ``Config.synack_retries`` times, then is dropped.
- The **accept queue** holds connections whose handshake completed, until the
  application calls :meth:`Listener.accept`; it is bounded by ``backlog``.

Overflow follows Linux's ``tcp_conn_request``: a SYN arriving while the accept queue
is full is dropped; while the SYN queue is full it is answered with a SYN cookie
(``syncookies`` 1) or dropped (0); with ``syncookies`` 2 every SYN gets a cookie.
A final ACK arriving while the accept queue is full is dropped (the SYN-ACK is
retransmitted and the client's ACK retried later), or answered with RST when
``abort_on_overflow`` is set.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING

from .connection import Connection
from .cookies import decode_ts_options, ts_options
from .errors import DropReason
from .events import AcceptReady
from .info import SocketInfo
from .seq import MASK, in_window
from .state import State
from .timers import Timer
from .trace import (
    ACCEPTED,
    NoteRecord,
    Outcome,
    StateRecord,
    TimerAction,
    TimerRecord,
    Verdict,
    dropped,
    endpoint_str,
    trimmed,
)
from .wire import ACK, FIN, NO_OPTIONS, RST, SYN, Options, Segment

if TYPE_CHECKING:
    from .endpoint import Endpoint


class HalfOpen:
    """One entry of the SYN queue: what the SYN told us, and the SYN-ACK's timer."""

    __slots__ = ("deadline", "irs", "iss", "local_addr", "peer", "remote_addr", "remote_port", "resent",
                 "retries", "window")

    def __init__(self, local_addr: str, remote_addr: str, remote_port: int, irs: int, iss: int,
                 peer: Options, window: int, deadline: int) -> None:
        self.local_addr = local_addr
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self.irs = irs
        self.iss = iss
        self.peer = peer
        self.window = window
        self.retries = 0
        self.resent = False  # a SYN-ACK went out more than once: no RTT sample (Karn)
        self.deadline = deadline


_Key = tuple[str, int, str]  # (remote addr, remote port, local addr)


class Listener:
    """LISTEN on ``(addr, port)``; ``addr`` "" means every address of the endpoint."""

    def __init__(self, endpoint: Endpoint, addr: str, port: int, backlog: int) -> None:
        if backlog < 0:
            raise ValueError("backlog must be >= 0")
        self.endpoint = endpoint
        self.config = endpoint.config
        self.addr = addr
        self.port = port
        self.backlog = backlog
        self.syn_queue: dict[_Key, HalfOpen] = {}
        self.accept_queue: deque[Connection] = deque()
        self.closed = False
        self._timers: list[tuple[int, int, _Key]] = []
        self._timer_seq = 0
        self._last_overflow: int | None = None
        self._sched: int | None = None

    def __repr__(self) -> str:
        return f"<Listener {endpoint_str(self.addr or '*', self.port)} syn={len(self.syn_queue)} " \
               f"accept={len(self.accept_queue)}/{self.backlog}>"

    @property
    def syn_queue_len(self) -> int:
        return len(self.syn_queue)

    @property
    def syn_queue_limit(self) -> int:
        """When the SYN queue counts as full.  Linux (since 4.4) bounds it by the listen
        backlog (``inet_csk_reqsk_queue_is_full``: length >= ``sk_max_ack_backlog``);
        older kernels by min(backlog, tcp_max_syn_backlog): the smaller of the two."""
        return min(self.backlog, self.config.max_syn_backlog)

    @property
    def accept_queue_len(self) -> int:
        return len(self.accept_queue)

    # ------------------------------------------------------------------ user calls
    def accept(self) -> Connection | None:
        """The oldest completed connection, or None when the accept queue is empty."""
        return self.accept_queue.popleft() if self.accept_queue else None

    def close(self, now: int) -> None:
        """Stop listening: forget half-open entries, reset unaccepted connections."""
        if self.closed:
            return
        self.closed = True
        for key in list(self.syn_queue):
            self._remove(key, now)
        while self.accept_queue:
            conn = self.accept_queue.popleft()
            if conn.state is not State.CLOSED:
                conn.abort(now)
        self.endpoint._listener_closed(self)

    # ------------------------------------------------------------------ segment arrival
    def receive(self, seg: Segment, src: str, dst: str, now: int, iss: int | None = None) -> Outcome:
        """A segment for our port that matched no connection (RFC 9293 §3.10.7.2);
        returns what became of it."""
        ep = self.endpoint
        stats = ep.stats
        flags = seg.flags
        key = (src, seg.src_port, dst)
        half = self.syn_queue.get(key)
        if half is not None:
            return self._on_half_open(key, half, seg, src, dst, now)
        if flags & RST:
            # first: RST.  A RST for the listener itself is ignored.
            stats.drop(DropReason.LISTEN_RST)
            return dropped(DropReason.LISTEN_RST)
        if flags & ACK:
            # second: ACK.  Completes a SYN cookie; else RST.
            if self._cookies_active(now) and not flags & SYN:
                mss = ep._cookies.check(dst, self.port, src, seg.src_port, (seg.seq - 1) & MASK,
                                        (seg.ack - 1) & MASK, now)
                if mss is not None:
                    stats.syncookies_accepted += 1
                    return self._complete_cookie(seg, src, dst, mss, now)
                stats.syncookies_failed += 1
            stats.drop(DropReason.LISTEN_ACK)
            ep._send_rst_for(seg, src, dst)
            return dropped(DropReason.LISTEN_ACK)
        if not flags & SYN:
            stats.drop(DropReason.LISTEN_NO_SYN)
            return dropped(DropReason.LISTEN_NO_SYN)
        # third: SYN
        outcome = ACCEPTED
        if seg.payload:
            stats.drop(DropReason.SYN_DATA)  # only the SYN is acknowledged
            outcome = trimmed(DropReason.SYN_DATA)
        if len(self.accept_queue) >= self.backlog:
            stats.listen_overflows += 1
            stats.listen_drops += 1
            stats.drop(DropReason.ACCEPT_QUEUE_FULL)
            return dropped(DropReason.ACCEPT_QUEUE_FULL)
        cfg = self.config
        if cfg.syncookies == 2 or len(self.syn_queue) >= self.syn_queue_limit:
            if cfg.syncookies:
                self._last_overflow = now
                self._send_cookie(seg, src, dst, now)
                return outcome
            stats.listen_drops += 1
            stats.drop(DropReason.SYN_QUEUE_FULL)
            return dropped(DropReason.SYN_QUEUE_FULL)
        if iss is None:
            iss = ep._isn(dst, self.port, src, seg.src_port, now)
        half = HalfOpen(dst, src, seg.src_port, seg.seq, iss, seg.options, seg.window,
                        now + cfg.initial_rto)
        self.syn_queue[key] = half
        stats.passive_opens += 1
        ep._trace_state(now, dst, self.port, src, seg.src_port, State.LISTEN, State.SYN_RECEIVED)
        self._send_synack(half, now)
        self._push_timer(half.deadline, key)
        return outcome

    def _cookies_active(self, now: int) -> bool:
        mode = self.config.syncookies
        if mode == 2:
            return True
        # Mode 1: cookies are checked only while an overflow is recent (Linux: 2 min).
        return mode == 1 and self._last_overflow is not None and now - self._last_overflow < 120_000_000

    def _on_half_open(self, key: _Key, half: HalfOpen, seg: Segment, src: str, dst: str, now: int) -> Outcome:
        """A segment for a SYN-queue entry: §3.10.7.4 in SYN-RECEIVED, in Linux's
        order (tcp_check_req): retransmitted SYN, ACK value, sequence, RST, SYN, ACK bit."""
        ep = self.endpoint
        stats = ep.stats
        flags = seg.flags
        seq = seg.seq
        if flags & (SYN | RST | ACK) == SYN and seq == half.irs:
            # The client retransmitted its SYN: our SYN-ACK was lost (or is slow).
            self._send_synack(half, now)
            half.resent = True
            stats.synack_retransmits += 1
            return (Verdict.DUPLICATE, None)
        if flags & ACK and seg.ack != ((half.iss + 1) & MASK):
            # §3.5.2: an ACK of something not yet sent gets <SEQ=SEG.ACK><CTL=RST>
            # (a RST carrying one is dropped, as in LISTEN).
            if flags & RST:
                stats.drop(DropReason.LISTEN_RST)
                return dropped(DropReason.LISTEN_RST)
            stats.drop(DropReason.BAD_ACK)
            ep._send_rst_for(seg, src, dst)
            return dropped(DropReason.BAD_ACK)
        # first: sequence number (Table 6), against RCV.NXT = IRS+1 and our SYN-ACK's window.
        rcv_nxt = (half.irs + 1) & MASK
        wnd = min(self.config.rcv_buf, 0xFFFF)
        seglen = len(seg.payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        if not (in_window(seq, rcv_nxt, wnd)
                or (seglen > 1 and in_window((seq + seglen - 1) & MASK, rcv_nxt, wnd))):
            if flags & RST:
                stats.drop(DropReason.RST_OUT_OF_WINDOW)
                return dropped(DropReason.RST_OUT_OF_WINDOW)
            stats.drop(DropReason.OUT_OF_WINDOW)
            self._send_ack(half, now)
            return dropped(DropReason.OUT_OF_WINDOW)
        if flags & SYN and seq == half.irs:
            # The peer's SYN again, with more behind it: trim the SYN ("trim to the window").
            seg = seg._replace(seq=rcv_nxt, flags=flags & ~SYN)
            flags = seg.flags
        # second: RST (RFC 5961 §3.2).  Exact: back to LISTEN, the user is not told.
        if flags & RST:
            if seq == rcv_nxt:
                stats.resets_received += 1
                self._remove(key, now)
                return ACCEPTED
            stats.challenge_acks += 1
            stats.drop(DropReason.RST_CHALLENGED)
            self._send_ack(half, now)
            return dropped(DropReason.RST_CHALLENGED)
        # fourth: SYN.  Passive OPEN: return to LISTEN (Linux also resets the peer).
        if flags & SYN:
            stats.drop(DropReason.HALF_OPEN_SYN)
            ep._send_rst_for(seg, src, dst)
            self._remove(key, now)
            return dropped(DropReason.HALF_OPEN_SYN)
        # fifth: the ACK bit.
        if not flags & ACK:
            stats.drop(DropReason.NO_ACK_FLAG)
            return dropped(DropReason.NO_ACK_FLAG)
        return self._complete(key, half, seg, src, dst, now)

    def _send_ack(self, half: HalfOpen, now: int) -> None:
        """<SEQ=ISS+1><ACK=IRS+1><CTL=ACK>, the window scaled as the connection's will be
        (with timestamps when they were negotiated, RFC 7323 §3.2)."""
        cfg = self.config
        shift = cfg.wscale if cfg.wscale is not None and half.peer.wscale is not None else 0
        ts = half.peer.timestamps
        opts = NO_OPTIONS
        if ts is not None and cfg.timestamps:
            opts = Options(timestamps=(self._tsval(half.local_addr, half.remote_addr, now), ts[0]))
        self.endpoint._emit(half.local_addr, half.remote_addr,
                            Segment(self.port, half.remote_port, (half.iss + 1) & MASK,
                                    (half.irs + 1) & MASK, ACK, min(cfg.rcv_buf, 0xFFFF) >> shift, opts))

    def _complete(self, key: _Key, half: HalfOpen, seg: Segment, src: str, dst: str, now: int) -> Outcome:
        """The handshake's final ACK, checked by ``_on_half_open``."""
        ep = self.endpoint
        stats = ep.stats
        if len(self.accept_queue) >= self.backlog:
            stats.listen_overflows += 1
            stats.drop(DropReason.ACCEPT_QUEUE_FULL)
            if self.config.abort_on_overflow:
                ep._send_rst_for(seg, src, dst)
                self._remove(key, now, traced=True)
            return dropped(DropReason.ACCEPT_QUEUE_FULL)
        del self.syn_queue[key]
        conn = ep._new_connection(dst, self.port, src, seg.src_port, half.iss)
        # Linux measures the RTT from the SYN-ACK (tcp_synack_rtt_meas) unless it went
        # out more than once; then RFC 6298 5.7's 3 s fallback applies instead.
        rtt = None if half.retries or half.resent else now - (half.deadline - self.config.initial_rto)
        conn.open_passive(half.irs, half.peer, half.window, now, self, rtt,
                          handshake_retransmits=half.retries + half.resent)
        return conn.receive_segment(seg, now)

    def _complete_cookie(self, seg: Segment, src: str, dst: str, mss: int, now: int) -> Outcome:
        ep = self.endpoint
        if len(self.accept_queue) >= self.backlog:
            ep.stats.listen_overflows += 1
            ep.stats.drop(DropReason.ACCEPT_QUEUE_FULL)
            return dropped(DropReason.ACCEPT_QUEUE_FULL)
        # Without timestamps a cookie remembers only the MSS: no window scaling, no
        # SACK (as Linux).  With them, the echo of our TSval brings both back.
        peer = Options(mss=mss)
        ts = seg.options.timestamps
        if ts is not None and self.config.timestamps:
            wscale, sack = decode_ts_options(ts[1])
            peer = Options(mss=mss, wscale=wscale, sack_permitted=sack, timestamps=ts)
        conn = ep._new_connection(dst, self.port, src, seg.src_port, (seg.ack - 1) & MASK)
        ep._trace_note(now, "SYN cookie accepted: connection rebuilt from the ACK", conn)
        conn.open_passive((seg.seq - 1) & MASK, peer, seg.window, now, self)
        return conn.receive_segment(seg, now)

    def _on_established(self, conn: Connection, now: int) -> None:
        self.accept_queue.append(conn)
        self.endpoint._events.append(AcceptReady(self))

    # ------------------------------------------------------------------ SYN-ACKs
    def _tsval(self, local: str, remote: str, now: int) -> int:
        """Our TSval towards ``remote`` (the 1 ms clock and the pair's offset)."""
        return (now // 1000 + self.endpoint._isn.ts_offset(local, remote)) & MASK

    def _synack(self, iss: int, irs: int, peer: Options, sport: int, wscale_ok: bool,
                mss: int | None = None, tsval: int = 0) -> Segment:
        cfg = self.config
        # RFC 7323 §3.2: timestamps on the SYN-ACK only if the SYN had them (TSecr
        # echoes its TSval).  ``wscale_ok`` False: a cookie without timestamps, which
        # cannot remember window scaling or SACK.
        ts = peer.timestamps
        opts = Options(mss=mss if mss is not None else cfg.mss,
                       wscale=cfg.wscale if wscale_ok and peer.wscale is not None else None,
                       sack_permitted=wscale_ok and peer.sack_permitted and cfg.sack,
                       timestamps=(tsval, ts[0])
                       if wscale_ok and ts is not None and cfg.timestamps else None)
        return Segment(self.port, sport, iss, (irs + 1) & MASK, SYN | ACK,
                       min(cfg.rcv_buf, 0xFFFF), opts)

    def _send_synack(self, half: HalfOpen, now: int) -> None:
        tsval = self._tsval(half.local_addr, half.remote_addr, now) if self.config.timestamps else 0
        seg = self._synack(half.iss, half.irs, half.peer, half.remote_port, True, tsval=tsval)
        self.endpoint._emit(half.local_addr, half.remote_addr, seg)

    def _send_cookie(self, syn: Segment, src: str, dst: str, now: int) -> None:
        ep = self.endpoint
        peer_mss = syn.options.mss if syn.options.mss is not None else 536
        # The cookie remembers the peer's MSS (rounded down to the table); the
        # SYN-ACK offers ours.  Window scaling and SACK only when timestamps can carry
        # them (cookies.ts_options), as Linux.
        cookie, _ = ep._cookies.make(dst, self.port, src, syn.src_port, syn.seq, peer_mss, now)
        ep.stats.syncookies_sent += 1
        opts = syn.options
        if opts.timestamps is not None and self.config.timestamps:
            cfg = self.config
            wscale = opts.wscale if cfg.wscale is not None else None
            tsval = ts_options(self._tsval(dst, src, now), wscale, opts.sack_permitted and cfg.sack)
            ep._emit(dst, src, self._synack(cookie, syn.seq, opts, syn.src_port, True, tsval=tsval))
            return
        ep._emit(dst, src, self._synack(cookie, syn.seq, opts, syn.src_port, False))

    # ------------------------------------------------------------------ timers
    def _push_timer(self, deadline: int, key: _Key) -> None:
        heapq.heappush(self._timers, (deadline, self._timer_seq, key))
        self._timer_seq += 1
        self.endpoint._reschedule(self)

    def next_timeout(self) -> int | None:
        timers = self._timers
        while timers:
            deadline, _, key = timers[0]
            half = self.syn_queue.get(key)
            if half is not None and half.deadline == deadline:
                return deadline
            heapq.heappop(timers)  # stale: entry gone or re-armed
        return None

    def handle_timeout(self, now: int) -> None:
        timers = self._timers
        cfg = self.config
        while timers and timers[0][0] <= now:
            deadline, _, key = heapq.heappop(timers)
            half = self.syn_queue.get(key)
            if half is None or half.deadline != deadline:
                continue
            if half.retries >= cfg.synack_retries:
                self.endpoint.stats.timeouts += 1
                self._trace_timer(now, half, TimerAction.GAVE_UP)
                self._remove(key, now)
                continue
            half.retries += 1
            self._trace_timer(now, half, TimerAction.FIRED)
            self.endpoint.stats.synack_retransmits += 1
            self._send_synack(half, now)
            half.deadline = now + (cfg.initial_rto << half.retries)
            heapq.heappush(timers, (half.deadline, self._timer_seq, key))
            self._timer_seq += 1

    def _trace_timer(self, now: int, half: HalfOpen, action: TimerAction) -> None:
        ep = self.endpoint
        if ep.tracer is not None:
            ep._record(TimerRecord(now, ep.name, endpoint_str(half.local_addr, self.port),
                                  endpoint_str(half.remote_addr, half.remote_port), Timer.SYNACK, action))

    def _remove(self, key: _Key, now: int, traced: bool = True) -> None:
        half = self.syn_queue.pop(key, None)
        if half is not None and traced:
            ep = self.endpoint
            if ep.tracer is not None:
                ep._record(StateRecord(now, ep.name, endpoint_str(half.local_addr, self.port),
                                      endpoint_str(half.remote_addr, half.remote_port),
                                      State.SYN_RECEIVED, State.CLOSED))
                ep._record(NoteRecord(now, ep.name, f"SYN queue {len(self.syn_queue)}"
                                     f"/{self.syn_queue_limit}",
                                     endpoint_str(half.local_addr, self.port),
                                     endpoint_str(half.remote_addr, half.remote_port)))

    # ------------------------------------------------------------------ netstat
    def snapshot(self) -> list[SocketInfo]:
        local = endpoint_str(self.addr or "*", self.port)
        rows = [SocketInfo("LISTEN", local, "*:*", len(self.accept_queue), self.backlog,
                           syn_q=len(self.syn_queue))]
        for half in self.syn_queue.values():
            rows.append(SocketInfo("SYN-RECV", endpoint_str(half.local_addr, self.port),
                                   endpoint_str(half.remote_addr, half.remote_port), 0, 0,
                                   "synack", half.deadline, half.retries))
        return rows
