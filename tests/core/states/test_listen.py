"""LISTEN (RFC 9293 §3.10.7.2) and the listener's queues (Linux tcp_conn_request).

In order: a RST is ignored; an ACK gets ``<SEQ=SEG.ACK><CTL=RST>``; a SYN gets a
SYN-ACK (MSS always, window scale and sackOK only when the SYN offered them) and a
SYN-queue entry; anything else is dropped.  SYN cookies (``syncookies`` 0/1/2), a
full SYN queue and a full accept queue follow Linux.
"""

from __future__ import annotations

import pytest

from support.harness import (
    ACK,
    CONFIG,
    FIN,
    LOCAL_ADDR,
    OUR_SYN_OPTS,
    PEER_SYN_OPTS,
    PEER_WIN,
    PSH,
    REMOTE_ADDR,
    RST,
    SYN,
    SYN_WIN,
    WIN,
    WSCALE,
    Case,
    deliver,
    listen,
    ms,
    our_synack,
    peer_syn,
    seconds,
)
from synack.core.config import Config
from synack.core.cookies import SynCookies
from synack.core.errors import AddressInUse, DropReason
from synack.core.events import AcceptReady, Closed, Connected, Readable
from synack.core.state import State
from synack.core.wire import Options, Segment

COOKIES = SynCookies(b"")  # the endpoint's default secret is b""


def other_port(c: Case, n: int) -> Segment:
    """The SYN of the n-th other client (its own port, ISS riss+1000n)."""
    return peer_syn(c)._replace(src_port=c.rport + n, seq=c.rseq(1000 * n))


def cookie_for(c: Case, now: int, mss: int = 1460) -> int:
    cookie, _ = COOKIES.make(LOCAL_ADDR, c.lport, REMOTE_ADDR, c.rport, c.riss, mss, now)
    return cookie


# -- first: RST -----------------------------------------------------------------------
@pytest.mark.parametrize("flags", [RST, RST | ACK, RST | SYN])
def test_listen_rst_is_ignored(listening: Case, flags: int) -> None:
    c = listening
    c.deliver(c.rst(c.rseq(1), c.lseq(1), flags))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.LISTEN_RST] == 1
    assert c.ep.stats.resets_sent == 0


# -- second: ACK ----------------------------------------------------------------------
@pytest.mark.parametrize("flags", [ACK, ACK | PSH, ACK | FIN, ACK | SYN])
def test_listen_ack_gets_rst_at_seg_ack(listening: Case, flags: int) -> None:
    c = listening
    c.deliver(c.peer._replace(flags=flags, payload=b"data"))
    c.expect([Segment(c.lport, c.rport, c.lseq(1), 0, RST, 0)])
    assert c.ep.stats.dropped[DropReason.LISTEN_ACK] == 1
    assert c.listener is not None and c.listener.syn_queue_len == 0


# -- third: SYN -----------------------------------------------------------------------
def test_listen_syn_gets_synack_with_offered_options(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c))
    c.expect([Segment(c.lport, c.rport, c.liss, c.rseq(1), SYN | ACK, SYN_WIN,
                      Options(mss=1460, wscale=7, sack_permitted=True))])
    assert c.listener is not None and c.listener.syn_queue_len == 1
    assert c.transitions() == [(State.LISTEN, State.SYN_RECEIVED)]
    assert c.ep.stats.passive_opens == 1
    assert c.ep.connections == []  # the half-open state is the SYN-queue entry


def test_listen_syn_without_options_gets_mss_only(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c, Options()))
    c.expect([our_synack(c, Options(mss=1460))])


def test_listen_syn_with_wscale_only_gets_wscale_not_sackok(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c, Options(mss=1400, wscale=2)))
    c.expect([our_synack(c, Options(mss=1460, wscale=WSCALE))])


