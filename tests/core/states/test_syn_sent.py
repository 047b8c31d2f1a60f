"""SYN-SENT (RFC 9293 §3.10.7.3; RFC 5961 §3.2; MUST-10, MUST-14, MUST-15, MUST-22).

In order: an ACK must acknowledge our SYN (ISS < SEG.ACK <= SND.NXT), else
``<SEQ=SEG.ACK><CTL=RST>`` (nothing for a RST); a RST counts only with an acceptable
ACK ("connection refused"); then the SYN: with an ACK → ESTABLISHED, without →
SYN-RECEIVED (simultaneous open); anything else is dropped.  The SYN is
retransmitted 1, 2, 4, 8, 16, 32 s apart and connect gives up 64 s after the last
(tcp_syn_retries 6: 127 s).
"""

from __future__ import annotations

import pytest

from support.harness import (
    ACK,
    CLIENT_PORT,
    FIN,
    LOCAL_ADDR,
    PEER_SYN_OPTS,
    PEER_WIN,
    PSH,
    REMOTE_ADDR,
    RST,
    SERVER_PORT,
    SYN,
    SYN_WIN,
    WIN,
    WSCALE,
    Case,
    ms,
    new_endpoint,
    our_syn,
    our_synack,
    peer_syn,
    seconds,
    syn_sent,
)
from synack.core.config import Config
from synack.core.errors import AddressInUse, ConnectionClosing, DropReason, InvalidAddress
from synack.core.events import Closed, Connected, ConnectionRefused, ConnectionTimedOut
from synack.core.state import State
from synack.core.wire import Options, Segment


def synack(c: Case, options: Options = PEER_SYN_OPTS, ack_off: int = 1, window: int = SYN_WIN) -> Segment:
    """The peer's SYN-ACK: <SEQ=riss><ACK=liss+ack_off><CTL=SYN,ACK>."""
    return Segment(c.rport, c.lport, c.riss, c.lseq(ack_off), SYN | ACK, window, options)


def test_syn_sent_connect_sends_syn_with_our_options(iss: tuple[int, int]) -> None:
    c = syn_sent(*iss)
    assert our_syn(c) == Segment(CLIENT_PORT, SERVER_PORT, c.liss, 0, SYN, 65535,
                                 Options(mss=1460, wscale=7, sack_permitted=True))
    assert (c.c.snd_una, c.c.snd_nxt, c.c.snd_max) == (c.liss, c.lseq(1), c.lseq(1))
    assert c.transitions() == [(State.CLOSED, State.SYN_SENT)]
    assert c.ep.stats.active_opens == 1
    assert c.ep.next_timeout() == seconds(1)


def test_syn_sent_syn_obeys_config(iss: tuple[int, int]) -> None:
    ep, _ = new_endpoint(iss[0], Config(mss=1000, wscale=None, sack=False, rcv_buf=100000))
    ep.connect(REMOTE_ADDR, SERVER_PORT, 0, local_port=CLIENT_PORT)
    [p] = ep.packets_to_send(0)
    assert p.seg == Segment(CLIENT_PORT, SERVER_PORT, iss[0], 0, SYN, 65535, Options(mss=1000))
    assert (p.src, p.dst) == (LOCAL_ADDR, REMOTE_ADDR)


# -- SYN-ACK: ESTABLISHED ---------------------------------------------------------------
def test_syn_sent_synack_establishes_and_acks(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c), ms(10))
    c.expect([c.ours], ms(10))
    assert c.c.state is State.ESTABLISHED
    assert c.events() == [Connected(c.c)]
    cc = c.c
    assert (cc.snd_una, cc.snd_nxt, cc.rcv_nxt, cc.irs) == (c.lseq(1), c.lseq(1), c.rseq(1), c.riss)
    assert cc.snd_wnd == SYN_WIN  # a SYN's window is never scaled (RFC 7323 §2.2)
    assert (cc.snd_wscale, cc.rcv_wscale, cc.sack_ok, cc.snd_mss) == (WSCALE, WSCALE, True, 1460)
    assert (cc.snd_wl1, cc.snd_wl2) == (c.riss, c.lseq(1))
    assert cc.next_timeout() is None
    # RTT 10 ms: SRTT 10 ms, RTTVAR 5 ms, RTO = max(10 + 4*5, 200) ms (RFC 6298 2.2, Linux min).
    assert cc.srtt == ms(10) and cc.rto == ms(200)


def test_syn_sent_synack_without_wscale_turns_scaling_off(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c, Options(mss=1400, sack_permitted=True)))
    c.expect([c.ours._replace(window=65535)])  # RFC 7323 §2.3: both shifts 0
    assert (c.c.snd_wscale, c.c.rcv_wscale, c.c.snd_mss, c.c.sack_ok) == (0, 0, 1400, True)


def test_syn_sent_synack_without_options_uses_mss_536(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c, Options()))
    c.expect([c.ours._replace(window=65535)])
    assert (c.c.snd_mss, c.c.sack_ok) == (536, False)  # MUST-15


