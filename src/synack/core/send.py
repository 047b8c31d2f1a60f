"""The send side of a connection: the send sequence space (RFC 9293 §3.3.1: ISS,
SND.UNA, SND.NXT, SND.WND, SND.WL1, SND.WL2, SND.UP, and SND.MAX, the highest sent),
the send buffer, the effective send MSS, and what may leave when: the windows,
Nagle's algorithm and silly-window avoidance, zero-window probes, retransmission.

- **The effective send MSS** (§3.7.1, MUST-15/16) is :meth:`SendSpace.set_mss`.
- **New data** leaves by :meth:`SendSpace.send`: as much as the peer's window and the
  congestion window allow, in full-sized segments; a small one only when Nagle (Linux's
  Minshall variant, §3.7.4) and sender SWS avoidance (§3.8.6.2.1) let it; PSH on the
  last (MUST-61), FIN after the data.
- **Zero-window probes** (§3.8.6.1, MUST-36) are Linux's: a bare ACK at SND.UNA − 1.
- **Retransmission** resends octets already sent (:meth:`SendSpace.retransmit`).
- **The send buffer** keeps the data written and not yet acknowledged as the chunks
  the application wrote (a small write joins a small last chunk), so nothing held is
  copied again when more is written or the front is acknowledged (a ``bytearray``
  copied all it held whenever it grew after ACKs had taken its front: up to the
  whole buffer, on every write).  Octets are found by *stream position*, an integer
  counting every octet written, with :mod:`bisect` (:meth:`SendSpace._take`).
- **The window** from the peer's ACKs (§3.10.7.4 fifth check: SND.WL1/SND.WL2).

The send space asks the connection's :class:`~synack.core.recovery.Recovery` how
much cwnd allows, and tells it when a segment can be timed or was resent.  Segments
are built by the ``build`` function the connection passes in (``replies.header``);
the retransmission timer is the connection's, which the output methods tell when it
must run.  (The part keeps no reference back to the connection: a closed connection
is freed at once, without the cycle collector.)
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Final, Protocol

from .seq import HALF, MASK, MOD, seq_gt, seq_le, seq_lt, seq_sub
from .wire import ACK, FIN, PSH, Segment

if TYPE_CHECKING:
    from .config import Config
    from .recovery import Recovery
    from .stats import Stats

#: ``tuple.__new__``: builds a Segment without its Python-level ``__new__`` (per segment).
_new = tuple.__new__


class Build(Protocol):
    """(seq, flags, payload) -> the segment, as the connection builds it."""

    def __call__(self, seq: int, flags: int, payload: bytes = b"", /) -> Segment:
        """The segment from ``seq`` with ``flags`` and ``payload``."""


#: A write smaller than this joins the buffer's last chunk when that is smaller too, so
#: that a writer of tiny pieces leaves few chunks (each such copy is of less than twice
#: this).
COALESCE: Final = 2048
#: An empty buffer's chunks and their positions (shared, never changed).
_NO_CHUNKS: Final[list[bytes]] = []
_NO_STARTS: Final[list[int]] = []


def default_mss(addr: str) -> int:
    """The send MSS to assume when the peer's SYN had no MSS option (MUST-15)."""
    return 1220 if ":" in addr else 536


def _across(chunks: list[bytes], i: int, at: int, end: int) -> tuple[bytes, int, int]:
    """The octets from ``at`` in ``chunks[i]`` up to ``end`` (beyond that chunk), joined
    from views of the partial chunks so that the join is the only copy; and the
    chunk where they end, with the offset there."""
    chunk = chunks[i]
    parts: list[bytes | memoryview] = [memoryview(chunk)[at:]]
    end -= len(chunk)
    while True:
        i += 1
        chunk = chunks[i]
        if end <= len(chunk):
            parts.append(memoryview(chunk)[:end])
            return b"".join(parts), i, end
        parts.append(chunk)
        end -= len(chunk)


#: ``SendSpace.bound_wnd`` before the handshake's window: no bound yet.
NO_BOUND: Final = 1 << 62