def test_listen_syn_with_sackok_only_gets_sackok_not_wscale(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c, Options(mss=1400, sack_permitted=True)))
    c.expect([our_synack(c, Options(mss=1460, sack_permitted=True))])


def test_listen_synack_obeys_config_without_wscale_and_sack(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(wscale=None, sack=False, mss=1200))
    c.deliver(peer_syn(c))
    c.expect([our_synack(c, Options(mss=1200))])


def test_listen_syn_data_is_not_kept_synack_acks_only_the_syn(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c, payload=b"early data"))
    c.expect([our_synack(c)])
    assert c.ep.stats.dropped[DropReason.SYN_DATA] == 1
    # The client sends the data again after the handshake.
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"early data"))
    c.expect([c.ours._replace(ack=c.rseq(11), window=(65535 - 10) >> WSCALE)])
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.read() == b"early data"


@pytest.mark.parametrize("flags", [0, FIN, PSH, FIN | PSH])
def test_listen_segment_without_syn_rst_or_ack_is_dropped(listening: Case, flags: int) -> None:
    c = listening
    c.deliver(c.peer._replace(flags=flags, ack=0, payload=b"?"))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.LISTEN_NO_SYN] == 1


def test_listen_third_ack_establishes_and_queues_for_accept(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    c.deliver(c.peer, ms(10))
    c.expect_nothing(ms(10))
    assert c.listener is not None
    assert c.listener.syn_queue_len == 0 and c.listener.accept_queue_len == 1
    conn = c.listener.accept()
    assert conn is not None
    assert c.events() == [Connected(conn), AcceptReady(c.listener)]
    assert conn.state is State.ESTABLISHED
    assert (conn.snd_una, conn.snd_nxt, conn.rcv_nxt) == (c.lseq(1), c.lseq(1), c.rseq(1))
    assert conn.snd_wnd == PEER_WIN << WSCALE  # RFC 7323 §2.3: SND.WND = SEG.WND << S
    assert (conn.snd_wscale, conn.rcv_wscale, conn.sack_ok, conn.snd_mss) == (7, 7, True, 1460)
    assert c.transitions() == [(State.LISTEN, State.SYN_RECEIVED), (State.SYN_RECEIVED, State.ESTABLISHED)]


def test_listen_third_ack_with_data_delivers_it(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"GET /"))
    c.expect([c.ours._replace(ack=c.rseq(6), window=(65535 - 5) >> WSCALE)])
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None
    assert c.events() == [Connected(conn), AcceptReady(c.listener), Readable(conn)]
    assert conn.read() == b"GET /"


def test_listen_peer_without_wscale_gets_unscaled_windows(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c, Options(mss=536)))
    c.expect([our_synack(c, Options(mss=1460))])
    c.deliver(c.peer._replace(window=30000, flags=ACK | PSH, payload=b"x"))
    # RFC 7323 §2.3: no scaling in either direction; MUST-15 not needed (MSS given).
    c.expect([c.ours._replace(ack=c.rseq(2), window=65534)])
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None
    assert (conn.snd_wnd, conn.snd_wscale, conn.rcv_wscale, conn.snd_mss) == (30000, 0, 0, 536)


def test_listen_syn_without_mss_assumes_536(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c, Options()))
    c.expect([our_synack(c, Options(mss=1460))])
    c.deliver(c.peer._replace(window=65535))  # (unscaled: a window above 2 MSS)
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.snd_mss == 536  # MUST-15


def test_listen_segments_are_bounded_by_half_the_final_acks_window(listening: Case) -> None:
    # Linux tcp_bound_to_half_wnd at the child's creation (tcp_sync_mss, max_window =
    # the final ACK's window): a peer offering 1000 octets gets segments of 500.
    c = listening
    c.deliver(peer_syn(c, Options(mss=1460)))
    c.expect([our_synack(c, Options(mss=1460))])
    c.deliver(c.peer._replace(window=1000))
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.snd_mss == 500
    conn.send(bytes(1000))
    ours = c.ours._replace(window=65535)  # (no window scaling: the SYN offered none)
    c.expect([ours._replace(payload=bytes(500)), ours._replace(seq=c.lseq(501), payload=bytes(500))])


