"""What a scenario is: data (names, the seed's section, explanations in English and
Chinese) plus a short script that builds one or more simulator runs.

A scenario's ``build(ctx)`` makes its networks through ``ctx.network(...)`` (or the
``two_hosts`` shortcut), schedules the application steps and faults, runs them, and
returns the :class:`Run` objects.  Everything random comes from ``ctx.seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from synack.core.config import DEFAULT_CONFIG, Config
from synack.core.info import SocketInfo
from synack.core.seq import seq_sub
from synack.core.trace import SegmentRecord, StateRecord, TraceRecord, Verdict
from synack.core.wire import flags_str
from synack.sim import Host, Network
from synack.sim.network import Adjust
from synack.views.words import LANGS, Lang, Text

__all__ = ["CLIENT_ADDR", "LANGS", "SERVER_ADDR", "Context", "Lang", "Run", "Scenario", "Text"]

#: Called with each network a scenario makes, and its run number (from 1), before
#: anything is added to it: an experiment's faults, links or listen backlog
#: (``network.add_fault``, ``network.adjust_path``, ``network.backlog``).
Prepare = Callable[[int, Network], None]

#: The addresses every two-host scenario uses (documentation range, RFC 5737).
CLIENT_ADDR = "192.0.2.1"
SERVER_ADDR = "192.0.2.2"


@dataclass
class Run:
    """One simulation run of a scenario; a scenario may compare several."""

    label: Text
    network: Network
    left: str = "client"
    right: str = "server"
    #: Key outcomes, shown under the ladder ("the client saw: connection refused").
    facts: list[Text] = field(default_factory=list)
    #: Numbers the scenario measured (success rates ...), for tests and JSON.
    metrics: dict[str, float] = field(default_factory=dict)
    #: Each host's sockets at ``--netstat-at`` (virtual µs, rows), when asked for.
    netstat: dict[str, list[SocketInfo]] = field(default_factory=dict)
    netstat_time: int | None = None
    #: Raw IP packets seen on the wire, for pcap: (t_us, bytes).
    packets: list[tuple[int, bytes]] = field(default_factory=list)
    #: Ladder rows to keep when a run is long (None: all).
    max_rows: int | None = 80

    @property
    def records(self) -> list[TraceRecord]:
        return self.network.trace

    def host(self, name: str) -> Host[Any]:
        return self.network.hosts[name]

    # -- queries the tests use -----------------------------------------------------------
    def sent(self, host: str | None = None) -> list[tuple[int, str, str, int, int, int]]:
        """Segments sent, as (t_us, host, flags, seq, ack, len); ack is 0 without ACK."""
        return [(r.t_us, r.host, flags_str(r.seg.flags), r.seg.seq, r.seg.ack, len(r.seg.payload))
                for r in self.records
                if isinstance(r, SegmentRecord) and r.event == "send" and r.seg is not None
                and (host is None or r.host == host)]

    def relative_sent(self) -> list[tuple[int, str, str, int, int, int]]:
        """:meth:`sent` with seq and ack relative to the ISNs, as Wireshark shows them:
        the client's SYN gives x, the server's SYN,ACK gives y; an ack without the ACK
        flag stays raw (0).  For runs with one client-server connection."""
        sent = self.sent()
        x = next(s[3] for s in sent if s[1] == self.left and s[2] == "S")
        y = next(s[3] for s in sent if s[1] == self.right and s[2] == "SA")
        out = []
        for t, host, flags, seq, ack, n in sent:
            mine, theirs = (x, y) if host == self.left else (y, x)
            out.append((t, host, flags, seq_sub(seq, mine), seq_sub(ack, theirs) if "A" in flags else ack, n))
        return out

    def received(self, host: str | None = None) -> list[tuple[int, str, str, int, int, int]]:
        """Segments received (after the network), same shape as :meth:`sent`."""
        return [(r.t_us, r.host, flags_str(r.seg.flags), r.seg.seq, r.seg.ack, len(r.seg.payload))
                for r in self.records
                if isinstance(r, SegmentRecord) and r.event == "recv" and r.seg is not None
                and (host is None or r.host == host)]

    def drops(self, host: str | None = None) -> list[tuple[int, str, str, str]]:
        """Drops as (t_us, host, flags or "", reason)."""
        return [(r.t_us, r.host, flags_str(r.seg.flags) if r.seg is not None else "", r.reason_text or "")
                for r in self.records
                if isinstance(r, SegmentRecord) and r.event == "drop" and (host is None or r.host == host)]

    def verdicts(self, host: str | None = None) -> list[tuple[int, str, str, str, str]]:
        """Arrivals not taken whole, as (t_us, host, flags, verdict, reason or ""): the
        trimmed, the duplicates and the dropped."""
        return [(r.t_us, r.host, flags_str(r.seg.flags) if r.seg is not None else "",
                 r.verdict.value if r.verdict is not None else "", r.reason_text or "")
                for r in self.records
                if isinstance(r, SegmentRecord) and r.event == "recv" and r.verdict is not Verdict.ACCEPTED
                and (host is None or r.host == host)]

    def states(self, host: str) -> list[tuple[str, str]]:
        """State changes of ``host``'s connections, as (from, to) RFC names."""
        return [(r.old.value, r.new.value) for r in self.records
                if isinstance(r, StateRecord) and r.host == host]

    def state_times(self, host: str) -> list[tuple[int, str, str]]:
        return [(r.t_us, r.old.value, r.new.value) for r in self.records
                if isinstance(r, StateRecord) and r.host == host]


