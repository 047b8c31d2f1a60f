"""Sequence-number arithmetic modulo 2**32 (RFC 9293 §3.4).

Sequence numbers are plain ``int`` values in ``[0, 2**32)``.  A class per number
would cost an allocation per comparison on the per-segment path, so the rules live
in these small functions instead; every comparison of sequence numbers in synack
goes through them.
"""

from __future__ import annotations

from typing import Final

MOD: Final = 1 << 32
MASK: Final = MOD - 1
HALF: Final = 1 << 31


def seq_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & MASK


def seq_sub(a: int, b: int) -> int:
    """The signed distance ``a - b``, in ``[-2**31, 2**31)``."""
    d = (a - b) & MASK
    return d - MOD if d >= HALF else d


def seq_lt(a: int, b: int) -> bool:
    """``a < b`` in sequence space."""
    return 0 < ((b - a) & MASK) < HALF


def seq_le(a: int, b: int) -> bool:
    """``a <= b`` in sequence space."""
    return ((b - a) & MASK) < HALF


def seq_gt(a: int, b: int) -> bool:
    """``a > b`` in sequence space."""
    return 0 < ((a - b) & MASK) < HALF


def seq_ge(a: int, b: int) -> bool:
    """``a >= b`` in sequence space."""
    return ((a - b) & MASK) < HALF


def in_window(x: int, left: int, size: int) -> bool:
    """``left <= x < left + size`` in sequence space (empty when ``size`` is 0)."""
    return ((x - left) & MASK) < size