class SendSpace:
    """SND.UNA to SND.MAX, the send buffer, and the rules for what leaves."""

    __slots__ = ("_chunks", "_front", "_opt_len", "_path_mss", "_rec", "_starts", "_stats", "bound_wnd",
                 "data_seq", "fin_queued", "fin_seq", "held", "iss", "max", "max_wnd", "mss", "nodelay",
                 "nxt", "persist_backoff", "probe", "pushed", "size", "sml", "una", "up", "want_writable",
                 "wl1", "wl2", "wnd", "wscale")

    def __init__(self, config: Config, iss: int, remote_addr: str, rec: Recovery, stats: Stats) -> None:
        self._rec = rec
        self._stats = stats
        self.size = config.snd_buf
        self.iss = iss
        self.una = iss
        self.nxt = iss
        #: SND.MAX: the highest sequence number sent (+1).
        self.max = iss
        self.wnd = 0
        self.wl1 = 0
        self.wl2 = 0
        #: RFC 5961 §5 MAX.SND.WND: the largest window the peer has offered.
        self.max_wnd = 0
        #: The effective send MSS (§3.7.1), bounded by half the window (see
        #: :meth:`handshake_window`); ``_path_mss`` without that bound.
        self.mss = self._path_mss = default_mss(remote_addr)
        self._opt_len = 0
        #: The largest window the bound on segments has seen (Linux's max_window for
        #: tcp_bound_to_half_wnd); none until the handshake ends.
        self.bound_wnd = NO_BOUND
        #: Window scale of the peer's windows (RFC 7323 Snd.Wind.Shift).
        self.wscale = 0
        #: The send buffer: ``held`` octets written and not yet acknowledged (Send-Q),
        #: the first at ``data_seq``, kept as the chunks written (see the module
        #: docstring): ``_starts`` has each chunk's stream position, ``_front`` the
        #: first octet's.  An empty buffer holds no lists of its own (most of a
        #: connection's life, in TIME-WAIT for one: fewer objects for the collector).
        self.held = 0
        self._chunks: list[bytes] = _NO_CHUNKS
        self._starts: list[int] = _NO_STARTS
        self._front = 0
        self.data_seq = (iss + 1) & MASK
        self.fin_queued = False
        #: Our FIN's sequence number, once queued.
        self.fin_seq = 0
        #: TCP_NODELAY: Nagle's algorithm off.
        self.nodelay = config.nodelay
        #: The end of the last small segment sent (Linux snd_sml; Nagle-Minshall).
        self.sml = iss
        #: SND.UP (§3.3.1): None outside urgent mode.
        self.up: int | None = None
        #: A zero-window probe goes with the next output.
        self.probe = False
        #: Zero-window probes sent unanswered by an open window: the persist timer's
        #: backoff exponent (§3.8.6.1; Linux icsk_probes_out).
        self.persist_backoff = 0
        #: The application found the buffer full: tell it when room opens.
        self.want_writable = False
        #: Where the segments sent with PSH ended, unacknowledged, in order: a resent
        #: segment carries PSH as it first did (Linux resends the same skb).
        self.pushed: list[int] | None = None  # (None, not an empty list: see ``held``)

    # ------------------------------------------------------------------ the buffer
    @property
    def unacked(self) -> int:
        """Send-Q: data written and not yet acknowledged."""
        return self.held

    @property
    def space(self) -> int:
        return self.size - self.held

    @property
    def buf(self) -> bytes:
        """The data held, as one ``bytes`` (for views and tests)."""
        return self._take(0, self.held)

    def queue(self, data: bytes, urgent: bool) -> int:
        """Take what fits of ``data``; ``urgent`` moves SND.UP to its end (§3.8.5)."""
        size = len(data)
        n = self.size - self.held  # min(free, size), written out (per write)
        if size < n:
            n = size
        if n:
            # (a part is copied, and so is a bytearray or a view: the caller may change it)
            chunk = data if n == size and type(data) is bytes else bytes(data[:n])
            chunks = self._chunks
            if not self.held:
                self._chunks = [chunk]
                self._starts = [self._front]
            elif n < COALESCE and len(chunks[-1]) < COALESCE:
                chunks[-1] += chunk  # a small write joins a small last chunk
            else:
                chunks.append(chunk)
                self._starts.append(self._front + self.held)
            self.held += n
        if n < size:
            self.want_writable = True
        if urgent and n:
            self.up = (self.data_seq + self.held) & MASK
        return n

    def queue_fin(self) -> None:
        """The FIN goes after the data queued so far."""
        self.fin_queued = True
        self.fin_seq = (self.data_seq + self.held) & MASK

    @property
    def fin_acked(self) -> bool:
        return self.fin_queued and seq_gt(self.una, self.fin_seq)

    def acked(self, ack: int) -> int:
        """A new cumulative ACK (SND.UNA < ``ack`` <= SND.MAX): SND.UNA moves, the data
        it covers leaves the buffer, urgent mode ends once SND.UP is passed.  Returns
        the data octets acknowledged."""
        data_acked = (ack - self.data_seq) & MASK
        if data_acked >= HALF:
            data_acked -= MOD
        if data_acked > 0:
            n = data_acked if data_acked < self.held else self.held  # (min, written out: per ACK)
            held = self.held = self.held - n  # the octets acknowledged leave the buffer
            front = self._front = self._front + n
            starts = self._starts
            if not held:
                self._chunks, self._starts = _NO_CHUNKS, _NO_STARTS
            elif len(starts) > 1 and starts[1] <= front:  # whole chunks acknowledged
                k = bisect_right(starts, front) - 1
                del self._chunks[:k]
                del starts[:k]
            self.data_seq = (self.data_seq + n) & MASK
        self.una = ack
        pushed = self.pushed
        if pushed is not None:
            while pushed and ((ack - pushed[0]) & MASK) < HALF:  # acknowledged: SEG.ACK >= it
                del pushed[0]
            if not pushed:
                self.pushed = None
        if 0 < ((ack - self.nxt) & MASK) < HALF:  # SND.NXT < SEG.ACK (after go-back)
            self.nxt = ack
        up = self.up
        if up is not None and ((ack - up) & MASK) < HALF:  # SND.UNA >= SND.UP: urgent mode over
            self.up = None
        self.persist_backoff = 0
        return data_acked

    def writable(self) -> bool:
        """The application found the buffer full: should it hear that there is room?
        Once a third of the buffer is free, as Linux's sk_stream_write_space (free >=
        queued / 2), so that a writer wakes to fill a useful gap, not on every ACK."""
        if 3 * self.held <= 2 * self.size:
            self.want_writable = False
            return True
        return False

    # ------------------------------------------------------------------ the peer's window
    def set_mss(self, peer_mss: int | None, our_mss: int, least: int, remote_addr: str,
                options: int = 0) -> None:
        """The effective send MSS (§3.7.1, MUST-16): Eff.snd.MSS = min(SendMSS + 20,
        MMS_S) − TCPhdrsize, where TCPhdrsize counts the options.  SendMSS is the peer's
        MSS option (the default without one, MUST-15), at most our own (our MTU's), and
        at least ``least`` (Linux tcp_min_snd_mss raises a tiny peer MSS to 48;
        CVE-2019-11479); less the ``options`` every segment carries (the timestamps'
        12 octets, as Linux's tcp_mtu_to_mss), so that a full-sized segment fits the
        path the MSS came from.  (SACK blocks take only the room a segment has left:
        ``Replies._segment``.)"""
        mss = peer_mss if peer_mss is not None else default_mss(remote_addr)
        mss = mss if mss < our_mss else our_mss  # max(min(mss, our_mss), least), written out
        self.mss = self._path_mss = (mss if mss > least else least) - options
        self._opt_len = options
        if self.bound_wnd != NO_BOUND:
            self._bound(self.bound_wnd)

    def handshake_window(self, seq: int, ack: int, window: int) -> None:
        """The window the handshake ends with (the SYN-ACK's, or a passive open's final
        ACK's): :meth:`first_window`, and the bound it sets on segments, as Linux's
        tcp_bound_to_half_wnd in tcp_sync_mss (sender SWS avoidance): none larger than
        half the largest window seen since (all of it when that is 536 or less), nor
        smaller than 68 octets less the header; lifted as larger windows come
        (:meth:`update_window`), as Linux re-syncs its MSS when max_window grows."""
        self.first_window(seq, ack, window)
        self._bound(window)

    def _bound(self, window: int) -> None:
        self.bound_wnd = window
        cutoff = window >> 1 if window > 536 else window
        mss = self._path_mss
        if cutoff and mss > cutoff:
            least = 48 - self._opt_len  # 68 octets less the header (20 and the options)
            mss = cutoff if cutoff > least else least
        self.mss = mss

    def first_window(self, seq: int, ack: int, window: int) -> None:
        """The window of the peer's SYN or SYN-ACK (never scaled, RFC 7323 §2.2)."""
        self.wnd = window
        if window > self.max_wnd:
            self.max_wnd = window
        self.wl1, self.wl2 = seq, ack

    def update_window(self, seq: int, ack: int, field: int) -> bool:
        """§3.10.7.4 fifth check: the window of a segment newer than the one that last
        set it (SND.WL1 < SEG.SEQ, or equal and SND.WL2 =< SEG.ACK), only when SND.UNA
        =< SEG.ACK.  True when it was taken."""
        wl1 = self.wl1
        if ((ack - self.una) & MASK) < HALF and (
                0 < ((seq - wl1) & MASK) < HALF or (wl1 == seq and ((ack - self.wl2) & MASK) < HALF)):
            wnd = self.wnd = field << self.wscale
            if wnd > self.max_wnd:
                self.max_wnd = wnd
            if wnd > self.bound_wnd:
                self._bound(wnd)  # a larger window lifts the bound on segments
            self.wl1, self.wl2 = seq, ack
            return True
        return False

    def ack_seq(self) -> int:
        """SEG.SEQ of a pure ACK: SND.MAX, not a SND.NXT rewound by go-back-N, which the
        peer, having received beyond it, would find below RCV.NXT and drop as
        unacceptable with the ACK in it; but never beyond the peer's window (a
        zero-window probe's octet), as Linux's tcp_acceptable_seq (its SND.NXT is never
        rewound)."""
        top, end = self.max, (self.una + self.wnd) & MASK
        return top if seq_le(top, end) else end

    # ------------------------------------------------------------------ output
    def retransmit(self, out: list[Segment], build: Build, seq: int, limit: int, now: int) -> int:
        """Resend up to ``limit`` octets from ``seq`` (already sent once), whatever cwnd
        says; SND.NXT stays where it is.  Returns the sequence space resent (then the
        retransmission timer must run)."""
        held = self.held
        off = seq_sub(seq, self.data_seq)
        n = min(limit, held - off, seq_sub(self.max, seq))
        if n < 0:
            n = 0
        flags = ACK
        if n and self._was_pushed(seq, n):
            flags |= PSH
        if off + n >= held and self.fin_queued and seq_gt(self.max, self.fin_seq):
            flags |= FIN
        if not n and not flags & FIN:
            return 0
        out.append(build(seq, flags, self._take(off, n)))
        self._stats.retransmits += 1
        self._rec.resent(now)
        return n + (1 if flags & FIN else 0)

    def send(self, out: list[Segment], build: Build, now: int, adjust: int = 0) -> bool:
        """New data (and the FIN) as the windows, Nagle and SWS avoidance allow;
        ``adjust`` corrects SND.NXT − SND.UNA to RFC 6675's pipe in SACK recovery.
        True when the retransmission timer must run: something left, or data waits for
        a window (the timer doubles as the persist timer while nothing flies)."""
        held = self.held
        mss = self.mss
        rec = self._rec
        sent = False
        while True:
            snd_nxt = self.nxt
            off = (snd_nxt - self.data_seq) & MASK  # (seq_sub, inlined: per segment)
            if off >= HALF:
                off -= MOD
            avail = held - off
            fin_due = self.fin_queued and ((self.fin_seq - snd_nxt) & MASK) < HALF  # (seq_le, inlined)
            if avail <= 0 and not fin_due:
                return sent
            in_flight = ((snd_nxt - self.una) & MASK) + adjust  # SND.NXT >= SND.UNA
            cwnd = rec.congestion_window(snd_nxt, self.max, mss) if rec.dupacks else rec.cc.cwnd
            room = (self.una + self.wnd - snd_nxt) & MASK  # may be < 0: a shrunk window
            if room >= HALF:
                room -= MOD
            wnd_room = room
            if cwnd - in_flight < room:
                room = cwnd - in_flight
            if avail > 0:
                n = avail if avail < mss else mss  # min(avail, mss, room), written out: the
                if room < n:                       # builtin is a slow call (per segment)
                    n = room
            else:
                n = 0
            if fin_due and off + n >= held and n >= wnd_room:
                # The FIN takes a sequence number beyond the peer's window: it waits as
                # data does (Linux's tcp_snd_wnd_test counts it), while zero-window
                # probes ask for the window; the data before it may go.
                if n <= 0:
                    if self.probe:
                        self._probe(out, build)
                    return True
                fin_due = False
            if self.probe and avail > 0 and n <= 0:
                self._probe(out, build)
                return True
            self.probe = False
            if n <= 0 and avail > 0:
                return True
            if 0 < n < mss and in_flight > 0 and snd_nxt == self.max:
                if n < avail:
                    # Sender SWS avoidance (§3.8.6.2.1): less than a full segment fits
                    # the window or cwnd.  Wait for ACKs (data is in flight) unless at
                    # least half the peer's largest window can go (Fs = 1/2).
                    wnd_room = seq_sub((self.una + self.wnd) & MASK, snd_nxt)
                    if n < self.max_wnd >> 1 or n < wnd_room:
                        return sent
                elif not self.nodelay and not fin_due and self.up is None and seq_gt(self.sml, self.una):
                    # Nagle (§3.7.4, RFC 896) in Linux's form (Minshall's variant,
                    # tcp_minshall_check): a small segment waits while an earlier
                    # small segment is unacknowledged.
                    return sent
            if n == mss and snd_nxt == self.max and self.up is None:
                # New full-sized segments: as many as the windows allow short of the
                # buffer's end (whose segment carries PSH, maybe FIN) leave in a batch,
                # sharing the ACK, window and options of the first.
                k = (avail - 1 if avail - 1 < room else room) // mss  # (min, written out)
                if k > 1:
                    self._batch(out, build, now, snd_nxt, off, k)
                    sent = True
                    continue
            flags = ACK
            last = off + n >= held
            if n > 0:
                end = (snd_nxt + n) & MASK
                if snd_nxt == self.max or 0 < ((end - self.max) & MASK) < HALF:  # new data in it
                    if last:
                        flags |= PSH  # MUST-61: PSH when the send queue drains
                        pushed = self.pushed
                        if pushed is None:
                            self.pushed = [end]
                        elif 0 < ((end - pushed[-1]) & MASK) < HALF:
                            pushed.append(end)
                elif self._was_pushed(snd_nxt, n):
                    flags |= PSH  # resent after a timeout, as first sent
            if last and fin_due:
                flags |= FIN
            payload = self._take(off, n) if n > 0 else b""
            if n < mss:
                self.sml = (snd_nxt + n) & MASK
            out.append(build(snd_nxt, flags, payload))
            end = (snd_nxt + n + (1 if flags & FIN else 0)) & MASK
            if snd_nxt != self.max and seq_lt(snd_nxt, self.max):
                self._stats.retransmits += 1
            elif rec.rtt_seq is None:
                rec.rtt_seq, rec.rtt_time = end, now  # time one segment per flight
            self.nxt = end
            if 0 < ((end - self.max) & MASK) < HALF:  # (seq_gt, inlined: per segment)
                self.max = end
            sent = True
            if flags & FIN:
                return True

    def _was_pushed(self, seq: int, n: int) -> bool:
        """Whether ``n`` octets from ``seq`` hold the end of a segment first sent with PSH."""
        for end in self.pushed or ():
            d = (end - seq) & MASK
            if 0 < d <= n:
                return True
            if d > n and d < HALF:
                return False
        return False

    def _batch(self, out: list[Segment], build: Build, now: int, snd_nxt: int, off: int, k: int) -> None:
        """``k`` full-sized segments of new data from ``snd_nxt`` (buffer offset ``off``)."""
        mss = self.mss
        payloads = self._pieces(off, mss, k)
        first = build(snd_nxt, ACK, payloads[0])
        out.append(first)
        sport, dport, _, ack, _, wnd, opts, _, _ = first
        seq = snd_nxt
        for payload in payloads[1:]:
            seq = (seq + mss) & MASK
            out.append(_new(Segment, (sport, dport, seq, ack, ACK, wnd, opts, payload, 0)))
        rec = self._rec
        if rec.rtt_seq is None:
            rec.rtt_seq, rec.rtt_time = (snd_nxt + mss) & MASK, now  # time the first
        self.nxt = self.max = (snd_nxt + k * mss) & MASK

    def _take(self, off: int, n: int) -> bytes:
        """``n`` octets of the buffer from ``off`` octets after its first (``off + n`` <=
        ``held``): a slice of the chunk that holds them (the chunk itself when they are
        all of it), or joined across chunks."""
        if not n:
            return b""
        pos = self._front + off
        starts = self._starts
        i = bisect_right(starts, pos) - 1
        chunks = self._chunks
        chunk = chunks[i]
        at = pos - starts[i]
        end = at + n
        if end <= len(chunk):
            return chunk[at:end]
        return _across(chunks, i, at, end)[0]

    def _pieces(self, off: int, size: int, k: int) -> list[bytes]:
        """``k`` runs of ``size`` octets, one after the other, from ``off``: ``_take``
        ``k`` times, finding the chunk once."""
        pos = self._front + off
        starts = self._starts
        i = bisect_right(starts, pos) - 1
        chunks = self._chunks
        chunk = chunks[i]
        at = pos - starts[i]
        out: list[bytes] = []
        for _ in range(k):
            end = at + size
            if end <= len(chunk):
                out.append(chunk[at:end])
                at = end
                continue
            piece, i, at = _across(chunks, i, at, end)
            out.append(piece)
            chunk = chunks[i]
        return out

    def discard(self) -> None:
        """Drop the data held (the connection is closed)."""
        self.held = 0
        self._chunks, self._starts = _NO_CHUNKS, _NO_STARTS

    def _probe(self, out: list[Segment], build: Build) -> None:
        """A zero-window probe (§3.8.6.1, MUST-36), as Linux sends it (tcp_xmit_probe_skb):
        <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK> without data.  The octet is old, so the
        receiver must answer with an ACK carrying its current window; nothing is ever
        sent beyond the window.  (RFC 9293 suggests one octet of new data; when both
        ends probe at once, each accepting the other's octet while still believing the
        other's window shut, their ACKs fall below each other's RCV.NXT and both stall.
        A probe without data changes no state.)"""
        self.probe = False
        up = self.up
        if up is not None and 0 < ((up - self.una) & MASK) <= 0xFFFF:
            # In urgent mode, first an acceptable bare ACK at SND.UNA: it carries URG and
            # the pointer through the zero window (MUST-66), as Linux's tcp_write_wakeup.
            out.append(build(self.una, ACK, b""))
        out.append(build((self.una - 1) & MASK, ACK, b""))

    def resend_lost(self, out: list[Segment], build: Build, now: int) -> int:
        """SACK recovery's sending (RFC 6675 §5 (C)): while cwnd − pipe ≥ 1 SMSS,
        NextSeg(): lost holes first (rule 1), then new data (rule 2, by :meth:`send`);
        no rule 3 or 4 (see ``Scoreboard.next_seg``).  Returns pipe − (SND.NXT −
        SND.UNA), the flight correction :meth:`send` applies."""
        rec = self._rec
        sb = rec.sb
        assert sb is not None
        una, top, mss = self.una, self.max, self.mss
        cwnd = rec.cc.cwnd
        pipe = sb.pipe(una, top, mss)
        while cwnd - pipe >= mss:
            nxt = sb.next_seg(una, top, mss)
            if nxt is None:
                break
            seq, n = nxt
            sent = self.retransmit(out, build, seq, n, now)
            if not sent:
                break
            rec.retransmitted(seq, sent)
            pipe += sent
        return pipe - seq_sub(self.nxt, una)
