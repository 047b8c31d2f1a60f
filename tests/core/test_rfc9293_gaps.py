"""Requirements of RFC 9293 that docs/CONFORMANCE.md found no test for: LISTEN on
the port of a connection being opened (MUST-42), the local address of an active
OPEN (MUST-43, MUST-44), R2's default (SHLD-11), and a window the peer shrinks under
data in flight (SHLD-15, SHLD-16, SHLD-17)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support import harness
from support.harness import ACK, PEER_SYN_OPTS, PEER_WIN, PSH, SYN, Case, established, ms, seconds
from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.errors import InvalidAddress
from synack.core.events import Closed, ConnectionTimedOut
from synack.core.isn import FixedIsn
from synack.core.state import State
from synack.core.wire import Options, Segment

MSS = 1460


# -- OPEN ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reach", [harness.syn_sent, harness.syn_received], ids=["syn-sent", "syn-received"])
def test_listen_on_the_port_of_a_connection_being_opened(iss: tuple[int, int],
                                                        reach: Callable[[int, int], Case]) -> None:
    """MUST-42: a passive OPEN on a local port that a connection in SYN-SENT or
    SYN-RECEIVED uses is allowed, and disturbs that connection in nothing."""
    c = reach(*iss)
    before = c.c.state
    listener = c.ep.listen(c.lport)
    other = Segment(40000, c.lport, 7000, 0, SYN, 64240, PEER_SYN_OPTS)
    harness.deliver(c.ep, other, c.now, src="10.0.0.3")
    [synack] = c.ep.packets_to_send(c.now)
    assert (synack.dst, synack.seg.flags, synack.seg.ack) == ("10.0.0.3", SYN | ACK, 7001)
    assert listener.syn_queue_len == 1
    assert c.c.state is before and c.ep.connections == [c.c]


def test_an_active_open_takes_the_local_address_it_is_given() -> None:
    """MUST-43: OPEN's optional local address; one the endpoint does not own is an error."""
    ep = Endpoint(["10.0.0.1", "10.0.0.9"], Config(), isn=FixedIsn(1000))
    conn = ep.connect("10.0.0.2", 80, 0, local_addr="10.0.0.9")
    [syn] = ep.packets_to_send(0)
    assert (syn.src, syn.seg.flags, conn.local_addr) == ("10.0.0.9", SYN, "10.0.0.9")
    with pytest.raises(InvalidAddress):
        ep.connect("10.0.0.2", 80, 0, local_addr="10.0.0.7")


def test_an_active_open_without_a_local_address_takes_one_of_the_peers_family() -> None:
    """MUST-44 (and MUST-45): the address is chosen before the SYN leaves, and every
    segment of the connection leaves from it."""
    ep = Endpoint(["10.0.0.1", "fd00::1"], Config(), isn=FixedIsn(1000))
    v6 = ep.connect("fd00::2", 80, 0)
    v4 = ep.connect("10.0.0.2", 80, 0)
    assert {(p.src, p.dst) for p in ep.packets_to_send(0)} == {("fd00::1", "fd00::2"),
                                                              ("10.0.0.1", "10.0.0.2")}
    assert (v6.local_addr, v4.local_addr) == ("fd00::1", "10.0.0.1")
    v4.abort(0)
    ep.receive_segment(Segment(80, v6.local_port, 9000, 1001, SYN | ACK, 65535, Options(mss=1440)),
                       "fd00::2", "fd00::1", ms(10))
    v6.send(b"x")
    assert {p.src for p in ep.packets_to_send(ms(10))} == {"fd00::1"}
    with pytest.raises(InvalidAddress):
        Endpoint(["fd00::1"]).connect("10.0.0.2", 80, 0)


