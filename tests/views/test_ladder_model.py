"""The ladder's model: sides, flights (send to arrivals or loss, paired by flight id),
and events, from simulated runs and hand-built records."""

from __future__ import annotations

from typing import Any

from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.errors import DropReason
from synack.core.state import State
from synack.core.timers import Timer
from synack.core.trace import (
    Loss,
    NoteRecord,
    SegmentRecord,
    StateRecord,
    TimerAction,
    TimerRecord,
    TraceRecord,
    Verdict,
)
from synack.core.wire import ACK, FIN, SYN, Options, Segment
from synack.scenarios import get
from synack.sim import Host, Network, ms, seconds
from synack.views.ladder import Arrival, Flight, Ladder, build_ladder
from synack.views.ladder.model import Note, StateChange, TimerEvent

C, S = "10.0.0.1", "10.0.0.2"


def handshake_over(**link: Any) -> Ladder:
    """A client connecting to a listening server over a link with ``link``'s impairments."""
    net = Network(seed=1, trace=True)
    client: Host[Endpoint] = net.add_host("client", [C], Config())
    server: Host[Endpoint] = net.add_host("server", [S], Config())
    net.connect(client, server, delay=ms(10), **link)
    server.listen(80)
    net.at(0, lambda: client.connect(S, 80))
    net.run(until=seconds(5))
    return build_ladder(net.trace, "client", "server")


def drawn(model: Ladder) -> list[Flight]:
    return [f for f in model.flights if f.sender is not None]


# -- who is who --------------------------------------------------------------------------
def test_sides_know_their_addresses_ports_and_first_state() -> None:
    model = build_ladder(get("handshake").run(1)[0].records, "client", "server")
    assert model.left.name == "client" and model.right.name == "server"
    assert model.left.addresses == ("192.0.2.1",) and model.right.addresses == ("192.0.2.2",)
    assert model.right.ports == (80,) and model.right.endpoint == "192.0.2.2:80"
    assert model.left.initial is State.CLOSED and model.right.initial is State.LISTEN
    assert not model.show_ports and model.whole_ms


def test_two_connections_show_ports() -> None:
    model = build_ladder(get("queues").run(1)[0].records, "client", "server")
    assert model.show_ports
    assert len(model.left.ports) == 4 and model.left.endpoint == "192.0.2.1"


# -- flights -------------------------------------------------------------------------------
def test_every_flight_carries_its_send_and_arrival_times() -> None:
    model = handshake_over()
    syn, synack, ack = drawn(model)
    assert [f.id for f in (syn, synack, ack)] == [1, 2, 3]
    assert (syn.sender, syn.receiver, syn.rightwards) == ("client", "server", True)
    assert (synack.sender, synack.receiver, synack.rightwards) == ("server", "client", False)
    for f, sent in ((syn, 0), (synack, ms(10)), (ack, ms(20))):
        assert f.sent_us == sent
        (arrival,) = f.arrivals
        assert arrival.t_us == sent + ms(10) and arrival.verdict is Verdict.ACCEPTED and arrival.copy == 0
        assert arrival.flight is f and f.lost is None


def test_crossing_syns_cross() -> None:
    # B connects 5 ms after A: each SYN leaves before the other arrives.
    model = build_ladder(get("simultaneous-open").run(1)[1].records, "A", "B")
    a_syn, b_syn = (f for f in model.flights if f.seg is not None and f.seg.flags == SYN)
    assert a_syn.rightwards and not b_syn.rightwards
    assert a_syn.sent_us < b_syn.arrivals[0].t_us and b_syn.sent_us < a_syn.arrivals[0].t_us
    assert (a_syn.sent_us, a_syn.arrivals[0].t_us) == (ms(100), ms(110))
    assert (b_syn.sent_us, b_syn.arrivals[0].t_us) == (ms(105), ms(115))


def test_crossing_fins_cross() -> None:
    model = build_ladder(get("simultaneous-close").run(1)[0].records, "client", "server")
    fins = [f for f in model.flights if f.seg is not None and f.seg.flags & FIN]
    assert len(fins) == 2 and fins[0].rightwards != fins[1].rightwards
    assert all(f.sent_us == ms(300) and f.arrivals[0].t_us == ms(310) for f in fins)


def test_a_duplicating_link_gives_one_flight_two_arrivals() -> None:
    model = handshake_over(duplicate=1.0)
    syn = drawn(model)[0]
    first, copy = syn.arrivals
    assert (first.copy, copy.copy) == (0, 1) and first.t_us == copy.t_us == ms(10)
    assert first.verdict is Verdict.ACCEPTED and copy.verdict is Verdict.DUPLICATE
    arrivals = [e for e in model.events if isinstance(e, Arrival)]
    assert sum(a.flight is syn for a in arrivals) == 2


def test_a_corrupted_arrival_is_a_drop_of_its_own_flight() -> None:
    model = handshake_over(corrupt=1.0)
    syn = drawn(model)[0]
    assert syn.seg is not None and syn.seg.flags == SYN
    (arrival,) = syn.arrivals
    assert arrival.verdict is Verdict.DROPPED and arrival.reason is DropReason.BAD_CHECKSUM


def test_a_network_loss_and_a_stack_drop() -> None:
    model = build_ladder(get("lost-synack").run(1)[0].records, "client", "server")
    (flight,) = (f for f in model.flights if f.lost is not None)
    assert flight.sender == "server" and not flight.arrivals and flight.lost is not None
    assert flight.lost.reason is Loss.FAULT and flight.lost.text == "fault: drop #1 flags_are('SA')"
    queues = build_ladder(get("queues").run(1)[0].records, "client", "server")
    refused = [a for f in queues.flights for a in f.arrivals if a.verdict is Verdict.DROPPED]
    assert refused and all(len(a.flight.arrivals) == 1 for a in refused)   # the drop record adds none
    assert {a.reason for a in refused} == {DropReason.ACCEPT_QUEUE_FULL, DropReason.LISTEN_ACK}


