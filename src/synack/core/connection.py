"""One TCP connection: the transmission control block and RFC 9293 §3.10's event
processing for it.

Inputs: :meth:`Connection.receive_segment` (a parsed segment, with ``now``),
:meth:`Connection.handle_timeout` (a no-op when nothing is due) and the user calls
(``send``, ``read``, ``shutdown``, ``close``, ``abort``).  Outputs are pulled:
:meth:`Connection.segments_to_send`, :meth:`Connection.next_event`,
:meth:`Connection.next_timeout`.  Segment handling follows the order of §3.10.7.4
("SEGMENT ARRIVES"): sequence check, RST, SYN, ACK, text, FIN.

The TCB and the §3.10 order live here; the sender's work on it (sending, ACK
processing, loss recovery, keep-alive probes) is in :mod:`sender`, the receiver's
(in-order and out-of-order data, when to ACK) in :mod:`receiver`.

A connection made by a listener starts in SYN-RECEIVED when the handshake's final
ACK arrives (the half-open state lives in the listener's compact SYN-queue entry, as
in Linux); an active open starts in SYN-SENT.

Out-of-order data is held for reassembly (``buffers.Reassembler``, only while a hole
exists) and answered by an immediate duplicate ACK.

In-order data is ACKed as Linux does: at once for the first segments (quick-ack),
then at least every second full-sized segment, else after the delayed-ACK timeout.

Losses are recovered by fast retransmit and fast recovery: SACK-based (RFC 6675,
``sender.Scoreboard``) when the peer sends SACK blocks, NewReno's (RFC 5681 §3.2, RFC
6582) otherwise; or by the RTO (go-back-N).  The window arithmetic is a pluggable
controller (``congestion/``: CUBIC by default, NewReno).

Small segments follow Nagle's algorithm (Linux's Minshall variant; ``nodelay`` turns
it off) and sender-side silly-window avoidance.

Timers: retransmission (RFC 6298), persist (zero-window probes with their own
exponential backoff), delayed ACK, keep-alive (off by default), user timeout
(RFC 5482), TIME-WAIT / FIN-WAIT-2.

Timestamps (RFC 7323, ``Config.timestamps``, off by default) are echoed, guard
against old duplicates (PAWS) and time every ACK of new data (RTTM).

Urgent data (§3.8.5): ``send(data, urgent=True)`` sets SND.UP after the data, and
segments carry URG with the pointer (the octet after the urgent data, MUST-62)
until it is acknowledged; a received pointer that advances is an ``Urgent`` event
and ``urgent_pending`` counts the urgent octets not yet read.  The data stays in
the stream, read in order (RFC 6093's advice; Linux with SO_OOBINLINE).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, ClassVar, Final, Protocol

from .buffers import Reassembler
from .config import DEFAULT_CONFIG, SECOND, Config
from .congestion import CongestionControl, NewReno
from .errors import ConnectionClosing, ConnectionDoesNotExist, DropReason, UsageError
from .events import (
    Closed,
    Connected,
    ConnectionRefused,
    ConnectionReset,
    ConnectionTimedOut,
    Event,
    PeerClosed,
    Urgent,
)
from .receiver import accept_in_order, process_text
from .rtt import FALLBACK_RTO, rto_from, rtt_update
from .sender import (
    Scoreboard,
    ack_advance,
    on_dup_ack,
    on_keepalive_timer,
    retransmit,
    sack_recovery_send,
    send_data,
    trace_cc,
)
from .seq import HALF, MASK, in_window, seq_gt, seq_le, seq_lt, seq_sub
from .state import TRANSITIONS, State
from .stats import Stats
from .timers import Timer
from .trace import (
    ACCEPTED,
    Outcome,
    StateRecord,
    TimerAction,
    TimerRecord,
    Tracer,
    Verdict,
    dropped,
    endpoint_str,
    trimmed,
)
from .wire import ACK, FIN, NO_OPTIONS, PSH, RST, SYN, URG, Options, Segment

if TYPE_CHECKING:
    from .listener import Listener

_CLOSED: Final = State.CLOSED
_SYN_SENT: Final = State.SYN_SENT
_ACK_PSH: Final = ACK | PSH
_new = tuple.__new__
_SYN_RECEIVED: Final = State.SYN_RECEIVED
_ESTABLISHED: Final = State.ESTABLISHED
_FIN_WAIT_1: Final = State.FIN_WAIT_1
_FIN_WAIT_2: Final = State.FIN_WAIT_2
_CLOSE_WAIT: Final = State.CLOSE_WAIT
_CLOSING: Final = State.CLOSING
_LAST_ACK: Final = State.LAST_ACK
_TIME_WAIT: Final = State.TIME_WAIT

#: States in which data (and our FIN) may be sent.
_SENDING: Final = frozenset({_ESTABLISHED, _CLOSE_WAIT, _FIN_WAIT_1, _CLOSING, _LAST_ACK})
#: States in which received data is still delivered to the application.
_RECEIVING: Final = frozenset({_ESTABLISHED, _FIN_WAIT_1, _FIN_WAIT_2})
#: RFC 7323 §5.5 / Linux TCP_PAWS_24DAYS: TS.Recent older than this is outdated.
PAWS_24DAYS: Final = 24 * 86400 * SECOND
#: SACK blocks per segment: 4 fit the 40 option octets (RFC 2018 §3; 3 beside timestamps).
MAX_SACK_BLOCKS: Final = 4


#: TRANSITIONS as state -> the states that may follow it (one dict and set lookup).
_LEGAL: Final = {a: frozenset(b for (x, b) in TRANSITIONS if x is a) for a in State}
#: The congestion controller of a connection not yet synchronized (never updated).
_NO_CC: Final = NewReno(536, 536)


def default_mss(addr: str) -> int:
    """The send MSS to assume when the peer's SYN had no MSS option (MUST-15)."""
    return 1220 if ":" in addr else 536


class Owner(Protocol):
    """What a connection tells the endpoint that owns it."""

    def _touch(self, conn: Connection) -> None:
        """The connection may have segments to send or a new deadline."""

    def _closed(self, conn: Connection) -> None:
        """The connection reached CLOSED: forget its 4-tuple."""


