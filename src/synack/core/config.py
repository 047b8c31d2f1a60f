"""Every knob of the stack, with Linux's default and where it comes from.

Times are integer microseconds.  Where the RFC and Linux differ, the default is
Linux's and the comment says what the RFC asks (shared/RFC-CHECKLIST.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .congestion import CONGESTION_CONTROLS, Factory

SECOND: Final = 1_000_000
MS: Final = 1_000


def ms(n: float) -> int:
    """Milliseconds as the core's microseconds."""
    return int(n * MS)


def seconds(n: float) -> int:
    """Seconds as the core's microseconds."""
    return int(n * SECOND)


@dataclass(frozen=True, slots=True)
class Config:
    # -- segment size and windows ------------------------------------------------------
    #: MSS we advertise over IPv4: MTU 1500 − 40 (MUST-67); over IPv6 it is 20 less,
    #: the IPv6 header being 20 octets longer (MTU − 60, as Linux).  Sent on every SYN
    #: (MAY-3).  :meth:`mss_for` gives the one for an address.
    mss: int = 1460
    #: Receive buffer; the advertised window is what is free in it.  Linux tcp_rmem
    #: starts at 131072 and lets half of it be window; we advertise all of it.
    rcv_buf: int = 65535
    #: Memory budget of the out-of-order (reassembly) queue: payload plus 256 octets
    #: per held block; a segment beyond it is dropped.  Linux charges its out-of-order
    #: queue against the receive buffer (tcp_rmem default 131072).
    ooo_budget: int = 131072
    #: Send buffer (Linux tcp_wmem default 16384, grown by autotuning; we use 256 KiB).
    snd_buf: int = 262144
    #: Window-scale shift we offer (RFC 7323); None sends no option.  Linux picks
    #: the shift from tcp_rmem's maximum, 7 on most machines.
    wscale: int | None = 7
    #: Offer SACK-permitted (RFC 2018); once negotiated, ACKs carry SACK blocks for held
    #: out-of-order data and the sender recovers with them (RFC 6675).  Linux: tcp_sack 1.
    sack: bool = True
    #: Offer timestamps (RFC 7323: PAWS, echoed TSval) on our SYNs and accept them
    #: on a peer's.  Linux's default is on (tcp_timestamps 1, with a random offset);
    #: synack's is off, so that the seed's handshake pictures keep their options; TSval
    #: is ``now`` in ms without an offset when on.
    timestamps: bool = False
    #: Smallest send MSS accepted from a peer (Linux tcp_min_snd_mss, 48).
    min_snd_mss: int = 48
    #: TCP_NODELAY for new connections: False keeps Nagle's algorithm on (RFC 9293
    #: §3.7.4 SHLD-7; Linux's default).  Per connection: ``Connection.nodelay``.
    nodelay: bool = False
    #: Header prediction (Van Jacobson's fast path, Linux tcp_rcv_established): the
    #: next in-order segment or new ACK in ESTABLISHED skips the checks it would pass.
    #: False leaves every segment to the full §3.10.7.4 processing (the tests compare
    #: whole runs both ways; a reader can see what the full processing alone does).
    header_prediction: bool = True
    # -- congestion control (RFC 5681, RFC 6582, RFC 9438) ----------------------------
    #: Controller by name: "cubic" (Linux's default, net.ipv4.tcp_congestion_control)
    #: or "newreno" (see ``synack.core.congestion``).
    congestion: str = "cubic"
    #: Derived: the controller factory for ``congestion`` (looked up once, here).
    congestion_factory: Factory = field(init=False, repr=False, compare=False)
    #: Initial window in segments (Linux TCP_INIT_CWND 10, RFC 6928; RFC 5681 §3.1
    #: allows 2-4).
    initial_window: int = 10
    # -- retransmission (RFC 6298; Linux include/net/tcp.h) ------------------------
    #: RTO before any RTT sample (TCP_TIMEOUT_INIT, RFC 6298 2.1: 1 s).
    initial_rto: int = SECOND
    #: Lower bound of the RTO (Linux TCP_RTO_MIN 200 ms; RFC 6298 2.4 says 1 s).
    min_rto: int = ms(200)
    #: Upper bound of the RTO (Linux TCP_RTO_MAX 120 s; RFC 6298 2.5: at least 60 s).
    max_rto: int = 120 * SECOND
    #: SYN retransmissions before connect gives up (tcp_syn_retries 6: ≈127 s;
    #: RFC 9293 MUST-23 asks for at least 3 minutes: set 7 for that).
    syn_retries: int = 6
    #: SYN-ACK retransmissions before a half-open entry is dropped (tcp_synack_retries 5);
    #: fewer, down to 2, for old entries while the SYN queue is more than half full
    #: (``Listener.synack_retry_limit``, Linux's reqsk_timer_handler).
    synack_retries: int = 5
    #: Data/FIN retransmissions before the connection is aborted (tcp_retries2 15;
    #: Linux counts the equivalent time, we count retransmissions).
    retries2: int = 15
    #: TCP_USER_TIMEOUT (RFC 5482, RFC 9293 §3.8.3): abort when data stays
    #: unacknowledged (or zero-window probes unanswered) this long; None = off (Linux 0).
    user_timeout: int | None = None
    # -- keep-alive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6; Linux include/net/tcp.h) ------
    #: SO_KEEPALIVE for new connections (off by default, as RFC 1122 and Linux).
    keepalive: bool = False
    #: Idle time before the first probe (tcp_keepalive_time, TCP_KEEPALIVE_TIME 2 h).
    keepalive_time: int = 2 * 3600 * SECOND
    #: Between probes (tcp_keepalive_intvl, TCP_KEEPALIVE_INTVL 75 s).
    keepalive_intvl: int = 75 * SECOND
    #: Unanswered probes before the connection is reset (tcp_keepalive_probes, 9).
    keepalive_probes: int = 9
    # -- closing -----------------------------------------------------------------------
    #: TIME-WAIT length, 2·MSL.  Linux: 60 s, fixed (TCP_TIMEWAIT_LEN); RFC: 240 s.
    time_wait: int = 60 * SECOND
    #: FIN-WAIT-2 timeout after a full close() (tcp_fin_timeout 60 s); not after
    #: shutdown(), where the application still reads.
    fin_timeout: int = 60 * SECOND
    #: RFC 1337 fix F1: ignore RST in TIME-WAIT (tcp_rfc1337, Linux default 0 = the
    #: RST ends TIME-WAIT early, as RFC 9293 says).
    rfc1337: bool = False
    # -- delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2, RFC 1122 4.2.3.2) ------------
    #: Least delayed-ACK timeout (Linux TCP_DELACK_MIN / TCP_ATO_MIN, 40 ms).  Linux
    #: adapts the timeout ("ato") to the data's inter-arrival times within
    #: [delack_min, delack_max]; so does synack.
    delack_min: int = ms(40)
    #: Most delayed-ACK timeout (Linux TCP_DELACK_MAX, 200 ms; MUST-40: under 0.5 s).
    delack_max: int = ms(200)
    #: Segments ACKed at once at the start of a connection and after an idle period
    #: (Linux TCP_MAX_QUICKACKS 16, further bounded by RCV.WND / (2 · MSS)).  0 delays
    #: from the first segment.
    quickacks: int = 16
    #: Derived: segments ACKed at once at the start (Linux tcp_incr_quickack:
    #: min(RCV.WND / (2 · MSS), TCP_MAX_QUICKACKS), at least 2; 0 when quickacks is 0).
    quickack_start: int = field(init=False, repr=False, compare=False)
    #: Delay of the ACK of a FIN that moves ESTABLISHED to CLOSE-WAIT: an application
    #: that closes within it sends its FIN on that ACK (the three-segment close).
    #: Linux: tcp_fin() enters "pingpong" mode, so this ACK waits for the delayed-ACK
    #: timer (TCP_DELACK_MIN 40 ms).  0 (the default) ACKs at once, as a connection
    #: still in quick-ack mode does; the ACK shares the delayed-ACK timer otherwise.
    #: MUST-40: less than 0.5 s.
    fin_ack_delay: int = 0
    # -- RFC 5961 ---------------------------------------------------------------------
    #: Challenge ACKs allowed per second per connection; None = no limit (Linux's
    #: net.ipv4.tcp_challenge_ack_limit is INT_MAX in current kernels).
    challenge_ack_limit: int | None = None
    #: Least time between two ACKs answering unacceptable segments (out of window,
    #: ACK of unsent data): Linux net.ipv4.tcp_invalid_ratelimit, 500 ms.
    oow_ack_interval: int = ms(500)
    # -- listeners (Linux: net/ipv4/tcp_input.c tcp_conn_request) --------------------
    #: Bound of each listener's SYN queue (tcp_max_syn_backlog; Linux's floor is 128);
    #: the listen backlog bounds it too (``Listener.syn_queue_limit``).  Current Linux
    #: uses tcp_max_syn_backlog only with syncookies 0, to keep the queue's last
    #: quarter for peers it has TCP metrics for; synack has no such metrics and does
    #: not model that (see ``synack.core.listener``).
    max_syn_backlog: int = 128
    #: 0 off, 1 only when a SYN queue overflows, 2 always (tcp_syncookies, default 1).
    syncookies: int = 1
    #: Reset instead of dropping the final ACK when the accept queue is full
    #: (tcp_abort_on_overflow, default 0 = drop and let SYN-ACK retransmission retry).
    abort_on_overflow: bool = False
    #: Ephemeral ports (ip_local_port_range).
    ephemeral_low: int = 32768
    ephemeral_high: int = 60999

    def mss_for(self, addr: str) -> int:
        """The MSS we advertise to ``addr``: ``mss`` over IPv4, 20 less over IPv6."""
        return self.mss - 20 if ":" in addr else self.mss

    def __post_init__(self) -> None:
        if not 88 <= self.mss <= 65495:
            raise ValueError(f"mss {self.mss} outside 88..65495 (Linux TCP_MIN_MSS is 88)")
        if self.wscale is not None and not 0 <= self.wscale <= 14:
            raise ValueError(f"wscale {self.wscale} outside 0..14 (RFC 7323 §2.3)")
        if self.syncookies not in (0, 1, 2):
            raise ValueError(f"syncookies {self.syncookies}: use 0 (off), 1 (on overflow) or 2 (always)")
        if not 0 <= self.fin_ack_delay < 500 * MS:
            raise ValueError(f"fin_ack_delay {self.fin_ack_delay} µs outside 0 .. 0.5 s (MUST-40)")
        if not 0 < self.delack_min <= self.delack_max < 500 * MS:
            raise ValueError("need 0 < delack_min <= delack_max < 0.5 s (MUST-40)")
        if self.congestion not in CONGESTION_CONTROLS:
            raise ValueError(f"congestion {self.congestion!r}: one of {sorted(CONGESTION_CONTROLS)}")
        object.__setattr__(self, "congestion_factory", CONGESTION_CONTROLS[self.congestion])
        if self.initial_window < 1:
            raise ValueError("initial_window must be at least one segment")
        if self.user_timeout is not None and self.user_timeout <= 0:
            raise ValueError("user_timeout must be positive (None for off)")
        if self.keepalive_time <= 0 or self.keepalive_intvl <= 0 or self.keepalive_probes < 1:
            raise ValueError("keep-alive time and interval must be positive, probes at least 1")
        if self.quickacks < 0:
            raise ValueError("quickacks must not be negative")
        quick = min(max(self.rcv_buf // (2 * self.mss), 2), self.quickacks)
        object.__setattr__(self, "quickack_start", quick)
        if self.rcv_buf < 1 or self.snd_buf < 1:
            raise ValueError("buffers must hold at least one byte")
        if not 0 < self.ephemeral_low <= self.ephemeral_high <= 65535:
            raise ValueError("ephemeral port range must be within 1..65535")


DEFAULT_CONFIG: Final = Config()
