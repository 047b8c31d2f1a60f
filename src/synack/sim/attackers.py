"""Attackers and other visitors from outside the hosts' links.

- :class:`SynFlood`: spoofed SYNs at a fixed rate, bounded in time and count; the
  SYN-ACKs answering them go to addresses nobody owns and are lost ("no-route").
- :class:`DelayedDuplicate`: a segment seen leaving a host is delivered again, much
  later: the "old duplicate SYN" of the handshake's reason for three steps.
- :func:`inject`: one scripted raw segment (a blind RST or SYN) at a given time.

Injected packets go straight to the host owning the destination address (taps see
them); all randomness comes from streams derived from the network's seed.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from synack.core.ip import Packet, is_ipv6
from synack.core.trace import NoteRecord
from synack.core.wire import SYN, Options, Segment

from .faults import Match
from .scheduler import Handle

if TYPE_CHECKING:
    from .network import Network

_US_PER_S: Final = 1_000_000
#: The options a generic SYN carries (a flood tool's SYN looks like a kernel's).
FLOOD_OPTIONS: Final = Options(mss=1460)


def inject(network: Network, at: int, src: str, dst: str, seg: Segment, *, sender: str = "attacker") -> None:
    """At ``at`` µs, deliver ``seg`` as if sent from ``src`` to the host owning ``dst``."""
    network.inject(at, src, dst, seg, sender=sender)


class SynFlood:
    """SYNs from random spoofed sources to ``target_addr:target_port``.

    The k-th SYN (k = 0, 1, ...) leaves at ``start + floor(k · 10⁶ / rate_per_s)`` µs,
    for every such time before ``start + duration`` and at most ``count`` of them:
    ``planned`` is that number.  Sources are random addresses in ``spoof_prefix``
    (``None``: anywhere in the public unicast space of the target's family), never
    an address a host of the network owns; ports and ISNs are random too.
    """

    def __init__(self, network: Network, target_addr: str, target_port: int, rate_per_s: float,
                 start: int, duration: int, spoof_prefix: str | None = "203.0.113.0/24",
                 rng: random.Random | None = None, *, count: int | None = None,
                 sender: str = "syn-flood") -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s={rate_per_s}: must be > 0")
        if duration < 0 or start < network.now:
            raise ValueError("the flood must start now or later and last >= 0 µs")
        self.network = network
        self.target_addr = target_addr
        self.target_port = target_port
        self.start = start
        self.duration = duration
        self.sender = sender
        self.rng = rng if rng is not None else network.rng(f"synflood:{target_addr}:{target_port}:{start}")
        self._rate = Fraction(rate_per_s)
        v6 = is_ipv6(target_addr)
        self._prefix: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        if spoof_prefix is not None:
            self._prefix = ipaddress.ip_network(spoof_prefix)
            if (self._prefix.version == 6) != v6:
                raise ValueError(f"spoof_prefix {spoof_prefix} is not of the family of {target_addr}")
        self._v6 = v6
        by_time = -(-(duration * self._rate.numerator) // (_US_PER_S * self._rate.denominator))
        #: How many SYNs the flood will send.
        self.planned = by_time if count is None else min(count, by_time)
        #: How many it has sent.
        self.sent = 0
        self._next: Handle | None = None
        if self.planned:
            self._next = network.at(self._time_of(0), self._fire)

    def _time_of(self, k: int) -> int:
        return self.start + (k * _US_PER_S * self._rate.denominator) // self._rate.numerator

    def _source(self) -> str:
        rng = self.rng
        owners = self.network.host_of
        while True:
            if self._prefix is not None:
                addr = str(self._prefix.network_address + rng.randrange(self._prefix.num_addresses))
            elif self._v6:  # 2000::/3, global unicast
                addr = str(ipaddress.IPv6Address((1 << 125) | rng.getrandbits(125)))
            else:  # 1.0.0.0 .. 223.255.255.255 without 10/8 and 127/8
                value = rng.randrange(1 << 24, 224 << 24)
                if value >> 24 in (10, 127):
                    continue
                addr = str(ipaddress.IPv4Address(value))
            if owners(addr) is None:
                return addr

    def _fire(self) -> None:
        net = self.network
        if self.sent == 0 and net.tracer is not None:
            net.tracer(NoteRecord(net.now, self.sender,
                                  f"syn-flood: {self.planned} spoofed SYNs at {float(self._rate):g}/s "
                                  f"to {self.target_addr}:{self.target_port}"))
        rng = self.rng
        seg = Segment(rng.randrange(1024, 65536), self.target_port, rng.getrandbits(32), 0, SYN, 64240,
                      FLOOD_OPTIONS)
        self.sent += 1
        net.inject_now(Packet(self._source(), self.target_addr, seg), self.sender, note=False)
        if self.sent < self.planned:
            self._next = net.at(self._time_of(self.sent), self._fire)
        else:
            self._next = None

    @property
    def done(self) -> bool:
        return self._next is None

    def stop(self) -> None:
        """Send no more SYNs."""
        if self._next is not None:
            self._next.cancel()
            self._next = None


class DelayedDuplicate:
    """Capture the ``nth`` segment a host sends that matches ``match`` and deliver a copy
    of it ``delay`` µs later, straight to its destination (the original travels as usual).
    """

    def __init__(self, network: Network, match: Callable[[str, str, Segment], bool], delay: int,
                 nth: int = 1, *, sender: str = "network") -> None:
        if nth < 1:
            raise ValueError(f"nth={nth}: matches are counted from 1")
        if delay < 0:
            raise ValueError(f"delay={delay}: must be >= 0")
        if isinstance(match, Match):
            match.bind(network.addresses_of)
        self.network = network
        self.match = match
        self.delay = delay
        self.nth = nth
        self.sender = sender
        self.seen = 0
        #: The captured packet, and when its copy is (to be) delivered.
        self.captured: Packet | None = None
        self.deliver_at: int | None = None
        network.observe(self._observe)

    def _observe(self, now: int, pkt: Packet) -> None:
        if self.captured is not None or not self.match(pkt.src, pkt.dst, pkt.seg):
            return
        self.seen += 1
        if self.seen < self.nth:
            return
        self.captured = pkt
        self.deliver_at = now + self.delay
        net = self.network
        if net.tracer is not None:
            net.tracer(NoteRecord(now, self.sender, f"captured {pkt.src}->{pkt.dst} {pkt.seg.summary()}; "
                                  f"a copy arrives after {self.delay} µs"))
        net.at(self.deliver_at, net.inject_now, pkt, self.sender)