def test_listen_syn_wscale_above_14_is_used_as_14(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c, Options(mss=1460, wscale=15)))
    c.expect([our_synack(c, Options(mss=1460, wscale=WSCALE))])
    c.deliver(c.peer._replace(window=1))
    assert c.listener is not None
    conn = c.listener.accept()
    assert conn is not None and conn.snd_wscale == 14 and conn.snd_wnd == 1 << 14


def test_listen_syn_from_invalid_source_is_dropped(listening: Case) -> None:
    c = listening
    deliver(c.ep, peer_syn(c), c.now, src="224.0.0.9")
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.BAD_ADDRESS] == 1
    assert c.listener is not None and c.listener.syn_queue_len == 0


def test_listen_twice_on_a_port_is_an_error(listening: Case) -> None:
    with pytest.raises(AddressInUse):
        listening.ep.listen(listening.lport)


def test_listen_many_clients_each_get_a_synack(listening: Case) -> None:
    c = listening
    for n in range(1, 4):
        c.deliver(other_port(c, n))
    c.expect([our_synack(c)._replace(dst_port=c.rport + n, ack=c.rseq(1000 * n + 1)) for n in range(1, 4)])
    assert c.listener is not None and c.listener.syn_queue_len == 3


# -- queues ---------------------------------------------------------------------------
def test_listen_syn_queue_full_without_cookies_drops_the_syn(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(max_syn_backlog=2, syncookies=0))
    for n in range(1, 4):
        c.deliver(other_port(c, n))
    c.expect([our_synack(c)._replace(dst_port=c.rport + n, ack=c.rseq(1000 * n + 1)) for n in (1, 2)])
    assert c.ep.stats.dropped[DropReason.SYN_QUEUE_FULL] == 1
    assert c.ep.stats.listen_drops == 1
    assert c.listener is not None and c.listener.syn_queue_len == 2


def test_listen_syn_queue_full_with_cookies_answers_with_a_cookie(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(max_syn_backlog=1, syncookies=1))
    c.deliver(other_port(c, 1))
    c.expect([our_synack(c)._replace(dst_port=c.rport + 1, ack=c.rseq(1001))])
    c.deliver(peer_syn(c))
    # The cookie SYN-ACK: the ISN is the cookie; MSS only (no room for wscale, SACK).
    c.expect([our_synack(c, Options(mss=1460))._replace(seq=cookie_for(c, 0))])
    assert c.ep.stats.syncookies_sent == 1
    assert c.listener is not None and c.listener.syn_queue_len == 1
    c.deliver(c.peer._replace(ack=(cookie_for(c, 0) + 1) & 0xFFFFFFFF, window=30000), ms(10))
    c.expect_nothing(ms(10))
    conn = c.listener.accept()
    assert conn is not None and conn.state is State.ESTABLISHED
    assert conn.remote_port == c.rport
    assert (conn.snd_mss, conn.snd_wscale, conn.rcv_wscale, conn.sack_ok) == (1460, 0, 0, False)
    assert conn.snd_wnd == 30000  # no scaling on a cookie connection
    assert c.ep.stats.syncookies_accepted == 1


