"""Random transfers for the stream-integrity properties: write and read patterns,
link settings, stack configurations, one simulated transfer and the check that
it ended cleanly (tests/property/test_stream_integrity.py states the property)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hypothesis import Phase, settings
from hypothesis import strategies as st

from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection
from synack.core.events import (
    AcceptReady,
    Connected,
    Event,
    PeerClosed,
    Readable,
    Writable,
)
from synack.core.state import State
from synack.core.trace import SegmentRecord, StateRecord
from synack.core.wire import RST
from synack.sim import Host, Network, PathParams

CLIENT, SERVER = "192.0.2.1", "192.0.2.2"
PORT = 80
#: Virtual time one example may take (go-back-N under 20 % loss with exponential
#: back-off is slow, but far from this).
HORIZON = seconds(3600)
MAX_EVENTS = 2_000_000
#: A slow application is slow for a while, then keeps up: after this many calls it
#: writes or reads everything at once, and after pausing this long in all it reads
#: without pauses (so that every example ends well within the horizon).
MAX_CALLS = 2000
PAUSE_BUDGET = seconds(30)

Direction = Literal["up", "down", "both"]


@dataclass(frozen=True)
class Pattern:
    """How one application writes and reads."""

    write_sizes: tuple[int, ...]  # cycled through
    write_pause: int              # µs between writes (0: back to back)
    read_sizes: tuple[int, ...]   # cycled through
    read_pauses: tuple[int, ...]  # µs between reads, cycled (long ones close the window)
    full_close: bool              # close() when done writing after end of file (else shutdown())
    urgent: bool = False          # every third write is urgent data (URG and the pointer)


@dataclass
class Side:
    """One application: writes ``data``, then shuts down; reads until end of file."""

    host: Host[Any]
    name: str
    data: bytes
    pattern: Pattern
    conn: Connection | None = None
    written: int = 0
    write_step: int = 0
    read_step: int = 0
    pause_left: int = PAUSE_BUDGET
    shut: bool = False
    writing_scheduled: bool = False
    reading_scheduled: bool = False
    got: bytearray = field(default_factory=bytearray)
    eof: bool = False
    events: list[str] = field(default_factory=list)

    # -- writing ---------------------------------------------------------------------
    def start(self, conn: Connection) -> None:
        self.conn = conn
        self.write()
        self.read()

    def write(self) -> None:
        self.writing_scheduled = False
        conn = self.conn
        assert conn is not None
        if self.shut or conn.state is State.CLOSED:
            return
        while self.written < len(self.data):
            sizes = self.pattern.write_sizes
            size = sizes[self.write_step % len(sizes)] if self.write_step < MAX_CALLS else len(self.data)
            chunk = self.data[self.written:self.written + size]
            n = self.host.send(conn, chunk, urgent=self.pattern.urgent and self.write_step % 3 == 1)
            self.written += n
            if n < len(chunk):
                return  # the send buffer is full: wait for Writable
            self.write_step += 1
            if self.pattern.write_pause and self.written < len(self.data):
                self.writing_scheduled = True
                self.host.scheduler.call_later(self.pattern.write_pause, self.write)
                return
        self.shut = True
        if self.pattern.full_close and self.eof:
            self.host.close(conn)  # the peer is done too: CLOSE-WAIT -> LAST-ACK
        else:
            self.host.shutdown(conn)  # half-close: keep reading

    # -- reading ---------------------------------------------------------------------
    def read(self) -> None:
        self.reading_scheduled = False
        conn = self.conn
        if conn is None or (conn.state is State.CLOSED and not conn.bytes_readable):
            return
        if conn.bytes_readable:
            sizes = self.pattern.read_sizes
            size = sizes[self.read_step % len(sizes)] if self.read_step < MAX_CALLS else -1
            self.got += self.host.read(conn, size)
            pauses = self.pattern.read_pauses
            pause = min(pauses[self.read_step % len(pauses)], self.pause_left)
            self.pause_left -= pause
            self.read_step += 1
            if conn.bytes_readable:
                self.reading_scheduled = True
                self.host.scheduler.call_later(pause, self.read)
                return
        if conn.at_eof:
            self.eof = True

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, AcceptReady) or self.conn is None:
            return  # before the application has its connection (the starter handles it)
        if ev.conn is not self.conn:
            self.events.append(f"foreign {type(ev).__name__}")
            return
        self.events.append(type(ev).__name__)
        if isinstance(ev, Writable) and not self.writing_scheduled:
            self.write()
        elif isinstance(ev, Readable | PeerClosed) and not self.reading_scheduled:
            self.read()


@st.composite
def patterns(draw: st.DrawFn) -> Pattern:
    return Pattern(
        write_sizes=tuple(draw(st.lists(st.integers(1, 70_000), min_size=1, max_size=4))),
        write_pause=draw(st.sampled_from([0, 0, ms(1), ms(30)])),
        read_sizes=tuple(draw(st.lists(st.integers(1, 70_000), min_size=1, max_size=4))),
        read_pauses=tuple(draw(st.lists(st.sampled_from([0, ms(1), ms(50), ms(400), seconds(2)]),
                                        min_size=1, max_size=3))),
        full_close=draw(st.booleans()),
        urgent=draw(st.booleans()),
    )


@st.composite
def path_params(draw: st.DrawFn, lossless: bool = False) -> PathParams:
    """One direction of a link; ``lossless``: nothing lost, corrupted or reordered."""
    delay = draw(st.integers(0, ms(100)))
    reorder = 0.0 if lossless else draw(st.sampled_from([0.0, 0.0, 0.05, 0.2]))
    return PathParams(
        delay=delay,
        jitter=draw(st.sampled_from([0, 0, ms(1), ms(20)])),
        bandwidth=draw(st.sampled_from([None, None, 1_000_000, 10_000_000, 100_000_000])),
        loss=0.0 if lossless else draw(st.sampled_from([0.0, 0.0, 0.01, 0.05, 0.1, 0.2])),
        duplicate=draw(st.sampled_from([0.0, 0.0, 0.02, 0.1])),
        reorder=reorder,
        reorder_delay=draw(st.integers(ms(1), ms(50))) if reorder else 10_000,
        corrupt=0.0 if lossless else draw(st.sampled_from([0.0, 0.0, 0.01, 0.05])),
    )


@dataclass(frozen=True)
class Stack:
    """The knobs of one side's stack the examples vary."""

    rcv_buf: int = 65535
    snd_buf: int = 262144
    mss: int = 1460
    wscale: int | None = 7
    sack: bool = True
    nodelay: bool = False
    congestion: str = "cubic"
    timestamps: bool = False


