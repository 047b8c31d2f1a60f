"""Shared helpers for the core's exact-segment tests (smoltcp's style, STYLE.md §2.8).

One endpoint is under test ("us", 10.0.0.1); the test script plays the peer
(10.0.0.2) by hand.  Every state fixture is reached by driving real segments through
the public API (``Endpoint.listen``/``connect``, ``receive_segment``, the user calls),
never by setting TCB fields.

Sequence numbers: ``LOCAL_ISS = 10000`` and ``REMOTE_ISS = 2**32 - 100``, so anything
that moves more than 100 bytes from the peer crosses the wrap.  The state suites run
with both values and with them swapped (the ``iss`` fixture in ``conftest.py``), so
tests never write ``LOCAL_ISS + 1`` but ``c.lseq(1)`` / ``c.rseq(1)``.

Templates: ``c.peer`` is the peer's next in-sequence ACK (peer → us) and ``c.ours``
is our next in-sequence ACK (us → peer); change them with ``._replace(...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.events import Event
from synack.core.isn import FixedIsn
from synack.core.listener import Listener
from synack.core.seq import MASK
from synack.core.state import State
from synack.core.trace import StateRecord, TraceRecord
from synack.core.wire import ACK, FIN, PSH, RST, SYN, Options, Segment

LOCAL_ADDR = "10.0.0.1"
REMOTE_ADDR = "10.0.0.2"
#: The port of our listener (passive opens) and of the peer's server (active opens).
SERVER_PORT = 80
#: The client's port: ours when we connect, the peer's when it connects to us.
CLIENT_PORT = 49152
LOCAL_ISS = 10000
REMOTE_ISS = 2**32 - 100
ISS_PAIRS = [(LOCAL_ISS, REMOTE_ISS), (REMOTE_ISS, LOCAL_ISS)]

CONFIG = Config()
#: Our window-scale offer, and the peer's.
WSCALE = 7
#: The window field of a SYN or SYN-ACK (never scaled): min(rcv_buf, 65535).
SYN_WIN = 65535
#: Our window field once scaling is on, with an empty receive buffer: 65535 >> 7.
WIN = CONFIG.rcv_buf >> WSCALE
#: The peer's window field on non-SYN segments (scaled by 7: 65536 octets).
PEER_WIN = 512
#: What our SYN carries, and what the peer's SYN / SYN-ACK carries (Linux-like).
OUR_SYN_OPTS = Options(mss=1460, wscale=WSCALE, sack_permitted=True)
PEER_SYN_OPTS = Options(mss=1460, wscale=WSCALE, sack_permitted=True)
#: The time every established fixture has reached: the handshake took 10 ms.
T_EST = ms(10)

__all__ = [
    "ACK",
    "CLIENT_PORT",
    "CONFIG",
    "FIN",
    "ISS_PAIRS",
    "LOCAL_ADDR",
    "LOCAL_ISS",
    "OUR_SYN_OPTS",
    "PEER_SYN_OPTS",
    "PEER_WIN",
    "PSH",
    "REMOTE_ADDR",
    "REMOTE_ISS",
    "RST",
    "SERVER_PORT",
    "SYN",
    "SYN_WIN",
    "T_EST",
    "WIN",
    "WSCALE",
    "Case",
    "add",
    "close_wait",
    "closed",
    "closing",
    "deliver",
    "drain_events",
    "established",
    "expect",
    "expect_nothing",
    "fin_wait_1",
    "fin_wait_2",
    "half_open",
    "last_ack",
    "listen",
    "ms",
    "new_endpoint",
    "our_syn",
    "our_synack",
    "peer_syn",
    "seconds",
    "state_changes",
    "syn_received",
    "syn_sent",
    "time_wait",
    "zero_window_probe",
]


def add(a: int, n: int) -> int:
    """``a + n`` in sequence space."""
    return (a + n) & MASK


# -- driving an endpoint --------------------------------------------------------------
def deliver(ep: Endpoint, seg: Segment, t: int, src: str = REMOTE_ADDR, dst: str = LOCAL_ADDR) -> None:
    """Feed one segment from the peer at time ``t``."""
    ep.receive_segment(seg, src, dst, t)


def _strip_psh(seg: Segment) -> Segment:
    return seg._replace(flags=seg.flags & ~PSH)


def expect(ep: Endpoint, segs: Sequence[Segment], t: int, *, exact: bool = False,
           src: str = LOCAL_ADDR, dst: str = REMOTE_ADDR) -> None:
    """Run the timers due at ``t``, then assert that exactly ``segs`` leave (in order).

    PSH is ignored unless ``exact``; every packet must go ``src`` → ``dst``.
    """
    ep.handle_timeout(t)
    packets = ep.packets_to_send(t)
    got = [p.seg for p in packets]
    want = list(segs)
    if not exact:
        got = [_strip_psh(s) for s in got]
        want = [_strip_psh(s) for s in want]
    assert got == want, "\n  got:  " + "\n        ".join(s.summary() for s in got) + \
        "\n  want: " + "\n        ".join(s.summary() for s in want)
    assert all((p.src, p.dst) == (src, dst) for p in packets), packets


def expect_nothing(ep: Endpoint, t: int) -> None:
    """Run the timers due at ``t`` and assert that nothing leaves."""
    expect(ep, [], t)


def drain_events(ep: Endpoint) -> list[Event]:
    out: list[Event] = []
    while (ev := ep.next_event()) is not None:
        out.append(ev)
    return out


def state_changes(records: Sequence[TraceRecord]) -> list[tuple[State, State]]:
    return [(r.old, r.new) for r in records if isinstance(r, StateRecord)]


def new_endpoint(liss: int, config: Config = CONFIG, name: str = "A") -> tuple[Endpoint, list[TraceRecord]]:
    records: list[TraceRecord] = []
    ep = Endpoint([LOCAL_ADDR], config, name=name, isn=FixedIsn(liss), tracer=records.append)
    return ep, records


# -- a test case: the endpoint under test and the scripted peer's view -----------------
@dataclass
class Case:
    ep: Endpoint
    records: list[TraceRecord]
    liss: int
    riss: int
    lport: int
    rport: int
    config: Config = CONFIG
    conn: Connection | None = None
    listener: Listener | None = None
    #: The time the fixture reached its state.
    now: int = 0
    #: Our window field on non-SYN segments with an empty receive buffer (set from
    #: ``config``, assuming the peer offered window scaling).
    win: int = WIN

    def __post_init__(self) -> None:
        cfg = self.config
        self.win = min(cfg.rcv_buf >> (cfg.wscale or 0), 0xFFFF)

    @property
    def syn_win(self) -> int:
        """Our window field on a SYN or SYN-ACK: never scaled."""
        return min(self.config.rcv_buf, 0xFFFF)

    def lseq(self, n: int = 0) -> int:
        """Our sequence number ``n`` octets after our ISS."""
        return add(self.liss, n)

    def rseq(self, n: int = 0) -> int:
        """The peer's sequence number ``n`` octets after its ISS."""
        return add(self.riss, n)

    @property
    def c(self) -> Connection:
        assert self.conn is not None
        return self.conn

    @property
    def peer(self) -> Segment:
        """The peer's ACK template: <SEQ=riss+1><ACK=liss+1><CTL=ACK>."""
        return Segment(self.rport, self.lport, self.rseq(1), self.lseq(1), ACK, PEER_WIN)

    @property
    def ours(self) -> Segment:
        """Our ACK template: <SEQ=liss+1><ACK=riss+1><CTL=ACK>, window ``win``."""
        return Segment(self.lport, self.rport, self.lseq(1), self.rseq(1), ACK, self.win)

    def rst(self, seq: int, ack: int = 0, flags: int = 0) -> Segment:
        """A RST from the peer (RST|ACK when ``flags`` has ACK)."""
        return Segment(self.rport, self.lport, seq, ack, RST | flags, 0)

    def deliver(self, seg: Segment, t: int | None = None) -> None:
        deliver(self.ep, seg, self.now if t is None else t)

    def expect(self, segs: Sequence[Segment], t: int | None = None, *, exact: bool = False) -> None:
        expect(self.ep, segs, self.now if t is None else t, exact=exact)

    def expect_nothing(self, t: int | None = None) -> None:
        expect_nothing(self.ep, self.now if t is None else t)

    def events(self) -> list[Event]:
        return drain_events(self.ep)

    def transitions(self) -> list[tuple[State, State]]:
        return state_changes(self.records)


