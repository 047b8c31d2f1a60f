"""A listening socket and its two queues, modelled on Linux.

- The **SYN queue** holds half-open connections as small :class:`HalfOpen` records
  (Linux's ``request_sock``), bounded by the listen backlog and
  ``Config.max_syn_backlog`` (:attr:`Listener.syn_queue_limit`).  Each one
  retransmits its SYN-ACK with exponential backoff (1, 2, 4, 8, 16 s ...) up to
  ``Config.synack_retries`` times, then is dropped; while the queue is more than
  half full, old entries get fewer retransmissions (down to 2), so that a flood of
  SYNs nobody will complete cannot hold it for a minute
  (:meth:`Listener.synack_retry_limit`).
- The **accept queue** holds connections whose handshake completed, until the
  application calls :meth:`Listener.accept`; it is full when it holds more than
  ``backlog`` (:attr:`Listener.accept_queue_limit`: backlog + 1 connections, as Linux's).

Overflow follows Linux's ``tcp_conn_request``: a SYN arriving while the accept queue
is full is dropped; while the SYN queue is full it is answered with a SYN cookie
(``syncookies`` 1) or dropped (0); with ``syncookies`` 2 every SYN gets a cookie.
A final ACK arriving while the accept queue is full is dropped (the SYN-ACK is
retransmitted and the client's ACK retried later), or answered with RST when
``abort_on_overflow`` is set.

Not modelled: with ``syncookies`` 0, Linux also keeps the last quarter of
``tcp_max_syn_backlog`` for peers it has TCP metrics for (``tcp_peer_is_proven`` in
``tcp_conn_request``: a SYN from any other peer is dropped once the queue holds more
than three quarters of it).  synack keeps no per-destination metrics (no
``tcp_metrics``), so it has no proven peers to reserve room for; instead
``Config.max_syn_backlog`` bounds the queue outright (kernels before 4.4 bounded it
by the smaller of the two, rounded up to a power of two).
TCP_DEFER_ACCEPT (the other branch of Linux's ``syn_ack_recalc``) is not modelled
either.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING, Final, Protocol

from .cookies import SynCookies, decode_ts_options, ts_options
from .errors import DropReason
from .events import AcceptReady
from .info import SocketInfo
from .replies import half_open_ack, oow_rate_allows, syn_options
from .seq import MASK, in_window, seq_lt
from .state import State, check_transition
from .timers import IDLE, SYNACK, Timer, TimerTable
from .timestamps import tsval
from .trace import (
    ACCEPTED,
    NoteRecord,
    Outcome,
    StateRecord,
    TimerAction,
    TimerRecord,
    TraceRecord,
    Verdict,
    dropped,
    endpoint_str,
    trimmed,
)
from .wire import ACK, RST, SYN, Options, Segment

if TYPE_CHECKING:
    from .config import Config
    from .connection import Connection
    from .stats import Stats


class ListenerHost(Protocol):
    """What a listener needs from the endpoint it belongs to."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> Config: ...

    @property
    def stats(self) -> Stats: ...

    @property
    def cookies(self) -> SynCookies: ...

    @property
    def tracing(self) -> bool: ...

    def record(self, rec: TraceRecord) -> None:
        """Trace ``rec`` (only called when ``tracing``)."""

    def isn(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int: ...

    def ts_offset(self, local: str, remote: str) -> int: ...

    def emit(self, src: str, dst: str, seg: Segment) -> None:
        """Send ``seg`` with the next output."""

    def reset(self, seg: Segment, src: str, dst: str) -> None:
        """Answer ``seg`` (from ``src`` to ``dst``) with the RST of §3.5.2."""

    def new_connection(self, local: str, local_port: int, remote: str, remote_port: int, iss: int,
                       listener: Listener) -> Connection: ...

    def accept_ready(self, listener: Listener) -> None:
        """A connection joined ``listener``'s accept queue."""

    def timers_changed(self, listener: Listener) -> None:
        """``listener``'s next deadline may have moved."""

    def listener_closed(self, listener: Listener) -> None: ...


#: The fewest SYN-ACK retransmissions pruning leaves an entry (Linux's
#: ``reqsk_timer_handler`` lowers max_syn_ack_retries to no less than 2).
PRUNED_RETRIES: Final = 2

class HalfOpen:
    """One entry of the SYN queue: what the SYN told us, and the SYN-ACK's timer."""

    __slots__ = ("deadline", "irs", "iss", "last_oow", "local_addr", "peer", "remote_addr", "remote_port",
                 "resent", "retries", "window")

    def __init__(self, local_addr: str, remote_addr: str, remote_port: int, irs: int, iss: int,
                 peer: Options, window: int, deadline: int) -> None:
        self.local_addr = local_addr
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self.irs = irs
        self.iss = iss
        self.peer = peer
        self.window = window
        #: SYN-ACK timeouts so far (Linux's num_timeout): 0 while the entry is "young".
        self.retries = 0
        self.resent = False  # a SYN-ACK went out more than once: no RTT sample (Karn)
        self.deadline = deadline
        #: When a retransmitted SYN was last answered (Linux's last_oow_ack_time).
        self.last_oow: int | None = None


_Key = tuple[str, int, str]  # (remote addr, remote port, local addr)


class Listener:
    """LISTEN on ``(addr, port)``; ``addr`` "" means every address of the endpoint."""

    def __init__(self, host: ListenerHost, addr: str, port: int, backlog: int) -> None:
        if backlog < 0:
            raise ValueError("backlog must be >= 0")
        self.host = host
        self.config = host.config
        self.addr = addr
        self.port = port
        self.backlog = backlog
        self.syn_queue: dict[_Key, HalfOpen] = {}
        self.accept_queue: deque[Connection] = deque()
        self.closed = False
        #: SYNACK: the earliest SYN-ACK retransmission of the SYN queue.
        self.timers: TimerTable = list(IDLE)
        self._heap: list[tuple[int, int, _Key]] = []
        self._order = 0
        #: Entries of the SYN queue whose timer has not fired yet (Linux's queue->young).
        self._young = 0
        self._last_overflow: int | None = None
        #: The event of a connection joining the accept queue (a value: made once).
        self.ready = AcceptReady(self)

    def __repr__(self) -> str:
        return f"<Listener {endpoint_str(self.addr or '*', self.port)} syn={len(self.syn_queue)} " \
               f"accept={len(self.accept_queue)}/{self.backlog}>"

    @property
    def syn_queue_len(self) -> int:
        return len(self.syn_queue)

    @property
    def syn_queue_limit(self) -> int:
        """How many entries the SYN queue holds before it counts as full.

        Linux bounds it by the listen backlog: ``inet_csk_reqsk_queue_is_full`` is
        length > ``sk_max_ack_backlog`` (as read in 6.18; >= until commit 3479c7549fb1
        of January 2025, which the stable series took too), so a backlog of 64 holds
        65 entries, as Linux's accept queue (``sk_acceptq_is_full``) always did.
        ``Config.max_syn_backlog`` bounds it too, unlike current Linux (see the
        module's docstring for the rule Linux has in its place)."""
        return min(self.backlog + 1, self.config.max_syn_backlog)

    @property
    def accept_queue_limit(self) -> int:
        """How many connections the accept queue holds: backlog + 1, as Linux's
        (``sk_acceptq_is_full`` is length > backlog; ``listen(fd, 0)`` still takes one)."""
        return self.backlog + 1

    @property
    def accept_queue_full(self) -> bool:
        return len(self.accept_queue) >= self.accept_queue_limit

    @property
    def young(self) -> int:
        """Entries of the SYN queue whose SYN-ACK has not timed out yet."""
        return self._young

    def synack_retry_limit(self) -> int:
        """The SYN-ACK retransmissions an entry whose timer fires now is allowed.

        Linux's ``reqsk_timer_handler`` (net/ipv4/inet_connection_sock.c): normally
        ``Config.synack_retries``.  While the queue is more than half full
        (2·length > max(8, backlog)), one fewer for each of 2·young, 4·young,
        8·young ... that the length reaches, never fewer than 2 ("young": the entries
        whose timer has not fired yet, this one included if it has not).  Once every
        entry is old, that is 2: an entry nobody answers goes after 1 + 2 + 4 = 7 s
        instead of 63 s, and half the room is kept for the young."""
        limit = self.config.synack_retries
        length = len(self.syn_queue)
        if 2 * length > max(8, self.backlog):
            young = 2 * self._young
            while limit > PRUNED_RETRIES and length >= young:
                limit -= 1
                young *= 2
        return limit

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
        self.host.listener_closed(self)

    def established(self, conn: Connection, now: int) -> None:
        """``conn``, one of ours, reached ESTABLISHED: it joins the accept queue."""
        self.accept_queue.append(conn)
        self.host.accept_ready(self)

    # ------------------------------------------------------------------ segment arrival
    def receive(self, seg: Segment, src: str, dst: str, now: int, iss: int | None = None) -> Outcome:
        """A segment for our port that matched no connection (RFC 9293 §3.10.7.2);
        returns what became of it.  ``iss``: the ISS to use for a new SYN (a TIME-WAIT
        4-tuple's reuse), instead of the endpoint's ISN source."""
        host = self.host
        stats = host.stats
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
                mss = host.cookies.check(dst, self.port, src, seg.src_port, (seg.seq - 1) & MASK,
                                         (seg.ack - 1) & MASK, now)
                if mss is not None:
                    stats.syncookies_accepted += 1
                    return self._complete_cookie(seg, src, dst, mss, now)
                stats.syncookies_failed += 1
            stats.drop(DropReason.LISTEN_ACK)
            host.reset(seg, src, dst)
            return dropped(DropReason.LISTEN_ACK)
        if not flags & SYN:
            stats.drop(DropReason.LISTEN_NO_SYN)
            return dropped(DropReason.LISTEN_NO_SYN)
        # third: SYN
        outcome = ACCEPTED
        if seg.payload:
            stats.drop(DropReason.SYN_DATA)  # only the SYN is acknowledged
            outcome = trimmed(DropReason.SYN_DATA)
        if self.accept_queue_full:
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
            iss = host.isn(dst, self.port, src, seg.src_port, now)
        half = HalfOpen(dst, src, seg.src_port, seg.seq, iss, seg.options, seg.window,
                        now + cfg.initial_rto)
        self.syn_queue[key] = half
        self._young += 1
        stats.passive_opens += 1
        self._trace_state(now, half, State.LISTEN, State.SYN_RECEIVED)
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
        order (tcp_check_req): retransmitted SYN, ACK value, PAWS and sequence, RST,
        SYN, ACK bit."""
        host = self.host
        stats = host.stats
        flags = seg.flags
        seq = seg.seq
        # PAWS (RFC 7323 §5.3 R1) against the TSval of the peer's SYN, our TS.Recent;
        # applied with the sequence check below, before a connection is made (Linux's
        # tcp_check_req): refused, the entry keeps its place in the queue and its timer.
        ts = seg.options.timestamps
        peer_ts = half.peer.timestamps
        paws = (ts is not None and peer_ts is not None and not flags & RST and self.config.timestamps
                and seq_lt(ts[0], peer_ts[0]))  # SEG.TSval < TS.Recent, modulo 2**32
        if flags & (SYN | RST | ACK) == SYN and seq == half.irs and not paws:
            # The client retransmitted its SYN: our SYN-ACK was lost (or is slow).  As
            # Linux's tcp_check_req: answered at most once per tcp_invalid_ratelimit
            # (tcp_oow_rate_limited), and the answer restarts the entry's timer from
            # now, with the backoff its timeouts have reached (reqsk_timeout).
            cfg = self.config
            if oow_rate_allows(half.last_oow, now, cfg):
                half.last_oow = now
                self._send_synack(half, now)
                half.resent = True
                stats.synack_retransmits += 1
                half.deadline = now + self._backoff(half.retries)
                self._push_timer(half.deadline, key)
            return (Verdict.DUPLICATE, None)
        if flags & ACK and seg.ack != ((half.iss + 1) & MASK):
            # §3.5.2: an ACK of something not yet sent gets <SEQ=SEG.ACK><CTL=RST>
            # (a RST carrying one is dropped, as in LISTEN).
            if flags & RST:
                stats.drop(DropReason.LISTEN_RST)
                return dropped(DropReason.LISTEN_RST)
            stats.drop(DropReason.BAD_ACK)
            host.reset(seg, src, dst)
            return dropped(DropReason.BAD_ACK)
        # first: sequence number (Table 6), against RCV.NXT = IRS+1 and our SYN-ACK's window.
        rcv_nxt = (half.irs + 1) & MASK
        wnd = min(self.config.rcv_buf, 0xFFFF)
        seglen = seg.seg_len
        if paws:
            stats.drop(DropReason.PAWS)
            self._send_ack(half, now)
            return dropped(DropReason.PAWS)
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
            host.reset(seg, src, dst)
            self._remove(key, now)
            return dropped(DropReason.HALF_OPEN_SYN)
        # fifth: the ACK bit.
        if not flags & ACK:
            stats.drop(DropReason.NO_ACK_FLAG)
            return dropped(DropReason.NO_ACK_FLAG)
        return self._complete(key, half, seg, src, dst, now)

    def _send_ack(self, half: HalfOpen, now: int) -> None:
        offset = self.host.ts_offset(half.local_addr, half.remote_addr) if self.config.timestamps else 0
        self.host.emit(half.local_addr, half.remote_addr,
                       half_open_ack(self.port, half.remote_port, half.iss, half.irs, self.config, half.peer,
                                     offset, now))

    def _complete(self, key: _Key, half: HalfOpen, seg: Segment, src: str, dst: str, now: int) -> Outcome:
        """The handshake's final ACK, checked by ``_on_half_open``."""
        host = self.host
        stats = host.stats
        if self.accept_queue_full:
            stats.listen_overflows += 1
            stats.drop(DropReason.ACCEPT_QUEUE_FULL)
            if self.config.abort_on_overflow:
                host.reset(seg, src, dst)
                self._remove(key, now)
            return dropped(DropReason.ACCEPT_QUEUE_FULL)
        self._take(key)
        conn = host.new_connection(dst, self.port, src, seg.src_port, half.iss, self)
        # Linux measures the RTT from the SYN-ACK (tcp_synack_rtt_meas) unless it went
        # out more than once; then RFC 6298 5.7's 3 s fallback applies instead.
        rtt = None if half.retries or half.resent else now - (half.deadline - self.config.initial_rto)
        conn.open_passive(half.irs, half.peer, half.window, now, rtt,
                          handshake_retransmits=half.retries + half.resent)
        return conn.receive_segment(seg, now)

    def _complete_cookie(self, seg: Segment, src: str, dst: str, mss: int, now: int) -> Outcome:
        host = self.host
        if self.accept_queue_full:
            host.stats.listen_overflows += 1
            host.stats.drop(DropReason.ACCEPT_QUEUE_FULL)
            return dropped(DropReason.ACCEPT_QUEUE_FULL)
        # Without timestamps a cookie remembers only the MSS: no window scaling, no
        # SACK (as Linux).  With them, the echo of our TSval brings both back.
        peer = Options(mss=mss)
        ts = seg.options.timestamps
        if ts is not None and self.config.timestamps:
            wscale, sack = decode_ts_options(ts[1])
            peer = Options(mss=mss, wscale=wscale, sack_permitted=sack, timestamps=ts)
        conn = host.new_connection(dst, self.port, src, seg.src_port, (seg.ack - 1) & MASK, self)
        if host.tracing:
            host.record(NoteRecord(now, host.name, "SYN cookie accepted: connection rebuilt from the ACK",
                                   endpoint_str(conn.local_addr, conn.local_port),
                                   endpoint_str(conn.remote_addr, conn.remote_port)))
        conn.open_passive((seg.seq - 1) & MASK, peer, seg.window, now)
        return conn.receive_segment(seg, now)

    # ------------------------------------------------------------------ SYN-ACKs
    def _synack(self, iss: int, irs: int, opts: Options, sport: int) -> Segment:
        return Segment(self.port, sport, iss, (irs + 1) & MASK, SYN | ACK, min(self.config.rcv_buf, 0xFFFF),
                       opts)

    def _send_synack(self, half: HalfOpen, now: int) -> None:
        cfg = self.config
        val = tsval(now, self.host.ts_offset(half.local_addr, half.remote_addr)) if cfg.timestamps else 0
        ts = half.peer.timestamps
        opts = syn_options(cfg, half.peer, val, ts[0] if ts is not None else 0,
                           mss=cfg.mss_for(half.remote_addr))
        self.host.emit(half.local_addr, half.remote_addr,
                       self._synack(half.iss, half.irs, opts, half.remote_port))

    def _send_cookie(self, syn: Segment, src: str, dst: str, now: int) -> None:
        host = self.host
        cfg = self.config
        peer = syn.options
        # The cookie remembers the peer's MSS (rounded down to the table); the SYN-ACK
        # offers ours.  Window scaling and SACK only when timestamps can carry them
        # (cookies.ts_options), as Linux.
        cookie, _ = host.cookies.make(dst, self.port, src, syn.src_port, syn.seq,
                                      peer.mss if peer.mss is not None else 536, now)
        host.stats.syncookies_sent += 1
        if peer.timestamps is not None and cfg.timestamps:
            wscale = peer.wscale if cfg.wscale is not None else None
            val = ts_options(tsval(now, host.ts_offset(dst, src)), wscale, peer.sack_permitted and cfg.sack)
            opts = syn_options(cfg, peer, val, peer.timestamps[0], mss=cfg.mss_for(src))
        else:
            opts = syn_options(cfg, peer, 0, negotiable=False, mss=cfg.mss_for(src))
        host.emit(dst, src, self._synack(cookie, syn.seq, opts, syn.src_port))

    # ------------------------------------------------------------------ timers
    def _push_timer(self, deadline: int, key: _Key) -> None:
        heapq.heappush(self._heap, (deadline, self._order, key))
        self._order += 1
        self._timers_changed()

    def _timers_changed(self) -> None:
        """The SYNACK deadline is the earliest of a live entry (stale heap entries, of
        entries gone or re-armed, are dropped on the way); the endpoint hears of it."""
        heap = self._heap
        at = self.timers
        at[SYNACK] = None
        while heap:
            deadline, _, key = heap[0]
            half = self.syn_queue.get(key)
            if half is not None and half.deadline == deadline:
                at[SYNACK] = deadline
                break
            heapq.heappop(heap)
        self.host.timers_changed(self)

    def next_timeout(self) -> int | None:
        return self.timers[SYNACK]

    def _backoff(self, retries: int) -> int:
        """How long an entry's timer runs after ``retries`` timeouts: the initial RTO
        doubled each time, at most ``Config.max_rto`` (Linux's ``reqsk_timeout``:
        TCP_TIMEOUT_INIT << num_timeout, capped at TCP_RTO_MAX; for its own timer and
        for a retransmitted SYN's restart alike)."""
        cfg = self.config
        return min(cfg.initial_rto << retries, cfg.max_rto)

    def handle_timeout(self, now: int) -> None:
        """SYN-ACK retransmissions that are due (1, 2, 4, 8 ... s), or the entry's end
        after ``synack_retry_limit()`` of them (Linux's ``reqsk_timer_handler`` and
        ``syn_ack_recalc``: each entry decides when its own timer fires, in turn)."""
        heap = self._heap
        cfg = self.config
        host = self.host
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            half = self.syn_queue.get(key)
            if half is None or half.deadline != deadline:
                continue
            if half.retries >= self.synack_retry_limit():
                host.stats.timeouts += 1
                if half.retries < cfg.synack_retries:
                    host.stats.syn_queue_pruned += 1
                self._trace_timer(now, half, TimerAction.GAVE_UP)
                self._remove(key, now)
                continue
            if half.retries == 0:
                self._young -= 1
            half.retries += 1
            self._trace_timer(now, half, TimerAction.FIRED)
            host.stats.synack_retransmits += 1
            self._send_synack(half, now)
            half.deadline = now + self._backoff(half.retries)
            heapq.heappush(heap, (half.deadline, self._order, key))
            self._order += 1
        self._timers_changed()

    # ------------------------------------------------------------------ the trace
    def _trace_timer(self, now: int, half: HalfOpen, action: TimerAction) -> None:
        host = self.host
        if host.tracing:
            host.record(TimerRecord(now, host.name, endpoint_str(half.local_addr, self.port),
                                    endpoint_str(half.remote_addr, half.remote_port), Timer.SYNACK, action))

    def _trace_state(self, now: int, half: HalfOpen, old: State, new: State) -> None:
        """A half-open entry's state, checked against the transition table as a
        connection's is."""
        check_transition(old, new)
        host = self.host
        if host.tracing:
            host.record(StateRecord(now, host.name, endpoint_str(half.local_addr, self.port),
                                    endpoint_str(half.remote_addr, half.remote_port), old, new))

    def _take(self, key: _Key) -> HalfOpen | None:
        """Take an entry out of the SYN queue, and out of the young count and the
        listener's next deadline with it."""
        half = self.syn_queue.pop(key, None)
        if half is not None:
            if half.retries == 0:
                self._young -= 1
            if half.deadline == self.timers[SYNACK]:
                self._timers_changed()
        return half

    def _remove(self, key: _Key, now: int) -> None:
        """An entry ends without a connection (RST, SYN, timeout, close)."""
        half = self._take(key)
        if half is not None:
            self._trace_state(now, half, State.SYN_RECEIVED, State.CLOSED)
            host = self.host
            if host.tracing:
                queue = f"SYN queue {len(self.syn_queue)}/{self.syn_queue_limit}"
                host.record(NoteRecord(now, host.name, queue,
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
