"""Initial sequence numbers (RFC 6528, RFC 9293 §3.4.1 MUST-8, MUST-9, SHLD-1).

ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is a clock
ticking every 4 µs and F a keyed hash an outsider cannot compute.  The clock is the
``now`` the driver passes in and the secret is an argument: the core reads neither a
clock nor an entropy source itself.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from .seq import MASK


class IsnSource(Protocol):
    def __call__(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        """The ISN for a new connection on this 4-tuple at time ``now`` (µs)."""
        ...


class Rfc6528Isn:
    """RFC 6528's generator with BLAKE2b (keyed) as F."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret[:64] or b"\x00"

    def __call__(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        key = f"{local}|{local_port}|{remote}|{remote_port}".encode()
        f = int.from_bytes(hashlib.blake2b(key, digest_size=4, key=self._secret).digest(), "big")
        return (now // 4 + f) & MASK


class FixedIsn:
    """Always the same ISN: for exact-segment tests and teaching diagrams."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value & MASK

    def __call__(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        return self.value