def zero_window_probe(c: Case) -> Segment:
    """Our zero-window probe, as Linux's: <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK>, no data
    (here with nothing sent yet, so SND.UNA-1 is the ISS)."""
    return c.ours._replace(seq=c.lseq(0))


# -- the states, each reached through real segments -------------------------------------
def closed(liss: int, riss: int, config: Config = CONFIG) -> Case:
    """No listener, no connection: the peer talks to port 80 of a host with no TCB."""
    ep, records = new_endpoint(liss, config)
    return Case(ep, records, liss, riss, SERVER_PORT, CLIENT_PORT, config)


def listen(liss: int, riss: int, config: Config = CONFIG, backlog: int = 8) -> Case:
    ep, records = new_endpoint(liss, config)
    listener = ep.listen(SERVER_PORT, backlog)
    return Case(ep, records, liss, riss, SERVER_PORT, CLIENT_PORT, config, listener=listener)


def peer_syn(c: Case, options: Options = PEER_SYN_OPTS, payload: bytes = b"") -> Segment:
    """The peer's SYN: <SEQ=riss><CTL=SYN>, window 65535."""
    return Segment(c.rport, c.lport, c.riss, 0, SYN, SYN_WIN, options, payload)


def our_syn_options(c: Case, peer: Options | None = None) -> Options:
    """What our SYN offers (``peer`` None), or our SYN-ACK answers to ``peer``'s SYN."""
    cfg = c.config
    # (With Config.timestamps, the fixtures' SYNs leave at t=0: TSval 0.)
    if peer is None:
        return Options(mss=cfg.mss, wscale=cfg.wscale, sack_permitted=cfg.sack,
                       timestamps=(0, 0) if cfg.timestamps else None)
    ts = peer.timestamps
    return Options(mss=cfg.mss, wscale=cfg.wscale if peer.wscale is not None else None,
                   sack_permitted=cfg.sack and peer.sack_permitted,
                   timestamps=(0, ts[0]) if cfg.timestamps and ts is not None else None)


