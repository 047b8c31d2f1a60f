"""Initial sequence numbers (RFC 6528, RFC 9293 §3.4.1 MUST-8, MUST-9, SHLD-1), and
the timestamp clock's offset (RFC 7323 §5.4).

ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a clock
ticking every 4 µs and F a keyed hash an outsider cannot compute.  The clock is the
``now`` the driver passes in and the secret is an argument: the core reads neither a
clock nor an entropy source itself.

TSval = the 1 ms clock + an offset that is a keyed hash of the two addresses (Linux's
secure_tcp_ts_off): an observer cannot read the host's uptime from it, and every
connection between the same two hosts shares it, so PAWS keeps working across them.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from .seq import MASK


class IsnSource(Protocol):
    def __call__(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        """The ISN for a new connection on this 4-tuple at time ``now`` (µs)."""
        ...

    def ts_offset(self, local: str, remote: str) -> int:
        """What this host adds to its 1 ms clock for TSval towards ``remote``."""
        ...


class Rfc6528Isn:
    """RFC 6528's generator with BLAKE2b (keyed) as F."""

    __slots__ = ("_keyed",)

    def __init__(self, secret: bytes) -> None:
        # Keyed once: each hash copies this state (the key's block is compressed
        # already) rather than keying a new one, half the cost per connection.
        self._keyed = hashlib.blake2b(digest_size=4, key=secret[:64] or b"\x00")

    def _f(self, data: str) -> int:
        h = self._keyed.copy()
        h.update(data.encode())
        return int.from_bytes(h.digest(), "big")

    def __call__(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        return (now // 4 + self._f(f"{local}|{local_port}|{remote}|{remote_port}")) & MASK

    def ts_offset(self, local: str, remote: str) -> int:
        return self._f(f"ts|{local}|{remote}")


class FixedIsn:
    """Always the same ISN, and no timestamp offset: for exact-segment tests and
    teaching diagrams."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value & MASK

    def __call__(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        return self.value

    def ts_offset(self, local: str, remote: str) -> int:
        return 0
