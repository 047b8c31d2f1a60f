"""Out-of-order reassembly for the receive side (RFC 9293 §3.10.7.4 seventh step,
RFC 1122 4.2.2.20: queue out-of-order segments, SHOULD), with a counted budget.

A connection holds a :class:`Reassembler` only while a hole exists (``None`` the
rest of the time), so in-order traffic pays nothing for it.  Blocks are kept merged
(no two overlap or touch) and in sequence order; their memory is charged as payload
plus :data:`BLOCK_OVERHEAD` per block, so that many tiny fragments cannot grow
without bound either: a segment that would exceed the budget is dropped (the sender
resends it).  The most recently changed blocks are remembered, most recent first,
for SACK (RFC 2018 §4: the first block reports the segment that triggered the ACK).
"""

from __future__ import annotations

from typing import Final

from .seq import MASK, seq_sub

#: Memory charged per held block on top of its payload: roughly what CPython spends on
#: a block (a bytearray and its bookkeeping).  Linux charges each skb's truesize
#: (payload plus a few hundred octets of sk_buff) against the receive buffer likewise.
BLOCK_OVERHEAD: Final = 256
#: SACK blocks remembered (RFC 2018 §3: at most 4 fit in the option space).
MAX_RECENT: Final = 4


class Reassembler:
    """Data received beyond RCV.NXT, in merged blocks ``[start, bytearray]``."""

    __slots__ = ("_blocks", "held", "limit", "recent")

    def __init__(self, limit: int) -> None:
        self._blocks: list[tuple[int, bytearray]] = []
        #: Octets charged against ``limit`` (payload + BLOCK_OVERHEAD per block).
        self.held = 0
        self.limit = limit
        #: (left, right) edges of the blocks most recently changed, most recent first.
        self.recent: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self._blocks)

    @property
    def blocks(self) -> list[tuple[int, int]]:
        """Every block as (left edge, right edge), in sequence order."""
        return [(s, (s + len(d)) & MASK) for s, d in self._blocks]

    def add(self, rcv_nxt: int, seq: int, data: bytes) -> bool:
        """Hold ``data`` (at ``seq``, beyond ``rcv_nxt``); False when the budget
        refuses it (nothing is held then)."""
        off = seq_sub(seq, rcv_nxt)
        end = off + len(data)
        blocks = self._blocks
        # The blocks that overlap or touch [off, end) merge with it.
        first = len(blocks)
        last = first
        for i, (s, d) in enumerate(blocks):
            b_off = seq_sub(s, rcv_nxt)
            b_end = b_off + len(d)
            if b_end < off:
                continue
            if b_off > end:
                if first == len(blocks):
                    first = last = i
                break
            if first == len(blocks) or first > i:
                first = i
            last = i + 1
        merged_payload = 0
        if first < last:
            head_s, head_d = blocks[first]
            tail_s, tail_d = blocks[last - 1]
            head_off = seq_sub(head_s, rcv_nxt)
            tail_end = seq_sub(tail_s, rcv_nxt) + len(tail_d)
            new = bytearray()
            if head_off < off:
                new += head_d[:off - head_off]
            new += data
            if tail_end > end:
                new += tail_d[len(tail_d) - (tail_end - end):]
            start = (rcv_nxt + min(off, head_off)) & MASK
            for _, d in blocks[first:last]:
                merged_payload += len(d)
            charge = len(new) - merged_payload - (last - first - 1) * BLOCK_OVERHEAD
        else:
            new = bytearray(data)
            start = seq
            charge = len(new) + BLOCK_OVERHEAD
        if charge > 0 and self.held + charge > self.limit:
            return False
        self.held += charge
        blocks[first:last] = [(start, new)]
        left, right = start, (start + len(new)) & MASK
        r_off, r_end = seq_sub(left, rcv_nxt), seq_sub(right, rcv_nxt)
        recent = [(left, right)]
        for a, b in self.recent:
            if seq_sub(b, rcv_nxt) < r_off or seq_sub(a, rcv_nxt) > r_end:
                recent.append((a, b))
                if len(recent) == MAX_RECENT:
                    break
        self.recent = recent
        return True

    def holds(self, seq: int, n: int) -> bool:
        """Whether the ``n`` octets at ``seq`` are all held already (a duplicate)."""
        for s, d in self._blocks:
            off = seq_sub(seq, s)
            if off >= 0 and off + n <= len(d):
                return True
        return False

    def pop(self, rcv_nxt: int) -> bytes | None:
        """The held data that continues the stream at ``rcv_nxt`` (None if a hole
        is still there); blocks wholly below ``rcv_nxt`` are discarded."""
        blocks = self._blocks
        out: bytes | None = None
        while blocks:
            s, d = blocks[0]
            off = seq_sub(rcv_nxt, s)
            if off < 0:
                break
            del blocks[0]
            self.held -= len(d) + BLOCK_OVERHEAD
            if off < len(d):
                out = bytes(d[off:]) if off else bytes(d)
                rcv_nxt = (rcv_nxt + len(out)) & MASK
                break
        if self.recent:
            self.recent = [(a, b) for a, b in self.recent if seq_sub(b, rcv_nxt) > 0]
        return out