def test_trimmed_and_duplicate_verdicts_are_kept() -> None:
    model = build_ladder(get("data-on-syn").run(1)[0].records, "client", "server")
    syn = drawn(model)[0]
    assert syn.arrivals[0].verdict is Verdict.TRIMMED and syn.arrivals[0].reason is DropReason.SYN_DATA
    model = build_ladder(get("lost-synack").run(1)[0].records, "client", "server")
    dups = [a for f in model.flights for a in f.arrivals if a.verdict is Verdict.DUPLICATE]
    assert [(a.host, a.flight.seg.flags if a.flight.seg else 0) for a in dups] == [
        ("server", SYN), ("client", SYN | ACK)]


def test_spoofed_syns_come_from_outside_and_answers_leave() -> None:
    model = build_ladder(get("syn-flood").run(1)[0].records, "client", "server")
    inbound = [f for f in model.flights if f.sender is None]
    outbound = [f for f in model.flights if f.receiver is None]
    assert len(inbound) == 2 and all(f.receiver == "server" and f.rightwards for f in inbound)
    assert all(f.peer == f.src and f.sent_us == f.arrivals[0].t_us for f in inbound)
    assert outbound and all(f.sender == "server" and f.peer == f.dst for f in outbound)
    assert all(f.lost is not None and f.lost.reason is Loss.NO_ROUTE for f in outbound)


def test_a_send_from_a_host_not_drawn_gives_its_flight_a_send_time() -> None:
    spoofed = Segment(5555, 80, 777, 0, SYN, 1024)
    recs: list[TraceRecord] = [
        SegmentRecord(50, "attacker", "send", "203.0.113.7", S, spoofed, flight=9),
        SegmentRecord(60, "server", "recv", "203.0.113.7", S, spoofed, None, 9, Verdict.ACCEPTED),
    ]
    (f,) = build_ladder(recs, "client", "server").flights
    assert f.sender is None and f.sent_us == 50 and f.arrivals[0].t_us == 60 and f.peer == "203.0.113.7"


# -- numbers and events --------------------------------------------------------------------
def test_numbers_are_relative_to_each_isn_sack_blocks_too() -> None:
    syn = Segment(40000, 80, 1000, 0, SYN, 65535)
    synack = Segment(80, 40000, 5000, 1001, SYN | ACK, 65535)
    sack = Segment(80, 40000, 5001, 1001, ACK, 65535, Options(sack_blocks=((2461, 3921),)))
    recs: list[TraceRecord] = []
    for i, (sender, s) in enumerate((("client", syn), ("server", synack), ("server", sack)), 1):
        src, dst = (C, S) if sender == "client" else (S, C)
        recs.append(SegmentRecord(i * 10, sender, "send", src, dst, s, flight=i))
    nums = [f.numbers for f in build_ladder(recs, "client", "server").flights]
    assert nums[0] is not None and nums[1] is not None and nums[2] is not None
    assert (nums[0].seq, nums[1].seq, nums[1].ack) == (0, 0, 1)
    assert (nums[2].seq, nums[2].ack, nums[2].sack_blocks) == (1, 1, ((1461, 2921),))


def test_events_in_trace_order_with_timers_by_kind() -> None:
    ce, se = f"{C}:40000", f"{S}:80"
    syn = Segment(40000, 80, 1000, 0, SYN, 65535)
    recs: list[TraceRecord] = [
        NoteRecord(0, "client", "connect()"),
        StateRecord(0, "client", ce, se, State.CLOSED, State.SYN_SENT),
        SegmentRecord(0, "client", "send", C, S, syn, flight=1),
        TimerRecord(0, "client", ce, se, Timer.RETRANSMIT, TimerAction.ARMED, 1_000_000),
        NoteRecord(5, "link", "not drawn"),
        SegmentRecord(10, "server", "recv", C, S, syn, None, 1, Verdict.ACCEPTED),
    ]
    events = build_ladder(recs, "client", "server").events
    assert [type(e) for e in events] == [Note, StateChange, Flight, TimerEvent, Arrival]
    note, change, _f, timer, _a = events
    assert isinstance(note, Note) and note.text == "app: connect()"
    assert isinstance(change, StateChange) and change.new is State.SYN_SENT
    assert isinstance(timer, TimerEvent) and timer.timer is Timer.RETRANSMIT
    assert timer.action is TimerAction.ARMED and timer.deadline == 1_000_000


def test_flight_0_falls_back_to_pairing_by_segment() -> None:
    syn = Segment(40000, 80, 1000, 0, SYN, 65535)
    recs: list[TraceRecord] = [
        SegmentRecord(0, "client", "send", C, S, syn),
        SegmentRecord(1_000, "client", "send", C, S, syn),
        SegmentRecord(1_010, "server", "recv", C, S, syn),
        SegmentRecord(5_000, "server", "recv", C, S, syn),
    ]
    first, second = build_ladder(recs, "client", "server").flights
    assert first.id == second.id == 0
    # No delay known yet: the first receive takes the latest sent; the held one comes last.
    assert second.arrivals[0].t_us == 1_010 and first.arrivals[0].t_us == 5_000


def test_the_model_of_a_long_trace_is_built_in_one_pass() -> None:
    model = build_ladder(get("syn-flood").run(1)[0].records, "client", "server")
    assert len(model.events) > 100
    # (it ends when the client's last attempt, at 10.75 s, gives up: the two spoofed entries the
    # trace keeps are pruned at 8 s, Linux's reqsk_timer_handler, not timed out at 64 s)
    assert not model.whole_ms and model.end_us == ms(17_750)