@st.composite
def stacks(draw: st.DrawFn) -> Stack:
    rcv_buf, snd_buf = draw(st.sampled_from([(65535, 262144), (65535, 262144), (8000, 6000), (3000, 70_000),
                                             (200_000, 20_000)]))
    return Stack(rcv_buf, snd_buf, mss=draw(st.sampled_from([1460, 1460, 536])),
                 wscale=draw(st.sampled_from([7, 7, 0, 2, None])), sack=draw(st.booleans()),
                 nodelay=draw(st.booleans()), congestion=draw(st.sampled_from(["cubic", "newreno"])),
                 timestamps=draw(st.booleans()))


def stack_config(stack: Stack) -> Config:
    return Config(rcv_buf=stack.rcv_buf, snd_buf=stack.snd_buf, mss=stack.mss, wscale=stack.wscale,
                  sack=stack.sack, nodelay=stack.nodelay, congestion=stack.congestion,
                  timestamps=stack.timestamps, syn_retries=30,
                  synack_retries=30, retries2=30, time_wait=seconds(240), fin_timeout=seconds(1200))


@dataclass
class Outcome:
    net: Network
    client: Side
    server: Side


def transfer(seed: int, forward: PathParams, backward: PathParams, up: bytes, down: bytes,
             client_pattern: Pattern, server_pattern: Pattern, client_config: Config,
             server_config: Config) -> Outcome:
    """Client and server each write their bytes and read the other's, then close."""
    net = Network(seed, trace=True, max_events=MAX_EVENTS)
    ch = net.add_host("client", [CLIENT], client_config)
    sh = net.add_host("server", [SERVER], server_config)
    net.connect(ch, sh, forward=forward, backward=backward)
    client = Side(ch, "client", up, client_pattern)
    server = Side(sh, "server", down, server_pattern)
    listener = sh.listen(PORT)

    def on_server(ev: Event) -> None:
        if isinstance(ev, AcceptReady):
            conn = sh.accept(listener)
            if conn is not None:
                server.start(conn)
        server.on_event(ev)

    sh.on_event(on_server)
    ch.on_event(lambda ev: client.start(ev.conn) if isinstance(ev, Connected) and client.conn is None
                else client.on_event(ev))
    net.at(ms(1), lambda: ch.connect(SERVER, PORT))
    net.run(until=HORIZON)
    return Outcome(net, client, server)


