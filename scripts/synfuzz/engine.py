"""Episodes and the timed run.

An *episode* is one endpoint with a random configuration (timestamps, SACK and
window scaling on or off, SYN cookies 0/1/2, tiny or large buffers and budgets,
short or Linux-length timers...).  It reaches a target state with real segments
from a scripted :class:`~synfuzz.peer.Peer` over IPv4 or IPv6 (LISTEN, SYN-SENT,
SYN-RECEIVED through a listener or a simultaneous open, ESTABLISHED opened actively,
passively or simultaneously, FIN-WAIT-1/2, CLOSE-WAIT, CLOSING, LAST-ACK,
TIME-WAIT, or no socket at all), then takes random inputs: the peer's valid next
segment, mutated segments, replays, corrupted raw packets, strays from other hosts
and ports, new clients, user calls and timer advances.  Every input is checked
(:mod:`synfuzz.check`).  Some episodes end with the peers falling silent and time
running on until every timer is done (the liveness check).

The run draws one seed per episode from ``--seed``, so a seed gives the same
episodes, inputs and outputs every time; the wall clock only decides when to stop
(between episodes).  A failure is shrunk to a short tape and written out as a
reproducer.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from synack.core.config import Config
from synack.core.errors import MalformedSegment
from synack.core.seq import MASK
from synack.core.state import TRANSITIONS, State
from synack.core.wire import ACK, FIN, PSH, RST, SYN, Options, Segment, parse_segment, serialize

from .common import (
    BAD_SOURCES,
    OTHER_V4,
    OTHER_V6,
    PEER_V4,
    PEER_V6,
    SERVER_PORT,
    US_V4,
    US_V6,
    Failure,
    pattern,
)
from .driver import Driver, Setup, Step, replay, shrink, write_reproducer
from .mutate import Anchors, foreign_destination, ip_wrap, mutate_packet, mutate_segment
from .peer import Peer, tsval

TARGETS: Final = ("closed", "listen", "syn_sent", "syn_received_listener", "syn_received_simultaneous",
                  "established", "fin_wait_1", "fin_wait_2", "close_wait", "closing", "last_ack", "time_wait")
OPENERS: Final = ("active", "passive", "simultaneous")
#: What a gone primary connection is replaced by.
REOPEN: Final = ("syn_sent", "syn_received_simultaneous", "established", "established", "established",
                 "fin_wait_1", "fin_wait_2", "close_wait", "closing", "last_ack", "time_wait")
#: The inputs, and how often each comes (each episode scales these at random).
ACTIONS: Final = (("valid", 30), ("mutate", 26), ("replay", 4), ("raw", 9), ("stray", 3), ("client", 2),
                  ("user", 12), ("time", 12), ("rewind", 2), ("window", 2), ("fin", 1), ("reborn", 1),
                  ("skew", 1))
_SYNCHRONIZING: Final = frozenset({State.SYN_SENT})


def random_config(rng: random.Random) -> Config:
    kw: dict[str, Any] = {
        "timestamps": rng.random() < 0.5,
        "sack": rng.random() < 0.7,
        "wscale": rng.choice((7, 7, None, 0, 2, 14)),
        "syncookies": rng.choice((0, 1, 1, 2)),
        "mss": rng.choice((1460, 1460, 1460, 536, 88, 9000, 65495)),
        "retries2": rng.choice((2, 3, 4, 15)),
        "syn_retries": rng.choice((1, 2, 3, 6)),
        "synack_retries": rng.choice((0, 1, 2, 5)),
        "max_syn_backlog": rng.choice((1, 2, 128)),
        "abort_on_overflow": rng.random() < 0.3,
        "rfc1337": rng.random() < 0.3,
        "time_wait": rng.choice((1_000_000, 60_000_000)),
        "fin_timeout": rng.choice((1_000_000, 5_000_000, 60_000_000)),
        "challenge_ack_limit": rng.choice((None, None, 1, 3)),
        "oow_ack_interval": rng.choice((500_000, 500_000, 0, 1000)),
        "header_prediction": rng.random() < 0.8,
        "nodelay": rng.random() < 0.3,
        "congestion": rng.choice(("cubic", "newreno")),
        "initial_window": rng.choice((10, 10, 1, 2)),
        "user_timeout": rng.choice((None, None, None, 3_000_000, 500_000)),
        "keepalive": rng.random() < 0.2,
        "quickacks": rng.choice((16, 16, 0, 2)),
        "fin_ack_delay": rng.choice((0, 0, 40_000)),
        "min_rto": rng.choice((200_000, 200_000, 1000)),
        "initial_rto": rng.choice((1_000_000, 1_000_000, 100_000)),
        "max_rto": rng.choice((120_000_000, 120_000_000, 2_000_000)),
        "min_snd_mss": rng.choice((48, 48, 1, 88)),
    }
    if rng.random() < 0.35:  # tiny buffers: zero windows, partial takes, a full send buffer
        kw["rcv_buf"] = rng.choice((1, 100, 1000, 3000, 5000))
        kw["snd_buf"] = rng.choice((1, 100, 1460, 4000, 10000))
        kw["ooo_budget"] = rng.choice((0, 300, 600, 2000, 5000))
    else:
        kw["rcv_buf"] = rng.choice((65535, 65535, 20000, 200000, 1 << 20))
        kw["snd_buf"] = rng.choice((262144, 65536, 20000))
        kw["ooo_budget"] = rng.choice((131072, 131072, 10000))
    if kw["keepalive"] and rng.random() < 0.7:
        kw.update(keepalive_time=10_000_000, keepalive_intvl=1_000_000, keepalive_probes=2)
    return Config(**kw)


def random_peer_options(rng: random.Random) -> Options:
    return Options(mss=rng.choice((None, 536, 1460, 1460, 1220, 88, 9000, 65535, 1)),
                   wscale=rng.choice((None, 0, 7, 7, 14, 15)),
                   sack_permitted=rng.random() < 0.7,
                   timestamps=(0, 0) if rng.random() < 0.6 else None)


def random_base(rng: random.Random) -> int:
    return rng.choice((MASK - 99, MASK - 70000, 10000, (1 << 31) - 50, 0, rng.getrandbits(32)))


# -- statistics of a run ------------------------------------------------------------------------------
@dataclass
class Coverage:
    """What the run reached: states per target, inputs per state, transitions, drops."""

    reached: dict[str, Counter[str]] = field(default_factory=dict)
    inputs_in: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[State, State]] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    due_after_timeout: int = 0
    liveness_checks: int = 0
    determinism_checks: int = 0
    packets_out: int = 0
    reopened: int = 0
    tolerated: Counter[str] = field(default_factory=Counter)


# -- one episode -----------------------------------------------------------------------------------
class Episode:
    def __init__(self, seed: int, budget: int, cov: Coverage, foreign_dst: bool = True,
                 tolerate: frozenset[str] = frozenset()) -> None:
        self.rng = rng = random.Random(seed)
        self.foreign_dst = foreign_dst
        self.cov = cov
        self.config = random_config(rng)
        self.setup = Setup(self.config, random_base(rng), rng.choice((0, MASK - 500, rng.getrandbits(32))),
                           tolerate)
        self.d = Driver(self.setup)
        self.peers: dict[tuple[str, int, str, int], Peer] = {}
        self.primary: Peer | None = None
        self.now = 0
        self.reaching = True
        self.loss = rng.choice((0.0, 0.0, 0.1, 0.3))
        self.fin_p = rng.choice((0.0, 0.01, 0.05))
        self.v6 = rng.random() < 0.5
        self.budget = budget
        self.target = rng.choice(TARGETS)
        self.opener = rng.choice(OPENERS)
        weights = [w * rng.uniform(0.2, 2.0) for _, w in ACTIONS]
        if self.target.startswith("syn_") and rng.random() < 0.6:
            weights[0] *= 0.1  # (fewer valid segments: the handshake states last longer)
        self.cum = [sum(weights[:i + 1]) for i in range(len(weights))]
        self.names = [name for name, _ in ACTIONS]
        self.handlers: dict[str, Callable[[], None]] = {
            "valid": self.valid, "mutate": self.mutate, "replay": self.replay, "raw": self.raw,
            "stray": self.stray, "client": self.client, "user": self.user, "time": self.time,
            "rewind": self.rewind, "window": self.window, "fin": self.fin, "reborn": self.reborn,
            "skew": self.skew,
        }

    # -- inputs ----------------------------------------------------------------------------------
    def input(self, st: Step) -> None:
        packets = self.d.step(st)
        if not packets:
            return
        peers = self.peers
        lossy = not self.reaching and self.loss
        for p in packets:
            seg = p.seg
            peer = peers.get((p.src, seg.src_port, p.dst, seg.dst_port))
            if peer is not None and not (lossy and self.rng.random() < self.loss):
                peer.observe(seg)

    def send(self, seg: Segment, src: str, dst: str) -> None:
        """Deliver ``seg``: mostly parsed already (receive_segment), else as an IP packet."""
        rng = self.rng
        try:
            data = serialize(seg, src, dst)
        except (ValueError, struct.error, OverflowError) as exc:
            raise AssertionError(f"the fuzzer built an unserializable segment {seg.summary()}") from exc
        if rng.random() < 0.8:
            try:
                parsed = parse_segment(data, src, dst)
            except MalformedSegment:
                pass
            else:
                self.input(("seg", parsed, src, dst, self.now))
                return
        self.input(("pkt", ip_wrap(data, src, dst), True, False, self.now))

    def deliver(self, peer: Peer, seg: Segment, valid: bool) -> None:
        peer.sent(seg, valid)
        self.send(seg, peer.addr, peer.us)

    def advance(self, dt: int) -> None:
        self.now += dt
        self.input(("time", self.now))

    # -- peers -----------------------------------------------------------------------------------
    def new_peer(self, addr: str, port: int, us: str, our_port: int, role: str) -> Peer:
        rng = self.rng
        peer = Peer(addr, port, us, our_port, (random_base(rng) + rng.randrange(1000)) & MASK, role=role,
                    opts=random_peer_options(rng), ts_off=rng.choice((0, MASK - 300, rng.getrandbits(32))),
                    wnd=rng.choice((65535, 65535, 1 << 20, 1 << 30, 3000, 1460, 100)))
        self.peers[peer.key] = peer
        return peer

    def pick_peer(self) -> Peer | None:
        if self.primary is None:
            return None
        if len(self.peers) == 1 or self.rng.random() < 0.7:
            return self.primary
        return self.rng.choice(list(self.peers.values()))

    def anchors(self, peer: Peer) -> Anchors:
        conn = self.d.ep._conns.get(peer.key)
        ts = tsval(self.now, peer.ts_off)
        if conn is not None and conn.state not in _SYNCHRONIZING:
            return Anchors(conn.rcv_nxt, conn.rcv_wnd, conn.rcv_adv, conn.irs, conn.snd_una, conn.snd_nxt,
                           conn.snd_max, conn.iss, conn.max_snd_wnd, conn.snd_mss, ts, peer.ts_recent)
        return Anchors(peer.nxt, 65535, (peer.nxt + 65535) & MASK, peer.iss, peer.rcv_nxt, peer.rcv_nxt,
                       peer.rcv_nxt, peer.irs if peer.irs is not None else 0, 0, 1460, ts, peer.ts_recent)

    def base_segment(self, peer: Peer) -> Segment:
        seg = peer.next_valid(self.rng, self.now, self.fin_p)
        if seg is None:
            seg = self.rng.choice(peer.history) if peer.history else peer.segment(self.now)
        return seg

    # -- reaching the target state ------------------------------------------------------------------
    def reach(self, target: str, opener: str) -> None:
        rng = self.rng
        if target in ("closed", "listen", "syn_received_listener"):
            opener = "passive"
        elif target == "syn_sent":
            opener = "active"
        elif target == "syn_received_simultaneous":
            opener = "simultaneous"
        self.opener = opener
        us, addr = (US_V6, PEER_V6) if self.v6 else (US_V4, PEER_V4)
        if opener == "passive":
            peer = self.primary = self.new_peer(addr, rng.randrange(1024, 65536), us, SERVER_PORT, "client")
            if target != "closed" and SERVER_PORT not in self.d.listeners:
                backlog = rng.choice((0, 1, 2, 8, 128)) if target == "listen" else rng.choice((1, 2, 8, 128))
                self.input(("listen", SERVER_PORT, backlog, self.now))
            if target in ("closed", "listen"):
                return
            keep = peer.wnd
            peer.wnd = 1 << 20
            self.deliver(peer, peer.syn(self.now), True)
            if target == "syn_received_listener":
                peer.wnd = keep
                return
            self.advance(rng.choice((0, 1000, 10_000)))
            self.deliver(peer, peer.segment(self.now), True)
            self.input(("accept", SERVER_PORT, self.now))
        else:
            lport = rng.randrange(1024, 65536)
            if lport == SERVER_PORT:
                lport += 1
            peer = self.primary = self.new_peer(addr, SERVER_PORT, us, lport, "server")
            keep = peer.wnd
            peer.wnd = 1 << 20
            self.input(("connect", addr, SERVER_PORT, lport, self.now))
            if target == "syn_sent":
                peer.wnd = keep
                return
            self.advance(rng.choice((0, 1000, 10_000)))
            if opener == "simultaneous":
                self.deliver(peer, peer.syn(self.now), True)
                if target == "syn_received_simultaneous":
                    peer.wnd = keep
                    return
                self.deliver(peer, peer.segment(self.now), True)
            else:
                self.deliver(peer, peer.synack(self.now), True)
        key = peer.key
        for _ in range(rng.choice((0, 0, 1, 3, 6))):  # some data first
            r = rng.random()
            if r < 0.35:
                seg = peer.next_valid(rng, self.now)
                if seg is not None and not seg.flags & (FIN | SYN):
                    self.deliver(peer, seg, True)
            elif r < 0.6:
                self.input(("send", key, rng.choice((1, 100, 1460, 5000)), False, self.now))
            elif r < 0.8:
                self.input(("read", key, -1, self.now))
            else:
                self.advance(rng.choice((1000, 40_000, 200_000)))
        if target == "established":
            peer.wnd = keep
            return
        self.settle(peer)
        if target in ("fin_wait_1", "fin_wait_2", "closing", "time_wait"):
            self.input(("close" if rng.random() < 0.6 else "shutdown", key, self.now))
            if target == "fin_wait_2" or (target == "time_wait" and rng.random() < 0.7):
                self.deliver(peer, peer.segment(self.now), True)  # the ACK of our FIN
            if target == "closing":
                peer.shut()
                self.deliver(peer, peer.segment(self.now, fin=True, ack=(peer.rcv_nxt - 1) & MASK), True)
            elif target == "time_wait":
                peer.shut()
                self.deliver(peer, peer.segment(self.now, fin=True), True)
        else:  # close_wait, last_ack
            peer.shut()
            self.deliver(peer, peer.segment(self.now, fin=True), True)
            if target == "last_ack":
                self.input(("read", key, -1, self.now))
                self.input(("close", key, self.now))
        peer.wnd = keep

    def reopen(self) -> None:
        """The primary connection is gone: a new one, in a state of its own."""
        self.reaching = True
        self.reach(self.rng.choice(REOPEN), self.rng.choice(OPENERS))
        self.reaching = False
        self.cov.reopened += 1

    def settle(self, peer: Peer) -> None:
        """Read everything, let the peer ACK everything, until nothing is in flight."""
        key = peer.key
        for _ in range(12):
            conn = self.d.ep._conns.get(key)
            if conn is None:
                return
            self.input(("read", key, -1, self.now))
            if conn.bytes_unacked == 0 and peer.nxt == peer.una and peer.rcv_nxt == conn.snd_max:
                return
            peer.nxt = peer.max
            self.deliver(peer, peer.segment(self.now), True)
            self.advance(self.rng.choice((40_000, 200_000, 1_000_000)))

    def where(self) -> str:
        """The primary connection's state (or its half-open entry's, or the listener's)."""
        primary = self.primary
        if primary is not None:
            conn = self.d.ep._conns.get(primary.key)
            if conn is not None:
                return conn.state.value
        listener = self.d.listeners.get(SERVER_PORT)
        if listener is None:
            return "no socket"
        if primary is not None and (primary.addr, primary.port, primary.us) in listener.syn_queue:
            return "SYN-RECEIVED (half-open)"
        return "LISTEN"

    def reached(self) -> str:
        d = self.d
        if self.target == "closed":
            return "CLOSED"
        listener = d.listeners.get(SERVER_PORT)
        if self.target == "listen":
            return "LISTEN"
        if self.target == "syn_received_listener":
            if listener is not None and listener.syn_queue_len:
                return "SYN-RECEIVED (listener)"
            return "SYN-RECEIVED (cookie)" if self.config.syncookies == 2 else "LISTEN"
        assert self.primary is not None
        state = d.state_of(self.primary.key)
        return "gone" if state is None else f"{state} ({self.opener})"

    # -- the actions -------------------------------------------------------------------------------
    def valid(self) -> None:
        peer = self.pick_peer()
        if peer is None:
            return self.stray()
        seg = peer.next_valid(self.rng, self.now, self.fin_p)
        if seg is None:
            return self.time()
        self.deliver(peer, seg, True)

    def mutate(self) -> None:
        peer = self.pick_peer()
        if peer is None:
            return self.stray()
        rng = self.rng
        seg = mutate_segment(rng, self.base_segment(peer), self.anchors(peer), rng.choice((1, 1, 1, 2, 3)))
        self.deliver(peer, seg, False)

    def replay(self) -> None:
        peer = self.pick_peer()
        if peer is None or not peer.history:
            return self.mutate()
        rng = self.rng
        seg = rng.choice(peer.history[-24:])
        if rng.random() < 0.3:
            seg = mutate_segment(rng, seg, self.anchors(peer), 1)
        self.deliver(peer, seg, False)

    def raw(self) -> None:
        peer = self.pick_peer()
        rng = self.rng
        if peer is None:
            seg = Segment(rng.randrange(1, 65536), SERVER_PORT, rng.getrandbits(32), rng.getrandbits(32),
                          rng.choice((SYN, ACK, RST, FIN | ACK)), rng.getrandbits(16))
            src, dst = (PEER_V6, US_V6) if self.v6 else (PEER_V4, US_V4)
        else:
            seg = self.base_segment(peer)
            if rng.random() < 0.5:
                seg = mutate_segment(rng, seg, self.anchors(peer), 1)
            peer.sent(seg, False)
            src, dst = peer.addr, peer.us
        data, _ = mutate_packet(rng, seg, src, dst, rng.choice((1, 1, 2, 3)))
        if not self.foreign_dst and foreign_destination(data, self.d.checker.addresses):
            return self.valid()  # (--no-foreign-dst: see synfuzz.known)
        verify = rng.random() < 0.9
        # (Tainting even with the checksum left wrong: flips that cancel out in the
        # one's-complement sum, the same bit set in one word and cleared in another,
        # pass it.  What such a packet carries is not what the peer sent.)
        self.input(("pkt", data, verify, True, self.now))

    def stray(self) -> None:
        rng = self.rng
        r = rng.random()
        v6 = self.v6 if rng.random() < 0.8 else not self.v6
        us = US_V6 if v6 else US_V4
        if r < 0.4:
            src = OTHER_V6 if v6 else OTHER_V4
        elif r < 0.7:
            src = PEER_V6 if v6 else PEER_V4
        else:
            src = rng.choice([a for a in BAD_SOURCES if (":" in a) == v6])
        dport = rng.choice((SERVER_PORT, SERVER_PORT, rng.randrange(1, 65536)))
        if self.primary is not None and rng.random() < 0.3:
            dport = self.primary.our_port
        flags = rng.choice((SYN, SYN, ACK, RST, RST | ACK, FIN | ACK, ACK | PSH, SYN | ACK,
                            rng.getrandbits(8)))
        n = rng.choice((0, 0, 1, 100))
        seq = rng.getrandbits(32)
        opts = random_peer_options(rng) if flags & SYN else Options()
        if opts.timestamps is not None:
            opts = opts._replace(timestamps=(rng.getrandbits(32), 0))
        seg = Segment(rng.randrange(1, 65536), dport, seq, rng.getrandbits(32), flags, rng.getrandbits(16),
                      opts, pattern((seq + 1) & MASK if flags & SYN else seq, n))
        self.send(seg, src, us)

    def client(self) -> None:
        """A new client opens a connection to the listener (if there is one)."""
        rng = self.rng
        if SERVER_PORT not in self.d.listeners:
            return self.stray()
        v6 = self.v6 if rng.random() < 0.7 else not self.v6
        addr = rng.choice((PEER_V6, OTHER_V6) if v6 else (PEER_V4, OTHER_V4))
        us = US_V6 if v6 else US_V4
        peer = self.new_peer(addr, rng.randrange(1024, 65536), us, SERVER_PORT, "client")
        self.deliver(peer, peer.syn(self.now), True)

    def user(self) -> None:
        rng = self.rng
        d = self.d
        keys = list(d.conns)
        r = rng.random()
        if SERVER_PORT in d.listeners and (r < 0.12 or not keys):
            self.input(("accept", SERVER_PORT, self.now))
            return
        if r < 0.14:
            self.connect()
            return
        if r < 0.15:
            if SERVER_PORT in d.listeners:
                self.input(("lclose", SERVER_PORT, self.now))
            else:
                self.input(("listen", SERVER_PORT, rng.choice((0, 1, 2, 128)), self.now))
            return
        if not keys:
            return self.time()
        key = self.primary.key if self.primary is not None and self.primary.key in d.conns \
            and rng.random() < 0.7 else rng.choice(keys)
        r = rng.random()
        now = self.now
        if r < 0.35:
            self.input(("send", key, rng.choice((1, 10, 100, 536, 1460, 3000, 5000, 20000, 70000)),
                        rng.random() < 0.1, now))
        elif r < 0.7:
            self.input(("read", key, rng.choice((-1, -1, 1, 100, 700, 5000)), now))
        elif r < 0.77:
            self.input(("shutdown", key, now))
        elif r < 0.86:
            self.input(("close", key, now))
        elif r < 0.9:
            self.input(("abort", key, now))
        elif r < 0.95:
            self.input(("nodelay", key, rng.random() < 0.5, now))
        else:
            self.input(("keepalive", key, rng.random() < 0.5, now))

    def connect(self) -> None:
        """The application opens another connection (to a peer that answers as a server)."""
        rng = self.rng
        v6 = self.v6 if rng.random() < 0.8 else not self.v6
        us, addr = (US_V6, PEER_V6) if v6 else (US_V4, PEER_V4)
        lport = rng.randrange(1024, 65536)
        port = rng.choice((SERVER_PORT, rng.randrange(1, 65536)))
        if (us, lport, addr, port) not in self.peers:
            self.new_peer(addr, port, us, lport, "server")
        self.input(("connect", addr, port, lport, self.now))

    def time(self) -> None:
        rng = self.rng
        nt = self.d.ep.next_timeout()
        if nt is not None and rng.random() < 0.45:
            t = max(nt + rng.choice((0, 0, 0, -1, 1, 1000)), self.now)
        else:
            t = self.now + rng.choice((0, 1, 1000, 10_000, 40_000, 200_000, 500_000, 1_000_000, 3_000_000,
                                       60_000_000, 130_000_000))
        self.now = t
        self.input(("time", t))

    def skew(self) -> None:
        """Time moves on without handle_timeout: the next input comes late."""
        self.now += self.rng.choice((1, 1000, 200_000, 1_000_000))

    def rewind(self) -> None:
        peer = self.pick_peer()
        if peer is not None:
            peer.rewind()
        self.valid()

    def window(self) -> None:
        peer = self.pick_peer()
        if peer is None:
            return self.valid()
        peer.wnd = self.rng.choice((0, 0, 1, 100, 1460, 65535, 1 << 20, 1 << 30))
        if peer.synchronized:
            self.deliver(peer, peer.segment(self.now), True)

    def fin(self) -> None:
        peer = self.pick_peer()
        if peer is not None:
            peer.shut()
        self.valid()

    def reborn(self) -> None:
        """A client's new incarnation on the same port: a new SYN, its ISS above the old
        sequence space (a TIME-WAIT's 4-tuple reused) or anywhere."""
        peer = self.pick_peer()
        if peer is None or peer.role != "client":
            return self.client() if self.rng.random() < 0.5 else self.valid()
        rng = self.rng
        new = Peer(peer.addr, peer.port, peer.us, peer.our_port,
                   (peer.max + rng.choice((1, 65537, 1 << 20, 1 << 31))) & MASK if rng.random() < 0.8
                   else rng.getrandbits(32), role="client", opts=random_peer_options(rng),
                   ts_off=peer.ts_off if rng.random() < 0.8 else rng.getrandbits(32), wnd=peer.wnd)
        self.peers[new.key] = new
        if self.primary is peer:
            self.primary = new
        self.deliver(new, new.syn(self.now), True)

    # -- the episode -------------------------------------------------------------------------------
    def run(self, quiesce: bool) -> None:
        self.reach(self.target, self.opener)
        cov = self.cov
        cov.reached.setdefault(self.target, Counter())[self.reached()] += 1
        self.reaching = False
        rng = self.rng
        names, cum, handlers = self.names, self.cum, self.handlers
        total = cum[-1]
        d = self.d
        conns = d.ep._conns
        inputs_in = cov.inputs_in
        actions = cov.actions
        reopen = self.target not in ("closed", "listen")
        while len(d.tape) < self.budget:
            primary = self.primary
            conn = conns.get(primary.key) if primary is not None else None
            if conn is not None:
                inputs_in[conn.state.value] += 1
            else:
                if reopen and rng.random() < 0.04:
                    self.reopen()
                    continue
                inputs_in[self.where()] += 1
            name = names[bisect.bisect_right(cum, rng.random() * total)]
            actions[name] += 1
            handlers[name]()
        if quiesce:
            self.quiesce()

    def quiesce(self) -> None:
        """The peers fall silent: time alone must end everything that waits for them."""
        self.input(("quiesce", self.now))
        self.cov.liveness_checks += 1

    def finish(self) -> None:
        cov = self.cov
        checker = self.d.checker
        cov.edges.update(checker.edges)
        cov.due_after_timeout += checker.due_after_timeout
        cov.packets_out += checker.emitted
        cov.tolerated.update(checker.tolerated)
        for reason, n in self.d.ep.stats.dropped.items():
            cov.drops[reason.value] += n


