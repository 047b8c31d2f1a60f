"""Targeted faults: "drop the 2nd segment from B", "hold every FIN for 3 s".

A fault is installed on one direction of a link (``path.add_fault``) or on every
path of the network (``network.add_fault``).  It sees each packet put on that path,
*before* the random impairments, and acts on the matches it is told to: from the
``nth`` match on, ``count`` of them (``None``: all of them).

Predicates take ``(src, dst, seg)``.  The helpers here (:func:`flags_are`,
:func:`has_flags`, :func:`from_host` ...) return :class:`Match` objects, which
combine with ``&``, ``|`` and ``~`` and print readably (the readable form is what
the trace shows as the drop reason); any plain callable works too.

A match that names a host (``from_host("client")``) finds its addresses through a
:data:`Resolver` it is bound to when the fault is installed (a network's
``addresses_of``), so the host may be added after the fault.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Final, Literal, Protocol

from synack.core.wire import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, Segment

Predicate = Callable[[str, str, Segment], bool]
#: The addresses of the host with a given name, or None when there is no such host.
Resolver = Callable[[str], "tuple[str, ...] | None"]


class Addressed(Protocol):
    """A named holder of addresses: a simulated host, as :func:`from_host` takes it."""

    @property
    def name(self) -> str: ...

    @property
    def addresses(self) -> tuple[str, ...]: ...

_LETTERS: Final = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "A": ACK, "U": URG, "E": ECE, "W": CWR}


def parse_flags(letters: str) -> int:
    """tcpdump letters → flag bits: ``"SA"`` → SYN|ACK; ``"."`` is no flag."""
    bits = 0
    for ch in letters.upper():
        if ch == ".":
            continue
        if ch not in _LETTERS:
            raise ValueError(f"unknown flag letter {ch!r} in {letters!r} (use F S R P A U E W)")
        bits |= _LETTERS[ch]
    return bits


class Match(abc.ABC):
    """A named predicate on ``(src, dst, seg)``; combine with ``& | ~``."""

    __slots__ = ()

    @abc.abstractmethod
    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        """Whether the segment matches."""

    def bind(self, resolve: Resolver) -> None:  # noqa: B027 - a hook: most predicates need nothing
        """Find host names' addresses through ``resolve`` (called when the fault is installed)."""

    def __and__(self, other: Match) -> Match:
        return _And(self, other)

    def __or__(self, other: Match) -> Match:
        return _Or(self, other)

    def __invert__(self) -> Match:
        return _Not(self)


class _And(Match):
    __slots__ = ("a", "b")

    def __init__(self, a: Match, b: Match) -> None:
        self.a, self.b = a, b

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        return self.a(src, dst, seg) and self.b(src, dst, seg)

    def bind(self, resolve: Resolver) -> None:
        self.a.bind(resolve)
        self.b.bind(resolve)

    def __repr__(self) -> str:
        return f"({self.a!r} & {self.b!r})"


class _Or(_And):
    __slots__ = ()

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        return self.a(src, dst, seg) or self.b(src, dst, seg)

    def __repr__(self) -> str:
        return f"({self.a!r} | {self.b!r})"


class _Not(Match):
    __slots__ = ("a",)

    def __init__(self, a: Match) -> None:
        self.a = a

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        return not self.a(src, dst, seg)

    def bind(self, resolve: Resolver) -> None:
        self.a.bind(resolve)

    def __repr__(self) -> str:
        return f"~{self.a!r}"


class _Flags(Match):
    __slots__ = ("bits", "exact", "letters")

    def __init__(self, letters: str, exact: bool) -> None:
        self.letters = letters
        self.bits = parse_flags(letters)
        self.exact = exact

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        if self.exact:
            return seg.flags == self.bits
        return seg.flags & self.bits == self.bits

    def __repr__(self) -> str:
        return f"{'flags_are' if self.exact else 'has_flags'}({self.letters!r})"


def flags_are(letters: str) -> Match:
    """Exactly these flags: ``flags_are("S")`` is a SYN, ``flags_are("SA")`` a SYN-ACK."""
    return _Flags(letters, exact=True)


def has_flags(letters: str) -> Match:
    """At least these flags: ``has_flags("F")`` is any FIN (FIN-ACK included)."""
    return _Flags(letters, exact=False)


class _Everything(Match):
    __slots__ = ()

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        return True

    def __repr__(self) -> str:
        return "any_segment()"