class Connection:
    """The TCB of one connection (RFC 9293 §3.3.1 names)."""

    __slots__ = (
        "_ack_now", "_ack_tsecr", "_ato", "_cc", "_cc_last", "_chal_count", "_chal_start", "_closed_by_app",
        "_ctl", "_delack_deadline", "_dsack", "_dupacks", "_events", "_fin_queued", "_fin_seq", "_host",
        "_in_recovery", "_ka_deadline", "_ka_on", "_ka_probes", "_ka_sent", "_last_heard", "_last_oow_ack",
        "_last_rcv", "_listener", "_nodelay", "_ooo", "_ooo_fin", "_owner", "_peer_fin", "_peer_ws",
        "_persist_backoff", "_probe", "_quick", "_rcv_up", "_rcv_wup", "_rcvbuf", "_recover", "_retries",
        "_rexmit", "_rto", "_rto_deadline", "_rtt_seq", "_rtt_time", "_rttvar", "_sb", "_sched",
        "_snd_data_seq", "_snd_sml", "_snd_up", "_sndbuf", "_srtt", "_stalled_since", "_stats", "_tracer",
        "_ts_clock", "_ts_offset", "_ts_recent", "_ts_recent_at", "_tw_deadline", "_user_timeout",
        "_want_writable", "config", "irs", "iss", "local_addr", "local_port", "max_snd_wnd", "rcv_adv",
        "rcv_nxt", "rcv_wscale", "remote_addr", "remote_port", "sack_ok", "snd_max", "snd_mss", "snd_nxt",
        "snd_una", "snd_wl1", "snd_wl2", "snd_wnd", "snd_wscale", "state", "ts_ok",
    )

    #: Header prediction on (the default) or off: the tests compare whole runs both
    #: ways, and a reader can see what the full processing alone does.
    header_prediction: ClassVar[bool] = True

    def __init__(
        self,
        local_addr: str,
        local_port: int,
        remote_addr: str,
        remote_port: int,
        iss: int,
        config: Config = DEFAULT_CONFIG,
        *,
        host: str = "",
        tracer: Tracer | None = None,
        stats: Stats | None = None,
        owner: Owner | None = None,
        events: deque[Event] | None = None,
    ) -> None:
        self.config = config
        self.local_addr = local_addr
        self.local_port = local_port
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self.state = _CLOSED
        self._host = host
        self._tracer = tracer
        self._stats = stats if stats is not None else Stats()
        self._owner = owner
        self._events: deque[Event] = events if events is not None else deque()
        self._listener: Listener | None = None
        self._peer_ws: int | None = None  # window scale the peer's SYN offered
        # -- send sequence space (RFC 9293 §3.3.1) ---------------------------------
        self.iss = iss
        self.snd_una = iss
        self.snd_nxt = iss
        self.snd_max = iss            # highest sequence number sent (+1)
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.max_snd_wnd = 0          # RFC 5961 §5 MAX.SND.WND
        self.snd_mss = default_mss(remote_addr)
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.sack_ok = False
        # -- timestamps (RFC 7323 §3-5) ------------------------------------------------------
        self.ts_ok = False            # both SYNs carried the option
        self._ts_recent = 0           # TS.Recent: the TSval to echo, and PAWS's reference
        self._ts_recent_at = 0        # when TS.Recent was set (§5.5: outdated after 24 days)
        self._ts_clock = 0            # ``now`` of the latest input: TSval = now in ms + offset
        self._ts_offset = 0           # RFC 7323 §5.4 (set by the endpoint: IsnSource.ts_offset)
        self._ack_tsecr = 0           # the TSecr of the ACK being processed (RTTM), 0: none
        #: A duplicate range to report in the next ACK's first SACK block (RFC 2883).
        self._dsack: tuple[int, int] | None = None
        #: SND.UP and RCV.UP (§3.3.1): None outside urgent mode.
        self._snd_up: int | None = None
        self._rcv_up: int | None = None
        # -- receive sequence space ---------------------------------------------------
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0              # right edge of the window we advertised
        # -- buffers ------------------------------------------------------------------
        self._sndbuf = bytearray()    # unacknowledged and unsent data
        self._snd_data_seq = (iss + 1) & MASK  # sequence number of _sndbuf[0]
        self._fin_queued = False
        self._nodelay = config.nodelay
        self._snd_sml = iss           # end of the last small segment sent (Linux snd_sml)
        self._fin_seq = 0
        self._rcvbuf = bytearray()    # in-order data the application has not read
        self._ooo: Reassembler | None = None  # data beyond RCV.NXT, while a hole exists
        self._ooo_fin: int | None = None  # the sequence number of a FIN beyond RCV.NXT
        self._ctl: list[Segment] = []  # immediate replies (RST, SYN-ACK of simultaneous open)
        self._ack_now = False
        self._peer_fin = False
        self._closed_by_app = False
        self._want_writable = False
        # -- timers and RTT (RFC 6298) ----------------------------------------------------
        self._rto = config.initial_rto
        self._rto_deadline: int | None = None
        self._tw_deadline: int | None = None
        # -- delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2; Linux's quick-ack start) ------
        self._delack_deadline: int | None = None  # a delayed ACK (of data, or of a FIN)
        self._quick = config.quickack_start  # segments still ACKed at once (Linux icsk_ack.quick)
        self._ato = config.delack_min      # the delayed-ACK timeout (Linux icsk_ack.ato)
        self._last_rcv = 0                # when data last arrived (Linux icsk_ack.lrcvtime)
        self._rcv_wup = 0                 # RCV.NXT carried by our last ACK (Linux rcv_wup)
        self._retries = 0
        self._probe = False
        self._srtt: int | None = None
        self._rttvar = 0
        self._rtt_seq: int | None = None
        self._rtt_time = 0
        self._sched: int | None = None  # the owner's bookkeeping of our deadline
        self._persist_backoff = 0     # zero-window probes sent unanswered by a window
        # -- keep-alive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6) and user timeout (RFC 5482) --
        self._ka_on = config.keepalive
        self._ka_deadline: int | None = None
        self._ka_probes = 0           # keep-alive probes sent since the peer was last heard
        self._ka_sent = 0             # when the last one left
        self._last_heard = 0          # when a segment last arrived (Linux rcv_tstamp)
        self._user_timeout = config.user_timeout
        self._stalled_since: int | None = None  # start of the retransmission/probe episode
        # -- congestion control and loss recovery (RFC 5681, RFC 6582) -----------------
        # (The controller is made once the send MSS is known, by _negotiate; until then
        # a shared placeholder that nothing before synchronisation touches.)
        self._cc: CongestionControl = _NO_CC
        self._dupacks = 0
        self._in_recovery = False     # in fast recovery (RFC 5681 §3.2 / RFC 6582)
        self._recover: int | None = None  # RFC 6582 "recover", until SND.UNA passes it
        self._rexmit = False          # retransmit the segment at SND.UNA (fast retransmit)
        self._sb: Scoreboard | None = None  # SACK scoreboard (RFC 6675), while SACK info exists
        self._cc_last: tuple[int, int, int, int, int] | None = None  # last CongestionRecord
        # -- RFC 5961 §7 challenge-ACK throttle ------------------------------------------
        self._chal_start = 0
        self._chal_count = 0
        self._last_oow_ack: int | None = None

    # ------------------------------------------------------------------ properties
    def __repr__(self) -> str:
        return (f"<Connection {endpoint_str(self.local_addr, self.local_port)} -> "
                f"{endpoint_str(self.remote_addr, self.remote_port)} {self.state}>")

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.local_addr, self.local_port, self.remote_addr, self.remote_port)

    @property
    def rcv_wnd(self) -> int:
        """RCV.WND: the free space in the receive buffer."""
        return self.config.rcv_buf - len(self._rcvbuf)

    @property
    def bytes_readable(self) -> int:
        return len(self._rcvbuf)

    @property
    def urgent_pending(self) -> int:
        """Octets of urgent data not yet read, up to the peer's urgent pointer (some
        may not have arrived yet); 0 outside urgent mode (MUST-33)."""
        if self._rcv_up is None:
            return 0
        read_up_to = (self.rcv_nxt - len(self._rcvbuf)) & MASK
        pending = (self._rcv_up - read_up_to) & MASK
        return pending if pending < HALF else 0

    @property
    def bytes_unacked(self) -> int:
        """Send-Q: data written and not yet acknowledged."""
        return len(self._sndbuf)

    @property
    def send_space(self) -> int:
        return self.config.snd_buf - len(self._sndbuf)

    @property
    def nodelay(self) -> bool:
        """Nagle's algorithm off (TCP_NODELAY); from ``Config.nodelay`` at first."""
        return self._nodelay

    @nodelay.setter
    def nodelay(self, value: bool) -> None:
        self._nodelay = value
        if value and self._sndbuf:
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
        self._ka_deadline = None
        if on and self.state is not _CLOSED and self.state is not _SYN_SENT:
            self._arm_keepalive(max(now, self._last_heard))
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

    @property
    def cwnd(self) -> int:
        """The congestion window (octets)."""
        return self._cc.cwnd

    @property
    def ssthresh(self) -> int:
        return self._cc.ssthresh

    @property
    def in_recovery(self) -> bool:
        """In fast recovery (RFC 5681 §3.2, RFC 6582)."""
        return self._in_recovery

    @property
    def rto(self) -> int:
        return self._rto

    @property
    def srtt(self) -> int | None:
        return self._srtt

    @property
    def rttvar(self) -> int:
        return self._rttvar

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def peer_closed(self) -> bool:
        """The peer's FIN has arrived (end of the data it will send)."""
        return self._peer_fin

    @property
    def at_eof(self) -> bool:
        return self._peer_fin and not self._rcvbuf

    # ------------------------------------------------------------------ opening
    def open_active(self, now: int) -> None:
        """Active OPEN (§3.10.1): the SYN leaves with the next ``segments_to_send``."""
        if self.state is not _CLOSED or self.snd_max != self.iss:
            raise UsageError("connection already opened")
        self._set_state(_SYN_SENT, now)
        self._touch()

    def open_passive(self, syn_irs: int, peer: Options, peer_window: int, now: int,
                     listener: Listener | None, synack_rtt: int | None = None, *,
                     handshake_retransmits: int = 0) -> None:
        """Become the SYN-RECEIVED connection of a listener whose SYN-ACK (seq ISS)
        is already out: used when the handshake's final ACK arrives.  ``synack_rtt``
        is the SYN-ACK's round trip, when it can be measured; ``handshake_retransmits``
        counts the SYN-ACK's retransmissions."""
        if self.state is not _CLOSED:
            raise UsageError("connection already opened")
        self._listener = listener
        self.irs = syn_irs
        self.rcv_nxt = (syn_irs + 1) & MASK
        self.rcv_adv = (self.rcv_nxt + min(self.config.rcv_buf, 0xFFFF)) & MASK
        self._peer_ws = peer.wscale
        self._ts_clock = now
        self._rcv_wup = self.rcv_nxt  # our SYN-ACK acknowledged the SYN
        self._negotiate(peer)
        self.snd_wnd = peer_window
        self.snd_nxt = self.snd_max = (self.iss + 1) & MASK
        if synack_rtt is not None:
            self._srtt, self._rttvar = rtt_update(None, 0, synack_rtt)
            self._rto = rto_from(self._srtt, self._rttvar, self.config.min_rto, self.config.max_rto)
        elif handshake_retransmits:
            self._rto = max(self._rto, FALLBACK_RTO)  # RFC 6298 5.7
        self._lost_handshake_window(handshake_retransmits)
        # The listener's half-open entry already went LISTEN -> SYN-RECEIVED (and
        # traced it); this TCB takes over in that state.
        self.state = _SYN_RECEIVED

    def _lost_handshake_window(self, retransmits: int) -> None:
        """RFC 5681 §3.1: after a lost SYN or SYN-ACK the initial window is one
        segment.  As Linux (tcp_init_transfer), only after more than one retransmission:
        with a 1 s initial RTO, one retransmission is as likely a slow path as a loss."""
        if retransmits > 1:
            self._cc.cwnd = self.snd_mss

    def _negotiate(self, peer: Options) -> None:
        """Options from the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.3, RFC 2018)."""
        cfg = self.config
        peer_mss = peer.mss if peer.mss is not None else default_mss(self.remote_addr)
        # Linux clamps a tiny peer MSS (tcp_min_snd_mss 48; CVE-2019-11479).
        self.snd_mss = max(min(peer_mss, cfg.mss), cfg.min_snd_mss)
        if peer.wscale is not None and cfg.wscale is not None:
            self.snd_wscale = min(peer.wscale, 14)  # RFC 7323 §2.3: use 14 if larger
            self.rcv_wscale = cfg.wscale
        else:
            self.snd_wscale = self.rcv_wscale = 0
        self.sack_ok = peer.sack_permitted and cfg.sack
        if cfg.timestamps and peer.timestamps is not None:
            self.ts_ok = True
            self._ts_recent = peer.timestamps[0]  # the SYN's TSval initialises PAWS (§5.2)
            self._ts_recent_at = self._ts_clock
        self._cc = cfg.congestion_factory(self.snd_mss, cfg.initial_window * self.snd_mss)

    # ------------------------------------------------------------------ user calls
    def send(self, data: bytes, *, urgent: bool = False) -> int:
        """Queue data; returns how many bytes the send buffer took (maybe 0).

        ``urgent``: the data is urgent (§3.8.5, MUST-30; new applications should not
        use it, SHLD-13): SND.UP moves to the end of what was queued, and the
        segments carry URG and the pointer, with no wait for Nagle."""
        st = self.state
        if st is _CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        if self._fin_queued or st in (_FIN_WAIT_1, _FIN_WAIT_2, _CLOSING, _LAST_ACK, _TIME_WAIT):
            raise ConnectionClosing("connection closing: send after shutdown/close")
        room = self.config.snd_buf - len(self._sndbuf)
        n = min(room, len(data))
        if n:
            self._sndbuf += data[:n] if n < len(data) else data
            self._touch()
        if n < len(data):
            self._want_writable = True
        if urgent and n:
            self._snd_up = (self._snd_data_seq + len(self._sndbuf)) & MASK
        return n

    def read(self, n: int = -1) -> bytes:
        """Take up to ``n`` bytes (all with -1) of in-order received data."""
        if self._closed_by_app:
            raise ConnectionClosing("connection closing: read after close")
        buf = self._rcvbuf
        if not buf:
            return b""
        if n < 0 or n >= len(buf):
            data = bytes(buf)
            buf.clear()
        else:
            data = bytes(buf[:n])
            del buf[:n]
        if self._rcv_up is not None and self.urgent_pending == 0:
            self._rcv_up = None  # read past the urgent data: urgent mode is over
        # A window update of its own only when it matters (Linux tcp_cleanup_rbuf):
        # the window last advertised has fallen to half the buffer or less and the
        # new one is at least twice it; and (receiver SWS avoidance, §3.8.6.2.2) it
        # grew by at least min(half the buffer, one MSS).  Otherwise the next ACK
        # carries the larger window.
        if self.state in _RECEIVING or self.state is _SYN_RECEIVED:
            adv = seq_sub(self.rcv_adv, self.rcv_nxt)
            half = self.config.rcv_buf >> 1
            if 2 * adv <= self.config.rcv_buf:
                free = self.rcv_wnd
                if free >= 2 * adv and free - adv >= min(half, self.snd_mss):
                    self._ack_now = True
                    self._touch()
        return data

    def shutdown(self, now: int) -> None:
        """Half-close: send FIN after the queued data; keep receiving (§3.10.4)."""
        st = self.state
        if st is _CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        if st is _SYN_SENT:
            # §3.10.4: delete the TCB; nothing has to be sent.
            self._set_state(_CLOSED, now)
            return
        if self._fin_queued:
            return
        self._fin_queued = True
        self._fin_seq = (self._snd_data_seq + len(self._sndbuf)) & MASK
        if st is _ESTABLISHED or st is _SYN_RECEIVED:
            self._set_state(_FIN_WAIT_1, now)
        elif st is _CLOSE_WAIT:
            self._set_state(_LAST_ACK, now)
        self._touch()

    def close(self, now: int) -> None:
        """Full close: like ``shutdown``, and the application reads no more.

        With unread received data the connection is reset instead (SHLD-3, as
        Linux does): the peer learns that data was lost.
        """
        st = self.state
        if st is _CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        self._closed_by_app = True
        if self._rcvbuf and st in (_SYN_RECEIVED, _ESTABLISHED, _CLOSE_WAIT, _FIN_WAIT_1, _FIN_WAIT_2):
            self._rcvbuf.clear()
            self._send_reset(now)
            return
        self.shutdown(now)
        if self.state is _FIN_WAIT_2 and self._tw_deadline is None:
            self._arm_close_timer(self.config.fin_timeout, now, Timer.FIN_WAIT_2)
        self._touch()

    def abort(self, now: int) -> None:
        """ABORT (§3.10.5): RST the peer (in synchronized states) and forget."""
        st = self.state
        if st is _CLOSED:
            raise ConnectionDoesNotExist("connection does not exist")
        self._closed_by_app = True
        if st in (_SYN_RECEIVED, _ESTABLISHED, _FIN_WAIT_1, _FIN_WAIT_2, _CLOSE_WAIT):
            self._send_reset(now)
        else:
            self._set_state(_CLOSED, now)

    def _send_reset(self, now: int) -> None:
        # Linux's active reset: RST|ACK at SND.NXT (RFC 9293 §3.10.5 shows a bare RST).
        self._ctl.append(self._segment(self.snd_nxt, RST | ACK))
        self._stats.resets_sent += 1
        self._set_state(_CLOSED, now)

    # ------------------------------------------------------------------ outputs
    def next_event(self) -> Event | None:
        """For a connection without an endpoint: its next event (None when none)."""
        return self._events.popleft() if self._events else None

    def next_timeout(self) -> int | None:
        a, b = self._rto_deadline, self._tw_deadline
        if a is None or (b is not None and b < a):
            a = b
        d = self._delack_deadline
        if d is not None and (a is None or d < a):
            a = d
        d = self._ka_deadline
        if d is not None and (a is None or d < a):
            return d
        return a

    def segments_to_send(self, now: int) -> list[Segment]:
        """Everything to transmit now; arms the retransmission timer as data leaves."""
        self._ts_clock = now
        out = self._ctl
        if out:
            self._ctl = []
        else:
            out = []
        st = self.state
        if st is _CLOSED:
            return out
        if st is _SYN_SENT or st is _SYN_RECEIVED:
            if self.snd_nxt == self.iss:
                out.append(self._build_syn(st is _SYN_RECEIVED, now))
            elif self._ack_now:
                self._ack_now = False
                out.append(self._segment(self.snd_nxt, ACK))
            return out
        if self.snd_nxt == self.iss:
            # FIN-WAIT-1 entered from SYN-RECEIVED, and the timer went back to our
            # unacknowledged SYN: the SYN,ACK goes again, then the FIN.
            out.append(self._build_syn(True, now))
        if st in _SENDING and (self._sndbuf or self._fin_queued):
            adjust = 0
            if self._rexmit:
                # Fast retransmit / a NewReno partial ACK: the first unacknowledged segment.
                self._rexmit = False
                una = self.snd_una
                if una != self.snd_max:
                    sent = retransmit(self, out, una, self.snd_mss, now)
                    if self._sb is not None:
                        self._sb.high_rxt = (una + sent) & MASK
            if self._in_recovery and self._sb is not None:
                adjust = sack_recovery_send(self, out, now)
            send_data(self, out, now, adjust)
        if self._ack_now:
            self._ack_now = False
            out.append(self._segment(self.snd_max if self.snd_nxt == self.snd_max else self.ack_seq(),
                                     ACK))
        if self._tracer is not None:
            trace_cc(self, now)
        return out

    def ack_seq(self) -> int:
        """SEG.SEQ of a pure ACK: the highest sequence number sent (SND.MAX), not a
        SND.NXT rewound by go-back-N, which the peer, having received beyond it, would
        find below RCV.NXT and drop as unacceptable with the ACK in it; but never
        beyond the peer's window (a zero-window probe's octet), as Linux's
        tcp_acceptable_seq does (its SND.NXT is never rewound)."""
        top, end = self.snd_max, (self.snd_una + self.snd_wnd) & MASK
        return top if seq_le(top, end) else end

    def _build_syn(self, with_ack: bool, now: int) -> Segment:
        cfg = self.config
        tsval = (now // 1000 + self._ts_offset) & MASK  # RFC 7323 §5.4: a 1 ms clock (Linux)
        if with_ack:  # simultaneous open: SYN,ACK with what the peer's SYN allowed
            both = self._peer_ws is not None and cfg.wscale is not None
            opts = Options(mss=cfg.mss, wscale=cfg.wscale if both else None, sack_permitted=self.sack_ok,
                           timestamps=(tsval, self._ts_recent) if self.ts_ok else None)
            flags = SYN | ACK
        else:
            opts = Options(mss=cfg.mss, wscale=cfg.wscale, sack_permitted=cfg.sack,
                           timestamps=(tsval, 0) if cfg.timestamps else None)
            flags = SYN
        wnd = min(self.rcv_wnd, 0xFFFF)  # never scaled on a SYN (RFC 7323 §2.2)
        self.rcv_adv = (self.rcv_nxt + wnd) & MASK
        seg = Segment(self.local_port, self.remote_port, self.iss, self.rcv_nxt if with_ack else 0,
                      flags, wnd, opts)
        self.snd_nxt = (self.iss + 1) & MASK
        if seq_gt(self.snd_nxt, self.snd_max) or self.snd_max == self.iss:
            self.snd_max = self.snd_nxt
        if self._retries == 0:
            self._rtt_seq, self._rtt_time = self.snd_nxt, now
        if self._rto_deadline is None:
            self._arm_rto(now)
        return seg

    def _segment(self, seq: int, flags: int, payload: bytes = b"") -> Segment:
        """A non-SYN segment from us, carrying ACK=RCV.NXT and the current window."""
        free = self.config.rcv_buf - len(self._rcvbuf)
        field = free >> self.rcv_wscale
        if field > 0xFFFF:
            field = 0xFFFF
        adv = (self.rcv_nxt + (field << self.rcv_wscale)) & MASK
        if 0 < ((adv - self.rcv_adv) & MASK) < HALF:  # seq_gt, inlined
            self.rcv_adv = adv
        opts = NO_OPTIONS
        if flags & ACK:
            self._delack_deadline = None  # a delayed ACK rides on this segment
            self._rcv_wup = self.rcv_nxt
            if self.sack_ok and (self._ooo is not None or self._dsack is not None):
                # RFC 2018 §4: report the held blocks, the most recently changed
                # first (it holds the segment that triggered this ACK); 3 beside
                # the timestamps option.  A D-SACK block (RFC 2883) goes first, once.
                n = MAX_SACK_BLOCKS - 1 if self.ts_ok else MAX_SACK_BLOCKS
                blocks: list[tuple[int, int]] = []
                if self._dsack is not None:
                    blocks.append(self._dsack)
                    self._dsack = None
                if self._ooo is not None:
                    blocks += self._ooo.recent[:n - len(blocks)]
                opts = Options(sack_blocks=tuple(blocks))
        if self.ts_ok:
            # RFC 7323 §3.2: on every segment once negotiated; TSecr = TS.Recent (§4.3).
            opts = opts._replace(timestamps=((self._ts_clock // 1000 + self._ts_offset) & MASK,
                                             self._ts_recent))
        urg = 0
        up = self._snd_up
        if up is not None and 0 < ((up - seq) & MASK) < HALF and not flags & RST:
            # Urgent mode: the pointer, as an offset from SEG.SEQ, to the octet after
            # the urgent data (MUST-62); beyond 64 KiB, the furthest it can say.
            flags |= URG
            urg = min((up - seq) & MASK, 0xFFFF)
        # Segment(...) without the NamedTuple's Python-level __new__: this runs per segment.
        return _new(Segment, (self.local_port, self.remote_port, seq, self.rcv_nxt if flags & ACK else 0,
                              flags, field, opts, payload, urg))

    # ------------------------------------------------------------------ timers
    def _arm_rto(self, now: int) -> None:
        # No _touch here: every caller is an input that touches once at its end, or
        # segments_to_send, after which the owner re-reads next_timeout anyway.
        rto = self._rto
        b = self._persist_backoff
        if b:
            # Persist timer (§3.8.6.1): exponential backoff of the probe interval,
            # kept apart from the RTO itself (Linux tcp_probe0_when).
            rto = min(rto << b, self.config.max_rto)
        deadline = now + rto
        ut = self._user_timeout
        if ut is not None and self._stalled_since is not None and self._stalled_since + ut < deadline:
            deadline = max(self._stalled_since + ut, now)  # Linux tcp_clamp_rto_to_user_timeout
        self._rto_deadline = deadline

    def _arm_keepalive(self, since: int) -> None:
        self._ka_deadline = since + self.config.keepalive_time

    def _arm_close_timer(self, length: int, now: int, timer: Timer) -> None:
        self._rto_deadline = None
        self._tw_deadline = now + length
        if self._tracer is not None:
            self._tracer(TimerRecord(now, self._host, endpoint_str(self.local_addr, self.local_port),
                                     endpoint_str(self.remote_addr, self.remote_port), timer,
                                     TimerAction.ARMED, self._tw_deadline))

    def _timer_fired(self, now: int, timer: Timer, action: TimerAction = TimerAction.FIRED) -> None:
        if self._tracer is not None:
            self._tracer(TimerRecord(now, self._host, endpoint_str(self.local_addr, self.local_port),
                                     endpoint_str(self.remote_addr, self.remote_port), timer, action))

    def handle_timeout(self, now: int) -> None:
        """Run whatever timer is due; nothing when none is (early wake-ups are safe)."""
        self._ts_clock = now
        dl = self._delack_deadline
        if dl is not None and now >= dl:
            self._delack_deadline = None
            self._ack_now = True
        tw = self._tw_deadline
        if tw is not None and now >= tw:
            self._tw_deadline = None
            if self.state is _TIME_WAIT:
                self._timer_fired(now, Timer.TIME_WAIT)
                self._set_state(_CLOSED, now)
                return
            if self.state is _FIN_WAIT_2:
                self._timer_fired(now, Timer.FIN_WAIT_2)
                self._stats.timeouts += 1
                self._set_state(_CLOSED, now)
                return
        ka = self._ka_deadline
        if ka is not None and now >= ka:
            on_keepalive_timer(self, now)
            if self.state is _CLOSED:
                return
        rto = self._rto_deadline
        if rto is None or now < rto:
            return
        self._rto_deadline = None
        st = self.state
        if st is _SYN_SENT:
            limit = self.config.syn_retries
        elif st is _SYN_RECEIVED:
            limit = self.config.synack_retries
        else:
            limit = self.config.retries2
        # The peer's window is closed and data waits: the persist timer (§3.8.6.1),
        # whether or not the previous probe's octet is still unacknowledged.
        zero_window_probe = self.snd_wnd == 0 and bool(self._sndbuf)
        if self._stalled_since is None:
            # The episode began when the timer was last started (a send or an ACK).
            self._stalled_since = now - self._rto
        ut = self._user_timeout
        if ut is not None and st is not _SYN_SENT and st is not _SYN_RECEIVED \
                and now - self._stalled_since >= ut:
            # RFC 5482 / Linux TCP_USER_TIMEOUT: unacknowledged for too long.
            self._timer_fired(now, Timer.USER_TIMEOUT, TimerAction.GAVE_UP)
            self._stats.timeouts += 1
            self._events.append(ConnectionTimedOut(self))
            self._set_state(_CLOSED, now)
            return
        if self._retries >= limit:
            self._timer_fired(now, Timer.RETRANSMIT, TimerAction.GAVE_UP)
            self._stats.timeouts += 1
            self._events.append(ConnectionTimedOut(self))
            self._set_state(_CLOSED, now)
            return
        self._retries += 1
        self._timer_fired(now, Timer.PERSIST if zero_window_probe else Timer.RETRANSMIT)
        if zero_window_probe:
            self._persist_backoff += 1  # the probe interval doubles (§3.8.6.1)
            self._probe = True
            self.snd_nxt = self.snd_una  # resume from the first unacknowledged octet
        else:
            self._rto = min(self._rto * 2, self.config.max_rto)  # RFC 6298 5.5
            if st is _SYN_SENT:
                self._stats.syn_retransmits += 1
            elif st is not _SYN_RECEIVED:
                # RFC 5681 eq. 4, once per loss episode; then one segment (LW).
                # RFC 6582 step 4: leave fast recovery, remember the highest sent.
                self._cc.on_rto(seq_sub(self.snd_max, self.snd_una), self._retries == 1, now)
                self._in_recovery = False
                self._dupacks = 0
                self._recover = self.snd_max
                self._rexmit = False
                self._sb = None  # go-back-N resends everything; SACK info restarts
            self.snd_nxt = self.snd_una  # go back: resend from the first unacknowledged octet
            self._rtt_seq = None  # Karn: no sample from retransmitted data
        self._touch()

    # ------------------------------------------------------------------ segment arrival
    def receive_segment(self, seg: Segment, now: int) -> Outcome:
        """Process one segment addressed to this connection (RFC 9293 §3.10.7);
        returns what became of it."""
        st = self.state
        opts = seg[6]
        if st is _ESTABLISHED and seg[2] == self.rcv_nxt and seg[4] | PSH == _ACK_PSH \
                and (opts is NO_OPTIONS or (
                    # only timestamps, and PAWS passes: SEG.TSval >= TS.Recent
                    self.ts_ok and opts[3] is not None and not opts[4] and opts[0] is None
                    and opts[1] is None and not opts[2]
                    and ((opts[3][0] - self._ts_recent) & MASK) < HALF)) \
                and self.header_prediction and not (
                    self._in_recovery or self._sb is not None or self._ooo is not None
                    or self._ooo_fin is not None or self._fin_queued or self._persist_backoff
                    or self._closed_by_app) \
                and seg[5] << self.snd_wscale == self.snd_wnd and self.snd_wnd:
            # Header prediction (Van Jacobson; Linux tcp_rcv_established's fast path):
            # the next segment in order, on a connection with nothing unusual going on
            # (no recovery, reassembly, FIN, persist or close in progress), the window
            # as before and open, no option but timestamps.  If it carries a new ACK
            # (not beyond SND.MAX) or data that fits the buffer with the same ACK,
            # every check of §3.10.7.4 would pass, and only their effects are applied.
            # A pure duplicate ACK counts towards fast retransmit: the full path.
            payload = seg[7]
            n = len(payload)
            ack = seg[3]
            una = self.snd_una
            acked = (ack - una) & MASK
            if n <= self.config.rcv_buf - len(self._rcvbuf) and (
                    n > 0 if acked == 0 else acked <= ((self.snd_max - una) & MASK)):
                self._stats.predicted += 1
                self._last_heard = self._ts_clock = now
                seq = seg[2]
                ts = opts[3]
                if ts is not None and ((self._rcv_wup - seq) & MASK) < HALF:
                    # RFC 7323 §4.3 R3: SEG.SEQ =< Last.ACK.sent: echo this TSval from now on.
                    self._ts_recent = ts[0]
                    self._ts_recent_at = now
                if acked:
                    if ts is not None:
                        self._ack_tsecr = ts[1]
                    ack_advance(self, ack, now)
                # the window update's bookkeeping (the window itself is unchanged)
                wl1 = self.snd_wl1
                if 0 < ((seq - wl1) & MASK) < HALF or (wl1 == seq and ((ack - self.snd_wl2) & MASK) < HALF):
                    self.snd_wl1, self.snd_wl2 = seq, ack
                if n:
                    accept_in_order(self, payload, now)
                if self._tracer is not None:
                    trace_cc(self, now)
                owner = self._owner
                if owner is not None:
                    owner._touch(self)
                return ACCEPTED
        if st is _SYN_SENT:
            outcome = self._on_segment_syn_sent(seg, now)
            self._touch()
            return outcome
        if st is _CLOSED:
            self._stats.drop(DropReason.NO_CONNECTION)
            return dropped(DropReason.NO_CONNECTION)
        self._last_heard = now
        self._ts_clock = now
        outcome = self._on_segment_synchronized(seg, now)
        if self._tracer is not None and self.state is not _CLOSED:
            trace_cc(self, now)
        self._touch()
        return outcome

    def _on_segment_syn_sent(self, seg: Segment, now: int) -> Outcome:
        """§3.10.7.3."""
        flags = seg.flags
        # first: an ACK must acknowledge our SYN: ISS < SEG.ACK <= SND.NXT
        if flags & ACK and not (seq_lt(self.iss, seg.ack) and seq_le(seg.ack, self.snd_max)):
            self._stats.drop(DropReason.SYN_SENT_BAD_ACK)
            if not flags & RST:
                self._ctl.append(Segment(self.local_port, self.remote_port, seg.ack, 0, RST, 0))
                self._stats.resets_sent += 1
            return dropped(DropReason.SYN_SENT_BAD_ACK)
        if flags & RST:
            # second: a RST is acceptable only if it acknowledges our SYN (RFC 5961 §3.2)
            if flags & ACK:
                self._stats.resets_received += 1
                self._events.append(ConnectionRefused(self))
                self._set_state(_CLOSED, now)
                return ACCEPTED
            self._stats.drop(DropReason.RST_OUT_OF_WINDOW)
            return dropped(DropReason.RST_OUT_OF_WINDOW)
        if not flags & SYN:
            self._stats.drop(DropReason.SYN_SENT_NO_SYN)
            return dropped(DropReason.SYN_SENT_NO_SYN)
        # fourth: SYN
        self.irs = seg.seq
        self.rcv_nxt = (seg.seq + 1) & MASK
        # The window our SYN offered, now relative to the real RCV.NXT (it was sent
        # before the peer's ISN was known); read() measures reopening from this edge.
        self.rcv_adv = (self.rcv_nxt + min(self.config.rcv_buf, 0xFFFF)) & MASK
        self._peer_ws = seg.options.wscale
        self._ts_clock = now
        self._negotiate(seg.options)
        outcome = ACCEPTED
        if seg.payload:
            self._stats.drop(DropReason.SYN_DATA)  # data on a SYN is not kept
            outcome = trimmed(DropReason.SYN_DATA)
        self._lost_handshake_window(self._retries)
        if flags & ACK:
            syn_retransmitted = self._retries > 0
            if self.ts_ok and seg.options.timestamps is not None:
                self._ack_tsecr = seg.options.timestamps[1]
            ack_advance(self, seg.ack, now)
            if syn_retransmitted and self._srtt is None:
                self._rto = max(self._rto, FALLBACK_RTO)  # RFC 6298 5.7 (MUST)
            self.snd_wnd = seg.window  # a SYN's window is never scaled
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
            self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
            self._ack_now = True
            self._set_state(_ESTABLISHED, now)
        else:
            # Simultaneous open (MUST-10): answer with SYN,ACK from ISS.
            self.snd_wnd = seg.window
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
            self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
            self.snd_nxt = self.iss
            self._rto_deadline = None
            self._set_state(_SYN_RECEIVED, now)
        return outcome

    def _acceptable(self, seq: int, seglen: int, wnd: int) -> bool:
        """RFC 9293 §3.10.7.4 Table 6."""
        rcv_nxt = self.rcv_nxt
        if seglen == 0:
            return seq == rcv_nxt if wnd == 0 else in_window(seq, rcv_nxt, wnd)
        if wnd == 0:
            return False
        return in_window(seq, rcv_nxt, wnd) or in_window((seq + seglen - 1) & MASK, rcv_nxt, wnd)

    def _on_segment_synchronized(self, seg: Segment, now: int) -> Outcome:
        """§3.10.7.4, for SYN-RECEIVED and every synchronized state."""
        st = self.state
        flags = seg.flags
        if flags & SYN and flags & ACK and seg.seq == self.irs and self.snd_una == self.iss:
            # Simultaneous open: the peer's SYN,ACK repeats the SYN we already
            # acknowledged; trim it (§3.10.7.4 "trim to the window") and go on with the ACK.
            # (In SYN-RECEIVED, or FIN-WAIT-1 after a close there.)
            seg = seg._replace(seq=(seg.seq + 1) & MASK, flags=flags & ~SYN, payload=b"")
            flags = seg.flags
        payload = seg.payload
        seq = seg.seq
        wnd = self.config.rcv_buf - len(self._rcvbuf)
        seglen = len(payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        # -- PAWS (RFC 7323 §5.3 R1), before the sequence check ------------------------
        ts = seg.options.timestamps if self.ts_ok else None
        if ts is not None and not flags & RST and 0 < ((self._ts_recent - ts[0]) & MASK) < HALF:
            if now - self._ts_recent_at <= PAWS_24DAYS:
                # SEG.TSval < TS.Recent: an old duplicate.  ACK (rate-limited, as
                # Linux's tcp_invalid_ratelimit) and drop.
                self._stats.drop(DropReason.PAWS)
                return dropped(self._oow_ack(now, seglen > 0 and not flags & SYN) or DropReason.PAWS)
            # §5.5: TS.Recent is outdated after 24 idle days: accept, and start over.
            self._ts_recent, self._ts_recent_at = ts[0], now
        # -- first: sequence number (in order with an open window: acceptable) -----------
        outcome = ACCEPTED
        if (seq != self.rcv_nxt or wnd == 0) and not self._acceptable(seq, seglen, wnd):
            if wnd == 0 and seq == self.rcv_nxt:
                # Zero window (MUST-66): still process the ACK and RST; the text and a
                # FIN are not acceptable (Table 6: SEG.LEN > 0 with RCV.WND = 0).
                if payload or flags & FIN:
                    self._stats.drop(DropReason.RCV_BUFFER_FULL)
                    outcome = trimmed(DropReason.RCV_BUFFER_FULL)
                    payload = b""
                    flags &= ~FIN
                    self._ack_now = True
            else:
                if flags & RST:
                    self._stats.drop(DropReason.RST_OUT_OF_WINDOW)
                    return dropped(DropReason.RST_OUT_OF_WINDOW)
                self._stats.drop(DropReason.OUT_OF_WINDOW)
                if payload and self.sack_ok and st is not _TIME_WAIT \
                        and 0 < ((self.rcv_nxt - seq) & MASK) < HALF:
                    # Old data, a retransmission we already have: say so (D-SACK,
                    # RFC 2883 §4; Linux tcp_send_dupack), the part below RCV.NXT.
                    # (Not from TIME-WAIT: Linux's timewait socket keeps no SACK state.)
                    end = (seq + len(payload)) & MASK
                    self._dsack = (seq, end if seq_le(end, self.rcv_nxt) else self.rcv_nxt)
                if st is _TIME_WAIT and flags & FIN:
                    # A retransmitted FIN: our last ACK was lost.  ACK again and
                    # restart the 2MSL timer (§3.10.7.4, TIME-WAIT).
                    self._arm_close_timer(self.config.time_wait, now, Timer.TIME_WAIT)
                    self._ack_now = True
                    limited = None
                else:
                    limited = self._oow_ack(now, seglen > 0 and not flags & SYN)
                if limited is None and seglen and seq_le((seq + seglen) & MASK, self.rcv_nxt):
                    # all of it had arrived before: a retransmission, ACKed again
                    return (Verdict.DUPLICATE, DropReason.OUT_OF_WINDOW)
                return dropped(limited or DropReason.OUT_OF_WINDOW)
        if ts is not None and not flags & RST and ((self._rcv_wup - seq) & MASK) < HALF \
                and ((ts[0] - self._ts_recent) & MASK) < HALF:
            # R3: SEG.SEQ =< Last.ACK.sent and SEG.TSval >= TS.Recent: echo it from now on.
            self._ts_recent = ts[0]
            self._ts_recent_at = now
        # -- second: RST (RFC 5961 §3.2) ----------------------------------------------
        if flags & RST:
            if seq != self.rcv_nxt:
                return dropped(self._challenge_ack(now, DropReason.RST_CHALLENGED))
            return self._on_reset(now)
        # -- fourth: SYN (RFC 5961 §4) -------------------------------------------------
        if flags & SYN:
            return dropped(self._challenge_ack(now, DropReason.SYN_CHALLENGED))
        # -- fifth: ACK ------------------------------------------------------------------
        if not flags & ACK:
            self._stats.drop(DropReason.NO_ACK_FLAG)
            return dropped(DropReason.NO_ACK_FLAG)
        ack = seg.ack
        if st is _SYN_RECEIVED:
            if not (seq_lt(self.snd_una, ack) and seq_le(ack, self.snd_max)):
                self._ctl.append(Segment(self.local_port, self.remote_port, ack, 0, RST, 0))
                self._stats.resets_sent += 1
                self._stats.drop(DropReason.BAD_ACK)
                return dropped(DropReason.BAD_ACK)
            self.snd_wnd = seg.window << self.snd_wscale
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
            self.snd_wl1, self.snd_wl2 = seq, ack
            if self._retries and self._srtt is None:
                self._rto = max(self._rto, FALLBACK_RTO)
            if self.snd_nxt == self.iss:
                # Our SYN,ACK is still waiting to be pulled and now never will be:
                # the peer's SYN must be acknowledged all the same.
                self._ack_now = True
            self._set_state(_ESTABLISHED, now)
            st = _ESTABLISHED
        if 0 < ((ack - self.snd_max) & MASK) < HALF:  # SEG.ACK > SND.MAX
            self._stats.drop(DropReason.ACK_OF_UNSENT)
            return dropped(self._oow_ack(now) or DropReason.ACK_OF_UNSENT)
        if self.max_snd_wnd and 0 < ((self.snd_una - self.max_snd_wnd - ack) & MASK) < HALF:
            self._stats.drop(DropReason.BAD_ACK)  # RFC 5961 §5: too old to be a real ACK
            return dropped(self._oow_ack(now) or DropReason.BAD_ACK)
        sack_blocks = seg.options.sack_blocks
        if sack_blocks and self.sack_ok:
            sb = self._sb
            if sb is None:
                sb = self._sb = Scoreboard(self.snd_una)
            sb.update(self.snd_una, self.snd_max, sack_blocks)
        if 0 < ((ack - self.snd_una) & MASK) < HALF:  # SEG.ACK > SND.UNA
            if ts is not None:
                self._ack_tsecr = ts[1]
            ack_advance(self, ack, now)
        elif self.snd_wnd == 0:
            self._retries = 0  # a probe was answered: keep the connection (MUST-37)
        elif (ack == self.snd_una and not payload and not flags & (SYN | FIN)
              and self.snd_max != ack and seg.window << self.snd_wscale == self.snd_wnd):
            on_dup_ack(self, now)  # RFC 5681 §2's definition of a duplicate ACK
        # window update (§3.10.7.4 fifth check): only when SND.UNA =< SEG.ACK
        # (seq_le / seq_lt inlined: this runs for every segment)
        wl1 = self.snd_wl1
        if ((ack - self.snd_una) & MASK) < HALF and (
                0 < ((seq - wl1) & MASK) < HALF or (wl1 == seq and ((ack - self.snd_wl2) & MASK) < HALF)):
            self.snd_wnd = seg.window << self.snd_wscale
            if self.snd_wnd > self.max_snd_wnd:
                self.max_snd_wnd = self.snd_wnd
            self.snd_wl1, self.snd_wl2 = seq, ack
            if self._persist_backoff and self.snd_wnd:
                # The window opened: probing is over; an ordinary RTO runs again.
                self._persist_backoff = 0
                self._stalled_since = None
                if self._rto_deadline is not None:
                    self._rto_deadline = now + self._rto
        fin_acked = self._fin_queued and seq_gt(self.snd_una, self._fin_seq)
        if fin_acked:
            if st is _FIN_WAIT_1 and not flags & FIN:
                self._enter_fin_wait_2(now)
                st = _FIN_WAIT_2
            elif st is _CLOSING:
                self._enter_time_wait(now)
                return outcome
            elif st is _LAST_ACK:
                self._set_state(_CLOSED, now)
                return outcome
        # -- sixth: URG (also with a zero window, MUST-66) --------------------------------------
        if flags & URG and st in _RECEIVING:
            up = (seq + seg.urg) & MASK
            read_up_to = (self.rcv_nxt - len(self._rcvbuf)) & MASK
            if 0 < ((up - read_up_to) & MASK) < HALF and (
                    self._rcv_up is None or 0 < ((up - self._rcv_up) & MASK) < HALF):
                # RCV.UP <- max(RCV.UP, SEG.UP), and tell the application when it
                # arrives or advances ahead of what it has read (MUST-32).
                self._rcv_up = up
                self._events.append(Urgent(self))
        # -- seventh: segment text ----------------------------------------------------------
        fin_in_order = True
        if payload:
            if st in _RECEIVING:
                if self._closed_by_app and seq_gt((seq + len(payload)) & MASK, self.rcv_nxt):
                    # Data after a full close: nobody will read it (SHLD-3; Linux
                    # answers with RST and counts TCPAbortOnData).
                    self._stats.drop(DropReason.DATA_AFTER_CLOSE)
                    self._ctl.append(Segment(self.local_port, self.remote_port, ack, 0, RST, 0))
                    self._stats.resets_sent += 1
                    self._set_state(_CLOSED, now)
                    return dropped(DropReason.DATA_AFTER_CLOSE)
                fin_in_order, text = process_text(self, seq, payload, now)
                if text is not ACCEPTED:
                    outcome = text
            else:
                self._stats.drop(DropReason.DATA_AFTER_FIN)
                outcome = trimmed(DropReason.DATA_AFTER_FIN)
        # -- eighth: FIN ------------------------------------------------------------------------
        if flags & FIN:
            fin_at = (seq + len(payload)) & MASK
            if fin_in_order and fin_at == self.rcv_nxt:
                self._process_fin(now)
            else:
                if not payload:  # (with data, _process_text has answered already)
                    self._ack_now = True  # beyond RCV.NXT: a duplicate ACK (RFC 5681 §4.2)
                if st in _RECEIVING and not self._peer_fin and seq_gt(fin_at, self.rcv_nxt):
                    self._ooo_fin = fin_at  # held with the out-of-order data (as Linux does)
                if fin_acked and st is _FIN_WAIT_1:
                    self._enter_fin_wait_2(now)  # the ACK of our FIN still counts
        elif self._ooo_fin is not None and self._ooo_fin == self.rcv_nxt and payload:
            self._ooo_fin = None
            self._process_fin(now)  # a hole before a held FIN was filled
        return outcome

    def _process_fin(self, now: int) -> None:
        self._ack_now = True
        st = self.state
        if self._peer_fin:
            # One FIN per connection: another one is ACKed, not consumed.
            if st is _TIME_WAIT:
                self._arm_close_timer(self.config.time_wait, now, Timer.TIME_WAIT)
            return
        self.rcv_nxt = (self.rcv_nxt + 1) & MASK
        self._peer_fin = True
        self._ooo_fin = None
        self._events.append(PeerClosed(self))
        if st is _ESTABLISHED:
            self._set_state(_CLOSE_WAIT, now)
            if self.config.fin_ack_delay > 0:
                # Linux tcp_fin(): the ACK waits for the delayed-ACK timer, and rides
                # on our FIN if the application closes by then (three-segment close).
                self._ack_now = False
                self._delack_deadline = now + self.config.fin_ack_delay
        elif st is _FIN_WAIT_1:
            if self._fin_queued and seq_gt(self.snd_una, self._fin_seq):
                self._enter_time_wait(now)
            else:
                self._set_state(_CLOSING, now)
        elif st is _FIN_WAIT_2:
            self._enter_time_wait(now)

    def _enter_fin_wait_2(self, now: int) -> None:
        self._set_state(_FIN_WAIT_2, now)
        if self._closed_by_app:
            # Orphaned by close(): Linux's tcp_fin_timeout bounds FIN-WAIT-2.
            self._arm_close_timer(self.config.fin_timeout, now, Timer.FIN_WAIT_2)

    def _enter_time_wait(self, now: int) -> None:
        self._set_state(_TIME_WAIT, now)
        if self.config.time_wait <= 0:
            # No TIME-WAIT at all: the final ACK still leaves, then the TCB is gone.
            if self._ack_now:
                self._ack_now = False
                self._ctl.append(self._segment(self.snd_nxt, ACK))
            self._set_state(_CLOSED, now)
            return
        self._arm_close_timer(self.config.time_wait, now, Timer.TIME_WAIT)

    def _oow_ack(self, now: int, occupies_sequence_space: bool = False) -> DropReason | None:
        """The ACK answering an unacceptable segment (§3.10.7.4), at most one per
        ``Config.oow_ack_interval`` (Linux tcp_invalid_ratelimit), so that two ends
        that disagree about the sequence space cannot ACK each other in a loop.  A
        segment with data or a FIN (and no SYN) is always answered, as Linux's
        tcp_oow_rate_limited does: it is no part of an ACK loop, but most likely a
        retransmission whose ACK was lost, and the sender waits for this one.
        Returns OOW_ACK_LIMIT when the limit held the ACK back."""
        last = self._last_oow_ack
        if occupies_sequence_space:
            self._ack_now = True
            return None
        if last is not None and now - last < self.config.oow_ack_interval:
            self._stats.drop(DropReason.OOW_ACK_LIMIT)
            return DropReason.OOW_ACK_LIMIT
        self._last_oow_ack = now
        self._ack_now = True
        return None

    def _challenge_ack(self, now: int, reason: DropReason) -> DropReason:
        """RFC 5961 §3.2/§4: answer with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, throttled (§7).
        Returns why the segment was dropped (``reason``, or the throttle's)."""
        limit = self.config.challenge_ack_limit
        if limit is not None:
            if now - self._chal_start >= SECOND:
                self._chal_start, self._chal_count = now, 0
            if self._chal_count >= limit:
                self._stats.drop(DropReason.CHALLENGE_ACK_LIMIT)
                return DropReason.CHALLENGE_ACK_LIMIT
            self._chal_count += 1
        self._stats.challenge_acks += 1
        self._stats.drop(reason)
        self._ack_now = True
        return reason

    def _on_reset(self, now: int) -> Outcome:
        """An acceptable RST (§3.10.7.4 second check)."""
        st = self.state
        if st is _TIME_WAIT and self.config.rfc1337:
            self._stats.drop(DropReason.RST_IN_TIME_WAIT)  # RFC 1337 F1
            return dropped(DropReason.RST_IN_TIME_WAIT)
        self._stats.resets_received += 1
        if st is _SYN_RECEIVED:
            if self._listener is None:
                self._events.append(ConnectionRefused(self))
        elif st is not _TIME_WAIT:
            # Also in CLOSING and LAST-ACK, where RFC 9293 just deletes the TCB: our
            # FIN was never acknowledged, so the close was not clean (Linux tcp_reset
            # reports ECONNRESET there too).  TIME-WAIT has nothing left to report.
            self._events.append(ConnectionReset(self))
        self._set_state(_CLOSED, now)
        return ACCEPTED

    # ------------------------------------------------------------------ bookkeeping
    def _touch(self) -> None:
        owner = self._owner
        if owner is not None:
            owner._touch(self)

    def _set_state(self, new: State, now: int) -> None:
        old = self.state
        if new not in _LEGAL[old]:
            raise AssertionError(f"illegal transition {old} -> {new}")
        self.state = new
        if self._tracer is not None:
            self._tracer(StateRecord(now, self._host, endpoint_str(self.local_addr, self.local_port),
                                     endpoint_str(self.remote_addr, self.remote_port), old, new))
        if new is _ESTABLISHED:
            self._events.append(Connected(self))
            if self._ka_on:
                self._arm_keepalive(now)
            if self._listener is not None:
                self._listener._on_established(self, now)
        elif new is _CLOSED:
            self._rto_deadline = self._tw_deadline = self._delack_deadline = self._ka_deadline = None
            self._sndbuf.clear()
            self._ooo = None
            self._events.append(Closed(self))
            if self._owner is not None:
                self._owner._closed(self)