def test_listen_syncookies_2_keeps_no_state_and_the_ack_builds_the_connection(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(syncookies=2))
    c.deliver(peer_syn(c, Options(mss=1400, wscale=7, sack_permitted=True)))
    cookie = cookie_for(c, 0, 1400)
    c.expect([our_synack(c, Options(mss=1460))._replace(seq=cookie)])
    assert c.listener is not None and c.listener.syn_queue_len == 0
    assert c.ep.connections == []
    c.deliver(c.peer._replace(ack=(cookie + 1) & 0xFFFFFFFF, flags=ACK | PSH, payload=b"hi", window=30000),
              seconds(5))
    # The MSS came back from the cookie, rounded down to Linux's table (1300).
    ack = Segment(c.lport, c.rport, (cookie + 1) & 0xFFFFFFFF, c.rseq(3), ACK, 65533)
    c.expect([ack], seconds(5))
    conn = c.listener.accept()
    assert conn is not None
    assert c.events() == [Connected(conn), AcceptReady(c.listener), Readable(conn)]
    assert conn.snd_mss == 1300 and conn.read() == b"hi"
    assert c.ep.stats.syncookies_accepted == 1


@pytest.mark.parametrize(("wscale", "sack", "bits"), [(7, True, 7 | 16), (None, True, 15 | 16),
                                                       (2, False, 2), (None, False, 15)])
def test_listen_cookie_with_timestamps_keeps_wscale_and_sack(
        iss: tuple[int, int], wscale: int | None, sack: bool, bits: int) -> None:
    # Linux's cookie_init_timestamp: the SYN-ACK's TSval carries the peer's window
    # scale (0xF: none) and SACK-permitted in its low 6 bits, never above the clock;
    # the ACK's TSecr brings them back.
    c = listen(*iss, Config(syncookies=2, timestamps=True))
    t = ms(1000)  # the 1 ms clock reads 1000 (no offset with FixedIsn)
    c.deliver(peer_syn(c, Options(mss=1400, wscale=wscale, sack_permitted=sack, timestamps=(777, 0))), t)
    tsval = 960 | bits  # 1000 with its low 6 bits replaced: 960 + bits <= 1000
    assert tsval <= 1000
    cookie = cookie_for(c, t, 1400)
    ours = Options(mss=1460, wscale=7 if wscale is not None else None, sack_permitted=sack,
                   timestamps=(tsval, 777))
    c.expect([our_synack(c, ours)._replace(seq=cookie)], t, exact=True)
    assert c.listener is not None and c.listener.syn_queue_len == 0
    c.deliver(c.peer._replace(ack=(cookie + 1) & 0xFFFFFFFF, window=4000,
                              options=Options(timestamps=(790, tsval))), t + ms(10))
    conn = c.listener.accept()
    assert conn is not None and conn.state is State.ESTABLISHED
    scaled = wscale is not None
    # the cookie's MSS bucket (1300) less the timestamps' 12 octets (MUST-16)
    assert (conn.snd_mss, conn.sack_ok, conn.ts_ok) == (1300 - 12, sack, True)
    assert (conn.snd_wscale, conn.rcv_wscale) == ((wscale, 7) if scaled else (0, 0))
    assert conn.snd_wnd == (4000 << wscale if wscale is not None else 4000)
    conn.send(b"x")
    (p,) = c.ep.packets_to_send(t + ms(11))
    assert p.seg.options == Options(timestamps=(1011, 790))  # TS.Recent from the ACK
    assert p.seg.window == (65535 >> 7 if scaled else 65535)


def test_listen_cookie_without_timestamps_on_our_side_still_drops_wscale(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(syncookies=2))
    c.deliver(peer_syn(c, Options(mss=1460, wscale=7, sack_permitted=True, timestamps=(777, 0))))
    c.expect([our_synack(c, Options(mss=1460))._replace(seq=cookie_for(c, 0))], exact=True)


def test_listen_syncookies_2_forged_ack_gets_rst(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(syncookies=2))
    c.deliver(peer_syn(c))
    cookie = cookie_for(c, 0)
    c.expect([our_synack(c, Options(mss=1460))._replace(seq=cookie)])
    forged = (cookie + 12345) & 0xFFFFFFFF
    c.deliver(c.peer._replace(ack=forged))
    c.expect([Segment(c.lport, c.rport, forged, 0, RST, 0)])
    assert c.ep.stats.syncookies_failed == 1
    assert c.ep.stats.dropped[DropReason.LISTEN_ACK] == 1
    assert c.ep.connections == []