def any_segment() -> Match:
    """Every segment."""
    return _Everything()


class _HasPayload(Match):
    __slots__ = ()

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        return bool(seg.payload)

    def __repr__(self) -> str:
        return "has_payload()"


def has_payload() -> Match:
    """Segments that carry data."""
    return _HasPayload()


class _Addr(Match):
    """Source or destination address in a set: given, or a host's (resolved by name
    on first use, so the host may be added after the fault)."""

    __slots__ = ("addrs", "field", "host_name", "label", "resolve")

    def __init__(self, field: Literal["src", "dst"], label: str, addrs: tuple[str, ...] | None,
                 host_name: str | None) -> None:
        self.field = field
        self.label = label
        self.addrs: frozenset[str] | None = frozenset(addrs) if addrs is not None else None
        self.host_name = host_name
        self.resolve: Resolver | None = None

    def bind(self, resolve: Resolver) -> None:
        self.resolve = resolve

    def _resolve(self) -> frozenset[str]:
        if self.resolve is None:
            raise RuntimeError(f"{self!r} is not bound to a network: install the fault with "
                               "network.add_fault or path.add_fault")
        addresses = self.resolve(self.host_name or "")
        if addresses is None:
            raise KeyError(f"{self!r}: the network has no host named {self.host_name!r}")
        self.addrs = frozenset(addresses)
        return self.addrs

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        addrs = self.addrs if self.addrs is not None else self._resolve()
        return (src if self.field == "src" else dst) in addrs

    def __repr__(self) -> str:
        return self.label


def _host_addr(fname: Literal["src", "dst"], helper: str, host: Addressed | str) -> Match:
    if isinstance(host, str):
        return _Addr(fname, f"{helper}({host!r})", None, host)
    return _Addr(fname, f"{helper}({host.name!r})", host.addresses, None)


def from_host(host: Addressed | str) -> Match:
    """Sent from one of ``host``'s addresses (a Host, or its name)."""
    return _host_addr("src", "from_host", host)


def to_host(host: Addressed | str) -> Match:
    """Sent to one of ``host``'s addresses (a Host, or its name)."""
    return _host_addr("dst", "to_host", host)


def from_addr(*addrs: str) -> Match:
    """Sent from one of these addresses."""
    return _Addr("src", f"from_addr({', '.join(map(repr, addrs))})", addrs, None)


def to_addr(*addrs: str) -> Match:
    """Sent to one of these addresses."""
    return _Addr("dst", f"to_addr({', '.join(map(repr, addrs))})", addrs, None)


class _Port(Match):
    __slots__ = ("field", "port")

    def __init__(self, field: Literal["src", "dst"], port: int) -> None:
        self.field = field
        self.port = port

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        return (seg.src_port if self.field == "src" else seg.dst_port) == self.port

    def __repr__(self) -> str:
        return f"{'from' if self.field == 'src' else 'to'}_port({self.port})"


def from_port(port: int) -> Match:
    """Segments whose source port is ``port``."""
    return _Port("src", port)


def to_port(port: int) -> Match:
    """Segments whose destination port is ``port``."""
    return _Port("dst", port)


class _Where(Match):
    __slots__ = ("fn", "label")

    def __init__(self, fn: Predicate, label: str) -> None:
        self.fn = fn
        self.label = label

    def __call__(self, src: str, dst: str, seg: Segment) -> bool:
        return self.fn(src, dst, seg)

    def __repr__(self) -> str:
        return self.label


def where(fn: Predicate, label: str = "where(...)") -> Match:
    """Wrap any predicate so it combines with ``& | ~`` and prints as ``label``."""
    return _Where(fn, label)


# -- the faults ---------------------------------------------------------------------
FaultKind = Literal["drop", "delay", "duplicate"]


