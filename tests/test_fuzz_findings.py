"""What the fuzzer (scripts/fuzz.py, docs/FUZZ.md) found in the core, each as the
smallest reproduction of it, marked ``xfail(strict=True)`` until the core is fixed.

Each finding is an invariant kind of ``scripts/synfuzz/check.py``, listed in
``scripts/synfuzz/known.py`` (a fuzz run counts these and goes on; a new kind fails
it).  When a fix lands, its test here passes, strict xfail turns that into a
failure: remove the mark and the entry in ``known.py`` together.
"""

from __future__ import annotations

import struct

import pytest

from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.ip import Packet, build_packet
from synack.core.isn import FixedIsn
from synack.core.seq import MASK, seq_le
from synack.core.state import State
from synack.core.wire import ACK, FIN, SYN, Options, Segment, encode_options

US, PEER = "10.0.0.1", "10.0.0.2"
OUR_ISS, PEER_ISS = 10000, 2**32 - 100  # the peer's data crosses the 2**32 wrap
LPORT, RPORT = 49152, 80


def established(config: Config, peer_opts: Options) -> tuple[Endpoint, list[Packet], int]:
    """We connect; the peer answers with ``peer_opts``; our ACK is out.  (endpoint,
    the packets of the handshake's end, time)."""
    ep = Endpoint([US], config, isn=FixedIsn(OUR_ISS))
    conn = ep.connect(PEER, RPORT, 0, local_port=LPORT)
    ep.packets_to_send(0)
    ep.receive_segment(Segment(RPORT, LPORT, PEER_ISS, OUR_ISS + 1, SYN | ACK, 65535, peer_opts), PEER, US,
                       10_000)
    out = ep.packets_to_send(10_000)
    assert conn.state is State.ESTABLISHED
    return ep, out, 10_000


def peer_ack(seq: int, payload: bytes = b"", flags: int = ACK, ts: tuple[int, int] | None = None) -> Segment:
    return Segment(RPORT, LPORT, seq & MASK, OUR_ISS + 1, flags, 512, Options(timestamps=ts), payload)


# -- 1. options come out of the data's share of the MSS ----------------------------------------
@pytest.mark.xfail(strict=True, reason="fuzz finding segment-above-mss: a data segment carries a full "
                   "MSS of data and its options on top (RFC 9293 §3.7.1, MUST-16)")
def test_data_segments_leave_room_for_their_options() -> None:
    """RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize, where
    TCPhdrsize counts the options.  With timestamps (12 octets), MSS 1460 leaves 1448
    octets of data per segment (what Linux sends); synack sends 1460 + 12, an IPv4
    packet of 1512 octets on a 1500-octet path."""
    ep, _, now = established(Config(timestamps=True),
                             Options(mss=1460, wscale=7, sack_permitted=True, timestamps=(5000, 0)))
    ep.connections[0].send(b"x" * 3000)
    segs = [p.seg for p in ep.packets_to_send(now)]
    assert segs and segs[0].options.timestamps is not None
    for seg in segs:
        assert len(seg.payload) + len(encode_options(seg.options)) <= 1460, seg.summary()


@pytest.mark.xfail(strict=True, raises=struct.error,
                   reason="fuzz finding packet-too-long: with MSS 65495 and timestamps a full segment "
                   "does not fit an IPv4 packet (same cause as above)")
def test_a_full_segment_fits_an_ipv4_packet() -> None:
    """The same with the largest MSS Config allows (65535 - 40): 65495 octets of data
    and 12 of timestamps make a 65547-octet IPv4 packet, which ``build_packet`` (the
    TUN driver's path) cannot even encode."""
    ep, _, now = established(Config(mss=65495, timestamps=True), Options(mss=65495, timestamps=(5000, 0)))
    ep.connections[0].send(b"x" * 70000)
    for p in ep.packets_to_send(now):
        assert len(build_packet(p.seg, p.src, p.dst)) <= 65535