def test_listen_syncookie_expires_after_two_minute_counters(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(syncookies=2))
    c.deliver(peer_syn(c))
    cookie = cookie_for(c, 0)
    c.expect([our_synack(c, Options(mss=1460))._replace(seq=cookie)])
    c.deliver(c.peer._replace(ack=(cookie + 1) & 0xFFFFFFFF), seconds(120))
    c.expect([Segment(c.lport, c.rport, (cookie + 1) & 0xFFFFFFFF, 0, RST, 0)], seconds(120))


def test_listen_syncookies_1_checks_no_cookie_without_a_recent_overflow(listening: Case) -> None:
    c = listening
    ack = c.peer._replace(ack=(cookie_for(c, 0) + 1) & 0xFFFFFFFF)
    c.deliver(ack)
    c.expect([Segment(c.lport, c.rport, ack.ack, 0, RST, 0)])
    assert c.ep.stats.syncookies_failed == 0


def test_listen_accept_queue_full_drops_new_syns(iss: tuple[int, int]) -> None:
    # backlog 0: the accept queue holds one (Linux sk_acceptq_is_full: length > backlog)
    c = listen(*iss, backlog=0)
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    c.deliver(c.peer)
    c.expect_nothing()
    c.deliver(other_port(c, 1))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.ACCEPT_QUEUE_FULL] == 1
    assert c.ep.stats.listen_overflows == 1
    assert c.listener is not None and c.listener.accept() is not None
    c.deliver(other_port(c, 1))  # room again: the client's retransmitted SYN is answered
    c.expect([our_synack(c)._replace(dst_port=c.rport + 1, ack=c.rseq(1001))])


def final_ack(c: Case, n: int) -> Segment:
    """The handshake-completing ACK of the n-th other client."""
    return Segment(c.rport + n, c.lport, c.rseq(1000 * n + 1), c.lseq(1), ACK, PEER_WIN)


def synack_to(c: Case, n: int) -> Segment:
    return our_synack(c)._replace(dst_port=c.rport + n, ack=c.rseq(1000 * n + 1))


def test_listen_syn_queue_is_bounded_by_the_backlog(iss: tuple[int, int]) -> None:
    # Linux inet_csk_reqsk_queue_is_full: the listen backlog bounds the SYN queue too,
    # full when it holds more than the backlog (6.18: qlen > sk_max_ack_backlog);
    # the SYN beyond that gets a cookie (syncookies=1) and no entry.
    c = listen(*iss, backlog=2)
    for n in (1, 2, 3, 4):
        c.deliver(other_port(c, n))
    cookie, _ = COOKIES.make(LOCAL_ADDR, c.lport, REMOTE_ADDR, c.rport + 4, c.rseq(4000), 1460, 0)
    c.expect([synack_to(c, 1), synack_to(c, 2), synack_to(c, 3),
              synack_to(c, 4)._replace(seq=cookie, options=Options(mss=1460))])
    assert c.listener is not None and c.listener.syn_queue_len == 3 == c.listener.syn_queue_limit


def test_listen_accept_queue_full_drops_the_final_ack_then_retry_succeeds(iss: tuple[int, int]) -> None:
    c = listen(*iss, backlog=1)  # the accept queue holds 2
    c.deliver(other_port(c, 1))
    c.deliver(other_port(c, 2))
    c.deliver(final_ack(c, 1))
    c.deliver(other_port(c, 3))
    c.deliver(final_ack(c, 2))
    c.expect([synack_to(c, 1), synack_to(c, 2), synack_to(c, 3)])
    assert c.listener is not None and c.listener.accept_queue_len == 2
    c.deliver(final_ack(c, 3))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.ACCEPT_QUEUE_FULL] == 1
    assert c.ep.stats.listen_overflows == 1
    assert c.listener.syn_queue_len == 1  # the entry stays
    # tcp_abort_on_overflow=0: the SYN-ACK is retransmitted; the client ACKs again.
    c.expect([synack_to(c, 3)], seconds(1))
    assert c.listener.accept() is not None
    c.deliver(final_ack(c, 3), seconds(1))
    c.expect_nothing(seconds(1))
    assert [conn.remote_port for conn in c.listener.accept_queue] == [c.rport + 2, c.rport + 3]