def test_syn_sent_synack_wscale_above_14_is_used_as_14(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c, Options(mss=1460, wscale=20)))
    c.expect([c.ours])
    c.deliver(c.peer._replace(window=3))
    c.expect_nothing()
    assert c.c.snd_wscale == 14 and c.c.snd_wnd == 3 << 14


def test_syn_sent_synack_mss_above_ours_is_capped(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c, Options(mss=9000, wscale=7)))
    c.expect([c.ours])
    assert c.c.snd_mss == 1460


def test_syn_sent_synack_data_is_not_kept(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c)._replace(payload=b"banner"))
    c.expect([c.ours])  # acks the SYN only
    assert c.c.bytes_readable == 0
    assert c.ep.stats.dropped[DropReason.SYN_DATA] == 1


def test_syn_sent_synack_ack_beyond_syn_is_unacceptable(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c, ack_off=2))
    c.expect([Segment(c.lport, c.rport, c.lseq(2), 0, RST, 0)])
    assert c.c.state is State.SYN_SENT
    assert c.ep.stats.dropped[DropReason.SYN_SENT_BAD_ACK] == 1


@pytest.mark.parametrize("ack_off", [0, -1, 2, 2**31])
def test_syn_sent_bad_ack_gets_rst_at_seg_ack(syn_sent: Case, ack_off: int) -> None:
    c = syn_sent
    c.deliver(c.peer._replace(ack=c.lseq(ack_off)))
    c.expect([Segment(c.lport, c.rport, c.lseq(ack_off), 0, RST, 0)])
    assert c.c.state is State.SYN_SENT
    assert c.ep.stats.resets_sent == 1