def digest(d: Driver) -> str:
    """What an episode did, for the determinism check: its output and final states."""
    h = d.checker.digest.copy()
    for key, conn in sorted(d.ep._conns.items()):
        h.update(f"{key}{conn.state}{conn.snd_una}{conn.snd_max}{conn.rcv_nxt}".encode())
    h.update(f"{d.checker.emitted}".encode())
    return h.hexdigest()


# -- the run ---------------------------------------------------------------------------------------
@dataclass
class Finding:
    signature: str
    message: str
    seed: int
    episode: int
    input_index: int
    steps: int
    shrunk: int
    path: Path | None
    count: int = 1


@dataclass
class Result:
    seed: int
    inputs: int = 0
    episodes: int = 0
    seconds: float = 0.0
    findings: dict[str, Finding] = field(default_factory=dict)
    cov: Coverage = field(default_factory=Coverage)
    digest: str = ""
    #: The options that change what a seed does (for the command that reruns an episode).
    flags: str = ""

    @property
    def failures(self) -> int:
        return sum(f.count for f in self.findings.values())

    def summary(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        return (f"fuzz: {self.inputs:,} inputs in {self.seconds:,.0f} s ({rate:,.0f}/s), "
                f"{self.failures} failure{'s' if self.failures != 1 else ''}, seed {self.seed}")


def episode_seeds(seed: int) -> Callable[[], int]:
    master = random.Random(seed)
    return lambda: master.getrandbits(64)


def run(seed: int, *, seconds: float | None = None, max_inputs: int | None = None,
        max_episodes: int | None = None, first_episode: int = 0, repro_dir: Path | None = None,
        shrink_seconds: float = 60.0, max_findings: int = 10, check_every: int = 25,
        quiesce_share: float = 0.3, foreign_dst: bool = True, tolerate: frozenset[str] = frozenset(),
        log: Callable[[str], None] = print,
        progress_every: float = 30.0) -> Result:
    """Episodes from ``seed`` until ``seconds`` (or ``max_inputs``, or
    ``max_episodes``) run out; failures are shrunk and written to ``repro_dir``."""
    result = Result(seed)
    result.flags = ("" if tolerate else " --strict") + ("" if foreign_dst else " --no-foreign-dst")
    cov = result.cov
    next_seed = episode_seeds(seed)
    for _ in range(first_episode):
        next_seed()
    run_digest = hashlib.blake2b(digest_size=16)
    start = time.monotonic()
    deadline = start + seconds if seconds is not None else None
    last_progress = start
    index = first_episode
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        if max_inputs is not None and result.inputs >= max_inputs:
            break
        if max_episodes is not None and index - first_episode >= max_episodes:
            break
        if progress_every and now - last_progress >= progress_every:
            last_progress = now
            elapsed = now - start
            log(f"fuzz: {elapsed:,.0f} s, {result.inputs:,} inputs ({result.inputs / elapsed:,.0f}/s), "
                f"{result.episodes:,} episodes, {result.failures} failures")
        ep_seed = next_seed()
        rng = random.Random(ep_seed ^ 0x5EED)
        budget = rng.choice((20, 60, 150, 300, 600))
        quiesce = rng.random() < quiesce_share
        episode = Episode(ep_seed, budget, cov, foreign_dst, tolerate)
        try:
            try:
                episode.run(quiesce)
                if check_every and index % check_every == 0:
                    again = replay(episode.setup, episode.d.tape)
                    cov.determinism_checks += 1
                    if digest(again) != digest(episode.d):
                        raise Failure("nondeterministic", f"episode {index} replayed from its tape "
                                      "emits different segments or ends in different states")
            except Failure as failure:
                record(result, failure, episode, index, seed, repro_dir, shrink_seconds, log)
            except Exception:
                log(f"fuzz: the fuzzer itself failed in episode {index} (seed {seed}, episode seed "
                    f"{ep_seed}); rerun with --seed {seed} --episode {index}")
                raise
        finally:
            result.inputs += len(episode.d.tape)
            result.episodes += 1
            episode.finish()
            run_digest.update(digest(episode.d).encode())
        index += 1
        if len(result.findings) >= max_findings:
            log(f"fuzz: stopping after {len(result.findings)} distinct failures")
            break
    result.seconds = time.monotonic() - start
    result.digest = run_digest.hexdigest()
    return result


def record(result: Result, failure: Failure, episode: Episode, index: int, seed: int, repro_dir: Path | None,
           shrink_seconds: float, log: Callable[[str], None]) -> None:
    tape = episode.d.tape
    input_index = result.inputs + len(tape) - 1
    sig = failure.signature
    known = result.findings.get(sig)
    where = f"input {input_index:,} (episode {index}, its step {len(tape) - 1}), seed {seed}{result.flags}"
    if known is not None:
        known.count += 1
        log(f"fuzz: FAILURE again at {where}: {failure.kind} [{failure.where}]")
        return
    first_line = failure.detail.splitlines()[0] if failure.detail else ""
    log(f"fuzz: FAILURE at {where}: {failure.kind} [{failure.where}]: {first_line}")
    steps = list(tape)
    shrunk = shrink(episode.setup, steps, sig, shrink_seconds) if shrink_seconds > 0 else steps
    path = None
    if repro_dir is not None:
        path = repro_dir / f"fuzz-{seed}-{input_index}.py"
        found_by = (f"python scripts/fuzz.py --seed {seed} --episode {index}{result.flags}  "
                    f"(input {input_index:,} of the run with --seed {seed})")
        write_reproducer(path, episode.setup, shrunk, failure, found_by, len(steps))
        log(f"fuzz: reproducer ({len(shrunk)} of {len(steps)} steps): {path}")
    result.findings[sig] = Finding(sig, str(failure), seed, index, input_index, len(steps), len(shrunk), path)


def report_coverage(result: Result, log: Callable[[str], None]) -> None:
    cov = result.cov
    log("reached (target: state reached x episodes):")
    for target in TARGETS:
        got = cov.reached.get(target, Counter())
        log(f"  {target:27} " + ", ".join(f"{s} x{n:,}" for s, n in got.most_common()))
    total = sum(cov.inputs_in.values()) or 1
    log("inputs by the primary connection's state: " + ", ".join(
        f"{s} {100 * n / total:.1f}%" for s, n in cov.inputs_in.most_common()))
    log(f"transitions seen: {len(cov.edges)} of {len(TRANSITIONS)}"
        + ("" if len(cov.edges) == len(TRANSITIONS) else
           " (missing: " + ", ".join(f"{a}->{b}" for a, b in TRANSITIONS if (a, b) not in cov.edges) + ")"))
    log("drops: " + ", ".join(f"{r} {n:,}" for r, n in cov.drops.most_common()))
    log(f"packets out {cov.packets_out:,}; connections reopened {cov.reopened:,}; liveness checks "
        f"{cov.liveness_checks:,}; determinism checks {cov.determinism_checks:,}; next_timeout() == now "
        f"after handle_timeout(now): {cov.due_after_timeout:,}")
    if cov.tolerated:
        log("known failures (tolerated, see docs/FUZZ.md): " + ", ".join(
            f"{k} x{n:,}" for k, n in cov.tolerated.most_common()))