@dataclass
class Context:
    """What the runner asks of a scenario run."""

    seed: int = 1
    #: Capture every host's sockets at this virtual time (µs).
    netstat_at: int | None = None
    #: Record raw packets for a pcap.
    capture: bool = False
    #: Applied to every host's configuration (``Network.adjust``): the same run, with
    #: something changed.
    adjust: Adjust | None = None
    #: Called with every network made here before the scenario uses it (:data:`Prepare`).
    prepare: Prepare | None = None
    runs: list[Run] = field(default_factory=list)

    def network(self, label: Text, *, left: str = "client", right: str = "server") -> tuple[Network, Run]:
        """A traced network for one run, with capture and netstat wired in."""
        net = Network(self.seed, trace=True, adjust=self.adjust)
        if self.prepare is not None:
            self.prepare(len(self.runs) + 1, net)
        run = Run(label, net, left, right)
        if self.capture:
            net.add_tap(lambda t, data: run.packets.append((t, data)))
        if self.netstat_at is not None:
            at = self.netstat_at

            def snap() -> None:
                run.netstat_time = at
                for name, host in net.hosts.items():
                    snapshot = getattr(host.endpoint, "snapshot", None)
                    if snapshot is not None:
                        run.netstat[name] = snapshot(at)

            net.at(at, snap)
        self.runs.append(run)
        return net, run

    def two_hosts(self, label: Text, *, delay: int = 10_000, client_config: Config = DEFAULT_CONFIG,
                  server_config: Config = DEFAULT_CONFIG,
                  **link: Any) -> tuple[Network, Run, Host[Any], Host[Any]]:
        """The seed's picture: a client and a server joined by one link."""
        net, run = self.network(label)
        client = net.add_host("client", [CLIENT_ADDR], client_config)
        server = net.add_host("server", [SERVER_ADDR], server_config)
        net.connect(client, server, delay=delay, **link)
        return net, run, client, server


@dataclass(frozen=True)
class Scenario:
    """A named, runnable, explained claim of the seed."""

    name: str
    title: Text
    #: The seed's section the claim comes from (its Chinese heading), or "RFC 9293".
    section: str
    explanation: Text
    build: Callable[[Context], Sequence[Run]]
    #: Steps in seconds the tour pauses on (none by default).
    tags: tuple[str, ...] = ()
    #: Show, under each run's ladder, what each side has proven about the other after
    #: each segment (:mod:`synack.views.proofs`).
    proofs: bool = False

    def run(self, seed: int = 1, *, netstat_at: int | None = None, capture: bool = False,
            adjust: Adjust | None = None) -> list[Run]:
        ctx = Context(seed, netstat_at, capture, adjust=adjust)
        runs = list(self.build(ctx))
        if not runs:
            raise RuntimeError(f"scenario {self.name} produced no run")
        return runs
