"""The send side's SACK scoreboard (RFC 6675 §3-4): which octets above SND.UNA the
peer has selectively acknowledged, which are deemed lost, the "pipe" estimate of
octets in flight, and NextSeg()'s choice of what to retransmit.

A connection holds a :class:`Scoreboard` only while SACK information exists (``None``
otherwise), so ACKs without SACK blocks pay nothing.  Ranges are absolute sequence
numbers; arithmetic is done as offsets from SND.UNA (all within the window).
"""

from __future__ import annotations

from typing import Final

from .seq import MASK, seq_sub

#: RFC 6675 DupThresh (= RFC 5681's three duplicate ACKs).
DUPTHRESH: Final = 3


class Scoreboard:
    __slots__ = ("_blocks", "high_rxt")

    def __init__(self, una: int) -> None:
        #: SACKed ranges (left, right), merged and in sequence order, all above SND.UNA.
        self._blocks: list[tuple[int, int]] = []
        #: HighRxt: one past the highest octet retransmitted in this recovery.
        self.high_rxt = una

    @property
    def blocks(self) -> list[tuple[int, int]]:
        return list(self._blocks)

    def __len__(self) -> int:
        return len(self._blocks)

    def update(self, una: int, snd_max: int, sack_blocks: tuple[tuple[int, int], ...]) -> bool:
        """Merge the SACK blocks of one ACK (RFC 2018 §5); blocks that are not within
        (SND.UNA, SND.MAX] are ignored (D-SACKs, forgeries).  True if any octet is
        newly SACKed."""
        top = seq_sub(snd_max, una)
        offs = [(seq_sub(a, una), seq_sub(b, una)) for a, b in self._blocks]
        before = sum(b - a for a, b in offs)
        for left, right in sack_blocks:
            a, b = seq_sub(left, una), seq_sub(right, una)
            if b <= 0 or b > top or a >= b:
                continue
            if a < 0:
                a = 0
            merged: list[tuple[int, int]] = []
            placed = False
            for x, y in offs:
                if y < a:
                    merged.append((x, y))
                elif x > b:
                    if not placed:
                        merged.append((a, b))
                        placed = True
                    merged.append((x, y))
                else:
                    a, b = min(a, x), max(b, y)
            if not placed:
                merged.append((a, b))
            offs = merged
        self._blocks = [((una + a) & MASK, (una + b) & MASK) for a, b in offs]
        return sum(b - a for a, b in offs) > before

    def advance(self, una: int) -> None:
        """SND.UNA moved to ``una``: forget what it covers."""
        out = []
        for a, b in self._blocks:
            if seq_sub(b, una) <= 0:
                continue
            out.append((una, b) if seq_sub(a, una) < 0 else (a, b))
        self._blocks = out
        if seq_sub(self.high_rxt, una) < 0:
            self.high_rxt = una

    def _holes(self, una: int, snd_max: int, mss: int) -> list[tuple[int, int, bool]]:
        """Unsacked ranges [a, b) as offsets from ``una``, each with IsLost (§4:
        DupThresh SACKed blocks above it, or more than (DupThresh − 1)·SMSS SACKed
        octets above it)."""
        offs = [(seq_sub(a, una), seq_sub(b, una)) for a, b in self._blocks]
        holes: list[tuple[int, int, bool]] = []
        sacked_above = sum(b - a for a, b in offs)
        pos = 0
        for i, (a, b) in enumerate(offs):
            if a > pos:
                lost = len(offs) - i >= DUPTHRESH or sacked_above > (DUPTHRESH - 1) * mss
                holes.append((pos, a, lost))
            sacked_above -= b - a
            pos = b
        top = seq_sub(snd_max, una)
        if top > pos:
            holes.append((pos, top, False))  # nothing SACKed above: not lost
        return holes

    def is_lost(self, una: int, snd_max: int, mss: int) -> bool:
        """IsLost(SND.UNA): the first unacknowledged segment is deemed lost."""
        holes = self._holes(una, snd_max, mss)
        return bool(holes) and holes[0][0] == 0 and holes[0][2]

    def pipe(self, una: int, snd_max: int, mss: int) -> int:
        """SetPipe() (§4): octets not SACKed and not lost, plus those retransmitted."""
        rx = seq_sub(self.high_rxt, una)
        pipe = 0
        for a, b, lost in self._holes(una, snd_max, mss):
            if not lost:
                pipe += b - a
            if rx > a:
                pipe += min(b, rx) - a
        return pipe

    def next_seg(self, una: int, snd_max: int, mss: int, rule3: bool) -> tuple[int, int] | None:
        """NextSeg() (§4) rules 1 and (with ``rule3``, when no new data can go) 3:
        the first octet above HighRxt that is not SACKed and is lost (or, rule 3,
        merely not SACKed below the highest SACKed octet), and how many to send."""
        rx = seq_sub(self.high_rxt, una)
        holes = self._holes(una, snd_max, mss)
        for a, b, lost in holes:
            if b <= rx:
                continue
            if lost:
                start = max(a, rx)
                return (una + start) & MASK, min(mss, b - start)
        if rule3 and self._blocks:
            top = seq_sub(self._blocks[-1][1], una)
            for a, b, _ in holes:
                if b <= rx or a >= top:
                    continue
                start = max(a, rx)
                return (una + start) & MASK, min(mss, b - start)
        return None
