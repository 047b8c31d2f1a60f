"""The transmission control block: what a connection holds, and its state read
under RFC 9293 §3.3.1's names.

A connection's state lives in its parts (``snd``, ``rcv``, ``rec``, ``ts``,
``timers``); tests, views and drivers read it here under the RFC's names
(``snd_una``, ``rcv_nxt``...) and the statistics an operator asks for (``cwnd``,
``srtt``, Recv-Q and Send-Q).

The connection's behaviour is written in three modules, one per section of RFC 9293
§3.10: :mod:`calls` (the user calls, §3.10.1-5, and the output they cause),
:mod:`connection` (SEGMENT ARRIVES, §3.10.7) and :mod:`timeouts` (§3.10.8).  Each
is a class over :class:`Tcb`, which declares (for the type checker) what they share;
:class:`~synack.core.connection.Connection` is all three.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol, cast

from .config import DEFAULT_CONFIG, Config
from .recovery import Recovery
from .recv import ReceiveSpace
from .send import SendSpace
from .state import State
from .stats import Stats
from .timers import IDLE, Timer, TimerTable
from .timestamps import NO_TIMESTAMPS, Timestamps
from .trace import endpoint_str

if TYPE_CHECKING:
    from .connection import Connection
    from .events import Event, Readable
    from .listener import Listener
    from .replies import ReplyLimits
    from .trace import TimerAction, Tracer
    from .wire import Options, Segment


class Owner(Protocol):
    """What a connection tells the endpoint that owns it."""

    @property
    def dirty(self) -> dict[Connection, None]:
        """Where a connection puts itself when it may have segments to send or a new
        deadline (shared: marking is a dict store, on the per-segment path)."""

    def _closed(self, conn: Connection) -> None:
        """The connection reached CLOSED: forget its 4-tuple."""


class Tcb:
    """A connection's fields and parts, made here, and its state read under the RFC's
    names."""

    __slots__ = ("_cc_last", "_clock", "_closed_by_app", "_ctl", "_dirty", "_events", "_host", "_ka_on",
                 "_ka_probes", "_ka_sent", "_last_heard", "_limits", "_listener", "_owner", "_peer_syn",
                 "_predict", "_readable", "_retries", "_stalled_since", "_stats", "_tracer", "_user_timeout",
                 "config", "local_addr", "local_port", "rcv", "rec", "remote_addr", "remote_port", "snd",
                 "state", "timers", "ts")

    def __init__(self, local_addr: str, local_port: int, remote_addr: str, remote_port: int, iss: int,
                 config: Config = DEFAULT_CONFIG, *, host: str = "", tracer: Tracer | None = None,
                 stats: Stats | None = None, owner: Owner | None = None, events: deque[Event] | None = None,
                 ts_offset: int = 0, listener: Listener | None = None) -> None:
        self.config = config
        self.local_addr = local_addr
        self.local_port = local_port
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        #: A listener's connection is the listener's until the handshake's final ACK.
        self._listener = listener
        self.state = State.LISTEN if listener is not None else State.CLOSED
        self._host = host
        self._tracer = tracer
        self._stats = stats = stats if stats is not None else Stats()
        self._owner = owner
        self._dirty: dict[Connection, None] = owner.dirty if owner is not None else {}
        self._events: deque[Event] = events if events is not None else deque()
        self._predict = config.header_prediction
        self.timers: TimerTable = list(IDLE)
        self.ts = Timestamps(ts_offset) if config.timestamps else NO_TIMESTAMPS
        #: ``now`` of the latest input or output: the TSval clock reads it.
        self._clock = 0
        self.rec = Recovery(config, stats)
        self.rcv = ReceiveSpace(config, self.timers, stats)
        self.snd = SendSpace(config, iss, remote_addr, self.rec, stats)
        #: The Readable event, made once (a value: the same object every time); no
        #: part holds the connection, and this is dropped at CLOSED, so nothing keeps
        #: a closed connection alive in a cycle.
        self._readable: Readable | None = None
        self._limits: ReplyLimits | None = None  # made when first needed
        self._peer_syn: Options | None = None  # the options of the peer's SYN
        self._ctl: list[Segment] | None = None  # segments built at once (RST, dup ACKs, probes)
        self._closed_by_app = False
        self._retries = 0
        #: When the current retransmission (or probing) episode began.
        self._stalled_since: int | None = None
        self._user_timeout = config.user_timeout
        # keep-alive (RFC 9293 §3.8.4, RFC 1122 4.2.3.6; Linux tcp_keepalive_timer)
        self._ka_on = config.keepalive
        self._ka_probes = 0               # probes sent since the peer was last heard
        self._ka_sent = 0                 # when the last one left
        self._last_heard = 0              # when a segment last arrived (Linux rcv_tstamp)
        self._cc_last: tuple[int, int, int, int, int] | None = None  # last CongestionRecord

    def __repr__(self) -> str:
        return (f"<Connection {endpoint_str(self.local_addr, self.local_port)} -> "
                f"{endpoint_str(self.remote_addr, self.remote_port)} {self.state}>")

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.local_addr, self.local_port, self.remote_addr, self.remote_port)

    @property
    def conn(self) -> Connection:
        """This connection, as the events name it."""
        return cast("Connection", self)

    if TYPE_CHECKING:
        # -- shared between the sections (defined in connection.py and timeouts.py) --
        def _set_state(self, new: State, now: int, *, traced: bool = True) -> None: ...
        def _touch(self) -> None: ...
        def _trace_cc(self, now: int) -> None: ...
        def _on_new_ack(self, ack: int, now: int) -> None: ...
        def _arm_rto(self, now: int) -> None: ...
        def _arm_close_timer(self, length: int, now: int, timer: Timer) -> None: ...
        def _timer_fired(self, now: int, timer: Timer, action: TimerAction = ...) -> None: ...
        def _send_reset(self, now: int) -> None: ...
        def _send_now(self, seg: Segment) -> None: ...
        def _segment(self, seq: int, flags: int, payload: bytes = b"") -> Segment: ...

    # -- send sequence space --------------------------------------------------------
    @property
    def iss(self) -> int:
        return self.snd.iss

    @property
    def snd_una(self) -> int:
        return self.snd.una

    @property
    def snd_nxt(self) -> int:
        return self.snd.nxt

    @property
    def snd_max(self) -> int:
        """The highest sequence number sent (+1)."""
        return self.snd.max

    @property
    def snd_wnd(self) -> int:
        return self.snd.wnd

    @property
    def snd_wl1(self) -> int:
        return self.snd.wl1

    @property
    def snd_wl2(self) -> int:
        return self.snd.wl2

    @property
    def max_snd_wnd(self) -> int:
        """RFC 5961 §5 MAX.SND.WND."""
        return self.snd.max_wnd

    @property
    def snd_mss(self) -> int:
        """The effective send MSS (§3.7.1)."""
        return self.snd.mss

    @property
    def snd_wscale(self) -> int:
        return self.snd.wscale

    @property
    def bytes_unacked(self) -> int:
        """Send-Q: data written and not yet acknowledged."""
        return self.snd.unacked

    @property
    def send_space(self) -> int:
        return self.snd.space

    # -- receive sequence space -------------------------------------------------------
    @property
    def irs(self) -> int:
        return self.rcv.irs

    @property
    def rcv_nxt(self) -> int:
        return self.rcv.nxt

    @property
    def rcv_wnd(self) -> int:
        """RCV.WND: the free space in the receive buffer."""
        return self.rcv.window

    @property
    def rcv_adv(self) -> int:
        """The right edge of the window we advertised."""
        return self.rcv.adv

    @property
    def rcv_wscale(self) -> int:
        return self.rcv.wscale

    @property
    def sack_ok(self) -> bool:
        return self.rcv.sack_ok

    @property
    def ts_ok(self) -> bool:
        return self.ts.ok

    @property
    def bytes_readable(self) -> int:
        """Recv-Q: in-order data the application has not read."""
        return len(self.rcv.buf)

    @property
    def urgent_pending(self) -> int:
        """Octets of urgent data not yet read (MUST-33); 0 outside urgent mode."""
        return self.rcv.urgent_pending

    @property
    def peer_closed(self) -> bool:
        """The peer's FIN has arrived (end of the data it will send)."""
        return self.rcv.peer_fin

    @property
    def at_eof(self) -> bool:
        return self.rcv.peer_fin and not self.rcv.buf

    # -- retransmission and congestion -------------------------------------------------
    @property
    def cwnd(self) -> int:
        """The congestion window (octets)."""
        return self.rec.cc.cwnd

    @property
    def ssthresh(self) -> int:
        return self.rec.cc.ssthresh

    @property
    def in_recovery(self) -> bool:
        """In fast recovery (RFC 5681 §3.2, RFC 6582)."""
        return self.rec.in_recovery

    @property
    def rto(self) -> int:
        return self.rec.rto

    @property
    def srtt(self) -> int | None:
        return self.rec.srtt

    @property
    def rttvar(self) -> int:
        return self.rec.rttvar

    @property
    def retries(self) -> int:
        """Retransmissions (or probes) since the peer last acknowledged something."""
        return self._retries