def our_synack(c: Case, options: Options | None = None) -> Segment:
    """Our SYN-ACK: <SEQ=liss><ACK=riss+1><CTL=SYN,ACK>, window 65535, options
    answering PEER_SYN_OPTS unless given."""
    opts = options if options is not None else our_syn_options(c, PEER_SYN_OPTS)
    return Segment(c.lport, c.rport, c.liss, c.rseq(1), SYN | ACK, c.syn_win, opts)


def our_syn(c: Case) -> Segment:
    """Our SYN: <SEQ=liss><CTL=SYN> with mss 1460, sackOK, wscale 7 by default."""
    return Segment(c.lport, c.rport, c.liss, 0, SYN, c.syn_win, our_syn_options(c))


def syn_sent(liss: int, riss: int, config: Config = CONFIG) -> Case:
    ep, records = new_endpoint(liss, config)
    conn = ep.connect(REMOTE_ADDR, SERVER_PORT, 0, local_port=CLIENT_PORT)
    c = Case(ep, records, liss, riss, CLIENT_PORT, SERVER_PORT, config, conn=conn)
    c.expect([our_syn(c)], 0)
    assert conn.state is State.SYN_SENT
    return c


def syn_received(liss: int, riss: int, config: Config = CONFIG) -> Case:
    """SYN-RECEIVED as a Connection: simultaneous open (SYN-SENT + the peer's SYN).

    (A passive open's half-open state lives in the listener's SYN queue; see
    test_syn_received.py for both.)
    """
    c = syn_sent(liss, riss, config)
    c.deliver(peer_syn(c), 0)
    c.expect([our_synack(c)], 0)
    assert c.c.state is State.SYN_RECEIVED
    return c


