"""The receive side of a connection: in-order data into the receive buffer, the
reassembly queue for data beyond RCV.NXT (RFC 9293 §3.10.7.4 seventh step), and when
to ACK it (delayed ACK with Linux's quick-ack start, RFC 5681 §4.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .buffers import Reassembler
from .errors import DropReason
from .events import Readable
from .seq import MASK, seq_lt, seq_sub
from .trace import ACCEPTED, Outcome, trimmed
from .wire import ACK

if TYPE_CHECKING:
    from .connection import Connection


def process_text(c: Connection, seq: int, payload: bytes, now: int) -> tuple[bool, Outcome]:
    """Deliver in-order data (and what it joins from the reassembly queue);
    returns whether all of it was taken (so a FIN behind it is in order too), and
    what became of the text."""
    rcv_nxt = c.rcv_nxt
    outcome = ACCEPTED
    if seq != rcv_nxt:
        if seq_lt(seq, rcv_nxt):
            if c.sack_ok:
                c._dsack = (seq, rcv_nxt)  # the duplicate front, reported by D-SACK (RFC 2883)
            payload = payload[seq_sub(rcv_nxt, seq):]  # already have the front
            outcome = trimmed(None)
        else:
            return False, queue_out_of_order(c, seq, payload)
    free = c.config.rcv_buf - len(c._rcvbuf)
    taken = payload if len(payload) <= free else payload[:free]
    if len(taken) < len(payload):
        c._stats.drop(DropReason.RCV_BUFFER_FULL)
        outcome = trimmed(DropReason.RCV_BUFFER_FULL)
    if taken:
        ooo = c._ooo
        if ooo is not None:
            # The segment filled (part of) a hole: join what was held behind it,
            # and ACK at once (RFC 5681 §4.2).
            was_empty = not c._rcvbuf
            c._rcvbuf += taken
            rcv_nxt = c.rcv_nxt = (rcv_nxt + len(taken)) & MASK
            held = ooo.pop(rcv_nxt)
            if held is not None:
                c._rcvbuf += held
                c.rcv_nxt = (rcv_nxt + len(held)) & MASK
            if not len(ooo):
                c._ooo = None
            c._ack_now = True
            if was_empty:
                c._events.append(Readable(c))
        else:
            accept_in_order(c, taken, now)
    else:
        c._ack_now = True
    return len(taken) == len(payload), outcome


def accept_in_order(c: Connection, data: bytes, now: int) -> None:
    """``data`` continues the stream at RCV.NXT, fits the buffer and no reassembly is
    pending (header prediction calls this directly): take it, and decide when to
    ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2, RFC 1122 4.2.3.2), as Linux's
    __tcp_ack_snd_check and tcp_event_data_recv do: at once in quick-ack mode (the
    first segments of a connection, or after an idle RTO), at once when more than
    one full-sized segment is unacknowledged (so at least every second one), else
    within the delayed-ACK timeout."""
    was_empty = not c._rcvbuf
    c._rcvbuf += data
    c.rcv_nxt = (c.rcv_nxt + len(data)) & MASK
    cfg = c.config
    m = now - c._last_rcv
    c._last_rcv = now
    if m > c._rto:
        # Data after an idle period: quick-ack again (Linux tcp_incr_quickack).
        c._quick = max(c._quick, cfg.quickack_start)
    elif m <= cfg.delack_min // 2:
        c._ato = c._ato // 2 + cfg.delack_min // 2
    elif m < c._ato:
        c._ato = min(c._ato // 2 + m, c._rto)
    if c._quick > 0:
        c._quick -= 1
        c._ack_now = True
    elif ((c.rcv_nxt - c._rcv_wup) & MASK) > c.snd_mss:  # RCV.NXT >= Last.ACK.sent
        c._ack_now = True
    elif c._delack_deadline is None:
        ato = c._ato
        if ato < cfg.delack_min:
            ato = cfg.delack_min
        elif ato > cfg.delack_max:
            ato = cfg.delack_max
        c._delack_deadline = now + ato
    if was_empty:
        c._events.append(Readable(c))


def queue_out_of_order(c: Connection, seq: int, payload: bytes) -> Outcome:
    """Data beyond RCV.NXT (a segment before it was lost or is late): hold it
    (RFC 1122 4.2.2.20, RFC 9293 §3.10.7.4 seventh) within the window and the
    reassembly budget, and send an immediate duplicate ACK (RFC 5681 §4.2): one
    per such segment, built now, since the sender counts them (§3.2)."""
    rcv_nxt = c.rcv_nxt
    right = seq_sub((rcv_nxt + c.config.rcv_buf - len(c._rcvbuf)) & MASK, seq)
    outcome = ACCEPTED
    if right < len(payload):
        payload = payload[:right]  # beyond the window's right edge
        c._stats.drop(DropReason.RCV_BUFFER_FULL)
        outcome = trimmed(DropReason.RCV_BUFFER_FULL)
    ooo = c._ooo
    if ooo is None:
        ooo = c._ooo = Reassembler(c.config.ooo_budget)
    elif c.sack_ok and payload and ooo.holds(seq, len(payload)):
        # A duplicate of data held out of order: D-SACK it (RFC 2883 §4); the block
        # holding it becomes the most recent, so it follows as the second block.
        c._dsack = (seq, (seq + len(payload)) & MASK)
    if ooo.add(rcv_nxt, seq, payload):
        c._stats.out_of_order += 1
    else:
        c._stats.drop(DropReason.OOO_BUDGET)
        outcome = trimmed(DropReason.OOO_BUDGET)
        if not len(ooo):
            c._ooo = None
    c._ctl.append(c._segment(c.ack_seq(), ACK))
    return outcome