class Fault:
    """Acts on matches number ``nth`` .. ``nth + count - 1`` (all from ``nth`` if ``count`` is None).

    ``seen`` counts the matches so far and ``hits`` the ones acted on.
    """

    __slots__ = ("count", "hits", "match", "nth", "seen", "value")

    kind: FaultKind = "drop"

    def __init__(self, match: Predicate, nth: int = 1, count: int | None = 1, value: int = 0) -> None:
        if nth < 1:
            raise ValueError(f"nth={nth}: matches are counted from 1")
        if count is not None and count < 1:
            raise ValueError(f"count={count}: must be at least 1 (or None for all)")
        if value < 0:
            raise ValueError(f"negative time {value}")
        self.match = match
        self.nth = nth
        self.count = count
        self.value = value
        self.seen = 0
        self.hits = 0

    def bind(self, resolve: Resolver) -> None:
        """Let the match find host names' addresses through ``resolve``."""
        if isinstance(self.match, Match):
            self.match.bind(resolve)

    def check(self, src: str, dst: str, seg: Segment) -> bool:
        """Count a match; True when this one is to be acted on."""
        if not self.match(src, dst, seg):
            return False
        self.seen += 1
        k = self.seen - self.nth
        if k < 0 or (self.count is not None and k >= self.count):
            return False
        self.hits += 1
        return True

    @property
    def exhausted(self) -> bool:
        """True when this fault will never act again."""
        return self.count is not None and self.seen >= self.nth + self.count - 1

    def _which(self) -> str:
        if self.count == 1:
            return f"#{self.nth}"
        if self.count is None:
            return "every" if self.nth == 1 else f"#{self.nth}+"
        return f"#{self.nth}..{self.nth + self.count - 1}"

    def describe(self) -> str:
        """What the trace shows: ``"drop #2 flags_are('SA')"``."""
        return f"{self.kind} {self._which()} {self.match!r}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()} seen={self.seen} hits={self.hits}>"


class Drop(Fault):
    """Drop the ``nth`` matching segment (and ``count - 1`` more after it)."""

    __slots__ = ()
    kind: FaultKind = "drop"

    def __init__(self, match: Predicate, nth: int = 1, count: int | None = 1) -> None:
        super().__init__(match, nth, count)


class Delay(Fault):
    """Deliver the ``nth`` matching segment ``by`` µs later than the link would.

    A delayed segment leaves the link's FIFO order: later segments overtake it.
    """

    __slots__ = ()
    kind: FaultKind = "delay"

    def __init__(self, match: Predicate, by: int, nth: int = 1, count: int | None = 1) -> None:
        super().__init__(match, nth, count, by)

    @property
    def by(self) -> int:
        return self.value

    def describe(self) -> str:
        return f"delay {self._which()} {self.match!r} by {self.value} µs"


class Hold(Delay):
    """Hold every matching segment for ``for_`` µs ("hold every FIN for 3 s")."""

    __slots__ = ()

    def __init__(self, match: Predicate, for_: int, nth: int = 1, count: int | None = None) -> None:
        super().__init__(match, for_, nth, count)

    def describe(self) -> str:
        return f"hold {self._which()} {self.match!r} for {self.value} µs"


class Duplicate(Fault):
    """Deliver the ``nth`` matching segment, then an extra copy ``after`` µs later."""

    __slots__ = ()
    kind: FaultKind = "duplicate"

    def __init__(self, match: Predicate, after: int, nth: int = 1, count: int | None = 1) -> None:
        super().__init__(match, nth, count, after)

    @property
    def after(self) -> int:
        return self.value

    def describe(self) -> str:
        return f"duplicate {self._which()} {self.match!r} after {self.value} µs"


class FaultCounts(Protocol):
    """What :func:`apply_faults` counts in (a path's or a TUN direction's stats)."""

    fault_drops: int
    delayed: int


def apply_faults(faults: Sequence[Fault], src: str, dst: str, seg: Segment, stats: FaultCounts,
                 acted: Callable[[Fault], None] | None = None) -> tuple[Fault | None, int, list[int] | None]:
    """The targeted faults, in order, on one packet: ``(the Drop that takes it, or None;
    the extra delay of the Delays and Holds that act; the offsets of the Duplicates'
    copies, or None)``.  A drop ends the list (the faults after it see nothing).
    Counts drops and delays in ``stats``; ``acted`` hears of each fault that acts
    without dropping (the simulator's trace)."""
    extra = 0
    copies: list[int] | None = None
    for fault in faults:
        if fault.check(src, dst, seg):
            kind = fault.kind
            if kind == "drop":
                stats.fault_drops += 1
                return fault, 0, None
            if acted is not None:
                acted(fault)
            if kind == "delay":
                stats.delayed += 1
                extra += fault.value
            else:
                if copies is None:
                    copies = []
                copies.append(fault.value)
    return None, extra, copies
