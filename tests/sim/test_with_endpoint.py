"""The simulator driving the real core Endpoint."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from synack.core.config import Config
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.errors import DropReason
from synack.core.events import AcceptReady, Connected, Event, PeerClosed, Readable
from synack.core.state import State
from synack.core.trace import NoteRecord, SegmentRecord, StateRecord, TraceRecord
from synack.core.wire import ACK, SYN, flags_str
from synack.sim import Drop, Host, Network, SynFlood, flags_are, ms, seconds

C_ADDR, S_ADDR = "10.0.0.1", "10.0.0.2"


EpHost = Host[Endpoint]


def pair(seed: int = 1, config: Config | None = None, **link: Any) -> tuple[Network, EpHost, EpHost]:
    net = Network(seed=seed, trace=True)
    c = net.add_host("client", [C_ADDR], config or Config())
    s = net.add_host("server", [S_ADDR], config or Config())
    net.connect(c, s, **link)
    return net, c, s


def sent(trace: list[TraceRecord]) -> list[tuple[int, str, str]]:
    return [(r.t_us, r.host, flags_str(r.seg.flags)) for r in trace
            if isinstance(r, SegmentRecord) and r.event == "send" and r.seg is not None]


def states(trace: list[TraceRecord]) -> list[tuple[int, str, State]]:
    return [(r.t_us, r.host, r.new) for r in trace if isinstance(r, StateRecord)]


def echo_server(s: Host[Endpoint], port: int = 80) -> list[Connection]:
    lst = s.listen(port)
    accepted: list[Connection] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, AcceptReady):
            while (conn := s.accept(lst)) is not None:
                accepted.append(conn)
        elif isinstance(ev, Readable):
            data = s.read(ev.conn)
            if data:
                s.send(ev.conn, data)
        elif isinstance(ev, PeerClosed):
            s.close(ev.conn)

    s.on_event(on_event)
    return accepted


def test_handshake_times_and_numbers() -> None:
    net, c, s = pair(delay=ms(10))
    s.listen(80)
    conn: list[Connection] = []
    net.at(0, lambda: conn.append(c.connect(S_ADDR, 80)))
    net.run(until=seconds(1))
    assert sent(net.trace) == [(0, "client", "S"), (10_000, "server", "SA"), (20_000, "client", "A")]
    assert (20_000, "client", State.ESTABLISHED) in states(net.trace)
    assert (30_000, "server", State.ESTABLISHED) in states(net.trace)
    syn, synack, ack = [r.seg for r in net.trace if isinstance(r, SegmentRecord) and r.event == "send"
                        and r.seg is not None]
    assert synack.ack == syn.seq + 1 and ack.seq == syn.seq + 1 and ack.ack == synack.seq + 1
    assert conn[0].state is State.ESTABLISHED
    notes = [r.text for r in net.trace if isinstance(r, NoteRecord)]
    assert notes[:2] == ["app: listen(80, backlog=128)", "app: connect(10.0.0.2:80)"]


def test_lifecycle_ends_after_time_wait_and_the_run_goes_idle() -> None:
    net, c, s = pair(delay=ms(5))
    echo_server(s)
    got = bytearray()

    def on_client(ev: Event) -> None:
        if isinstance(ev, Connected):
            c.send(ev.conn, b"x" * 100)
        elif isinstance(ev, Readable):
            got.extend(c.read(ev.conn))
            if len(got) == 100:
                c.close(ev.conn)

    c.on_event(on_client)
    net.at(0, c.connect, S_ADDR, 80)
    net.run_until_idle()
    assert got == b"x" * 100
    # SYN 0, SYN-ACK 5, ACK + data 10, echo 15, client FIN 20, server FIN 25, last ACK 30:
    # the run ends with the client's TIME-WAIT, 2·MSL (60 s) after that.
    assert net.now == seconds(60) + ms(30)
    assert [r for r in states(net.trace) if r[2] is State.CLOSED] == \
        [(ms(35), "server", State.CLOSED), (seconds(60) + ms(30), "client", State.CLOSED)]
    times = [r.t_us for r in net.trace]
    assert times == sorted(times)


def test_lost_syn_is_retransmitted_after_the_initial_rto() -> None:
    net, c, s = pair(delay=ms(10))
    net.add_fault(Drop(flags_are("S")))
    s.listen(80)
    net.at(0, c.connect, S_ADDR, 80)
    net.run(until=seconds(2))
    assert sent(net.trace) == [(0, "client", "S"), (seconds(1), "client", "S"),
                               (seconds(1) + ms(10), "server", "SA"), (seconds(1) + ms(20), "client", "A")]
    [dropped] = [r for r in net.trace if isinstance(r, SegmentRecord) and r.event == "drop"]
    assert (dropped.t_us, dropped.host, dropped.reason_text) == (0, "client", "fault: drop #1 flags_are('S')")


def test_corrupted_packets_are_bad_checksum_drops_at_the_receiver() -> None:
    net, c, s = pair(delay=ms(1))
    net.path(c, s).configure(corrupt=1.0)
    s.listen(80)
    net.at(0, c.connect, S_ADDR, 80)
    net.run(until=seconds(10))  # SYNs at 0, 1, 3 and 7 s: all corrupted
    corrupted = net.path(c, s).stats.corrupted
    assert corrupted == 4
    dropped = s.endpoint.stats.dropped
    assert dropped[DropReason.BAD_CHECKSUM] + dropped[DropReason.BAD_DATA_OFFSET] == corrupted
    assert not [r for r in net.trace
                if isinstance(r, SegmentRecord) and r.host == "server" and r.event == "send"]


def test_same_seed_same_trace_different_seed_different_trace() -> None:
    def run(seed: int) -> list[TraceRecord]:
        net, c, s = pair(seed, delay=ms(3), jitter=ms(2), loss=0.1)
        echo_server(s)
        for i in range(5):
            net.at(i * ms(7), c.connect, S_ADDR, 80)
        net.run(until=seconds(5))
        return net.trace

    first = run(9)
    assert first == run(9)
    assert first != run(10)
    isns = {r.seg.seq for r in run(10) if isinstance(r, SegmentRecord) and r.seg is not None
            and r.seg.flags == SYN}
    assert not isns & {r.seg.seq for r in first if isinstance(r, SegmentRecord) and r.seg is not None
                       and r.seg.flags == SYN}


def test_syn_flood_fills_the_syn_queue_and_replies_go_nowhere() -> None:
    config = replace(Config(), syncookies=0, max_syn_backlog=16)
    net, c, s = pair(config=config, delay=ms(1))
    lst = s.listen(80)
    flood = SynFlood(net, S_ADDR, 80, rate_per_s=1000, start=0, duration=ms(100))
    net.run(until=ms(200))
    assert flood.sent == 100
    assert lst.syn_queue_len == 16
    assert s.endpoint.stats.dropped[DropReason.SYN_QUEUE_FULL] == 84
    assert net.no_route == 16  # one SYN-ACK per queued entry, each to a spoofed address
    rows = [row for row in s.snapshot() if row.state == "SYN-RECV"]
    assert len(rows) == 16 and all(row.remote.startswith("203.0.113.") for row in rows)
    # A legitimate client is refused a place in the SYN queue.
    conn = c.connect(S_ADDR, 80)
    net.run(until=ms(300))
    assert conn.state is State.SYN_SENT
    assert all(r.seg is not None and r.seg.flags & ACK for r in net.trace
               if isinstance(r, SegmentRecord) and r.reason_text == "no-route")


def test_ipv6_handshake_and_tap_bytes() -> None:
    net = Network(seed=2, trace=True)
    c = net.add_host("client", ["fd00::1"])
    s = net.add_host("server", ["fd00::2"])
    net.connect(c, s, delay=ms(1))
    captured: list[bytes] = []
    net.add_tap(lambda t, data: captured.append(data))
    s.listen(443)
    conn = c.connect("fd00::2", 443)
    net.run(until=ms(10))
    assert conn.state is State.ESTABLISHED
    assert [d[0] >> 4 for d in captured] == [6, 6, 6]