def test_syn_sent_bad_ack_with_rst_is_dropped(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(c.rst(c.rseq(1), c.lseq(5), ACK))
    c.expect_nothing()
    assert c.c.state is State.SYN_SENT
    assert c.ep.stats.dropped[DropReason.SYN_SENT_BAD_ACK] == 1


# -- RST --------------------------------------------------------------------------------
def test_syn_sent_rst_ack_acking_syn_is_connection_refused(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(Segment(c.rport, c.lport, 0, c.lseq(1), RST | ACK, 0), ms(3))
    c.expect_nothing(ms(3))
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionRefused(c.c), Closed(c.c)]
    assert c.ep.connections == []
    c.expect_nothing(seconds(1))  # no SYN retransmission


def test_syn_sent_rst_without_ack_is_dropped(syn_sent: Case) -> None:
    # RFC 5961 §3.2: in SYN-SENT a RST is acceptable only if it acknowledges the SYN.
    c = syn_sent
    c.deliver(c.rst(0))
    c.expect_nothing()
    assert c.c.state is State.SYN_SENT
    assert c.ep.stats.dropped[DropReason.RST_OUT_OF_WINDOW] == 1


# -- neither SYN nor RST ------------------------------------------------------------------
@pytest.mark.parametrize("flags", [ACK, ACK | FIN, ACK | PSH])
def test_syn_sent_acceptable_ack_without_syn_is_dropped(syn_sent: Case, flags: int) -> None:
    c = syn_sent
    c.deliver(c.peer._replace(flags=flags, payload=b"x"))
    c.expect_nothing()
    assert c.c.state is State.SYN_SENT
    assert c.ep.stats.dropped[DropReason.SYN_SENT_NO_SYN] == 1


@pytest.mark.parametrize("flags", [0, FIN, PSH])
def test_syn_sent_segment_without_syn_rst_or_ack_is_dropped(syn_sent: Case, flags: int) -> None:
    c = syn_sent
    c.deliver(c.peer._replace(flags=flags, ack=0))
    c.expect_nothing()
    assert c.c.state is State.SYN_SENT


# -- SYN without ACK: simultaneous open ------------------------------------------------------
def test_syn_sent_syn_without_ack_is_simultaneous_open(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    assert c.c.state is State.SYN_RECEIVED
    assert (c.c.snd_una, c.c.snd_nxt, c.c.rcv_nxt) == (c.liss, c.lseq(1), c.rseq(1))


# -- timers ------------------------------------------------------------------------------------
def test_syn_sent_syn_retransmitted_at_1_3_7_15_31_63_then_times_out_at_127(syn_sent: Case) -> None:
    c = syn_sent
    for t in (1, 3, 7, 15, 31, 63):  # 1, 2, 4, 8, 16, 32 s apart
        c.expect_nothing(seconds(t) - 1)
        c.expect([our_syn(c)], seconds(t))
        assert c.c.state is State.SYN_SENT
    assert c.c.next_timeout() == seconds(127)
    c.expect_nothing(seconds(127) - 1)
    assert c.c.state is State.SYN_SENT
    c.expect_nothing(seconds(127))
    assert c.c.state is State.CLOSED
    assert c.events() == [ConnectionTimedOut(c.c), Closed(c.c)]
    assert c.ep.stats.syn_retransmits == 6 and c.ep.stats.timeouts == 1
    assert c.ep.connections == []


def test_syn_sent_syn_retries_follow_config(iss: tuple[int, int]) -> None:
    # syn_retries=7 meets RFC 9293 MUST-23's "at least 3 minutes": the 8th wait is
    # capped by max_rto (120 s), so connect gives up at 127 + 120 = 247 s.
    c = syn_sent(*iss, Config(syn_retries=7))
    for t in (1, 3, 7, 15, 31, 63, 127):
        c.expect([our_syn(c)], seconds(t))
    c.expect_nothing(seconds(247) - 1)
    assert c.c.state is State.SYN_SENT
    c.expect_nothing(seconds(247))
    assert c.c.state is State.CLOSED


def test_syn_sent_synack_after_retransmission_takes_no_rtt_sample_and_rto_is_3s(syn_sent: Case) -> None:
    # Karn: no sample from a retransmitted SYN; RFC 6298 5.7: RTO 3 s once data flows.
    c = syn_sent
    c.expect([our_syn(c)], seconds(1))
    c.deliver(synack(c), seconds(1) + ms(10))
    c.expect([c.ours], seconds(1) + ms(10))
    assert c.c.srtt is None
    assert c.c.rto == seconds(3)


def test_syn_sent_synack_answering_the_last_retransmission_is_accepted(syn_sent: Case) -> None:
    c = syn_sent
    for t in (1, 3, 7, 15, 31, 63):
        c.expect([our_syn(c)], seconds(t))
    c.deliver(synack(c), seconds(100))
    c.expect([c.ours], seconds(100))
    assert c.c.state is State.ESTABLISHED and c.c.retries == 0


# -- user calls ----------------------------------------------------------------------------------
def test_syn_sent_close_sends_nothing_and_deletes_the_tcb(syn_sent: Case) -> None:
    c = syn_sent
    c.c.close(ms(5))
    c.expect_nothing(ms(5))
    assert c.c.state is State.CLOSED
    assert c.events() == [Closed(c.c)]
    assert c.ep.connections == []
    c.expect_nothing(seconds(1))  # no SYN retransmission either
    c.deliver(synack(c), seconds(2))  # the late SYN-ACK finds no TCB
    c.expect([Segment(c.lport, c.rport, c.lseq(1), 0, RST, 0)], seconds(2))


def test_syn_sent_abort_sends_nothing(syn_sent: Case) -> None:
    c = syn_sent
    c.c.abort(0)
    c.expect_nothing()
    assert c.c.state is State.CLOSED


def test_syn_sent_shutdown_is_close(syn_sent: Case) -> None:
    c = syn_sent
    c.c.shutdown(0)
    c.expect_nothing()
    assert c.c.state is State.CLOSED


def test_syn_sent_data_queued_rides_on_the_handshake_ack(syn_sent: Case) -> None:
    c = syn_sent
    assert c.c.send(b"GET / HTTP/1.0\r\n\r\n") == 18
    c.expect_nothing()
    c.deliver(synack(c), ms(10))
    c.expect([c.ours._replace(flags=ACK | PSH, payload=b"GET / HTTP/1.0\r\n\r\n")], ms(10), exact=True)
    assert c.c.snd_nxt == c.lseq(19)


def test_syn_sent_connect_errors(syn_sent: Case) -> None:
    c = syn_sent
    with pytest.raises(AddressInUse):
        c.ep.connect(REMOTE_ADDR, SERVER_PORT, 0, local_port=CLIENT_PORT)
    with pytest.raises(InvalidAddress):
        c.ep.connect("224.0.0.1", SERVER_PORT, 0)  # MUST-46
    with pytest.raises(InvalidAddress):
        c.ep.connect("255.255.255.255", SERVER_PORT, 0)


def test_syn_sent_send_after_close_raises(syn_sent: Case) -> None:
    c = syn_sent
    c.c.send(b"x")
    c.deliver(synack(c))
    c.expect([c.ours._replace(flags=ACK | PSH, payload=b"x")])
    c.c.shutdown(0)
    with pytest.raises(ConnectionClosing):
        c.c.send(b"y")


def test_syn_sent_ephemeral_ports_count_up(iss: tuple[int, int]) -> None:
    ep, _ = new_endpoint(iss[0])
    a = ep.connect(REMOTE_ADDR, SERVER_PORT, 0)
    b = ep.connect(REMOTE_ADDR, SERVER_PORT, 0)
    assert (a.local_port, b.local_port) == (32768, 32769)
    assert [p.seg.src_port for p in ep.packets_to_send(0)] == [32768, 32769]


def test_syn_sent_window_field_after_synack_is_scaled(syn_sent: Case) -> None:
    c = syn_sent
    c.deliver(synack(c))
    c.expect([c.ours._replace(window=WIN)])
    c.deliver(c.peer._replace(window=PEER_WIN))
    assert c.c.snd_wnd == PEER_WIN << WSCALE
