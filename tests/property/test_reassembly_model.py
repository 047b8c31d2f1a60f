"""The reassembly queue against a model a reader can check by eye (Hypothesis).

The model holds out-of-order data as a dict of octets by stream position (an
unbounded integer: position 0 is the ISN + 1), later data overwriting earlier; its
blocks are the runs of consecutive held positions.  Random sequences of what the
receive side does with a :class:`Reassembler` (hold data beyond RCV.NXT, take
in-order data and pop what follows it, ask whether data is held already) must give
the same answers, blocks, charge (payload + BLOCK_OVERHEAD per block, within the
budget) and most recent blocks (RFC 2018 §4), with ISNs near the 2**32 wrap and
RCV.NXT moved around the sequence space several times.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from synack.core.buffers import BLOCK_OVERHEAD, DUPLICATE, MAX_RECENT, Reassembler

MASK = 2**32 - 1

#: What the receive side does, as (what, a, b):
#:
#: - ("add", offset beyond RCV.NXT, length): hold data there;
#: - ("after", gap, length): hold data ``gap`` octets after the end of the previous
#:   data held (0: touching it, as the segments behind a hole arrive);
#: - ("before", gap, length): hold data that ends ``gap`` octets before its start;
#: - ("around", a, b): hold data from ``a`` octets before the previous data to ``b``
#:   after it (joining the blocks on either side when they are that near);
#: - ("advance", octets, 0): in-order data (RCV.NXT moves on), then pop what follows;
#: - ("reach", 0 or 1, 0): the same, up to the start (0) or end (1) of the previous data;
#: - ("holds", offset beyond RCV.NXT, length): is it all held already?
Op = tuple[str, int, int]

OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(1, 40), st.integers(1, 8)),
    st.tuples(st.just("add"), st.integers(1, 60_000), st.integers(1, 1500)),
    st.tuples(st.sampled_from(["after", "before"]), st.integers(0, 3), st.integers(1, 8)),
    st.tuples(st.just("around"), st.integers(0, 4), st.integers(0, 4)),
    st.tuples(st.just("advance"), st.integers(0, 20), st.just(0)),
    st.tuples(st.just("reach"), st.integers(0, 1), st.just(0)),
    st.tuples(st.just("advance"), st.integers(2**30, 2**31 - 70_000), st.just(0)),
    st.tuples(st.just("holds"), st.integers(1, 40), st.integers(1, 8)),
), min_size=8, max_size=60)
ISNS = st.one_of(st.integers(2**32 - 120, MASK), st.integers(0, MASK), st.integers(2**31 - 60, 2**31 + 60))
#: Budgets for one block, a few, several small ones, and plenty (twice as likely).
LIMITS = st.sampled_from([BLOCK_OVERHEAD + 30, 3 * BLOCK_OVERHEAD, 8 * (BLOCK_OVERHEAD + 10),
                          1 << 20, 1 << 20])


class Model:
    """Held octets by stream position, the blocks they make, the recent blocks."""

    def __init__(self) -> None:
        self.octets: dict[int, int] = {}
        self.recent: list[tuple[int, int]] = []  # (start, end) positions, most recent first

    def runs(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for p in sorted(self.octets):
            if out and out[-1][1] == p:
                out[-1] = (out[-1][0], p + 1)
            else:
                out.append((p, p + 1))
        return out

    def charge(self) -> int:
        return len(self.octets) + BLOCK_OVERHEAD * len(self.runs())

    def add(self, at: int, data: bytes, limit: int) -> bool:
        before = (dict(self.octets), self.charge())
        for i, octet in enumerate(data):
            self.octets[at + i] = octet
        if self.charge() > before[1] and self.charge() > limit:
            self.octets = before[0]
            return False
        new = next(r for r in self.runs() if r[0] <= at < r[1])
        runs = self.runs()
        self.recent = [new, *[r for r in self.recent if r in runs and r != new]][:MAX_RECENT]
        return True

    def pop(self, nxt: int) -> tuple[bytes | None, int]:
        """(the data that continues the stream at ``nxt``, RCV.NXT after it)."""
        out = bytearray()
        for start, end in self.runs():
            if start > nxt:
                break
            for p in range(start, end):
                octet = self.octets.pop(p)
                if p >= nxt:
                    out.append(octet)
        nxt += len(out)
        runs = self.runs()
        self.recent = [r for r in self.recent if r in runs]
        return (bytes(out) if out else None), nxt

    def holds(self, at: int, n: int) -> bool:
        return all(p in self.octets for p in range(at, at + n))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(isn=ISNS, limit=LIMITS, ops=OPS)
def test_reassembler_matches_the_octet_model(isn: int, limit: int, ops: list[Op]) -> None:
    def seq(pos: int) -> int:
        return (isn + 1 + pos) & MASK

    r = Reassembler(limit)
    model = Model()
    nxt = 0  # RCV.NXT as a stream position
    last = (1, 1)  # where the previous data held began and ended
    for n, (what, a, b) in enumerate(ops):
        if what in ("add", "after", "before", "around"):
            if what == "around":
                at, b = last[0] - a, last[1] - last[0] + a + b
            else:
                at = nxt + a if what == "add" else last[1] + a if what == "after" else last[0] - a - b
            if at <= nxt or b == 0:
                continue  # not beyond RCV.NXT (taken in order), or nothing to hold
            data = bytes((n * 37 + i) & 0xFF for i in range(b))
            before = len(r)
            duplicate = model.holds(at, b)
            took = r.add(seq(nxt), seq(at), data)
            assert bool(took) == model.add(at, data, limit)
            assert (took == DUPLICATE) == duplicate  # (a duplicate costs nothing: never refused)
            event("refused by the budget" if not took else "merged blocks" if len(r) < before else "held")
            last = (at, at + b)
        elif what in ("advance", "reach"):
            # In-order data taken (RCV.NXT moves on), then what was held behind it.
            nxt = nxt + a if what == "advance" else max(nxt, last[a])
            got = r.pop(seq(nxt))
            want, nxt = model.pop(nxt)
            assert got == want
            if got is not None:
                event("popped held data")
        else:
            assert r.holds(seq(nxt + a), b) == model.holds(nxt + a, b)
        runs = model.runs()
        assert r.blocks == [(seq(s), seq(e)) for s, e in runs]
        assert len(r) == len(runs)
        assert r.held == model.charge() <= limit
        assert r.recent == [(seq(s), seq(e)) for s, e in model.recent]
        if len(runs) > MAX_RECENT:
            event("more blocks than SACK reports")
    if seq(nxt) < isn:
        event("RCV.NXT wrapped")


class CountingList(list[int]):
    """A list that counts the items read from it (bisect reads them one by one)."""

    reads = 0

    def __getitem__(self, i: Any) -> Any:
        CountingList.reads += 1
        return super().__getitem__(i)


def test_reassembler_looks_at_log_n_blocks_per_segment() -> None:
    """One octet in every other position, 20,000 blocks, in rising and in falling
    order (each segment a block of its own): holding each one, and asking whether it
    is held, reads O(log n) block starts, not every block (white-box: the sorted
    starts are swapped for a list that counts what is read from it)."""
    for order in (1, -1):
        r = Reassembler(1 << 30)
        starts = r._starts = CountingList()
        worst = 0
        for off in [1 + 2 * i for i in range(20_000)][::order]:
            CountingList.reads = 0
            assert r.holds(5 + off, 1) is False
            assert r.add(5, 5 + off, b"x")
            worst = max(worst, CountingList.reads)
        assert len(r) == len(starts) == 20_000
        # three binary searches (one to ask, two to place) of ceil(log2(20,001)) = 15
        # reads each, and the block before the place
        assert worst <= 3 * 15 + 2
        assert r.pop(6) == b"x" and len(r) == 19_999