def check_clean(out: Outcome, up: bytes, down: bytes) -> None:
    client, server, net = out.client, out.server, out.net
    note = f"seed={net.seed}, now={net.now} µs"
    assert client.conn is not None, f"never connected ({note}): {client.events}"
    assert server.conn is not None, f"never accepted ({note}): {server.events}"
    # The bytes, in order, nothing more.
    assert len(server.got) == len(up), f"server read {len(server.got)} of {len(up)} bytes ({note})"
    assert bytes(server.got) == up, f"server read different bytes ({note})"
    assert len(client.got) == len(down), f"client read {len(client.got)} of {len(down)} bytes ({note})"
    assert bytes(client.got) == down, f"client read different bytes ({note})"
    # A clean close on both sides.
    for side in (client, server):
        bad = {"ConnectionReset", "ConnectionTimedOut", "ConnectionRefused"} & set(side.events)
        assert not bad, f"{side.name}: {sorted(bad)} ({note}): {side.events}"
        assert not [e for e in side.events if e.startswith("foreign")], f"{side.name}: {side.events}"
        assert side.eof and "PeerClosed" in side.events, f"{side.name} saw no FIN ({note})"
        assert side.events.count("Closed") == 1, f"{side.name}: {side.events} ({note})"
        assert side.conn is not None and side.conn.state is State.CLOSED
        assert not side.host.endpoint.connections, f"{side.name} keeps {side.host.endpoint.connections}"
    # No RST while a connection lives.  Once its TCB is gone, a host answers a stray
    # duplicate (say, a copy of the final ACK) with RST as RFC 9293 §3.10.7.1 says; that
    # RST may end the peer's TIME-WAIT early (Linux's tcp_rfc1337 = 0), and harms no byte.
    gone: set[str] = set()
    rsts = []
    for r in net.trace:
        if isinstance(r, StateRecord) and r.new is State.CLOSED:
            gone.add(r.host)
        elif (isinstance(r, SegmentRecord) and r.event == "send" and r.seg is not None
              and r.seg.flags & RST and r.host not in gone):
            rsts.append(r)
    assert not rsts, f"RST sent by a live connection ({note}): {rsts[0]}"
    paths = {h: [r.new for r in net.trace if isinstance(r, StateRecord) and r.host == h]
             for h in ("client", "server")}
    for h, states in paths.items():
        assert states[-1] is State.CLOSED, f"{h}: {states}"
        assert State.ESTABLISHED in states, f"{h}: {states}"
    # Whoever closed first waits in TIME-WAIT; the other ends from LAST-ACK (or, when the
    # FINs crossed, both wait).
    waited = [h for h, states in paths.items() if State.TIME_WAIT in states]
    assert waited, f"nobody passed through TIME-WAIT: {paths} ({note})"
    for h, states in paths.items():
        if h not in waited:
            assert states[-2:] == [State.LAST_ACK, State.CLOSED], f"{h}: {states} ({note})"


#: Seeded and reproducible.  No shrinking: a failing example is already replayable as
#: printed (and carries the simulator's seed), and shrinking whole simulations takes
#: minutes; add ``Phase.shrink`` locally to minimise one.
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate])
SIZES = st.one_of(st.integers(0, 3000), st.integers(50_000, 200_000), st.integers(3000, 50_000))
STACKS = stacks()


def pattern_bytes(n: int, k: int, mod: int) -> bytes:
    """Distinct, position-dependent bytes: a segment put at the wrong offset shows."""
    return bytes((i * k + 3) % mod for i in range(n))


def run_and_check(seed: int, up_size: int, down_size: int, forward: PathParams, backward: PathParams,
         client_pattern: Pattern, server_pattern: Pattern, client_stack: Stack,
         server_stack: Stack) -> None:
    up = pattern_bytes(up_size, 7, 251)
    down = pattern_bytes(down_size, 13, 241)
    out = transfer(seed, forward, backward, up, down, client_pattern, server_pattern,
                   stack_config(client_stack), stack_config(server_stack))
    check_clean(out, up, down)
