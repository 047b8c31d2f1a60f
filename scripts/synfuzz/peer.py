"""The scripted peer: the other end of one 4-tuple, played by the fuzzer.

A :class:`Peer` keeps the little a real TCP on the other side would keep: its own
sequence space (ISS, SND.UNA, SND.NXT, its FIN), what it has seen of ours (our ISS,
its RCV.NXT, what arrived out of order, our window's right edge, our latest TSval),
and the options both SYNs carried.  From that it builds the *valid next segment* of
the conversation (the handshake's next step, an ACK, data within our window, its
FIN), which the fuzzer sends as it is or mutates.  It learns only from the segments
we emit that reach it (the fuzzer may lose some), so it retransmits (``rewind``),
and it follows what we acknowledge even past what it sent (a forged segment we took
moves it on), so a conversation survives the fuzzer's forgeries.

Payload octets are ``pattern(seq, n)``: the octets its sequence numbers name.
"""

from __future__ import annotations

import random

from synack.core.seq import MASK, seq_gt, seq_le, seq_lt, seq_sub
from synack.core.wire import ACK, FIN, RST, SYN, Options, Segment

from .common import pattern


def tsval(now: int, offset: int) -> int:
    return (now // 1000 + offset) & MASK


class Peer:
    """One remote end.  ``role`` "client": it opens (we listen); "server": we opened."""

    __slots__ = ("addr", "fin_seq", "history", "irs", "iss", "max", "nxt", "ooo", "opts", "our_edge",
                 "our_opts", "our_port", "port", "rcv_nxt", "reset", "role", "syn_sent", "ts_off",
                 "ts_recent", "una", "us", "wnd")

    def __init__(self, addr: str, port: int, us: str, our_port: int, iss: int, *, role: str, opts: Options,
                 ts_off: int, wnd: int) -> None:
        self.addr, self.port, self.us, self.our_port = addr, port, us, our_port
        self.role = role
        #: What its SYN (or SYN-ACK) offers: mss, wscale, sack_permitted, and whether
        #: it does timestamps (``timestamps`` not None; the values are made when sent).
        self.opts = opts
        self.ts_off = ts_off
        #: Its receive window, in octets.
        self.wnd = wnd
        self.iss = iss
        self.una = self.nxt = self.max = iss
        self.syn_sent = False
        self.fin_seq: int | None = None
        self.irs: int | None = None
        self.rcv_nxt = 0
        #: Our octets that reached it beyond its RCV.NXT: merged (left, right) ranges.
        self.ooo: list[tuple[int, int]] = []
        self.our_opts: Options | None = None
        self.our_edge: int | None = None
        self.ts_recent = 0
        self.reset = False
        #: Every segment it sent, valid or forged (for replays).
        self.history: list[Segment] = []

    def __repr__(self) -> str:
        return f"<Peer {self.role} {self.addr}:{self.port} iss={self.iss} nxt={self.nxt} irs={self.irs}>"

    @property
    def key(self) -> tuple[str, int, str, int]:
        """Our connection's 4-tuple (local first, as the endpoint keys it)."""
        return (self.us, self.our_port, self.addr, self.port)

    # -- what was negotiated ---------------------------------------------------------------
    @property
    def ts_ok(self) -> bool:
        o = self.our_opts
        return o is not None and o.timestamps is not None and self.opts.timestamps is not None

    @property
    def sack_ok(self) -> bool:
        o = self.our_opts
        return o is not None and o.sack_permitted and self.opts.sack_permitted

    @property
    def snd_shift(self) -> int:
        """The shift of the windows it sends."""
        o = self.our_opts
        if o is None or o.wscale is None or self.opts.wscale is None:
            return 0
        return min(self.opts.wscale, 14)

    @property
    def our_shift(self) -> int:
        """The shift of the windows we send it."""
        o = self.our_opts
        if o is None or o.wscale is None or self.opts.wscale is None:
            return 0
        return min(o.wscale, 14)

    @property
    def our_mss(self) -> int:
        o = self.our_opts
        return o.mss if o is not None and o.mss else 536

    @property
    def synchronized(self) -> bool:
        """Its SYN is acknowledged and it has seen ours: the data phase."""
        return self.irs is not None and seq_gt(self.una, self.iss)

    def window_field(self, syn: bool = False) -> int:
        if syn:
            return min(self.wnd, 0xFFFF)
        return min(self.wnd >> self.snd_shift, 0xFFFF)

    def ts_option(self, now: int) -> tuple[int, int] | None:
        return (tsval(now, self.ts_off), self.ts_recent) if self.ts_ok else None

    # -- segments it builds -------------------------------------------------------------------
    def syn(self, now: int) -> Segment:
        """Its SYN (a client's, or a simultaneous open's)."""
        o = self.opts
        ts = (tsval(now, self.ts_off), 0) if o.timestamps is not None else None
        return Segment(self.port, self.our_port, self.iss, 0, SYN, self.window_field(True),
                       o._replace(timestamps=ts))

    def synack(self, now: int) -> Segment:
        """Its SYN,ACK answering our SYN (a server's), options as our SYN allowed."""
        o, ours = self.opts, self.our_opts or Options()
        ts = (tsval(now, self.ts_off), ours.timestamps[0]) \
            if o.timestamps is not None and ours.timestamps is not None else None
        opts = Options(mss=o.mss, wscale=o.wscale if ours.wscale is not None else None,
                       sack_permitted=o.sack_permitted and ours.sack_permitted, timestamps=ts)
        return Segment(self.port, self.our_port, self.iss, self.rcv_nxt, SYN | ACK, self.window_field(True),
                       opts)

    def segment(self, now: int, n: int = 0, fin: bool = False, seq: int | None = None,
                ack: int | None = None) -> Segment:
        """An ACK from ``seq`` (SND.NXT) with ``n`` octets of data and maybe its FIN;
        SACK blocks for what it holds out of order."""
        seq = self.nxt if seq is None else seq
        flags = ACK | FIN if fin else ACK
        sack: tuple[tuple[int, int], ...] = ()
        if self.sack_ok and self.ooo:
            sack = tuple(self.ooo[:3 if self.ts_ok else 4])
        opts = Options(timestamps=self.ts_option(now), sack_blocks=sack)
        return Segment(self.port, self.our_port, seq, self.rcv_nxt if ack is None else ack, flags,
                       self.window_field(), opts, pattern(seq, n))

    def room(self) -> int:
        """Octets our last advertised window leaves it (may be <= 0)."""
        if self.our_edge is None:
            return 0
        return seq_sub(self.our_edge, self.nxt)

    def next_valid(self, rng: random.Random, now: int, fin_p: float = 0.0) -> Segment | None:
        """The segment a correct peer would send next (None: it has nothing to say)."""
        if self.role == "client":
            if not self.syn_sent or self.irs is None or not seq_gt(self.una, self.iss):
                return self.syn(now)  # (again: our SYN-ACK has not reached it)
        else:
            if self.irs is None:
                return None
            if not seq_gt(self.una, self.iss):
                return self.synack(now) if self.syn_sent or rng.random() < 0.9 else self.syn(now)
        # the data phase
        fin_seq = self.fin_seq
        if fin_seq is not None and not seq_lt(self.nxt, fin_seq):
            if self.nxt == fin_seq:
                return self.segment(now, 0, fin=True)
            return self.segment(now)
        r = rng.random()
        n = 0
        if r < 0.55:
            room = self.room()
            mss = self.our_mss
            if room > 0:
                n = min(rng.choice((1, 1, 7, 100, mss, mss, mss, room, room, 3 * mss)), room, 65000)
            elif rng.random() < 0.2:
                n = 1  # a probe of our shut window
        if fin_seq is not None:
            n = min(n, seq_sub(fin_seq, self.nxt))
            return self.segment(now, n, fin=(self.nxt + n) & MASK == fin_seq)
        fin = rng.random() < fin_p
        return self.segment(now, n, fin=fin)

    # -- bookkeeping ----------------------------------------------------------------------------
    def sent(self, seg: Segment, valid: bool) -> None:
        """It sent ``seg``; a valid segment moves its SND.NXT (a forgery does not)."""
        self.history.append(seg)
        if len(self.history) > 64:
            del self.history[:16]
        if not valid:
            return
        flags = seg.flags
        if flags & SYN:
            self.syn_sent = True
        end = (seg.seq + seg.seg_len) & MASK
        if flags & FIN:
            self.fin_seq = (end - 1) & MASK
        if seq_gt(end, self.nxt):
            self.nxt = end
        if seq_gt(self.nxt, self.max):
            self.max = self.nxt

    def rewind(self) -> None:
        """Retransmission: go back to the oldest octet we have not acknowledged."""
        self.nxt = self.una

    def shut(self) -> None:
        """Its application closed: the FIN goes after what was sent."""
        if self.fin_seq is None:
            self.fin_seq = self.max

    def observe(self, seg: Segment) -> None:
        """One of our segments reached it."""
        flags = seg.flags
        if flags & RST:
            self.reset = True
            return
        seq = seg.seq
        if flags & SYN:
            if flags & ACK and self.role == "client":
                if seg.ack != (self.iss + 1) & MASK:
                    return  # answers another incarnation's SYN
                if self.irs != seq and self.nxt == (self.iss + 1) & MASK and not self.ooo:
                    self.irs, self.rcv_nxt = seq, (seq + 1) & MASK  # (a new cookie: start again)
            elif self.irs is None or (self.irs != seq and not seq_gt(self.una, self.iss)):
                self.irs, self.rcv_nxt = seq, (seq + 1) & MASK
                self.ooo = []
            self.our_opts = seg.options
            if seg.options.timestamps is not None:
                self.ts_recent = seg.options.timestamps[0]
            seq = (seq + 1) & MASK
        elif self.ts_ok and seg.options.timestamps is not None:
            val = seg.options.timestamps[0]
            if seq_le(self.ts_recent, val) or seq_le(seq, self.rcv_nxt):
                self.ts_recent = val
        if flags & ACK:
            ack = seg.ack
            if seq_gt(ack, self.una):
                if seq_gt(ack, self.max):
                    self.max = ack  # we took something it never sent: follow
                if seq_gt(ack, self.nxt):
                    self.nxt = ack
                self.una = ack
            shift = 0 if flags & SYN else self.our_shift
            edge = (ack + (seg.window << shift)) & MASK
            if self.our_edge is None or seq_le(self.our_edge, edge) or seq_gt(ack, self.our_edge):
                self.our_edge = edge
        if self.irs is None:
            return
        end = (seq + len(seg.payload) + (1 if flags & FIN else 0)) & MASK
        if end == seq:
            return
        nxt = self.rcv_nxt
        if seq_le(seq, nxt):
            if seq_gt(end, nxt):
                nxt = end
                # what was held joins
                keep = []
                for left, right in self.ooo:
                    if seq_le(left, nxt):
                        if seq_gt(right, nxt):
                            nxt = right
                    else:
                        keep.append((left, right))
                self.ooo = keep
                self.rcv_nxt = nxt
        else:
            merged = [(seq, end)]
            for left, right in self.ooo:
                a, b = merged[0]
                if seq_le(left, b) and seq_le(a, right):
                    merged[0] = (left if seq_lt(left, a) else a, right if seq_gt(right, b) else b)
                else:
                    merged.append((left, right))
            self.ooo = merged[:4]  # most recent first, as SACK wants