def test_listen_accept_queue_full_with_abort_on_overflow_resets(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(abort_on_overflow=True), backlog=1)  # the accept queue holds 2
    c.deliver(other_port(c, 1))
    c.deliver(other_port(c, 2))
    c.deliver(final_ack(c, 1))
    c.deliver(other_port(c, 3))
    c.deliver(final_ack(c, 2))
    c.expect([synack_to(c, 1), synack_to(c, 2), synack_to(c, 3)])
    c.deliver(final_ack(c, 3))
    c.expect([Segment(c.lport, c.rport + 3, c.lseq(1), 0, RST, 0)])
    assert c.listener is not None and c.listener.syn_queue_len == 0


def test_listen_cookie_ack_while_accept_queue_full_is_dropped(iss: tuple[int, int]) -> None:
    c = listen(*iss, Config(syncookies=2), backlog=0)  # the accept queue holds 1
    cookies = [COOKIES.make(LOCAL_ADDR, c.lport, REMOTE_ADDR, c.rport + n, c.rseq(1000 * n), 1460, 0)[0]
               for n in (1, 2)]
    c.deliver(other_port(c, 1))
    c.deliver(other_port(c, 2))
    c.expect([synack_to(c, n)._replace(seq=cookies[n - 1], options=Options(mss=1460)) for n in (1, 2)])
    for n in (1, 2):
        c.deliver(final_ack(c, n)._replace(ack=(cookies[n - 1] + 1) & 0xFFFFFFFF))
    c.expect_nothing()  # the second ACK is dropped: the client retries (no state to keep)
    assert c.listener is not None and c.listener.accept_queue_len == 1
    assert c.ep.stats.dropped[DropReason.ACCEPT_QUEUE_FULL] == 1
    assert c.ep.stats.listen_overflows == 1


def test_listen_backlog_zero_accepts_one(iss: tuple[int, int]) -> None:
    # listen(fd, 0) still takes one connection, as Linux's (length > backlog is full)
    c = listen(*iss, backlog=0)
    c.deliver(peer_syn(c))
    c.expect([our_synack(c)])
    c.deliver(c.peer)
    assert c.listener is not None and c.listener.accept_queue_len == 1
    c.deliver(other_port(c, 1))
    c.expect_nothing()
    assert c.ep.stats.dropped[DropReason.ACCEPT_QUEUE_FULL] == 1


def test_listen_close_forgets_half_open_and_resets_unaccepted(listening: Case) -> None:
    c = listening
    c.deliver(peer_syn(c))
    c.deliver(other_port(c, 1))
    c.expect([our_synack(c), our_synack(c)._replace(dst_port=c.rport + 1, ack=c.rseq(1001))])
    c.deliver(c.peer)
    c.expect_nothing()
    c.events()
    assert c.listener is not None
    c.listener.close(c.now)
    c.expect([c.ours._replace(flags=RST | ACK)])
    assert c.ep.connections == [] and c.ep.listeners == []
    c.deliver(Segment(c.rport + 1, c.lport, c.rseq(1001), c.lseq(1), ACK, PEER_WIN))
    c.expect([Segment(c.lport, c.rport + 1, c.lseq(1), 0, RST, 0)])
    assert isinstance(c.events()[0], Closed)


def test_listen_config_default_window_matches_helpers() -> None:
    assert CONFIG.rcv_buf >> WSCALE == WIN and OUR_SYN_OPTS == PEER_SYN_OPTS