# -- 2. nothing comes after the peer's FIN ---------------------------------------------------------
@pytest.mark.xfail(strict=True, reason="fuzz finding reassembly-after-fin: data held beyond the peer's "
                   "FIN stays held, and SACKed, once the FIN is taken")
def test_nothing_is_held_beyond_the_peers_fin() -> None:
    """Data held out of order beyond a hole, then the peer's FIN at RCV.NXT, in front
    of it: the FIN ends the peer's stream, so what lies beyond it can never be
    delivered.  Linux's tcp_fin() purges its out-of-order queue and its SACK state;
    synack keeps the block (RCV.NXT then sits at or before its left edge) and keeps
    reporting it in the SACK option of every ACK in CLOSE-WAIT."""
    ep, _, now = established(Config(), Options(mss=1460, wscale=7, sack_permitted=True))
    conn = ep.connections[0]
    ep.receive_segment(peer_ack(PEER_ISS + 11, b"y" * 100), PEER, US, now)  # a hole of 10 octets
    ep.packets_to_send(now)
    ep.receive_segment(peer_ack(PEER_ISS + 1, flags=FIN | ACK), PEER, US, now)  # its FIN, at RCV.NXT
    assert conn.state is State.CLOSE_WAIT
    fin_ack = [p.seg for p in ep.packets_to_send(now)]
    assert fin_ack and fin_ack[0].ack == (PEER_ISS + 2) & MASK
    assert conn.rcv.ooo is None or not conn.rcv.ooo.blocks, conn.rcv.ooo.blocks
    assert not fin_ack[0].options.sack_blocks, fin_ack[0].summary()


# -- 3. packets for other addresses ----------------------------------------------------------------
@pytest.mark.xfail(strict=True, reason="fuzz finding foreign-source: receive_packet takes packets for "
                   "any destination and answers them from that address")
@pytest.mark.parametrize("dst", ["10.0.0.3", "224.0.0.1", "255.255.255.255"])
@pytest.mark.parametrize("listening", [True, False])
def test_a_packet_for_another_address_is_not_answered(dst: str, listening: bool) -> None:
    """An IP host takes only the datagrams addressed to it (RFC 1122 §3.3: the IP
    layer "verifies that [the datagram] is destined to the local host"), and a SYN to
    a broadcast or multicast address MUST be discarded (RFC 9293 MUST-57, RFC 1122
    §4.2.3.10).  ``receive_packet`` takes whatever parses: a listener on all
    addresses answers a SYN for 10.0.0.3 (or 224.0.0.1) with a SYN-ACK from that
    address, and with no listener the RST comes from it.  Over TUN this matters:
    the kernel routes the device's whole /24 to synack."""
    ep = Endpoint([US], Config(), isn=FixedIsn(OUR_ISS))
    if listening:
        ep.listen(80)
    syn = Segment(40000, 80, 777, 0, SYN, 65535, Options(mss=1460))
    ep.receive_packet(build_packet(syn, PEER, dst), 0)
    out = ep.packets_to_send(0)
    assert not out, [f"{p.src} -> {p.dst} {p.seg.summary()}" for p in out]


# -- 4. the advertised window's right edge ----------------------------------------------------------
@pytest.mark.xfail(strict=True, reason="fuzz finding window-shrunk: rounding the free space down to "
                   "the window scale moves the right edge back (RFC 9293 SHLD-14)")
def test_the_windows_right_edge_never_moves_back() -> None:
    """RFC 9293 §3.8.6.2.2: a receiver SHOULD NOT shrink the window (SHLD-14), and
    ``ReceiveSpace.advertise`` says its edge only moves forward; but the field is
    the free space shifted right by the scale, so 100 octets arriving into a
    20000-octet buffer with scale 7 turn a window of 156 << 7 (edge RCV.NXT + 19968)
    into 155 << 7 at RCV.NXT + 100: the edge moves back by 28 octets.  (Linux rounds
    up instead: tcp_select_window never offers less than the current window.)"""
    ep, out, now = established(Config(rcv_buf=20000, wscale=7), Options(mss=1460, wscale=7))
    first = out[-1].seg
    edge = (first.ack + (first.window << 7)) & MASK
    ep.receive_segment(peer_ack(PEER_ISS + 1, b"z" * 100), PEER, US, now)
    now += 200_000
    ep.handle_timeout(now)  # the delayed ACK
    acks = [p.seg for p in ep.packets_to_send(now)]
    assert acks and acks[-1].ack == (PEER_ISS + 101) & MASK
    new_edge = (acks[-1].ack + (acks[-1].window << 7)) & MASK
    assert seq_le(edge, new_edge), (edge, new_edge)