# -- R2 -----------------------------------------------------------------------------------
def test_r2_by_default_lasts_well_over_100_s(iss: tuple[int, int]) -> None:
    """SHLD-11: R2 at least 100 s.  The default, 15 retransmissions (Linux tcp_retries2)
    from the 200 ms RTO floor, doubling up to 120 s, gives up after 924.6 s."""
    c = established(*iss)
    c.c.send(b"x")
    c.ep.packets_to_send(c.now)
    t0 = t = c.now
    resent = 0
    while c.c.state is State.ESTABLISHED:
        deadline = c.c.next_timeout()
        assert deadline is not None
        t = deadline
        c.ep.handle_timeout(t)
        resent += len(c.ep.packets_to_send(t))
    assert resent == 15 and t - t0 == ms(924_600) > seconds(100)
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]


# -- a window the peer shrinks (§3.8.6) -----------------------------------------------------
def shrunk(iss: tuple[int, int], config: Config = harness.CONFIG) -> Case:
    """ESTABLISHED; the peer's window is 100 << 7 = 12,800 octets and we sent 8,000; then
    the peer acknowledges 1,460 of them with a window of 1 << 7 = 128 octets: its right
    edge moves from 12,801 back to 1,589, far left of SND.NXT (8,001)."""
    c = established(*iss, config=config)
    c.deliver(c.peer._replace(window=100))
    c.c.send(b"x" * 8000)
    assert [len(p.seg.payload) for p in c.ep.packets_to_send(c.now)] == [MSS] * 5 + [700]
    c.now += ms(10)
    c.deliver(c.peer._replace(ack=c.lseq(1 + MSS), window=1))
    c.expect_nothing()
    assert (c.c.snd_una, c.c.snd_nxt, c.c.snd_wnd) == (c.lseq(1 + MSS), c.lseq(8001), 128)
    return c


def test_after_a_shrink_no_new_data_goes(iss: tuple[int, int]) -> None:
    """SHLD-15: the window shrank behind SND.NXT: new data waits."""
    c = shrunk(iss)
    c.c.send(b"new")
    c.expect_nothing()
    assert c.c.snd_nxt == c.c.snd_max == c.lseq(8001)


def test_after_a_shrink_old_data_inside_the_window_is_retransmitted(iss: tuple[int, int]) -> None:
    """SHLD-16: at the RTO, what lies inside SND.UNA .. SND.UNA + SND.WND goes again."""
    c = shrunk(iss)
    t = c.c.next_timeout()
    assert t is not None
    c.ep.handle_timeout(t)
    [resent] = [p.seg for p in c.ep.packets_to_send(t)]
    assert (resent.seq, len(resent.payload), resent.flags & ~PSH) == (c.lseq(1 + MSS), 128, ACK)


def test_after_a_shrink_to_zero_unacknowledged_data_beyond_it_never_times_out(iss: tuple[int, int]) -> None:
    """SHLD-17: 6,540 octets sent beyond a window shrunk to zero stay unacknowledged;
    the peer answers every probe, so the connection stays, however few retries R2
    allows."""
    c = established(*iss, config=Config(retries2=2))
    c.deliver(c.peer._replace(window=100))
    c.c.send(b"x" * 8000)
    c.ep.packets_to_send(c.now)
    shut = c.peer._replace(ack=c.lseq(1 + MSS), window=0)
    c.deliver(shut, c.now + ms(10))
    t = c.now + ms(10)
    for _ in range(10):
        deadline = c.c.next_timeout()
        assert deadline is not None and deadline > t
        t = deadline
        c.ep.handle_timeout(t)
        [probe] = [p.seg for p in c.ep.packets_to_send(t)]
        assert (probe.seq, probe.payload) == (c.lseq(MSS), b"")  # SND.UNA - 1, no data
        c.deliver(shut, t + ms(1))
        c.expect_nothing(t + ms(1))
        assert c.c.state is State.ESTABLISHED
    c.deliver(shut._replace(window=PEER_WIN), t + ms(2))  # the window opens: the data goes
    first = c.ep.packets_to_send(t + ms(2))[0].seg
    assert (first.seq, len(first.payload)) == (c.lseq(1 + MSS), MSS)

