from __future__ import annotations

import pytest

from support.sim_fakes import FakeEndpoint, fake_pair, seg, send_at
from synack.core.trace import NoteRecord, SegmentRecord
from synack.core.wire import ACK, FIN, PSH, SYN
from synack.sim import (
    Delay,
    Drop,
    Duplicate,
    Hold,
    Network,
    any_segment,
    flags_are,
    from_addr,
    from_host,
    from_port,
    has_flags,
    has_payload,
    seconds,
    to_addr,
    to_host,
    to_port,
    where,
)

A, B = "10.0.0.1", "10.0.0.2"


def fault_drops(net: Network) -> list[tuple[int, int, str | None]]:
    return [(r.t_us, r.seg.seq, r.reason_text) for r in net.trace
            if isinstance(r, SegmentRecord) and r.event == "drop" and r.seg is not None]


def test_drop_hits_exactly_the_nth_match() -> None:
    net = Network(seed=1, trace=True)
    a, b = fake_pair(net, delay=10)
    fault = net.add_fault(Drop(flags_are("S"), nth=2))
    for i in range(6):
        send_at(net, i * 100, a, B, seg(i, flags=SYN if i % 2 else ACK))  # SYNs are 1, 3, 5
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [0, 1, 2, 4, 5]
    assert fault_drops(net) == [(300, 3, "fault: drop #2 flags_are('S')")]
    assert (fault.seen, fault.hits, fault.exhausted) == (3, 1, True)


def test_drop_count_and_every() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net)
    net.path(a, b).add_fault(Drop(any_segment(), nth=2, count=2))
    for i in range(5):
        send_at(net, i, a, B, seg(i))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [0, 3, 4]

    net = Network(seed=1)
    a, b = fake_pair(net)
    drop_all = net.path(a, b).add_fault(Drop(any_segment(), nth=3, count=None))
    for i in range(5):
        send_at(net, i, a, B, seg(i))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [0, 1]
    assert drop_all.describe() == "drop #3+ any_segment()"


def test_faults_are_per_direction_and_precede_random_loss() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net)
    fault = net.path(b, a).add_fault(Drop(any_segment()))
    send_at(net, 0, a, B, seg(1))
    send_at(net, 1, b, A, seg(2))
    send_at(net, 2, b, A, seg(3))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [1]
    assert [s.seq for s in a.endpoint.segments] == [3]
    assert (fault.seen, fault.hits) == (2, 1)


def test_network_fault_counts_over_all_paths_including_later_ones() -> None:
    net = Network(seed=1)
    fault = net.add_fault(Drop(from_host("b"), nth=2))  # b does not exist yet: resolved on use
    a, b = fake_pair(net)
    send_at(net, 0, b, A, seg(1))
    send_at(net, 1, a, B, seg(2))
    send_at(net, 2, b, A, seg(3))
    send_at(net, 3, b, A, seg(4))
    net.run()
    assert [s.seq for s in a.endpoint.segments] == [1, 4]
    assert fault.seen == 3


def test_delay_takes_the_segment_out_of_fifo() -> None:
    net = Network(seed=1, trace=True)
    a, b = fake_pair(net, delay=100)
    net.add_fault(Delay(has_payload(), by=1000))
    send_at(net, 0, a, B, seg(1, payload=b"x"))
    send_at(net, 10, a, B, seg(2))
    net.run()
    assert [(t, s.seq) for t, s in zip(b.endpoint.times, b.endpoint.segments, strict=True)] == \
        [(110, 2), (1100, 1)]
    notes = [r.text for r in net.trace if isinstance(r, NoteRecord)]
    assert notes == ["fault: delay #1 has_payload() by 1000 µs"]


def test_hold_every_fin_for_3_seconds() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=10)
    hold = net.add_fault(Hold(has_flags("F"), for_=seconds(3)))
    send_at(net, 0, a, B, seg(1, flags=FIN | ACK))
    send_at(net, 5, a, B, seg(2))
    send_at(net, 7, a, B, seg(3, flags=FIN))
    net.run()
    assert list(zip(b.endpoint.times, [s.seq for s in b.endpoint.segments], strict=True)) == \
        [(15, 2), (3_000_010, 1), (3_000_017, 3)]
    assert hold.hits == 2 and not hold.exhausted


def test_duplicate_delivers_a_later_copy() -> None:
    net = Network(seed=1)
    a, b = fake_pair(net, delay=10)
    net.add_fault(Duplicate(flags_are("S"), after=seconds(1)))
    send_at(net, 0, a, B, seg(1, flags=SYN))
    send_at(net, 5, a, B, seg(2, flags=SYN))
    net.run()
    assert b.endpoint.times == [10, 15, 1_000_010]
    assert [s.seq for s in b.endpoint.segments] == [1, 2, 1]


def test_predicates_combine_and_print() -> None:
    net = Network(seed=1)
    a, _b = fake_pair(net)
    m = (from_host(a) & to_host("b") & ~flags_are("S")) | from_addr("9.9.9.9")
    m.bind(net.addresses_of)
    data = seg(flags=PSH | ACK, payload=b"x")
    assert m(A, B, data)
    assert not m(A, B, seg(flags=SYN))
    assert not m(B, A, data)
    assert m("9.9.9.9", A, seg(flags=SYN))
    assert repr(m) == "(((from_host('a') & to_host('b')) & ~flags_are('S')) | from_addr('9.9.9.9'))"
    assert has_flags("PA")(A, B, data) and not flags_are("P")(A, B, data)
    assert to_addr(B)(A, B, data) and from_port(1000)(A, B, data) and to_port(80)(A, B, data)
    assert where(lambda s, d, x: x.seq == 0, "seq0")(A, B, data)
    with pytest.raises(ValueError):
        flags_are("SX")


def test_unbound_host_predicate_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not bound"):
        from_host("client")(A, B, seg())


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        Drop(any_segment(), nth=0)
    with pytest.raises(ValueError):
        Drop(any_segment(), count=0)
    with pytest.raises(ValueError):
        Delay(any_segment(), by=-1)


def test_plain_callables_work_as_predicates() -> None:
    net = Network(seed=1)
    a = net.add_node("a", [A], FakeEndpoint())
    b = net.add_node("b", [B], FakeEndpoint())
    net.connect(a, b)
    net.add_fault(Drop(lambda src, dst, s: s.seq == 7))
    send_at(net, 0, a, B, seg(7))
    send_at(net, 0, a, B, seg(8))
    net.run()
    assert [s.seq for s in b.endpoint.segments] == [8]
