"""The byte stream survives any link (Hypothesis over seeded simulator runs).

For random link settings (loss up to 20 %, duplication, reordering, corruption,
delay, jitter, bandwidth), random buffer sizes, random write and read patterns (a
reader that takes random chunks and sometimes pauses, so that its window closes and
the writer is held back), random data sizes up to 200 KB, one direction or both:

- the bytes each side reads equal, in order, the bytes the other side wrote;
- the connection closes cleanly: both sides see the peer's FIN, neither is reset
  nor times out, no RST is sent, both TCBs end CLOSED, and the side whose FIN left
  first (or both, when the FINs cross) passes through TIME-WAIT;
- no exception escapes the stack (any would carry the simulator's seed as a note).

Every example is one deterministic simulation: bounded in events and in virtual
time.  The configuration is Linux's except for generous retry limits and a long
FIN-WAIT-2 and TIME-WAIT, so that a 20 %-loss link cannot legitimately end the
connection by a time-out (what is tested here is the stream, not give-up policy).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pytest
from hypothesis import Phase, given, settings
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
from synack.scenarios.apps import accept_all, read_all
from synack.sim import Drop, Host, Network, PathParams, has_payload, where

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
                self.host.network.after(self.pattern.write_pause, self.write)
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
                self.host.network.after(pause, self.read)
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


def _config(stack: Stack) -> Config:
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


def _pattern_bytes(n: int, k: int, mod: int) -> bytes:
    """Distinct, position-dependent bytes: a segment put at the wrong offset shows."""
    return bytes((i * k + 3) % mod for i in range(n))


def _run(seed: int, up_size: int, down_size: int, forward: PathParams, backward: PathParams,
         client_pattern: Pattern, server_pattern: Pattern, client_stack: Stack,
         server_stack: Stack) -> None:
    up = _pattern_bytes(up_size, 7, 251)
    down = _pattern_bytes(down_size, 13, 241)
    out = transfer(seed, forward, backward, up, down, client_pattern, server_pattern,
                   _config(client_stack), _config(server_stack))
    check_clean(out, up, down)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), upload=st.booleans(), size=SIZES, forward=path_params(),
       backward=path_params(), client_pattern=patterns(), server_pattern=patterns(),
       client_stack=STACKS, server_stack=STACKS)
def test_one_way_stream_arrives_intact_and_closes_cleanly(
        seed: int, upload: bool, size: int, forward: PathParams, backward: PathParams,
        client_pattern: Pattern, server_pattern: Pattern, client_stack: Stack,
        server_stack: Stack) -> None:
    """Client to server or server to client, over any link."""
    _run(seed, size if upload else 0, 0 if upload else size, forward, backward, client_pattern,
         server_pattern, client_stack, server_stack)


@settings(PROPERTY, max_examples=100)
@given(seed=st.integers(0, 2**32 - 1), up_size=SIZES, down_size=SIZES,
       forward=path_params(lossless=True), backward=path_params(lossless=True),
       client_pattern=patterns(), server_pattern=patterns(), client_stack=STACKS,
       server_stack=STACKS)
def test_two_way_stream_arrives_intact_and_closes_cleanly(
        seed: int, up_size: int, down_size: int, forward: PathParams, backward: PathParams,
        client_pattern: Pattern, server_pattern: Pattern, client_stack: Stack,
        server_stack: Stack) -> None:
    """Both directions at once, over links that delay, jitter, throttle and duplicate but
    lose nothing, the client reading at once (see the next test for the rest)."""
    prompt = replace(client_pattern, read_sizes=(1 << 20,), read_pauses=(0,))
    _run(seed, up_size, down_size, forward, backward, prompt, server_pattern, client_stack,
         server_stack)


#: A livelock in the core (the deterministic reproduction is
#: test_two_way_lost_pure_acks_recover below).  Not strict: whether a random example
#: meets it depends on how the core recovers, the strict signal is the reproduction.
@settings(PROPERTY, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), up_size=SIZES, down_size=SIZES, forward=path_params(),
       backward=path_params(), client_pattern=patterns(), server_pattern=patterns(),
       client_stack=STACKS, server_stack=STACKS)
def test_two_way_stream_under_loss_arrives_intact_and_closes_cleanly(
        seed: int, up_size: int, down_size: int, forward: PathParams, backward: PathParams,
        client_pattern: Pattern, server_pattern: Pattern, client_stack: Stack,
        server_stack: Stack) -> None:
    """Both directions at once, over any link, both readers maybe slow."""
    _run(seed, up_size, down_size, forward, backward, client_pattern, server_pattern,
         client_stack, server_stack)


def test_two_way_lost_pure_acks_recover() -> None:
    """Each end sends two segments at once and every ACK they cause is lost; after that
    the link loses nothing, and the retransmissions must get both streams through and
    acknowledged."""
    net = Network(1, trace=True, max_events=MAX_EVENTS)
    ch = net.add_host("client", [CLIENT], _config(Stack()))
    sh = net.add_host("server", [SERVER], _config(Stack()))
    net.connect(ch, sh, delay=ms(10))
    listener = sh.listen(PORT)
    accepted = accept_all(sh, listener)
    got = {"client": read_all(ch), "server": read_all(sh)}
    conn = ch.connect(SERVER, PORT)
    net.run(until=ms(100))
    assert len(accepted) == 1
    net.add_fault(Drop(~has_payload() & where(lambda *_: net.now < ms(150), "before 150 ms"), count=None))
    ch.send(conn, b"c" * 2920)
    sh.send(accepted[0], b"s" * 2920)
    net.run(until=seconds(60))
    assert bytes(got["server"].get(accepted[0], b"")) == b"c" * 2920
    assert bytes(got["client"].get(conn, b"")) == b"s" * 2920
    for c in (conn, accepted[0]):
        assert c.state is State.ESTABLISHED, c
        assert c.bytes_unacked == 0, f"{c}: {c.bytes_unacked} bytes never acknowledged"


def test_transfer_harness_detects_a_broken_stream() -> None:
    """The checks can fail: a link that drops everything after the handshake leaves the
    bytes undelivered, and the check says so."""
    lossless = PathParams(delay=ms(5))
    pattern = Pattern((1000,), 0, (1000,), (0,), True)
    data = bytes(range(200)) * 50
    out = transfer(1, lossless, lossless, data, b"", pattern, pattern, _config(Stack()),
                   _config(Stack()))
    check_clean(out, data, b"")
    out.server.got[100] ^= 1
    try:
        check_clean(out, data, b"")
    except AssertionError as exc:
        assert "different bytes" in str(exc)
    else:
        raise AssertionError("a corrupted stream passed the check")


@pytest.mark.parametrize("upload", [True, False])
def test_a_heavy_one_way_example(upload: bool) -> None:
    """One fixed, heavy example each way (so a regression shows without Hypothesis's search)."""
    path = PathParams(delay=ms(20), jitter=ms(5), bandwidth=10_000_000, loss=0.1, duplicate=0.05,
                      reorder=0.1, reorder_delay=ms(15), corrupt=0.02)
    pattern = Pattern((5000, 1, 70_000), 0, (3000, 40_000), (0, ms(400)), True)
    size = 200_000
    _run(42, size if upload else 0, 0 if upload else size, path, path, pattern, pattern,
         Stack(rcv_buf=20_000, snd_buf=50_000), Stack())
