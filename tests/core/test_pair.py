"""Two endpoints joined in memory (aioquic's transfer/roundtrip, h11's ConnectionPair).

``transfer(a, b, now)`` moves what ``a`` has to send into ``b``;
``roundtrip_until_idle`` repeats both ways until nothing moves (with a round limit);
``run(...)`` also lets time jump to the next deadline when the wire is idle.  The
links have no delay: every exchange at one ``now`` settles before the clock moves.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support.harness import drain_events
from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.events import AcceptReady, Closed, Connected, Event, PeerClosed, Readable
from synack.core.isn import FixedIsn
from synack.core.state import State

A_ADDR, B_ADDR = "10.0.0.1", "10.0.0.2"
PORT = 80
DEFAULT = Config()


def pair(config: Config = DEFAULT, a_iss: int = 2**32 - 100, b_iss: int = 10000) -> tuple[Endpoint, Endpoint]:
    a = Endpoint([A_ADDR], config, name="A", isn=FixedIsn(a_iss))
    b = Endpoint([B_ADDR], config, name="B", isn=FixedIsn(b_iss))
    return a, b


def transfer(src: Endpoint, dst: Endpoint, now: int, drop: Callable[[int], bool] | None = None) -> int:
    """Deliver everything ``src`` sends now to ``dst``; ``drop(i)`` loses the i-th packet."""
    packets = src.packets_to_send(now)
    for i, p in enumerate(packets):
        if drop is None or not drop(i):
            dst.receive_segment(p.seg, p.src, p.dst, now)
    return len(packets)


def roundtrip_until_idle(a: Endpoint, b: Endpoint, now: int, max_rounds: int = 200,
                         on_round: Callable[[], None] | None = None) -> int:
    """Exchange segments at ``now`` until neither side sends; returns the rounds used."""
    for rounds in range(max_rounds):
        moved = transfer(a, b, now) + transfer(b, a, now)
        if on_round is not None:
            on_round()
            moved += transfer(a, b, now) + transfer(b, a, now)
        if not moved:
            return rounds
    raise AssertionError(f"still busy after {max_rounds} rounds")


def next_deadline(a: Endpoint, b: Endpoint) -> int | None:
    times = [t for t in (a.next_timeout(), b.next_timeout()) if t is not None]
    return min(times) if times else None


def run(a: Endpoint, b: Endpoint, now: int, until: Callable[[], bool], limit: int = seconds(600),
        on_round: Callable[[], None] | None = None) -> int:
    """Exchange, then jump to the next deadline, until ``until()``; returns the time."""
    while True:
        roundtrip_until_idle(a, b, now, on_round=on_round)
        if until():
            return now
        t = next_deadline(a, b)
        assert t is not None and t <= limit, f"stuck at {now} (next deadline {t})"
        now = max(now, t)
        a.handle_timeout(now)
        b.handle_timeout(now)


def connected_pair(config: Config = DEFAULT, **kw: int) -> tuple[Endpoint, Endpoint, Connection, Connection]:
    a, b = pair(config, **kw)
    listener = b.listen(PORT)
    ca = a.connect(B_ADDR, PORT, 0)
    roundtrip_until_idle(a, b, 0)
    cb = listener.accept()
    assert cb is not None
    assert ca.state is State.ESTABLISHED and cb.state is State.ESTABLISHED
    return a, b, ca, cb


class Reader:
    """Reads everything a connection receives (the application's side)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.data = bytearray()

    def __call__(self) -> None:
        if self.conn.state is not State.CLOSED or self.conn.bytes_readable:
            self.data += self.conn.read()


class Writer:
    """Keeps a connection's send buffer fed from ``data``."""

    def __init__(self, conn: Connection, data: bytes) -> None:
        self.conn = conn
        self.data = data
        self.pos = 0

    def __call__(self) -> None:
        if self.pos < len(self.data):
            self.pos += self.conn.send(self.data[self.pos:])

    @property
    def done(self) -> bool:
        return self.pos == len(self.data)


def test_pair_handshake_events(iss: tuple[int, int]) -> None:
    a, b = pair(a_iss=iss[0], b_iss=iss[1])
    listener = b.listen(PORT)
    ca = a.connect(B_ADDR, PORT, 0)
    rounds = roundtrip_until_idle(a, b, 0)
    assert rounds == 2  # SYN, SYN-ACK / ACK, then nothing
    cb = listener.accept()
    assert cb is not None
    assert drain_events(a) == [Connected(ca)]
    assert drain_events(b) == [Connected(cb), AcceptReady(listener)]
    assert (ca.snd_nxt, ca.rcv_nxt) == (cb.rcv_nxt, cb.snd_nxt)


def test_pair_few_kb_both_ways_with_half_close(iss: tuple[int, int]) -> None:
    a, b, ca, cb = connected_pair(a_iss=iss[0], b_iss=iss[1])
    up = bytes(i % 251 for i in range(5000))
    down = bytes(i % 241 for i in range(7000))
    ra, rb = Reader(ca), Reader(cb)
    wa, wb = Writer(ca, up), Writer(cb, down)

    def app() -> None:
        wa()
        wb()
        ra()
        rb()

    now = run(a, b, 0, lambda: wa.done and wb.done and len(rb.data) == len(up) and len(ra.data) == len(down),
              on_round=app)
    assert bytes(rb.data) == up and bytes(ra.data) == down
    # A half-closes; B keeps sending, then closes too.
    ca.shutdown(now)
    now = run(a, b, now, lambda: cb.state is State.CLOSE_WAIT, on_round=app)
    assert ca.state is State.FIN_WAIT_2 and cb.at_eof
    assert PeerClosed(cb) in drain_events(b)
    more = b"tail after the half-close" * 100
    wb2 = Writer(cb, more)

    def app2() -> None:
        wb2()
        ra()

    now = run(a, b, now, lambda: wb2.done and len(ra.data) == len(down) + len(more), on_round=app2)
    assert bytes(ra.data) == down + more
    cb.close(now)
    now = run(a, b, now, lambda: cb.state is State.CLOSED)
    assert ca.state is State.TIME_WAIT and ca.at_eof
    assert b.connections == []
    end = run(a, b, now, lambda: ca.state is State.CLOSED)
    assert end == now + seconds(60)
    assert a.connections == []
    assert Closed(ca) in drain_events(a)


def test_pair_bulk_transfer_respects_the_window_and_crosses_the_wrap() -> None:
    config = Config(rcv_buf=20000, wscale=2)
    a, b, ca, cb = connected_pair(config, a_iss=2**32 - 5000)
    data = bytes(i % 256 for i in range(300_000))
    w, r = Writer(ca, data), Reader(cb)
    reads = 0

    def slow_reader() -> None:
        nonlocal reads
        reads += 1
        if reads % 3 == 0:  # the application reads only every third round
            r()
        w()
        # Never more in flight than the receiver offered.
        assert (ca.snd_max - ca.snd_una) % 2**32 <= 20000

    run(a, b, 0, lambda: len(r.data) == len(data), on_round=slow_reader)
    assert bytes(r.data) == data
    assert ca.snd_una == (2**32 - 5000 + 1 + len(data)) % 2**32


def test_pair_lost_segment_is_retransmitted_after_the_rto() -> None:
    a, b, ca, cb = connected_pair()
    ca.send(b"first")
    assert transfer(a, b, ms(1), drop=lambda i: True) == 1  # lost
    assert cb.bytes_readable == 0
    rto = ca.rto
    roundtrip_until_idle(a, b, ms(1))
    assert next_deadline(a, b) == ms(1) + rto
    a.handle_timeout(ms(1) + rto)
    roundtrip_until_idle(a, b, ms(1) + rto)
    assert cb.read() == b"first"
    assert ca.snd_una == ca.snd_max and a.stats.retransmits == 1


def test_pair_lost_synack_is_recovered_by_retransmission() -> None:
    a, b = pair()
    listener = b.listen(PORT)
    ca = a.connect(B_ADDR, PORT, 0)
    transfer(a, b, 0)  # SYN arrives
    transfer(b, a, 0, drop=lambda i: True)  # SYN-ACK lost
    # The listener's SYN-ACK timer (1 s) and the client's SYN timer (1 s) both fire.
    run(a, b, 0, lambda: ca.state is State.ESTABLISHED)
    assert listener.accept() is not None
    assert ca.rto == seconds(3)  # RFC 6298 5.7


def test_pair_simultaneous_open_settles_in_one_exchange() -> None:
    # The SYN,ACKs are pulled one side at a time: B becomes ESTABLISHED before its own
    # SYN,ACK leaves, and must still acknowledge A's SYN.
    a, b = pair()
    ca = a.connect(B_ADDR, 5000, 0, local_port=6000)
    cb = b.connect(A_ADDR, 6000, 0, local_port=5000)
    sa, sb = a.packets_to_send(0), b.packets_to_send(0)
    for p in sa:
        b.receive_segment(p.seg, p.src, p.dst, ms(5))
    for p in sb:
        a.receive_segment(p.seg, p.src, p.dst, ms(5))
    roundtrip_until_idle(a, b, ms(5))
    assert ca.state is State.ESTABLISHED and cb.state is State.ESTABLISHED
    assert a.stats.retransmits == b.stats.retransmits == 0


def test_pair_simultaneous_open() -> None:
    a, b = pair()
    ca = a.connect(B_ADDR, 5000, 0, local_port=6000)
    cb = b.connect(A_ADDR, 6000, 0, local_port=5000)
    sa, sb = a.packets_to_send(0), b.packets_to_send(0)  # the SYNs cross
    for p in sa:
        b.receive_segment(p.seg, p.src, p.dst, ms(5))
    for p in sb:
        a.receive_segment(p.seg, p.src, p.dst, ms(5))
    assert ca.state is State.SYN_RECEIVED and cb.state is State.SYN_RECEIVED
    roundtrip_until_idle(a, b, ms(5))
    assert ca.state is State.ESTABLISHED and cb.state is State.ESTABLISHED
    ca.send(b"ping")
    cb.send(b"pong")
    roundtrip_until_idle(a, b, ms(6))
    assert cb.read() == b"ping" and ca.read() == b"pong"


def test_pair_simultaneous_close() -> None:
    a, b, ca, cb = connected_pair()
    ca.close(ms(1))
    cb.close(ms(1))
    fa, fb = a.packets_to_send(ms(1)), b.packets_to_send(ms(1))  # the FINs cross
    for p in fa:
        b.receive_segment(p.seg, p.src, p.dst, ms(2))
    for p in fb:
        a.receive_segment(p.seg, p.src, p.dst, ms(2))
    assert ca.state is State.CLOSING and cb.state is State.CLOSING
    roundtrip_until_idle(a, b, ms(2))
    assert ca.state is State.TIME_WAIT and cb.state is State.TIME_WAIT
    end = run(a, b, ms(2), lambda: not a.connections and not b.connections)
    assert end == ms(2) + seconds(60)


def test_pair_connect_to_closed_port_is_refused() -> None:
    a, b = pair()
    ca = a.connect(B_ADDR, 9, 0)
    roundtrip_until_idle(a, b, 0)
    assert ca.state is State.CLOSED
    events: list[Event] = drain_events(a)
    assert [type(e).__name__ for e in events] == ["ConnectionRefused", "Closed"]


def test_pair_reset_by_abort() -> None:
    a, b, ca, cb = connected_pair()
    drain_events(b)
    cb.abort(ms(1))
    roundtrip_until_idle(a, b, ms(1))
    assert ca.state is State.CLOSED
    assert [type(e).__name__ for e in drain_events(a)] == ["Connected", "ConnectionReset", "Closed"]


@pytest.mark.parametrize("closer", ["a", "b"])
def test_pair_close_with_unread_data_resets_the_peer(closer: str) -> None:
    a, b, ca, cb = connected_pair()
    ca.send(b"unread")
    cb.send(b"unread")
    roundtrip_until_idle(a, b, ms(1))
    (ca if closer == "a" else cb).close(ms(2))
    roundtrip_until_idle(a, b, ms(2))
    assert ca.state is State.CLOSED and cb.state is State.CLOSED
    other = b if closer == "a" else a
    assert "ConnectionReset" in [type(e).__name__ for e in drain_events(other)]


def test_pair_readable_events_follow_reads() -> None:
    a, b, ca, cb = connected_pair()
    drain_events(b)
    ca.send(b"x")
    roundtrip_until_idle(a, b, ms(1))
    ca.send(b"y")
    roundtrip_until_idle(a, b, ms(2))
    assert drain_events(b) == [Readable(cb)]  # the buffer was not drained in between
    assert cb.read() == b"xy"
    ca.send(b"z")
    roundtrip_until_idle(a, b, ms(3))
    assert drain_events(b) == [Readable(cb)]
