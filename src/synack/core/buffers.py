"""Out-of-order reassembly for the receive side (RFC 9293 §3.10.7.4 seventh step,
RFC 1122 4.2.2.20: queue out-of-order segments, SHOULD), with a counted budget.

A connection holds a :class:`Reassembler` only while a hole exists (``None`` the
rest of the time), so in-order traffic pays nothing for it.  Blocks are kept merged
(no two overlap or touch) and in sequence order; their memory is charged as payload
plus :data:`BLOCK_OVERHEAD` per block, so that many tiny fragments cannot grow
without bound either: a segment that would exceed the budget is dropped (the sender
resends it).  The most recently changed blocks are remembered, most recent first,
for SACK (RFC 2018 §4: the first block reports the segment that triggered the ACK).

Finding where a segment goes takes O(log n) comparisons in the n held blocks, in
whatever order they arrive (a peer sending one octet in every other position must
not make each segment scan them all): block starts are kept sorted as *stream
positions*, integers that go on past 2**32 (RCV.NXT's position plus the signed
offset from RCV.NXT, by which the blocks have always been compared), and searched
with :mod:`bisect`; a new block is put in the list with one memmove of the starts
after it.  Data that extends a block is written into it in place.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

from .seq import MASK, seq_sub

#: Memory charged per held block on top of its payload: roughly what CPython spends on
#: a block (a bytearray and its bookkeeping).  Linux charges each skb's truesize
#: (payload plus a few hundred octets of sk_buff) against the receive buffer likewise.
BLOCK_OVERHEAD: Final = 256
#: SACK blocks remembered (RFC 2018 §3: at most 4 fit in the option space).
MAX_RECENT: Final = 4
#: What :meth:`Reassembler.add` did with a segment's data.
REFUSED: Final = 0
HELD: Final = 1
DUPLICATE: Final = 2


class Reassembler:
    """Data received beyond RCV.NXT, in merged blocks, each a ``bytearray`` filed under
    the stream position of its first octet."""

    __slots__ = ("_at", "_data", "_nxt", "_starts", "held", "limit", "recent")

    def __init__(self, limit: int) -> None:
        #: The stream position of every block's first octet, in order (the blocks
        #: neither overlap nor touch).
        self._starts: list[int] = []
        #: Each block's octets by its stream position.
        self._data: dict[int, bytearray] = {}
        #: The latest RCV.NXT passed in, and its stream position.
        self._nxt = 0
        self._at = 0
        #: Octets charged against ``limit`` (payload + BLOCK_OVERHEAD per block).
        self.held = 0
        self.limit = limit
        #: (left, right) edges of the blocks most recently changed, most recent first.
        self.recent: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self._starts)

    def _position(self, rcv_nxt: int) -> int:
        """RCV.NXT's stream position, now that it is ``rcv_nxt``."""
        at = self._at = self._at + seq_sub(rcv_nxt, self._nxt)
        self._nxt = rcv_nxt
        return at

    @property
    def blocks(self) -> list[tuple[int, int]]:
        """Every block as (left edge, right edge), in sequence order."""
        base = self._nxt - self._at
        data = self._data
        return [((base + p) & MASK, (base + p + len(data[p])) & MASK) for p in self._starts]

    def add(self, rcv_nxt: int, seq: int, data: bytes) -> int:
        """Hold ``data`` (at ``seq``, beyond ``rcv_nxt``): :data:`HELD`,
        :data:`DUPLICATE` when every octet of it was held already (its block becomes
        the most recent all the same), or :data:`REFUSED` (0) when the budget refuses
        it (nothing is held then)."""
        at = self._position(rcv_nxt)
        off = at + seq_sub(seq, rcv_nxt)
        end = off + len(data)
        starts = self._starts
        blocks = self._data
        # The blocks that overlap or touch [off, end) merge with it: the one starting
        # at or before off if it reaches off, and those starting in (off, end].
        first = bisect_right(starts, off)
        if first:
            p = starts[first - 1]
            if p + len(blocks[p]) >= off:
                first -= 1
        last = bisect_right(starts, end, first)
        if first < last:
            head = starts[first]
            tail = starts[last - 1]
            tail_d = blocks[tail]
            tail_end = tail + len(tail_d)
            start = head if head < off else off
            size = (tail_end if tail_end > end else end) - start
            merged_payload = 0
            for p in starts[first:last]:
                merged_payload += len(blocks[p])
            charge = size - merged_payload - (last - first - 1) * BLOCK_OVERHEAD
        else:
            start = off
            size = len(data)
            charge = size + BLOCK_OVERHEAD
        if charge > 0 and self.held + charge > self.limit:
            return REFUSED
        self.held += charge
        result = DUPLICATE if last - first == 1 and head <= off and tail_end >= end else HELD
        if first == last:
            starts.insert(first, off)
            blocks[off] = bytearray(data)
        elif head <= off:
            # The data lands in (or just after) the first block: change it in place.
            head_d = blocks[head]
            if last - first == 1:
                head_d[off - head:end - head] = data
            else:
                rest = tail_d[len(tail_d) - (tail_end - end):] if tail_end > end else b""
                head_d[off - head:] = data
                head_d += rest
                for p in starts[first + 1:last]:
                    del blocks[p]
                del starts[first + 1:last]
        else:
            new = bytearray(data)
            if tail_end > end:
                new += tail_d[len(tail_d) - (tail_end - end):]
            for p in starts[first:last]:
                del blocks[p]
            starts[first:last] = [off]
            blocks[off] = new
        left = (rcv_nxt + start - at) & MASK
        right = (left + size) & MASK
        r_off, r_end = seq_sub(left, rcv_nxt), seq_sub(right, rcv_nxt)
        recent = [(left, right)]
        for a, b in self.recent:
            if seq_sub(b, rcv_nxt) < r_off or seq_sub(a, rcv_nxt) > r_end:
                recent.append((a, b))
                if len(recent) == MAX_RECENT:
                    break
        self.recent = recent
        return result

    def holds(self, seq: int, n: int) -> bool:
        """Whether the ``n`` octets at ``seq`` are all held already (a duplicate)."""
        starts = self._starts
        off = self._at + seq_sub(seq, self._nxt)
        i = bisect_right(starts, off) - 1
        if i < 0:
            return False
        p = starts[i]
        return off + n <= p + len(self._data[p])

    def pop(self, rcv_nxt: int) -> bytes | None:
        """The held data that continues the stream at ``rcv_nxt`` (None if a hole
        is still there); blocks wholly below ``rcv_nxt`` are discarded."""
        starts = self._starts
        at = self._position(rcv_nxt)
        out: bytes | None = None
        k = bisect_right(starts, at)
        if k:
            blocks = self._data
            for p in starts[:k]:
                d = blocks.pop(p)
                self.held -= len(d) + BLOCK_OVERHEAD
            del starts[:k]
            off = at - p
            if off < len(d):
                out = bytes(d[off:]) if off else bytes(d)
                rcv_nxt = (rcv_nxt + len(out)) & MASK
        if self.recent:
            self.recent = [(a, b) for a, b in self.recent if seq_sub(b, rcv_nxt) > 0]
        return out
