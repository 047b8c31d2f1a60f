"""The receive side of a connection: the receive sequence space (RFC 9293 §3.3.1:
IRS, RCV.NXT, RCV.WND, RCV.UP), the receive buffer the application reads from, the
reassembly queue for data beyond RCV.NXT, SACK and D-SACK blocks, when to ACK
(delayed ACK with Linux's quick-ack start), and the window we advertise.

- **Acceptability** (§3.10.7.4 Table 6) is :meth:`ReceiveSpace.acceptable`.
- **In-order data** goes to the buffer (:meth:`ReceiveSpace.accept_in_order`, which
  header prediction calls directly), and joins what was held out of order.
- **Out-of-order data** is held (``buffers.Reassembler``, only while a hole exists)
  within the window and a memory budget, and answered at once by a duplicate ACK
  (RFC 5681 §4.2) carrying SACK blocks (RFC 2018 §4).
- **When to ACK** (RFC 9293 §3.8.6.3, RFC 5681 §4.2, RFC 1122 4.2.3.2), as Linux's
  ``__tcp_ack_snd_check``: at once in quick-ack mode (the first segments, or after
  an idle RTO), at once when more than one full-sized segment is unacknowledged,
  else within the delayed-ACK timeout, which adapts to the data's inter-arrival
  times (Linux's ``ato``).
- **The advertised window** is the buffer's free space, scaled (RFC 7323) and at most
  65,535 in the field.  The buffer's edge (RCV.NXT + free space) never moves back,
  and the acceptable window is the whole free space, so nothing any advertised edge
  covered is ever refused (§3.8.6.2.2).  The scaled field is rounded down, so the
  edge the peer sees can move back by less than 2^shift (RFC 7323 App. F), as
  FreeBSD's; Linux rounds up and never shrinks (``tcp_select_window``), which lets a
  peer sending tiny segments grow the buffer up to its memory limit (the reason for its
  ``tcp_shrink_window``).  A window update of its own goes only when it matters
  (:meth:`ReceiveSpace.read`).
- **RCV.UP** (§3.8.5): where the peer's urgent data ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .buffers import DUPLICATE, Reassembler
from .errors import DropReason
from .seq import HALF, MASK, MOD, in_window, seq_lt, seq_sub
from .timers import DELAYED_ACK
from .trace import ACCEPTED, Outcome, trimmed

if TYPE_CHECKING:
    from .config import Config
    from .stats import Stats



#: What :meth:`ReceiveSpace.process_text` asks of the connection, as bits:
#: the data reached an empty buffer (tell the application) ...
READABLE: Final = 1
#: ... it was held out of order: a duplicate ACK goes now (one per such segment:
#: the sender counts them, RFC 5681 §4.2).
HELD: Final = 2


class ReceiveSpace:
    """RCV.NXT and everything the receiver keeps."""

    __slots__ = ("_stats", "_timers", "ack_now", "adv", "ato", "buf", "config", "dsack", "irs", "last_rcv",
                 "nxt", "ooo", "ooo_fin", "peer_fin", "quick", "sack_ok", "size", "up", "wscale", "wup")

    def __init__(self, config: Config, timers: list[int | None], stats: Stats) -> None:
        self.config = config
        #: The connection's deadlines (the delayed ACK is this part's to arm and stop).
        self._timers = timers
        self._stats = stats
        #: The buffer's size: RCV.WND is what is free in it.
        self.size = config.rcv_buf
        self.irs = 0
        #: RCV.NXT.
        self.nxt = 0
        #: The right edge of the window last advertised (RCV.NXT + the window then).
        self.adv = 0
        #: RCV.NXT carried by our last ACK ("Last.ACK.sent", Linux rcv_wup).
        self.wup = 0
        #: Window scale of what we advertise (RFC 7323 Rcv.Wind.Shift).
        self.wscale = 0
        #: SACK-permitted was negotiated: ACKs carry SACK blocks (RFC 2018).
        self.sack_ok = False
        #: In-order data the application has not read.
        self.buf = bytearray()
        #: Data beyond RCV.NXT, while a hole exists.
        self.ooo: Reassembler | None = None
        #: The sequence number of a FIN beyond RCV.NXT, held with the out-of-order data.
        self.ooo_fin: int | None = None
        #: A duplicate range to report in the next ACK's first SACK block (RFC 2883).
        self.dsack: tuple[int, int] | None = None
        #: RCV.UP (§3.3.1): None outside urgent mode.
        self.up: int | None = None
        #: An ACK is owed and goes with the next output.
        self.ack_now = False
        #: The peer's FIN has arrived (and been taken in order).
        self.peer_fin = False
        #: Segments still ACKed at once (Linux icsk_ack.quick).
        self.quick = config.quickack_start
        #: The delayed-ACK timeout (Linux icsk_ack.ato).
        self.ato = config.delack_min
        #: When data last arrived (Linux icsk_ack.lrcvtime).
        self.last_rcv = 0

    # ------------------------------------------------------------------ the window
    @property
    def window(self) -> int:
        """RCV.WND: the free space in the receive buffer."""
        return self.size - len(self.buf)

    def start(self, irs: int) -> None:
        """The peer's SYN (ISN ``irs``) arrived; the window our SYN offered (never scaled,
        RFC 7323 §2.2) counts from the real RCV.NXT: :meth:`read` measures
        reopening from this edge."""
        self.irs = irs
        self.nxt = (irs + 1) & MASK
        self.adv = (self.nxt + (self.size if self.size < 0xFFFF else 0xFFFF)) & MASK  # (min, written out)

    def syn_window(self) -> int:
        """The window field of a SYN (never scaled: RFC 7323 §2.2); its edge is remembered."""
        wnd = min(self.window, 0xFFFF)
        self.adv = (self.nxt + wnd) & MASK
        return wnd

    def advertise(self, ack: int) -> int:
        """The window field of a non-SYN segment: the free space, scaled (rounded
        down), at most 65,535; ``adv`` keeps the furthest edge shown.  When it carries
        our ACK (``ack``: the flag's bit), that ACK is the pending one: no delayed ACK
        waits any more, and Last.ACK.sent is RCV.NXT."""
        shift = self.wscale
        field = (self.size - len(self.buf)) >> shift
        if field > 0xFFFF:
            field = 0xFFFF
        adv = (self.nxt + (field << shift)) & MASK
        if 0 < ((adv - self.adv) & MASK) < HALF:  # seq_gt, inlined (per segment)
            self.adv = adv
        if ack:
            self._timers[DELAYED_ACK] = None
            self.wup = self.nxt
        return field

    def sack_blocks(self, room: int) -> tuple[tuple[int, int], ...]:
        """The SACK blocks of the next ACK (RFC 2018 §4): a D-SACK block first, once
        (RFC 2883), then the held blocks, the most recently changed first."""
        blocks: list[tuple[int, int]] = []
        if self.dsack is not None:
            blocks.append(self.dsack)
            self.dsack = None
        if self.ooo is not None:
            blocks += self.ooo.recent[:room - len(blocks)]
        return tuple(blocks)

    def acceptable(self, seq: int, seglen: int) -> bool:
        """RFC 9293 §3.10.7.4 Table 6: the segment overlaps the receive window."""
        wnd = self.size - len(self.buf)
        nxt = self.nxt
        if seglen == 0:
            return seq == nxt if wnd == 0 else in_window(seq, nxt, wnd)
        if wnd == 0:
            return False
        return in_window(seq, nxt, wnd) or in_window((seq + seglen - 1) & MASK, nxt, wnd)

    # ------------------------------------------------------------------ reading
    def read(self, n: int, mss: int, update_window: bool) -> bytes:
        """Take up to ``n`` bytes (all with -1); urgent mode ends once the application
        has read past RCV.UP.

        With ``update_window`` (a state that still receives), a window update of its
        own is owed only when it matters (Linux tcp_cleanup_rbuf): the window last
        advertised has fallen to half the buffer (or of the largest window the field
        can show, when that is less) or below, and the new one is at least
        twice it and grew by at least min(half the buffer, one MSS) (receiver SWS
        avoidance, §3.8.6.2.2).  Otherwise the next ACK carries the larger window."""
        buf = self.buf
        if not buf:
            return b""
        if n < 0 or n >= len(buf):
            data = bytes(buf)
            buf.clear()
        else:
            data = bytes(buf[:n])
            del buf[:n]
        if self.up is not None and self.urgent_pending == 0:
            self.up = None
        if update_window:
            adv = (self.adv - self.nxt) & MASK  # seq_sub, inlined (every read)
            if adv >= HALF:
                adv -= MOD
            size = self.size
            if 2 * adv <= size:
                # no more than the field can show (Linux window_clamp): without window
                # scaling a buffer beyond 64 KB never reopens past 65,535
                clamp = 0xFFFF << self.wscale
                if clamp > size:
                    clamp = size  # (min, written out: every read)
                free = size - len(buf)
                if free > clamp:
                    free = clamp
                if 2 * adv <= clamp and free >= 2 * adv and free - adv >= min(size >> 1, mss):
                    self.ack_now = True
        return data

    @property
    def urgent_pending(self) -> int:
        """Octets of urgent data not yet read, up to RCV.UP (some may not have arrived
        yet); 0 outside urgent mode (MUST-33)."""
        if self.up is None:
            return 0
        read_up_to = (self.nxt - len(self.buf)) & MASK
        pending = (self.up - read_up_to) & MASK
        return pending if pending < HALF else 0

    def urgent(self, up: int) -> bool:
        """The peer's pointer says its urgent data ends before ``up``: RCV.UP <-
        max(RCV.UP, SEG.UP); True when it arrives or advances ahead of what the
        application has read (MUST-32: tell it)."""
        read_up_to = (self.nxt - len(self.buf)) & MASK
        if 0 < ((up - read_up_to) & MASK) < HALF and (self.up is None or 0 < ((up - self.up) & MASK) < HALF):
            self.up = up
            return True
        return False

    # ------------------------------------------------------------------ text
    def process_text(self, seq: int, payload: bytes, now: int, rto: int,
                     mss: int) -> tuple[bool, Outcome, int]:
        """The seventh step of §3.10.7.4: in-order data (and what it joins from the
        reassembly queue), or data held out of order.  Returns whether all of it was
        taken in order (so a FIN behind it is in order too), what became of it, and
        what the connection must do: :data:`READABLE`, :data:`HELD`."""
        nxt = self.nxt
        outcome = ACCEPTED
        if seq != nxt:
            if seq_lt(seq, nxt):
                if self.sack_ok:
                    self.dsack = (seq, nxt)  # the duplicate front, reported by D-SACK (RFC 2883)
                payload = payload[seq_sub(nxt, seq):]  # already have the front
                outcome = trimmed(None)
            else:
                return False, self.hold(seq, payload), HELD
        free = self.size - len(self.buf)
        taken = payload if len(payload) <= free else payload[:free]
        if len(taken) < len(payload):
            self._stats.drop(DropReason.RCV_BUFFER_FULL)
            outcome = trimmed(DropReason.RCV_BUFFER_FULL)
        todo = 0
        if taken:
            ooo = self.ooo
            if ooo is not None:
                # The segment filled (part of) a hole: join what was held behind it,
                # and ACK at once (RFC 5681 §4.2).
                was_empty = not self.buf
                self.buf += taken
                nxt = self.nxt = (nxt + len(taken)) & MASK
                held = ooo.pop(nxt)
                if held is not None:
                    self.buf += held
                    self.nxt = (nxt + len(held)) & MASK
                if not len(ooo):
                    self.ooo = None
                self.ack_now = True
                if was_empty:
                    todo = READABLE
            elif self.accept_in_order(taken, now, rto, mss):
                todo = READABLE
        else:
            self.ack_now = True
        return len(taken) == len(payload), outcome, todo

    def accept_in_order(self, data: bytes, now: int, rto: int, mss: int) -> bool:
        """``data`` continues the stream at RCV.NXT, fits the buffer and no reassembly
        is pending: take it, and decide when to ACK (Linux __tcp_ack_snd_check and
        tcp_event_data_recv; see the module docstring).  True when the buffer was
        empty: the application should hear of it."""
        buf = self.buf
        was_empty = not buf
        buf += data
        self.nxt = (self.nxt + len(data)) & MASK
        cfg = self.config
        m = now - self.last_rcv
        self.last_rcv = now
        if m > rto:
            # Data after an idle period: quick-ack again (Linux tcp_incr_quickack).
            self.quick = max(self.quick, cfg.quickack_start)
        elif m <= cfg.delack_min // 2:
            self.ato = self.ato // 2 + cfg.delack_min // 2
        elif m < self.ato:
            self.ato = min(self.ato // 2 + m, rto)
        if self.quick > 0:
            self.quick -= 1
            self.ack_now = True
        elif ((self.nxt - self.wup) & MASK) > mss:  # more than one full segment unacknowledged
            self.ack_now = True
        elif self._timers[DELAYED_ACK] is None:
            ato = self.ato
            if ato < cfg.delack_min:
                ato = cfg.delack_min
            elif ato > cfg.delack_max:
                ato = cfg.delack_max
            self._timers[DELAYED_ACK] = now + ato
        return was_empty

    def hold(self, seq: int, payload: bytes) -> Outcome:
        """Data beyond RCV.NXT (a segment before it was lost or is late): hold it (RFC
        1122 4.2.2.20, RFC 9293 §3.10.7.4 seventh) within the window and the reassembly
        budget.  (The connection sends an immediate duplicate ACK, RFC 5681 §4.2.)"""
        nxt = self.nxt
        right = seq_sub((nxt + self.size - len(self.buf)) & MASK, seq)
        outcome = ACCEPTED
        if right < len(payload):
            payload = payload[:right]  # beyond the window's right edge
            self._stats.drop(DropReason.RCV_BUFFER_FULL)
            outcome = trimmed(DropReason.RCV_BUFFER_FULL)
        ooo = self.ooo
        if ooo is None:
            ooo = self.ooo = Reassembler(self.config.ooo_budget)
        held = ooo.add(nxt, seq, payload)
        if held:
            self._stats.out_of_order += 1
            if held == DUPLICATE and self.sack_ok and payload:
                # A duplicate of data held out of order: D-SACK it (RFC 2883 §4); the
                # block holding it became the most recent, so it follows as the second.
                self.dsack = (seq, (seq + len(payload)) & MASK)
        else:
            self._stats.drop(DropReason.OOO_BUDGET)
            outcome = trimmed(DropReason.OOO_BUDGET)
            if not len(ooo):
                self.ooo = None
        return outcome

    # ------------------------------------------------------------------ FIN
    def take_fin(self) -> None:
        """The peer's FIN, in order: it occupies one sequence number and ends the
        peer's stream, so data held beyond it can never be delivered: it is dropped,
        and no SACK block reports it any more (Linux's tcp_fin purges the
        out-of-order queue and resets the SACK state)."""
        self.nxt = (self.nxt + 1) & MASK
        self.peer_fin = True
        self.ooo_fin = None
        self.ooo = None
        self.dsack = None
