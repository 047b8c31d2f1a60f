"""Filters in front of a host: what a firewall or a filtering gateway drops before the
host's TCP sees it.

A :class:`Filter` is asked about every segment that arrives for the host it guards,
over a link or injected (an injected packet bypasses the links, so a filter on a
link could not stand for a gateway): ``admit(src, dst, seg, now)`` returns None to
let it through, or the reason it is refused.  ``host.add_filter(gate)`` installs one;
a refused segment never reaches the endpoint, and the host traces it as a drop with
:attr:`~synack.core.trace.Loss.FILTERED` and the reason as its detail.  A host
without filters delivers straight to its endpoint and pays nothing for the feature.

:class:`SynRateLimit` is the usual defence of a gateway against a SYN flood (an
iptables ``hashlimit`` rule): token buckets on SYNs per source address and per
source network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Final, Protocol

from synack.core.wire import ACK, RST, SYN, Segment

_TOKEN: Final = 1_000_000  # a bucket counts millionths of a token: rate (per s) × µs


class Filter(Protocol):
    """Decides, for each segment arriving at a host, whether it gets through."""

    def admit(self, src: str, dst: str, seg: Segment, now: int) -> str | None:
        """None to let the segment through, else the reason it is refused."""
        ...


def prefix_of(addr: str, length: int) -> str:
    """The network of ``addr`` with a prefix of ``length`` bits: ``"203.0.113.7"``, 24 →
    ``"203.0.113.0/24"`` (string arithmetic for the common IPv4 /24)."""
    if length == 24 and ":" not in addr:
        return addr.rsplit(".", 1)[0] + ".0/24"
    return str(ipaddress.ip_network(f"{addr}/{length}", strict=False))


@dataclass(slots=True)
class _Bucket:
    tokens: int   # millionths of a token
    last: int     # µs, when it was last filled


@dataclass
class SynRateLimit:
    """Token buckets on SYNs (SYN without ACK or RST; everything else passes): one per
    source address, ``rate_source`` SYNs/s with a burst of ``burst_source``, and one per
    source network of ``prefix_len`` bits, ``rate_prefix`` SYNs/s with a burst of
    ``burst_prefix``.  A SYN takes a token from its address's bucket, then from its
    network's; the first empty one refuses it.

    It counts what it refused by which bucket, what it let through, and how many of
    the refused came from ``watch`` (an address to keep an eye on, a legitimate
    client's, say).
    """

    rate_source: int = 5
    burst_source: int = 10
    rate_prefix: int = 5
    burst_prefix: int = 10
    prefix_len: int = 24
    watch: str | None = None
    dropped_source: int = 0
    dropped_prefix: int = 0
    dropped_watched: int = 0
    passed: int = 0
    _sources: dict[str, _Bucket] = field(default_factory=dict, repr=False)
    _prefixes: dict[str, _Bucket] = field(default_factory=dict, repr=False)

    def _take(self, table: dict[str, _Bucket], key: str, rate: int, burst: int, now: int) -> bool:
        full = burst * _TOKEN
        b = table.get(key)
        if b is None:
            b = table[key] = _Bucket(full, now)
        b.tokens = min(full, b.tokens + (now - b.last) * rate)
        b.last = now
        if b.tokens >= _TOKEN:
            b.tokens -= _TOKEN
            return True
        return False

    def admit(self, src: str, dst: str, seg: Segment, now: int) -> str | None:
        """None to let the segment through, else the reason it is refused."""
        if seg.flags & (SYN | ACK | RST) != SYN:
            return None
        if not self._take(self._sources, src, self.rate_source, self.burst_source, now):
            self.dropped_source += 1
            reason = f"over {self.rate_source} SYN/s from one address"
        else:
            net = prefix_of(src, self.prefix_len)
            if self._take(self._prefixes, net, self.rate_prefix, self.burst_prefix, now):
                self.passed += 1
                return None
            self.dropped_prefix += 1
            reason = f"over {self.rate_prefix} SYN/s from one /{self.prefix_len}"
        if src == self.watch:
            self.dropped_watched += 1
        return reason

    @property
    def dropped(self) -> int:
        """SYNs refused, by either bucket."""
        return self.dropped_source + self.dropped_prefix
