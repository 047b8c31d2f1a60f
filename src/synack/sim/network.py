"""The network: hosts, links between them, routing by destination address, taps,
faults, injection, and the one clock and one seed everything runs on.

>>> net = Network(seed=1, trace=True)
>>> c = net.add_host("client", ["10.0.0.1"]); s = net.add_host("server", ["10.0.0.2"])
>>> link = net.connect(c, s, delay=ms(10))
>>> lst = s.listen(80)
>>> net.at(0, lambda: c.connect("10.0.0.2", 80))
>>> net.run(until=seconds(5))

Routing: a packet goes to the host that owns its destination address, over the link
between the two hosts.  A packet to an address nobody owns (the SYN-ACK answering a
spoofed SYN), or to a host with no link to the sender, is lost: it is counted in
``no_route`` and traced as a drop with reason ``"no-route"``.

The network is the wiring: each host gets the scheduler, :meth:`Network.route` and
the egress hook of the taps and observers; each path the scheduler, the tracer and
:meth:`Network.addresses_of` (for faults naming hosts).  Neither holds the network.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from synack.core.config import DEFAULT_CONFIG, Config
from synack.core.ip import Packet, build_packet
from synack.core.trace import Loss, NoteRecord, SegmentRecord, Tracer, TraceRecord, Verdict
from synack.core.wire import Segment

from .faults import Fault
from .host import CloseHook, EgressHook, EndpointLike, Host
from .link import Link, Path, PathParams
from .rng import derive_bytes, make_rng
from .scheduler import DEFAULT_MAX_EVENTS, Handle, Scheduler

if TYPE_CHECKING:
    from synack.core.endpoint import Endpoint
    from synack.core.isn import IsnSource

E = TypeVar("E", bound=EndpointLike)
Tap = Callable[[int, bytes], object]
Observer = EgressHook
#: (host name, its configuration) -> the configuration it runs with.
Adjust = Callable[[str, Config], Config]
#: (path name, as ``"client->server"``, its parameters) -> the parameters it runs with.
AdjustPath = Callable[[str, PathParams], PathParams]


def _fanout(a: Tracer, b: Tracer) -> Tracer:
    def tracer(record: TraceRecord) -> None:
        a(record)
        b(record)
    return tracer


class Network:
    """Hosts and links on one virtual clock, every random stream derived from ``seed``."""

    def __init__(self, seed: int = 0, *, trace: bool = False, max_events: int = DEFAULT_MAX_EVENTS,
                 start: int = 0, adjust: Adjust | None = None) -> None:
        self.seed = seed
        #: Applied to every host's configuration in :meth:`add_host`: ``adjust(name,
        #: config)`` (an experiment on a whole run: "the same, without header
        #: prediction", "the same, with a shorter TIME-WAIT").
        self.adjust = adjust
        #: Applied to the parameters of every path :meth:`connect` makes (loopback paths
        #: aside): ``adjust_path("client->server", params)`` ("the same run over a
        #: slower or lossier link").  Set it before the links are made.
        self.adjust_path: AdjustPath | None = None
        #: Every listen's backlog on this network's hosts, whatever the application
        #: asks (None: as asked).  Set it before the hosts are added.
        self.backlog: int | None = None
        #: Every application close() of a connection on this network's hosts goes
        #: through it first (:data:`~synack.sim.host.CloseHook`; None: none does).  Set
        #: it before the hosts are added.
        self.close_hook: CloseHook | None = None
        self.scheduler = Scheduler(start)
        self.max_events = max_events
        #: Every trace record of every host and link, in time order (when ``trace``).
        self.trace: list[TraceRecord] = []
        self.tracing = trace
        self._tracer: Tracer | None = self.trace.append if trace else None
        #: Flight ids for every segment sent on this network (shared by its hosts).
        self.next_flight: Callable[[], int] = itertools.count(1).__next__
        self.hosts: dict[str, Host[Any]] = {}
        self.links: list[Link] = []
        self._injected_no_route = 0
        self._owners: dict[str, Host[Any]] = {}
        self._paths: dict[tuple[str, str], Path] = {}
        self._faults: list[Fault] = []
        self._taps: list[Tap] = []
        self._observers: list[Observer] = []
        self._egress_hooked = False

    def __repr__(self) -> str:
        return f"<Network seed={self.seed} now={self.now} µs hosts={list(self.hosts)}>"

    # -- time and randomness -----------------------------------------------------------
    @property
    def now(self) -> int:
        """Virtual time, µs."""
        return self.scheduler.now

    @property
    def tracer(self) -> Tracer | None:
        """Where the network's own records go (appends to :attr:`trace`), None when not tracing."""
        return self._tracer

    @property
    def no_route(self) -> int:
        """Packets lost because no host owns the destination (or none is linked to it):
        the hosts' own counts and the injections that found no host."""
        return self._injected_no_route + sum(host.no_route for host in self.hosts.values())

    def rng(self, name: str) -> random.Random:
        """A random stream derived from the seed and ``name`` (same name, same stream)."""
        return make_rng(self.seed, name)

    def at(self, t: int, fn: Callable[..., object], *args: object) -> Handle:
        """Run ``fn(*args)`` at virtual time ``t`` (µs)."""
        return self.scheduler.call_at(t, fn, *args)

    def after(self, dt: int, fn: Callable[..., object], *args: object) -> Handle:
        """Run ``fn(*args)`` ``dt`` µs from now."""
        return self.scheduler.call_later(dt, fn, *args)

    def run(self, until: int | None = None, max_events: int | None = None) -> int:
        """Run until ``until`` (µs), or until nothing is left to do; returns events run.

        Any exception leaving the run carries a note with the seed and the time, so a
        failure can be replayed.
        """
        try:
            return self.scheduler.run(until, self.max_events if max_events is None else max_events)
        except Exception as exc:
            exc.add_note(f"synack.sim: seed={self.seed}, at t={self.now} µs")
            raise

    def run_until_idle(self, max_events: int | None = None) -> int:
        """Run until nothing is scheduled (every timer has run out)."""
        return self.run(None, max_events)

    def observe_records(self, observer: Tracer) -> None:
        """Call ``observer`` with every record of the hosts and links added from now
        on, after :attr:`trace` has it (a view that looks at the stack as it runs)."""
        if self._tracer is None:
            raise ValueError("observe_records: this network does not trace")
        self._tracer = _fanout(self._tracer, observer)

    # -- topology ------------------------------------------------------------------------
    def _tracer_for(self, tracer: Tracer | None) -> Tracer | None:
        if tracer is None:
            return self._tracer
        if self._tracer is None:
            return tracer
        return _fanout(self._tracer, tracer)

    def add_host(self, name: str, addresses: Sequence[str], config: Config = DEFAULT_CONFIG, *,
                 tracer: Tracer | None = None, isn: IsnSource | None = None,
                 secret: bytes | None = None) -> Host[Endpoint]:
        """A host running a synack :class:`~synack.core.endpoint.Endpoint`.

        Its secret (for ISNs and SYN cookies) and its ephemeral-port offset are drawn
        from the network's seed unless given.  ``tracer`` also receives its records.
        """
        from synack.core.endpoint import Endpoint

        if self.adjust is not None:
            config = self.adjust(name, config)
        full_tracer = self._tracer_for(tracer)
        if secret is None:
            secret = derive_bytes(self.seed, f"host:{name}:secret")
        span = config.ephemeral_high - config.ephemeral_low + 1
        offset = self.rng(f"host:{name}:ports").randrange(span)
        endpoint = Endpoint(addresses, config, name=name, secret=secret, isn=isn,
                            ephemeral_offset=offset, tracer=full_tracer, flights=self.next_flight)
        return self._attach(name, addresses, endpoint, full_tracer)

    def add_node(self, name: str, addresses: Sequence[str], endpoint: E, *,
                 tracer: Tracer | None = None) -> Host[E]:
        """A host around any object with the endpoint driver contract (a test fake, or
        a model such as a naive two-way-handshake server).  Its records go to
        ``tracer`` and, when tracing, to :attr:`trace` (give the model that tracer)."""
        return self._attach(name, addresses, endpoint, self._tracer_for(tracer))

    def _attach(self, name: str, addresses: Sequence[str], endpoint: E, tracer: Tracer | None) -> Host[E]:
        host = Host(name, addresses, endpoint, self.scheduler, self.route, tracer=tracer,
                    egress=self._on_egress if self._egress_hooked else None)
        host.backlog = self.backlog
        host.close_hook = self.close_hook
        if host.name in self.hosts:
            raise ValueError(f"a host named {host.name!r} exists already")
        if not host.addresses:
            raise ValueError(f"host {host.name!r} needs at least one address")
        for addr in host.addresses:
            if addr in self._owners:
                raise ValueError(f"address {addr} belongs to {self._owners[addr].name} already")
        self.hosts[host.name] = host
        for addr in host.addresses:
            self._owners[addr] = host
        return host

    def host_of(self, addr: str) -> Host[Any] | None:
        """The host that owns ``addr``."""
        return self._owners.get(addr)

    def addresses_of(self, name: str) -> tuple[str, ...] | None:
        """The addresses of the host named ``name`` (None when there is none)."""
        host = self.hosts.get(name)
        return None if host is None else host.addresses

    def connect(self, a: Host[Any], b: Host[Any], *, params: PathParams | None = None,
                forward: PathParams | None = None, backward: PathParams | None = None,
                **kw: Any) -> Link:
        """A bidirectional link between ``a`` and ``b``.

        ``net.connect(a, b, delay=ms(10), loss=0.01)`` sets both directions alike
        (keywords are :class:`PathParams` fields); ``forward=`` (a → b) and
        ``backward=`` (b → a) set one direction each.
        """
        if a is b:
            raise ValueError("a link joins two different hosts")
        if (a.name, b.name) in self._paths:
            raise ValueError(f"{a.name} and {b.name} are linked already")
        common = params if params is not None else PathParams(**kw)
        if params is not None and kw:
            raise ValueError("give either params= or keyword parameters, not both")
        if self.adjust_path is not None:
            forward = self.adjust_path(f"{a.name}->{b.name}", forward or common)
            backward = self.adjust_path(f"{b.name}->{a.name}", backward or common)
        fwd = self._path(a, b, forward or common, f"path:{a.name}->{b.name}", f"{a.name}->{b.name}")
        bwd = self._path(b, a, backward or common, f"path:{b.name}->{a.name}", f"{b.name}->{a.name}")
        for path in (fwd, bwd):
            for fault in self._faults:
                path.faults.append(fault)
        self._paths[(a.name, b.name)] = fwd
        self._paths[(b.name, a.name)] = bwd
        link = Link(a, b, fwd, bwd)
        self.links.append(link)
        for host in self.hosts.values():
            host.forget_routes()
        return link

    def _path(self, src: Host[Any], dst: Host[Any], params: PathParams, stream: str, name: str) -> Path:
        return Path(src, dst, params, self.rng(stream), name, scheduler=self.scheduler, tracer=self._tracer,
                    resolve=self.addresses_of)

    def path(self, src: Host[Any], dst: Host[Any]) -> Path:
        """The path carrying ``src``'s packets to ``dst``."""
        return self._paths[(src.name, dst.name)]

    def route(self, host: Host[Any], dst: str) -> Path | None:
        """The path carrying ``host``'s packets to ``dst``: to the host owning it, over
        their link (or a loopback path to itself); None when there is none."""
        owner = self._owners.get(dst)
        if owner is None:
            return None
        if owner is host:
            path = self._paths.get((host.name, host.name))
            if path is None:  # loopback: no delay, no impairment
                path = self._path(host, host, PathParams(), f"path:{host.name}->self", f"{host.name}->self")
                self._paths[(host.name, host.name)] = path
            return path
        return self._paths.get((host.name, owner.name))

    # -- faults, taps, observers -----------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        """Apply ``fault`` on every path, present and future (it counts matches over all)."""
        fault.bind(self.addresses_of)
        self._faults.append(fault)
        for path in self._paths.values():
            path.faults.append(fault)
        return fault

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap(t_us, ip_packet_bytes)`` for every packet a host or an attacker puts
        on the network (before any loss: a capture at the sender)."""
        self._taps.append(tap)
        self._hook_egress()

    def observe(self, observer: Observer) -> None:
        """Call ``observer(t_us, packet)`` for every packet a host sends (no bytes built)."""
        self._observers.append(observer)
        self._hook_egress()

    def _hook_egress(self) -> None:
        """From the first tap or observer on, every host (and every later one) reports
        its packets to :meth:`_on_egress`; until then hosts pay nothing for it."""
        if not self._egress_hooked:
            self._egress_hooked = True
            for host in self.hosts.values():
                host.egress = self._on_egress

    def _on_egress(self, now: int, pkt: Packet) -> None:
        for observer in self._observers:
            observer(now, pkt)
        if self._taps:
            data = build_packet(pkt.seg, pkt.src, pkt.dst)
            for tap in self._taps:
                tap(now, data)

    # -- injection -------------------------------------------------------------------------
    def inject(self, at: int, src: str, dst: str, seg: Segment, *, sender: str = "attacker") -> None:
        """At ``at`` µs, deliver ``seg`` from ``src`` (any address, spoofed or not) straight
        to the host owning ``dst``: a raw segment from outside the hosts' links."""
        self.scheduler.call_at(at, self.inject_now, Packet(src, dst, seg), sender)

    def inject_now(self, pkt: Packet, sender: str = "attacker", note: bool = True) -> None:
        """Deliver ``pkt`` to its destination's host now (taps see it; no link in between)."""
        now = self.scheduler.now
        if self._taps:
            data = build_packet(pkt.seg, pkt.src, pkt.dst)
            for tap in self._taps:
                tap(now, data)
        if self._tracer is not None and not pkt.flight:
            pkt = pkt._replace(flight=self.next_flight())
        if note and self._tracer is not None:
            self._tracer(NoteRecord(now, sender, f"inject {pkt.src}->{pkt.dst} {pkt.seg.summary()}"))
        owner = self._owners.get(pkt.dst)
        if owner is None:
            self._injected_no_route += 1
            if self._tracer is not None:
                self._tracer(SegmentRecord(now, sender, "drop", pkt.src, pkt.dst, pkt.seg, Loss.NO_ROUTE,
                                           pkt.flight, Verdict.LOST))
            return
        owner.deliver(pkt)