def half_open(liss: int, riss: int, config: Config = CONFIG) -> Case:
    """SYN-RECEIVED after a passive open: a listener with one SYN-queue entry (the
    peer's SYN is in, our SYN-ACK out, at t=0).  There is no Connection yet
    (``c.conn`` is None); the entry is ``c.listener``'s."""
    c = listen(liss, riss, config)
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    assert c.listener is not None and c.listener.syn_queue_len == 1
    return c


def established(liss: int, riss: int, opener: str = "active", config: Config = CONFIG) -> Case:
    """ESTABLISHED after a 10 ms handshake, as the client ("active") or server ("passive")."""
    if opener == "active":
        c = syn_sent(liss, riss, config)
        c.deliver(Segment(c.rport, c.lport, riss, c.lseq(1), SYN | ACK, SYN_WIN, PEER_SYN_OPTS), T_EST)
        c.now = T_EST
        c.expect([c.ours])
    else:
        c = listen(liss, riss, config)
        c.deliver(peer_syn(c), 0)
        c.expect([our_synack(c)], 0)
        c.now = T_EST
        c.deliver(c.peer)
        c.expect_nothing()
        assert c.listener is not None
        c.conn = c.listener.accept()
    assert c.conn is not None and c.conn.state is State.ESTABLISHED
    c.events()
    return c


def fin_wait_1(liss: int, riss: int, opener: str = "active", config: Config = CONFIG) -> Case:
    """ESTABLISHED, then close(): our FIN is out, unacknowledged."""
    c = established(liss, riss, opener, config)
    c.c.close(c.now)
    c.expect([c.ours._replace(flags=FIN | ACK)])
    assert c.c.state is State.FIN_WAIT_1
    return c


def fin_wait_2(liss: int, riss: int, opener: str = "active", config: Config = CONFIG) -> Case:
    """FIN-WAIT-1, then the peer acknowledges our FIN."""
    c = fin_wait_1(liss, riss, opener, config)
    c.deliver(c.peer._replace(ack=c.lseq(2)))
    c.expect_nothing()
    assert c.c.state is State.FIN_WAIT_2
    return c


def close_wait(liss: int, riss: int, opener: str = "active", config: Config = CONFIG) -> Case:
    """ESTABLISHED, then the peer's FIN arrives (and is acknowledged)."""
    c = established(liss, riss, opener, config)
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([c.ours._replace(ack=c.rseq(2))])
    assert c.c.state is State.CLOSE_WAIT
    c.events()
    return c


def closing(liss: int, riss: int, opener: str = "active", config: Config = CONFIG) -> Case:
    """FIN-WAIT-1, then the peer's FIN crosses ours (simultaneous close)."""
    c = fin_wait_1(liss, riss, opener, config)
    c.deliver(c.peer._replace(flags=FIN | ACK))
    c.expect([c.ours._replace(seq=c.lseq(2), ack=c.rseq(2))])
    assert c.c.state is State.CLOSING
    c.events()
    return c


def last_ack(liss: int, riss: int, opener: str = "active", config: Config = CONFIG) -> Case:
    """CLOSE-WAIT, then close(): our FIN is out."""
    c = close_wait(liss, riss, opener, config)
    c.c.close(c.now)
    c.expect([c.ours._replace(ack=c.rseq(2), flags=FIN | ACK)])
    assert c.c.state is State.LAST_ACK
    return c


def time_wait(liss: int, riss: int, opener: str = "active", config: Config = CONFIG) -> Case:
    """FIN-WAIT-2, then the peer's FIN: we ACK it and wait 2MSL."""
    c = fin_wait_2(liss, riss, opener, config)
    c.deliver(c.peer._replace(ack=c.lseq(2), flags=FIN | ACK))
    c.expect([c.ours._replace(seq=c.lseq(2), ack=c.rseq(2))])
    assert c.c.state is State.TIME_WAIT
    c.events()
    return c
