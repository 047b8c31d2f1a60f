"""The playground's Python side: what the page (``web/``, through Pyodide) asks of
the real stack, with nothing but the standard library, ``synack.core``, ``sim``,
``scenarios`` and the views that need neither rich nor matplotlib.

The page runs a scenario with a seed and "what if" settings (:class:`Settings`, read
from the page's URL: ``#scenario=lost-syn&seed=1&lang=en&drop=1:client:S:2``) and
gets back, as one JSON document (:func:`run_json`):

- ``records``: the run's trace, the very objects ``synack scenario run NAME --seed N
  --json`` writes, one per line (with ``"run": n`` when the scenario has several runs);
- ``runs``: each run's label, facts and metrics in both languages, its two drawn
  hosts, where its records start and end in ``records``, and its listeners' queue
  limits (read from the core's listeners: the trace does not carry them), and its
  ``timers``: every change of a running timer, as observed on the real stack (see
  :class:`_TimerWatch`; the trace records most timers only when they fire);
- ``picks``: for each segment a host put on a link, how the page names it to drop,
  delay or duplicate it: ``"client:S:2"``, the second SYN the client sent (counted as
  the faults count, so the name means the same after other settings change).

After a run, :func:`svg`, :func:`pcap` and :func:`packet_hex` draw, capture or show
the bytes of that run on demand.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from synack.capture import PcapWriter
from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.errors import UsageError
from synack.core.events import Event, PeerClosed
from synack.core.ip import Packet, build_packet
from synack.core.listener import Listener
from synack.core.state import TRANSITIONS, State
from synack.core.timers import SLOTS, Timer
from synack.core.trace import (
    Loss,
    NoteRecord,
    SegmentRecord,
    TraceRecord,
    endpoint_str,
)
from synack.core.wire import Segment, flags_str
from synack.scenarios import ALL, STREAM, TOUR, Context, Run, Scenario, get
from synack.sim import EventLimitExceeded, Host, Network, PathParams
from synack.sim.faults import Fault, FaultKind, Resolver, flags_are, from_host, parse_flags
from synack.views.cards import CARDS, Evidence
from synack.views.jsonl import LineWriter
from synack.views.proofs import TABLE_HEADERS, proof_rows, proof_table
from synack.views.quiz import quiz

__all__ = ["CLOSE_SCENARIOS", "SECTIONS_EN", "TRANSITIONS_ZH", "Pick", "Picks", "Settings", "SettingsError",
           "cards", "catalogue", "diagram", "document", "extras", "extras_json", "packet_hex", "pcap", "run",
           "run_json", "svg"]

#: The seed's section headings (Chinese, as the scenarios name them) in English.
SECTIONS_EN: Final[dict[str, str]] = {
    "真实握手": "The real handshake",
    "恋爱模拟 / 为什么不是两次 / 为什么不是四次": "The love-letter analogy / why not two / why not four",
    "半连接队列 / SYN-ACK 重传": "The half-open queue / SYN-ACK retransmission",
    "SYN-ACK 重传次数": "How many SYN-ACK retransmissions",
    "半连接队列 / 全连接队列": "The SYN queue / the accept queue",
    "为什么不是两次": "Why not two?",
    "三次握手过程中可以携带数据么": "Can the handshake carry data?",
    "同时打开会怎样": "What if both open at once?",
    "SYN攻击": "The SYN attack",
    "四次挥手": "The four-way close",
    "半关闭": "Half-close",
    "为什么是四次挥手而不是三次": "Why four segments to close, not three?",
    "等待2MSL的意义 (理由一)": "Why wait 2MSL (reason one)",
    "等待2MSL的意义 (理由二)": "Why wait 2MSL (reason two)",
    "同时关闭会怎样": "What if both close at once?",
    "RFC 9293": "RFC 9293",
}

#: The core's reasons for each state transition (``state.TRANSITIONS``), in Chinese.
TRANSITIONS_ZH: Final[dict[tuple[State, State], str]] = {
    (State.CLOSED, State.SYN_SENT): "主动打开：发送 SYN（§3.10.1）",
    (State.LISTEN, State.SYN_RECEIVED): "SYN 到达监听套接字：回复 SYN-ACK（§3.10.7.2）",
    (State.SYN_SENT, State.SYN_RECEIVED): "同时打开：收到不带 ACK 的 SYN（§3.10.7.3）",
    (State.SYN_SENT, State.ESTABLISHED): "收到确认了我方 SYN 的 SYN-ACK（§3.10.7.3）",
    (State.SYN_SENT, State.CLOSED): "CLOSE/ABORT、可接受的 RST，或 SYN 重传次数用尽",
    (State.SYN_RECEIVED, State.ESTABLISHED): "收到对我方 SYN 的 ACK（§3.10.7.4 第五步检查）",
    (State.SYN_RECEIVED, State.FIN_WAIT_1): "CLOSE 且没有待发数据：发送 FIN（§3.10.4）",
    (State.SYN_RECEIVED, State.CLOSED): "RST、ABORT，或 SYN-ACK 重传次数用尽",
    (State.ESTABLISHED, State.FIN_WAIT_1): "CLOSE：发完排队的数据后发送 FIN（§3.10.4）",
    (State.ESTABLISHED, State.CLOSE_WAIT): "收到 FIN（§3.10.7.4 第八步检查）",
    (State.ESTABLISHED, State.CLOSED): "RST、ABORT，或重传次数用尽",
    (State.FIN_WAIT_1, State.FIN_WAIT_2): "我方的 FIN 被确认",
    (State.FIN_WAIT_1, State.CLOSING): "同时关闭：对方的 FIN 先于对我方 FIN 的 ACK 到达",
    (State.FIN_WAIT_1, State.TIME_WAIT): "收到同时确认了我方 FIN 的 FIN",
    (State.FIN_WAIT_1, State.CLOSED): "RST、ABORT，或重传次数用尽",
    (State.FIN_WAIT_2, State.TIME_WAIT): "收到 FIN",
    (State.FIN_WAIT_2, State.CLOSED): "RST、ABORT，或孤儿 FIN-WAIT-2 超时（Linux）",
    (State.CLOSE_WAIT, State.LAST_ACK): "CLOSE：发送 FIN（§3.10.4）",
    (State.CLOSE_WAIT, State.CLOSED): "RST、ABORT，或重传次数用尽",
    (State.CLOSING, State.TIME_WAIT): "我方的 FIN 被确认",
    (State.CLOSING, State.CLOSED): "RST、ABORT，或重传次数用尽",
    (State.LAST_ACK, State.CLOSED): "我方的 FIN 被确认（或 RST、ABORT、重传次数用尽）",
    (State.TIME_WAIT, State.CLOSED): "2MSL 定时器到期（或 RST：TIME-WAIT 被刺杀）",
}

#: The scenarios the what-if "who closes first and when" (``close``, ``close_at``,
#: ``close_then``) applies to: a client and a server that connect, then close.
CLOSE_SCENARIOS: Final = ("close", "simultaneous-close", "time-wait-lost-ack")
#: The two hosts of those scenarios.
_CLOSERS: Final = ("client", "server")
CloseFirst = Literal["client", "server", "both"]
#: How long the other side's application takes to close after it reads end-of-file,
#: unless ``close_then`` says (ms): as the server of ``close`` does.
CLOSE_THEN_MS: Final = 1000.0

PickKind = Literal["drop", "delay", "dup"]
_FAULT_KIND: Final[dict[PickKind, FaultKind]] = {"drop": "drop", "delay": "delay", "dup": "duplicate"}
#: The longest a picked segment may be held or its copy follow it (as the CLI's --delay).
MAX_PICK_MS: Final = 60_000


class SettingsError(ValueError):
    """A what-if setting the page cannot run (the message says which and why)."""


@dataclass(frozen=True)
class Pick:
    """One clicked segment and what to do to it: the ``nth`` segment with exactly the
    flags ``flags`` (tcpdump letters) that host ``host`` puts on a link in run ``run``
    (from 1), dropped, delayed by ``ms`` or duplicated (the copy ``ms`` later)."""

    kind: PickKind
    run: int
    host: str
    flags: str
    nth: int
    ms: float = 0.0

    def token(self) -> str:
        """As the URL writes it: ``1:client:S:2`` (``:500`` more with a time)."""
        base = f"{self.run}:{self.host}:{self.flags}:{self.nth}"
        return base if self.kind == "drop" else f"{base}:{self.ms:g}"

    def describe(self) -> str:
        """What the trace shows, the words of the equivalent ``sim.faults`` fault."""
        match = flags_are(self.flags) & from_host(self.host)
        if self.kind == "drop":
            return f"drop #{self.nth} {match!r}"
        if self.kind == "delay":
            return f"delay #{self.nth} {match!r} by {ms(self.ms)} µs"
        return f"duplicate #{self.nth} {match!r} after {ms(self.ms)} µs"


class Picks(Fault):
    """Every pick of one run as one fault, installed before the scenario's own: it
    counts each host's segments by their exact flags as they enter a link (all of
    them, whatever it or a later fault does to them), so that "the 2nd SYN-ACK" is
    the same segment whichever other picks there are."""

    __slots__ = ("_addrs", "_counts", "_hosts", "_picks", "_resolver", "description", "kind")

    def __init__(self, picks: Sequence[Pick]) -> None:
        super().__init__(lambda src, dst, seg: False, count=None)
        self._picks = {(p.host, parse_flags(p.flags), p.nth): p for p in picks}
        self._hosts = frozenset(p.host for p in picks)
        self._counts: dict[tuple[str, int], int] = {}
        self._addrs: dict[str, str] | None = None
        self._resolver: Resolver | None = None
        self.kind: FaultKind = "drop"
        self.description = ""

    def bind(self, resolve: Resolver) -> None:
        self._resolver = resolve

    def _host_of(self, src: str) -> str | None:
        if self._addrs is None:
            if self._resolver is None:
                raise RuntimeError("Picks is not bound to a network: install it with network.add_fault")
            addrs: dict[str, str] = {}
            for name in self._hosts:
                for addr in self._resolver(name) or ():
                    addrs[addr] = name
            self._addrs = addrs
        return self._addrs.get(src)

    def check(self, src: str, dst: str, seg: Segment) -> bool:
        host = self._host_of(src)
        if host is None:
            return False
        key = (host, seg.flags)
        n = self._counts[key] = self._counts.get(key, 0) + 1
        pick = self._picks.get((host, seg.flags, n))
        if pick is None:
            return False
        self.seen += 1
        self.hits += 1
        self.kind = _FAULT_KIND[pick.kind]
        self.value = ms(pick.ms)
        self.description = pick.describe()
        return True

    @property
    def exhausted(self) -> bool:
        return False

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True)
class Settings:
    """The what-if settings (None: as the scenario has it)."""

    #: One-way delay of every link, ms.
    link_delay: float | None = None
    #: Loss probability of every link, 0..1.
    loss: float | None = None
    #: Every listen's backlog.
    backlog: int | None = None
    #: Config.syncookies on every host: 0, 1 or 2.
    syncookies: int | None = None
    #: Config.synack_retries on every host.
    synack_retries: int | None = None
    #: Config.time_wait on every host, seconds.
    time_wait: float | None = None
    #: Who calls close() first (CLOSE_SCENARIOS only): "client", "server" or "both"
    #: (a simultaneous close); None: as the scenario has it.
    close: CloseFirst | None = None
    #: When the first closer calls close(), ms (None: when the scenario's application
    #: first calls it).
    close_at: float | None = None
    #: How long the other side's application takes to close after it reads
    #: end-of-file, ms (None: :data:`CLOSE_THEN_MS`).
    close_then: float | None = None
    picks: tuple[Pick, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return self != Settings()

    def as_params(self) -> dict[str, str]:
        """The URL parameters that give these settings back (:meth:`parse`)."""
        out: dict[str, str] = {}
        for key in ("link_delay", "loss", "backlog", "syncookies", "synack_retries", "time_wait", "close",
                    "close_at", "close_then"):
            value = getattr(self, key)
            if value is not None:
                out[key] = f"{value:g}" if isinstance(value, float) else str(value)
        for kind in ("drop", "delay", "dup"):
            tokens = [p.token() for p in self.picks if p.kind == kind]
            if tokens:
                out[kind] = ",".join(tokens)
        return out

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Settings:
        """From URL parameters: ``link_delay`` (ms), ``loss`` (0..1 or ``5%``), ``backlog``,
        ``syncookies`` (0, 1, 2), ``synack_retries``, ``time_wait`` (s), ``close``
        (``client``, ``server`` or ``both``), ``close_at`` and ``close_then`` (ms), and ``drop``,
        ``delay``, ``dup``: comma-separated ``RUN:HOST:FLAGS:NTH`` (``:MS`` more for
        ``delay`` and ``dup``).  Empty values and unknown keys are ignored."""
        def get(key: str) -> str | None:
            value = params.get(key)
            return value.strip() if value is not None and value.strip() else None

        def number(key: str, lo: float, hi: float) -> float | None:
            text = get(key)
            if text is None:
                return None
            percent = text.endswith("%")
            try:
                value = float(text[:-1] if percent else text) / (100 if percent else 1)
            except ValueError:
                raise SettingsError(f"{key}: not a number: {text!r}") from None
            if not lo <= value <= hi or value != value:
                raise SettingsError(f"{key}: {text} is outside {lo:g}..{hi:g}")
            return value

        def whole(key: str, lo: int, hi: int) -> int | None:
            value = number(key, lo, hi)
            if value is None:
                return None
            if value != int(value):
                raise SettingsError(f"{key}: not a whole number: {params[key]!r}")
            return int(value)

        picks: list[Pick] = []
        kind: PickKind
        for kind in ("drop", "delay", "dup"):
            text = get(kind)
            if text is None:
                continue
            for token in text.split(","):
                picks.append(_parse_pick(kind, token.strip()))
        close = get("close")
        if close is not None and close not in ("client", "server", "both"):
            raise SettingsError(f"close: {close!r} is not client, server or both")
        close_at, close_then = number("close_at", 0, 60_000), number("close_then", 0, 60_000)
        if close is None and (close_at is not None or close_then is not None):
            raise SettingsError("close_at and close_then need close: who closes first (client, server, both)")
        return cls(link_delay=number("link_delay", 0, 10_000), loss=number("loss", 0, 1),
                   backlog=whole("backlog", 1, 65535), syncookies=whole("syncookies", 0, 2),
                   synack_retries=whole("synack_retries", 0, 10), time_wait=number("time_wait", 0, 600),
                   close=close,  # type: ignore[arg-type]  # (checked above)
                   close_at=close_at, close_then=close_then, picks=tuple(picks))

    # -- how a run is changed -------------------------------------------------------------
    def adjust(self) -> Callable[[str, Config], Config] | None:
        changes: dict[str, Any] = {}
        if self.syncookies is not None:
            changes["syncookies"] = self.syncookies
        if self.synack_retries is not None:
            changes["synack_retries"] = self.synack_retries
        if self.time_wait is not None:
            changes["time_wait"] = seconds(self.time_wait)
        if not changes:
            return None
        return lambda _name, config: replace(config, **changes)

    def prepare(self, progress: Callable[[int], object] | None = None) -> Callable[[int, Network], None]:
        def prepare(run_no: int, net: Network) -> None:
            if progress is not None:
                progress(run_no)
            if self.link_delay is not None or self.loss is not None:
                net.adjust_path = self._adjust_path
            net.backlog = self.backlog
            if self.close is not None:
                net.close_hook = _Closes(self.close, self.close_at, self.close_then, net).hook
            mine = [p for p in self.picks if p.run == run_no]
            if mine:
                net.add_fault(Picks(mine))
        return prepare

    def _adjust_path(self, _name: str, params: PathParams) -> PathParams:
        changes: dict[str, Any] = {}
        if self.link_delay is not None:
            changes["delay"] = ms(self.link_delay)
        if self.loss is not None:
            changes["loss"] = self.loss
        return replace(params, **changes)


class _Closes:
    """Who closes first, and when: the applications' own close() calls on the
    connections of the client and the server are not made (a note in the trace says
    so); instead the first closer (or both: a simultaneous close) calls close() on
    every connection it has ESTABLISHED or in CLOSE-WAIT at ``at`` (or, without
    ``at``, when the scenario's application first calls it), and the other side's
    application calls close() ``then`` ms after it reads end-of-file."""

    def __init__(self, first: CloseFirst, at: float | None, then: float | None, net: Network) -> None:
        self.first = frozenset(_CLOSERS if first == "both" else (first,))
        self.then = ms(CLOSE_THEN_MS if then is None else then)
        self.net = net
        self.started = False
        self.timed = at is not None
        self.closed: set[int] = set()
        if at is not None:
            net.at(ms(at), self.start)

    def hook(self, host: Host[Any], conn: Connection) -> bool:
        if host.name not in _CLOSERS:
            return False
        if self.net.tracing:
            self.net.trace.append(NoteRecord(
                self.net.now, host.name, "what-if: the application's close() is not made: the what-if "
                "decides who closes first and when", endpoint_str(conn.local_addr, conn.local_port),
                endpoint_str(conn.remote_addr, conn.remote_port)))
        if not self.started and not self.timed:
            self.start()
        return True

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        for name in _CLOSERS:
            host = self.net.hosts.get(name)
            if host is None:
                continue
            if name in self.first:
                open_now = [conn for conn in getattr(host.endpoint, "connections", ())
                            if conn.state in (State.ESTABLISHED, State.CLOSE_WAIT)]
                if not open_now and self.net.tracing:
                    self.net.trace.append(NoteRecord(
                        self.net.now, name,
                        "what-if: it has no ESTABLISHED or CLOSE-WAIT connection to close now"))
                for conn in open_now:
                    self._close(host, conn)
            else:
                host.on_event(self._on_event(host))

    def _on_event(self, host: Host[Any]) -> Callable[[Event], None]:
        def on_event(ev: Event) -> None:
            if isinstance(ev, PeerClosed) and id(ev.conn) not in self.closed:
                self.net.after(self.then, self._close, host, ev.conn)
        return on_event

    def _close(self, host: Host[Any], conn: Connection) -> None:
        if id(conn) in self.closed:
            return
        self.closed.add(id(conn))
        with contextlib.suppress(UsageError):  # (gone meanwhile: a RST, a timeout)
            host.close_now(conn)


def _parse_pick(kind: PickKind, token: str) -> Pick:
    parts = token.split(":")
    want = 4 if kind == "drop" else 5
    if len(parts) != want:
        form = "RUN:HOST:FLAGS:NTH" + ("" if kind == "drop" else ":MS")
        raise SettingsError(f"{kind}: {token!r} is not {form}")
    try:
        run_no, nth = int(parts[0]), int(parts[3])
        time_ms = float(parts[4]) if kind != "drop" else 0.0
        parse_flags(parts[2])
    except ValueError as exc:
        raise SettingsError(f"{kind}: {token!r}: {exc}") from None
    if run_no < 1 or nth < 1 or not parts[1]:
        raise SettingsError(f"{kind}: {token!r}: run and count start at 1, and a host is named")
    if not 0 <= time_ms <= MAX_PICK_MS:
        raise SettingsError(f"{kind}: {token!r}: the time is outside 0..{MAX_PICK_MS} ms")
    return Pick(kind, run_no, parts[1], parts[2], nth, time_ms)


# -- the scenarios, as the page lists them ------------------------------------------------
def catalogue() -> dict[str, Any]:
    """The scenarios in the tour's order, grouped by the seed's sections (consecutive
    scenarios of one section form one group), then the byte-stream scenarios."""
    groups: list[dict[str, Any]] = []
    for name in TOUR:
        scenario = get(name)
        if not groups or groups[-1]["section"] != scenario.section or groups[-1]["stream"]:
            groups.append({"section": scenario.section, "en": SECTIONS_EN.get(scenario.section, ""),
                           "stream": False, "scenarios": []})
        groups[-1]["scenarios"].append(_describe(scenario))
    groups.append({"section": "字节流", "en": "The byte stream", "stream": True,
                   "scenarios": [_describe(get(name)) for name in STREAM]})
    extra = [name for name in ALL if name not in TOUR and name not in STREAM]
    if extra:  # (every name ALL knows is in one of the two, today)
        groups.append({"section": "其他", "en": "Others", "stream": False,
                       "scenarios": [_describe(get(name)) for name in extra]})
    return {"groups": groups, "tour": list(TOUR), "stream": list(STREAM)}


def _describe(scenario: Scenario) -> dict[str, Any]:
    return {"name": scenario.name, "title": {"en": scenario.title.en, "zh": scenario.title.zh},
            "section": scenario.section, "section_en": SECTIONS_EN.get(scenario.section, ""),
            "explanation": {"en": scenario.explanation.en, "zh": scenario.explanation.zh},
            "proofs": scenario.proofs, "close": scenario.name in CLOSE_SCENARIOS}


def _evidence(e: Evidence) -> dict[str, Any]:
    return {"scenario": e.scenario, "run": e.run, "shows": {"en": e.shows.en, "zh": e.shows.zh}}


def cards() -> list[dict[str, Any]]:
    """The seed's questions as cards (:mod:`synack.views.cards`): each its short answer,
    the runs that prove it and the counterfactual runs, in English and Chinese."""
    return [{"key": c.key, "section": c.section, "question": {"en": c.question.en, "zh": c.question.zh},
             "answer": {"en": c.answer.en, "zh": c.answer.zh}, "proof": [_evidence(e) for e in c.proof],
             "counterfactual": [_evidence(e) for e in c.counterfactual]} for c in CARDS]


def diagram() -> dict[str, Any]:
    """The state machine as the core states it: the states and every legal edge with
    its reason (``state.TRANSITIONS``), in English and Chinese."""
    return {"states": [s.value for s in State],
            "edges": [{"from": a.value, "to": b.value, "en": why, "zh": TRANSITIONS_ZH[(a, b)]}
                      for (a, b), why in TRANSITIONS.items()]}


# -- the running timers, observed ----------------------------------------------------------
#: The name of each timer slot of a :data:`~synack.core.timers.TimerTable`.  Persist
#: and the user timeout share the retransmission timer's slot: it shows as the persist
#: timer while the peer's window is shut and data waits (what the stack calls it when it
#: fires), and as the retransmission timer otherwise.
_SLOT_LABELS: Final = tuple(Timer(i).label for i in range(SLOTS))
_PERSIST: Final = Timer.PERSIST.label
#: One change: (the record's index in ``records``, host, local, remote ("*" for a
#: listener), timer, its deadline in µs or None when it stopped).
TimerChange = tuple[int, str, str, str, str, int | None]


class _TimerWatch:
    """Which timers are running on each host of one run, after each trace record.

    The trace records the retransmission, delayed-ACK, keep-alive and SYN-ACK timers
    only when they fire; the page shows them running.  This looks at the real stack: it
    reads the deadlines of a host's connections (``conn.timers``) and listeners
    (``SYNACK``: the earliest SYN-ACK retransmission of the SYN queue) and keeps only
    what changed since the last look, with the index of the last record before it: a
    timer started, moved, or stopped.  It looks at a host after each of its records
    (an observer of the network's records from before it has hosts, so every host
    traces through it: an arrival's record comes after the arrival's processing, a
    send's after the timer it starts) and at the end of each of its inputs (the
    driver's ``packets_to_send``, which every input of the simulator's hosts ends
    with: a persist timer starts there without a record).  A timer changes only while
    its host takes an input, so nothing is missed.  (Not after a drop: a segment lost
    on a link or refused by a filter changes no timer, and the stack traces its own
    drops after the arrival's record, once the arrival has been processed: the look
    after that record has seen the same.)  Nothing in the run changes: the
    records are the same objects, in the same list, in the same order."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.changes: list[TimerChange] = []
        #: Per host: each timer owner's deadlines at the last look.
        self._seen: dict[str, dict[object, list[int | None]]] = {}
        #: Per owner: its (local, remote) as the trace writes them.
        self._names: dict[object, tuple[str, str]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        #: Names in the trace that are no host with a core endpoint.
        self._not_hosts: set[str] = set()
        trace = net.trace

        def observer(rec: TraceRecord) -> None:
            if rec.__class__ is not SegmentRecord or rec.event != "drop":
                self.look(rec.host, len(trace) - 1)

        net.observe_records(observer)  # (the network's hosts and links are added after this)

    def look(self, name: str, index: int) -> None:
        seen = self._seen.get(name)
        if seen is None:
            if name in self._not_hosts:
                return
            host = self.net.hosts.get(name)
            if host is None or not isinstance(host.endpoint, Endpoint):
                self._not_hosts.add(name)  # (a link's loss, an attacker, a model: no core timers)
                return
            seen = self._seen[name] = {}
            self._endpoints[name] = host.endpoint
            self._after_inputs(name, host.endpoint)
        endpoint = self._endpoints[name]
        conns = endpoint.connections
        for conn in conns:
            slots = conn.timers[:SLOTS]
            # (the last item: whether the retransmission slot is the persist timer)
            if slots[0] is not None:
                snd = conn.snd
                slots.append(1 if snd.wnd == 0 and snd.held else None)
            else:
                slots.append(None)
            before = seen.get(conn)
            if before != slots:
                seen[conn] = slots
                self._changed(index, name, endpoint, conn, before, slots)
        listeners = endpoint.listeners
        for listener in listeners:
            slots = listener.timers[:SLOTS]
            slots.append(None)
            before = seen.get(listener)
            if before != slots:
                seen[listener] = slots
                self._changed(index, name, endpoint, listener, before, slots)
        if len(seen) != len(conns) + len(listeners):  # some are gone: closed, or no longer listening
            now = {*conns, *listeners}
            for owner in [o for o in seen if o not in now]:
                self._changed(index, name, endpoint, owner, seen.pop(owner), None)

    def _after_inputs(self, name: str, endpoint: Endpoint) -> None:
        """Look at ``name`` at the end of each of its inputs, too (from its first record
        on: its first input begins with one, a note of the application's call or an
        arrival)."""
        send = endpoint.packets_to_send
        trace = self.net.trace

        def packets_to_send(now: int) -> list[Packet]:
            out = send(now)
            self.look(name, len(trace) - 1)
            return out

        endpoint.packets_to_send = packets_to_send  # type: ignore[method-assign]

    def _changed(self, index: int, name: str, endpoint: Endpoint, owner: object,
                 before: list[int | None] | None, after: list[int | None] | None) -> None:
        old = self._running(before)
        new = self._running(after)
        local, remote = self._name(owner, endpoint)
        for label in old:
            if label not in new:
                self.changes.append((index, name, local, remote, label, None))
        for label, deadline in new.items():
            if old.get(label) != deadline:
                self.changes.append((index, name, local, remote, label, deadline))

    @staticmethod
    def _running(slots: list[int | None] | None) -> dict[str, int]:
        if slots is None:
            return {}
        out = {_SLOT_LABELS[i]: deadline for i, deadline in enumerate(slots[:SLOTS]) if deadline is not None}
        if slots[SLOTS] and "retransmit" in out:
            out[_PERSIST] = out.pop("retransmit")
        return out

    def _name(self, owner: object, endpoint: Endpoint) -> tuple[str, str]:
        names = self._names.get(owner)
        if names is None:
            if isinstance(owner, Listener):
                names = (endpoint_str(owner.addr or endpoint.addresses[0], owner.port), "*")
            else:
                assert isinstance(owner, Connection)
                names = (endpoint_str(owner.local_addr, owner.local_port),
                         endpoint_str(owner.remote_addr, owner.remote_port))
            self._names[owner] = names
        return names

    def table(self, offset: int) -> list[TimerChange]:
        """The changes, each record index moved by ``offset`` (where the run starts)."""
        return [(offset + i, host, local, remote, label, deadline)
                for i, host, local, remote, label, deadline in self.changes]


# -- a run -----------------------------------------------------------------------------------
@dataclass
class _Last:
    name: str
    seed: int
    settings: Settings
    runs: list[Run]
    #: Every record of every run, in the order of ``records``.
    records: list[TraceRecord]
    #: Where each run's records start in ``records``.
    offsets: list[int]


_last: _Last | None = None
#: How long a changed run may go on after the scenario stops it (the client's SYN
#: retries take 127 s), and how many events it may take to.
GO_ON: Final = seconds(130)
GO_ON_EVENTS: Final = 1_000_000


def _execute(name: str, seed: int, settings: Settings, *, capture: bool = False,
             progress: Callable[[int], object] | None = None,
             watch: dict[int, _TimerWatch] | None = None,
             ) -> tuple[list[tuple[Run, int | None]], str | None]:
    """The scenario's runs, each with the time at which the scenario stopped it when
    the playground let it go on (None: it did not), and what stopped the scenario's
    own script, if anything did.

    A changed run goes on after the scenario stops it, for up to :data:`GO_ON` more
    (until nothing is left to do, if that is sooner): what a change sets off (a
    retransmission after a drop, the SYN-ACK retries of a shorter backlog) often comes
    after the moment the scenario looked.  A scenario's script expects its own course
    (its comments look for the segments it knows); when a change takes the run
    elsewhere and the script fails, the runs made so far are kept, with the error.
    The seed's run is the scenario's, exactly."""
    scenario = get(name)
    inner = settings.prepare(progress) if settings.changed or progress else None
    prepare: Callable[[int, Network], None] | None = inner
    if watch is not None:
        def watched(run_no: int, net: Network) -> None:
            watch[id(net)] = _TimerWatch(net)  # (first: it traces what the settings do too)
            if inner is not None:
                inner(run_no, net)
        prepare = watched
    ctx = Context(seed, capture=capture, adjust=settings.adjust(), prepare=prepare)
    failed: str | None = None
    try:
        runs = list(scenario.build(ctx))
    except Exception as exc:
        if not settings.changed:
            raise
        runs = list(ctx.runs)
        failed = f"{type(exc).__name__}: {exc}"
    out: list[tuple[Run, int | None]] = []
    for one in runs:
        stopped: int | None = None
        net = one.network
        if settings.changed and net.scheduler.peek() is not None:
            stopped = net.now
            with contextlib.suppress(EventLimitExceeded):  # (a run that never settles: what ran is drawn)
                net.run(until=stopped + GO_ON, max_events=GO_ON_EVENTS)
        out.append((one, stopped))
    return out, failed


def document(name: str, seed: int = 1, params: Mapping[str, str] | None = None, *,
             progress: Callable[[int], object] | None = None) -> str:
    """Run ``name`` with ``seed`` and the what-if ``params`` (:meth:`Settings.parse`);
    the document the page draws (the module docstring lists its parts), as JSON text.
    ``progress(run_no)`` hears of each run as it starts.  SettingsError when the
    settings cannot run."""
    global _last
    if name not in ALL:
        raise SettingsError(f"unknown scenario {name!r}")
    settings = Settings.parse(params or {})
    if settings.close is not None and name not in CLOSE_SCENARIOS:
        raise SettingsError(f"close: who closes first is a setting of {', '.join(CLOSE_SCENARIOS)}, "
                            f"not of {name}")
    started = time.perf_counter()
    watch: dict[int, _TimerWatch] = {}
    executed, failed = _execute(name, seed, settings, progress=progress, watch=watch)
    if not executed:
        raise SettingsError(f"the scenario's script stopped before any run: {failed}")
    runs = [one for one, _ in executed]
    elapsed = time.perf_counter() - started
    lines: list[str] = []
    everything: list[TraceRecord] = []
    out_runs: list[dict[str, Any]] = []
    picks: dict[int, str] = {}
    writer = LineWriter()
    for n, (one, stopped) in enumerate(executed, 1):
        start = len(lines)
        counts: dict[tuple[str, str], int] = {}
        no_route = {r.flight for r in one.records
                    if isinstance(r, SegmentRecord) and r.event == "drop" and r.reason is Loss.NO_ROUTE}
        tail = f',"run":{n}' if len(runs) > 1 else ""
        line = writer.line
        for rec in one.records:
            if (isinstance(rec, SegmentRecord) and rec.event == "send" and rec.seg is not None
                    and rec.flight not in no_route):
                flags = flags_str(rec.seg.flags)
                key = (rec.host, flags)
                counts[key] = counts.get(key, 0) + 1
                picks[len(lines)] = f"{rec.host}:{flags}:{counts[key]}"
            lines.append(line(rec, tail))
        everything.extend(one.records)
        out_runs.append({
            "n": n, "label": {"en": one.label.en, "zh": one.label.zh}, "left": one.left, "right": one.right,
            "start": start, "end": len(lines),
            "facts": _close_facts(one) if settings.close is not None else
            [{"en": f.en, "zh": f.zh} for f in one.facts], "metrics": one.metrics,
            "hosts": {h.name: list(h.addresses) for h in one.network.hosts.values()},
            "listeners": _listeners(one), "stopped_us": stopped,
            "timers": watch[id(one.network)].table(start) if id(one.network) in watch else [],
        })
    _last = _Last(name, seed, settings, runs, everything, [r["start"] for r in out_runs])
    head = json.dumps({"scenario": _describe(get(name)), "seed": seed, "settings": settings.as_params(),
                       "script_error": failed, "runs": out_runs, "picks": picks,
                       "elapsed_ms": round(elapsed * 1000)}, ensure_ascii=False, separators=(",", ":"))
    return head[:-1] + ',"records":[' + ",".join(lines) + "]}"


_ZH_HOST: Final = {"client": "客户端", "server": "服务器"}


def _close_facts(one: Run) -> list[dict[str, str]]:
    """What a run with "who closes first" changed shows, read from its trace: the
    scenario's own facts describe its own course (who closes first there) and are
    left out."""
    facts = [{"en": "who closes first was changed: the scenario's own commentary, written for its own "
                    "course, is left out; what this run shows, read from its trace:",
              "zh": "改变了谁先关闭：场景自带的说明是针对它自己的进程写的，这里略去；"
                    "下面是从这次运行的跟踪记录读出的结果："}]
    sent = [(t, host, flags) for t, host, flags, *_ in one.sent() if host in _CLOSERS]
    first = next(((t, host) for t, host, flags in sent if "F" in flags), None)
    if first is None:
        facts.append({"en": "nobody sent a FIN", "zh": "没有任何一方发出 FIN"})
        return facts
    t0, who = first
    together = [host for t, host, flags in sent if "F" in flags and t == t0]
    if len(set(together)) == 2:
        facts.append({"en": f"both sent their FIN at {t0 / 1e6:g} s: a simultaneous close",
                      "zh": f"双方在 {t0 / 1e6:g} 秒同时发出 FIN：同时关闭"})
    else:
        facts.append({"en": f"the first FIN: the {who}'s, at {t0 / 1e6:g} s",
                      "zh": f"第一个 FIN 来自{_ZH_HOST[who]}，在 {t0 / 1e6:g} 秒"})
    close = [(host, flags) for t, host, flags in sent if t >= t0]
    facts.append({"en": f"the close took {len(close)} segments: " + ", ".join(f"{h} {f}" for h, f in close),
                  "zh": f"关闭用了 {len(close)} 个报文："
                        + "，".join(f"{_ZH_HOST[h]} {f}" for h, f in close)})
    for host in _CLOSERS:
        times = one.state_times(host)
        path = [new for _t, _old, new in times]
        if "ESTABLISHED" in path:
            path = path[path.index("ESTABLISHED"):]
        entered = {new: t for t, _old, new in times}
        wait_en = wait_zh = ""
        if "TIME-WAIT" in entered and path and path[-1] == "CLOSED":
            secs = (entered["CLOSED"] - entered["TIME-WAIT"]) / 1e6
            wait_en, wait_zh = f" (TIME-WAIT {secs:g} s)", f"（TIME-WAIT {secs:g} 秒）"
        facts.append({"en": f"{host}: " + " → ".join(path) + wait_en,
                      "zh": f"{_ZH_HOST[host]}：" + " → ".join(path) + wait_zh})
    return facts


def run(name: str, seed: int = 1, params: Mapping[str, str] | None = None, *,
        progress: Callable[[int], object] | None = None) -> dict[str, Any]:
    """:func:`document`, read back: ``records`` the list of record objects, ``picks``
    keyed by the record's index as text (as the page reads it)."""
    doc: dict[str, Any] = json.loads(document(name, seed, params, progress=progress))
    return doc


def _listeners(one: Run) -> list[dict[str, Any]]:
    """Each listener still open at the end of the run: its queue limits, as the core
    has them (the trace shows the entries coming and going, not the limits)."""
    out = []
    for host in one.network.hosts.values():
        listeners: list[Listener] | None = getattr(host.endpoint, "listeners", None)  # (a model has none)
        for lst in listeners or ():
            addr = lst.addr or host.addresses[0]
            local = f"[{addr}]:{lst.port}" if ":" in addr else f"{addr}:{lst.port}"
            out.append({"host": host.name, "local": local, "port": lst.port, "backlog": lst.backlog,
                        "syn_queue_limit": lst.syn_queue_limit,
                        "accept_queue_limit": lst.accept_queue_limit, "syncookies": lst.config.syncookies})
    return out


def run_json(name: str, seed: int = 1, params_json: str = "{}",
             progress: Callable[[int], object] | None = None) -> bytes:
    """:func:`document` for the page, as UTF-8 bytes (Pyodide hands bytes to JavaScript
    at once; a long text with non-ASCII characters, slowly); ``params_json``: the URL's
    parameters as a JSON object.  A setting that cannot run gives ``{"error": "..."}``."""
    try:
        params = json.loads(params_json)
        text = document(name, seed, {str(k): str(v) for k, v in params.items()}, progress=progress)
    except SettingsError as exc:
        text = json.dumps({"error": str(exc)}, ensure_ascii=False)
    return text.encode("utf-8")


def _need_last() -> _Last:
    if _last is None:
        raise RuntimeError("nothing has run yet")
    return _last


def svg(run_no: int, lang: str = "en") -> str | None:
    """The ladder of run ``run_no`` (from 1) of the last run, as SVG (each segment's
    ``data-event`` its send record's index in the last run's ``records``), or None
    when this synack has no SVG view."""
    last = _need_last()
    try:
        module = importlib.import_module("synack.views.svg")
    except ImportError:
        return None
    one = last.runs[run_no - 1]
    text: str = module.ladder_svg([(one.records, last.offsets[run_no - 1])], lang=lang,
                                  names=[(one.left, one.right)])
    return text


def extras(run_no: int) -> dict[str, Any]:
    """For run ``run_no`` (from 1) of the last run: the quiz (:mod:`synack.views.quiz`),
    each question with ``index``, the send record it asks about in ``records``; and,
    for a scenario with proofs (``why-three``), the table of what each side has proven
    (:mod:`synack.views.proofs`), each row with ``index``, the arrival it follows."""
    last = _need_last()
    one = last.runs[run_no - 1]
    base = last.offsets[run_no - 1]
    drawn = (one.left, one.right)
    sends, arrivals = [], []
    for i, rec in enumerate(one.records):
        if isinstance(rec, SegmentRecord) and rec.seg is not None and rec.host in drawn:
            if rec.event == "send":
                sends.append(base + i)
            elif rec.event == "recv":
                arrivals.append(base + i)
    questions = quiz(one.records, one.left, one.right)
    if len(questions) != len(sends):
        raise RuntimeError(f"{len(questions)} questions for {len(sends)} segments sent")
    asked = [{"index": index, "step": q.step, "sender": q.sender, "state": q.state,
              "prompt": {"en": q.prompt.en, "zh": q.prompt.zh},
              "choices": {"en": [c.label("en") for c in q.choices], "zh": [c.label("zh") for c in q.choices]},
              "answer": q.answer, "why": {"en": q.why.en, "zh": q.why.zh}}
             for index, q in zip(sends, questions, strict=True)]
    out: dict[str, Any] = {"run": run_no, "quiz": asked, "proofs": None}
    if get(last.name).proofs:
        rows = proof_rows(one.records, one.left, one.right)
        if len(rows) != len(arrivals):
            raise RuntimeError(f"{len(rows)} proof rows for {len(arrivals)} arrivals")
        out["proofs"] = {"headers": {lang: list(TABLE_HEADERS[lang]) for lang in ("en", "zh")},
                         "rows": {lang: [list(r) for r in proof_table(rows, lang)] for lang in ("en", "zh")},
                         "index": arrivals}
    return out


def extras_json(run_no: int) -> bytes:
    """:func:`extras` as UTF-8 JSON bytes, for the page."""
    return json.dumps(extras(run_no), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def pcap(run_no: int) -> bytes:
    """Run ``run_no`` of the last run again, captured, as a pcap file's bytes."""
    last = _need_last()
    runs, _ = _execute(last.name, last.seed, last.settings, capture=True)
    buf = io.BytesIO()
    writer = PcapWriter(buf)
    for t_us, data in runs[run_no - 1][0].packets:
        writer.write(t_us, data)
    writer.close()
    return buf.getvalue()


def packet_hex(index: int) -> dict[str, Any] | None:
    """The bytes of record ``index`` of the last run's ``records`` (a segment): the IP
    packet as hex, and where its IP header, TCP header, options and payload lie."""
    rec = _need_last().records[index]
    if not isinstance(rec, SegmentRecord) or rec.seg is None:
        return None
    data = build_packet(rec.seg, rec.src, rec.dst)
    ip_len = 40 if ":" in rec.src else 20
    tcp_len = (data[ip_len + 12] >> 4) * 4
    return {"hex": data.hex(), "ip": ip_len, "tcp": 20, "options": tcp_len - 20,
            "payload": len(data) - ip_len - tcp_len}