# -- 5. the handshake's final ACK refused by the new connection ------------------------------------
def handshake_refused(ep: Endpoint, port: int, now: int) -> None:
    """A client's SYN (TSval 1000), then its final ACK with an older TSval (999)."""
    ep.receive_segment(Segment(port, 80, 5000, 0, SYN, 65535, Options(mss=1460, timestamps=(1000, 0))),
                       PEER, US, now)
    synack = ep.packets_to_send(now)[0].seg
    ep.receive_segment(Segment(port, 80, 5001, synack.seq + 1, ACK, 512,
                               Options(timestamps=(999, synack.options.timestamps[0]))), PEER, US, now)
    ep.packets_to_send(now)


@pytest.mark.xfail(strict=True, reason="fuzz finding stuck-syn-received: a final ACK that PAWS refuses "
                   "leaves a SYN-RECEIVED connection out of both queues and without a timer")
def test_a_refused_final_ack_leaves_no_connection_without_a_timer() -> None:
    """The listener checks the final ACK (its number, the window, RST, SYN), takes the
    entry out of the SYN queue and makes the connection, which then applies PAWS
    (RFC 7323 §5.3) to the same segment and drops it: the connection stays in
    SYN-RECEIVED, in neither queue, and with no timer (the SYN-ACK's retransmission
    was the entry's).  If the client goes away it stays for ever; a client can make
    any number of them past the SYN queue's limit.  (Linux's tcp_check_req applies
    PAWS before it makes the child socket: the request stays queued, with its timer.)"""
    ep = Endpoint([US], Config(timestamps=True), isn=FixedIsn(OUR_ISS))
    listener = ep.listen(80, 1)
    handshake_refused(ep, 40000, 0)
    assert listener.syn_queue_len == 0 and listener.accept_queue_len == 0
    for conn in ep.connections:
        assert conn.next_timeout() is not None, f"{conn}: {conn.timers}"
    now = 0
    for _ in range(100):
        now += 60_000_000
        ep.handle_timeout(now)
        ep.packets_to_send(now)
    assert not ep.connections, ep.connections


@pytest.mark.xfail(strict=True, reason="fuzz finding accept-queue-bound: such a connection, established "
                   "later, joins the accept queue beyond the backlog")
def test_the_accept_queue_never_holds_more_than_the_backlog() -> None:
    """The connection left behind above joins the accept queue when a later ACK
    establishes it, without the backlog check ``Listener._complete`` makes: with a
    backlog of 1, a second connection completes normally and then the first one's
    next ACK makes the queue 2 long."""
    ep = Endpoint([US], Config(timestamps=True), isn=FixedIsn(OUR_ISS))
    listener = ep.listen(80, 1)
    handshake_refused(ep, 40000, 0)
    ep.receive_segment(Segment(40001, 80, 7000, 0, SYN, 65535, Options(mss=1460, timestamps=(1000, 0))),
                       PEER, US, 0)
    synack = ep.packets_to_send(0)[0].seg
    ep.receive_segment(Segment(40001, 80, 7001, synack.seq + 1, ACK, 512,
                               Options(timestamps=(1001, synack.options.timestamps[0]))), PEER, US, 0)
    assert listener.accept_queue_len == 1
    ep.receive_segment(Segment(40000, 80, 5001, OUR_ISS + 1, ACK, 512, Options(timestamps=(1002, 0))),
                       PEER, US, 0)
    assert listener.accept_queue_len <= listener.backlog, listener
