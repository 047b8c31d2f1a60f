"""SYN cookies, after Linux's net/ipv4/syncookies.c.

The server keeps no state for a SYN: it encodes what it must remember in its ISN.

    cookie = H0(4-tuple) + client_isn + (count << 24)
             + ((H1(4-tuple, count) + mss_index) mod 2**24)

``count`` is a minute counter (Linux ``tcp_cookie_time``); the returning ACK's
``ack − 1`` is the cookie and ``seq − 1`` the client ISN.  A cookie is accepted
while the counter has moved on by less than ``MAX_AGE``.  Without timestamps there
is no room for window scale or SACK, so a connection made from a cookie has
neither (as in Linux).  With timestamps, the SYN-ACK's TSval carries them in its
low six bits (Linux cookie_init_timestamp): the peer echoes it in every TSecr, so
the returning ACK brings them back (:func:`ts_options` / :func:`decode_ts_options`).
"""

from __future__ import annotations

import hashlib
from typing import Final

from .seq import MASK

COOKIE_BITS: Final = 24
COOKIE_MASK: Final = (1 << COOKIE_BITS) - 1
MAX_AGE: Final = 2  # minute counters (Linux MAX_SYNCOOKIE_AGE): ages 0 and 1 pass
MINUTE: Final = 60_000_000
#: The MSS values a cookie can carry (2-bit index), as in Linux.
MSS_TABLE_V4: Final = (536, 1300, 1440, 1460)
MSS_TABLE_V6: Final = (1220, 1420, 1440, 8940)


#: TSval bits that carry the options (Linux TSBITS) and their layout.
TS_BITS: Final = 6
TS_WSCALE_MASK: Final = 0xF   # the peer's window-scale shift; 0xF: none
TS_SACK: Final = 1 << 4
TS_ECN: Final = 1 << 5        # (synack does not do ECN: never set)


def ts_options(tsval: int, wscale: int | None, sack: bool) -> int:
    """The cookie SYN-ACK's TSval: ``tsval`` with its low bits replaced by the
    options, and never above ``tsval`` (a peer may check that timestamps grow)."""
    options = (TS_WSCALE_MASK if wscale is None else min(wscale, 14)) | (TS_SACK if sack else 0)
    ts = (tsval >> TS_BITS << TS_BITS) | options
    if ts > tsval:
        ts -= 1 << TS_BITS
    return ts & MASK


def decode_ts_options(tsecr: int) -> tuple[int | None, bool]:
    """(the peer's window-scale shift or None, SACK permitted) from the echo of a
    cookie SYN-ACK's TSval.  (Every 4-bit value is a shift of 0-14 or 15, "none": a
    forged echo can only choose among valid options; the cookie itself is checked.)"""
    wscale = tsecr & TS_WSCALE_MASK
    return (None if wscale == TS_WSCALE_MASK else wscale), bool(tsecr & TS_SACK)


class SynCookies:
    __slots__ = ("_secret0", "_secret1")

    def __init__(self, secret: bytes) -> None:
        base = secret[:48] or b"\x00"
        # Keyed once each: a hash copies the keyed state (see isn.Rfc6528Isn).
        self._secret0 = hashlib.blake2b(digest_size=4, key=base + b"0")
        self._secret1 = hashlib.blake2b(digest_size=4, key=base + b"1")

    @staticmethod
    def _hash(keyed: hashlib.blake2b, tuple_: str, count: int) -> int:
        h = keyed.copy()
        h.update(f"{tuple_}|{count}".encode())
        return int.from_bytes(h.digest(), "big")

    @staticmethod
    def _table(addr: str) -> tuple[int, ...]:
        return MSS_TABLE_V6 if ":" in addr else MSS_TABLE_V4

    def make(self, local: str, local_port: int, remote: str, remote_port: int,
             client_isn: int, peer_mss: int, now: int) -> tuple[int, int]:
        """``(cookie, mss)``: the ISN to use, and the MSS it encodes (rounded down)."""
        table = self._table(remote)
        index = 0
        for i, value in enumerate(table):
            if value <= peer_mss:
                index = i
        count = now // MINUTE
        tup = f"{local}|{local_port}|{remote}|{remote_port}"
        h0 = self._hash(self._secret0, tup, 0)
        h1 = self._hash(self._secret1, tup, count)
        cookie = (h0 + client_isn + (count << COOKIE_BITS) + ((h1 + index) & COOKIE_MASK)) & MASK
        return cookie, table[index]

    def check(self, local: str, local_port: int, remote: str, remote_port: int,
              client_isn: int, cookie: int, now: int) -> int | None:
        """The MSS the cookie encodes, or None if it is forged or too old."""
        tup = f"{local}|{local_port}|{remote}|{remote_port}"
        h0 = self._hash(self._secret0, tup, 0)
        diff = (cookie - h0 - client_isn) & MASK
        count_now = now // MINUTE
        age = (count_now - (diff >> COOKIE_BITS)) & (MASK >> COOKIE_BITS)
        if age >= MAX_AGE:
            return None
        count = count_now - age
        index = (diff - self._hash(self._secret1, tup, count)) & COOKIE_MASK
        table = self._table(remote)
        return table[index] if index < len(table) else None
