"""Every random stream of a simulation derives from one master seed.

Each consumer (a link direction, a host, an attacker) asks for a stream by a stable
name; the stream's seed is a hash of ``(master seed, name)``.  Adding a link or a
host therefore does not shift the numbers another one draws, and a failing run is
reproduced by its seed alone.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(master: int, name: str) -> int:
    """A 64-bit seed for the stream ``name`` of the run seeded with ``master``."""
    digest = hashlib.sha256(f"synack-sim|{master}|{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def make_rng(master: int, name: str) -> random.Random:
    """A ``random.Random`` for the stream ``name`` (see :func:`derive_seed`)."""
    return random.Random(derive_seed(master, name))


def derive_bytes(master: int, name: str, n: int = 16) -> bytes:
    """``n`` deterministic bytes for the stream ``name`` (secrets for ISNs, cookies)."""
    return make_rng(master, name).randbytes(n)
