"""What every part of the fuzzer shares: the payload pattern, the ISN source, the
addresses, and the failure it raises."""

from __future__ import annotations

import zlib
from typing import Final

from synack.core.seq import MASK

# -- addresses --------------------------------------------------------------------------
#: Ours (the endpoint under test has both) and the peers'.
US_V4: Final = "10.0.0.1"
US_V6: Final = "fd00::1"
PEER_V4: Final = "10.0.0.2"
PEER_V6: Final = "fd00::2"
#: Other hosts that send strays.
OTHER_V4: Final = "10.0.0.3"
OTHER_V6: Final = "fd00::3"
#: Sources that can never be a peer (MUST-46...): the endpoint drops them.
BAD_SOURCES: Final = ("224.0.0.1", "0.0.0.0", "255.255.255.255", "240.0.0.1", "ff02::1", "::")
US: Final = (US_V4, US_V6)
SERVER_PORT: Final = 80

# -- the payload pattern ----------------------------------------------------------------
# Every octet anybody sends is a function of its sequence number: the octet at sequence
# number s is _TABLE[s mod 2**16] (2**16 divides 2**32, so the pattern runs on across
# the wrap).  A segment the fuzzer shifts, trims or replays still carries the octets
# its sequence numbers name, so what the application reads, and what we send, can be
# checked octet by octet whatever happened on the way.
_PERIOD: Final = 1 << 16
_TABLE: Final = bytes(((i * 2654435761) >> 11) & 0xFF for i in range(_PERIOD))
_TABLE3: Final = _TABLE * 3


def pattern(seq: int, n: int) -> bytes:
    """The ``n`` octets that start at sequence number ``seq``."""
    s = seq & 0xFFFF
    if n <= 2 * _PERIOD:
        return _TABLE3[s:s + n]
    return (_TABLE * (n // _PERIOD + 2))[s:s + n]


# -- the ISN source ---------------------------------------------------------------------
class FuzzIsn:
    """ISNs near a chosen ``base`` (often just below the 2**32 wrap), a little apart per
    4-tuple (a CRC, so the same in every process), and a fixed TSval offset."""

    __slots__ = ("base", "offset")

    def __init__(self, base: int, offset: int) -> None:
        self.base = base & MASK
        self.offset = offset & MASK

    def __call__(self, local: str, local_port: int, remote: str, remote_port: int, now: int) -> int:
        key = f"{local}|{local_port}|{remote}|{remote_port}".encode()
        return (self.base + (zlib.crc32(key) & 0xFFF)) & MASK

    def ts_offset(self, local: str, remote: str) -> int:
        return self.offset

    def __repr__(self) -> str:
        return f"FuzzIsn({self.base}, {self.offset})"


# -- failures ---------------------------------------------------------------------------
class Failure(Exception):
    """An invariant broke, or an exception escaped the core.

    ``kind`` names what broke ("exception", or the invariant) and ``where`` narrows it
    (the exception's type and the core's line it came from); the two make the
    signature by which failures are told apart and shrinking keeps the same one.
    """

    def __init__(self, kind: str, detail: str, where: str = "") -> None:
        super().__init__(f"{kind}{' [' + where + ']' if where else ''}: {detail}")
        self.kind = kind
        self.detail = detail
        self.where = where

    @property
    def signature(self) -> str:
        return f"{self.kind}|{self.where}"
