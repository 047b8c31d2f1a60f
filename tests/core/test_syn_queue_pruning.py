"""The SYN queue under a flood of SYNs nobody completes: its bound, and the pruning of
old entries (Linux's inet_csk_reqsk_queue_is_full, reqsk_timer_handler and
syn_ack_recalc, net/ipv4/inet_connection_sock.c, as read in 6.18).

Each entry's timer decides, when it fires, how many SYN-ACK retransmissions the entry
is allowed: ``Config.synack_retries`` (5), but while the queue is more than half full
(2·length > max(8, backlog)) one fewer for each of 2·young, 4·young ... the length
reaches, never fewer than 2 ("young": entries whose timer has not fired yet).  A
queue full of old entries thus sheds them 7 s after they came, not 63 s, until it is
no more than half full again; the rest keep the whole ``synack_retries``.

The "spoofed" SYNs here come from the peer's address with other ports (n = 1, 2 ...:
port ``rport + n``, ISS ``riss + 1000n``); they are never answered.  The legitimate
client is the harness's peer (port ``rport``, ISS ``riss``).
"""

from __future__ import annotations

from support.harness import (
    ACK,
    PEER_WIN,
    REMOTE_ADDR,
    Case,
    listen,
    ms,
    our_synack,
    peer_syn,
    seconds,
)
from synack.core.config import Config
from synack.core.errors import DropReason
from synack.core.events import AcceptReady, Connected
from synack.core.state import State
from synack.core.trace import TimerAction, TimerRecord
from synack.core.wire import Segment

NO_COOKIES = Config(syncookies=0)


def spoofed(c: Case, n: int) -> Segment:
    """The n-th spoofed SYN: port rport+n, ISS riss+1000n."""
    return peer_syn(c)._replace(src_port=c.rport + n, seq=c.rseq(1000 * n))


def synack_to(c: Case, n: int) -> Segment:
    """Our SYN-ACK (first or retransmitted) to the n-th spoofed SYN."""
    return our_synack(c)._replace(dst_port=c.rport + n, ack=c.rseq(1000 * n + 1))


def flood(c: Case, ns: range, t: int) -> None:
    for n in ns:
        c.deliver(spoofed(c, n), t)


def gave_up(c: Case) -> list[tuple[int, str]]:
    """(time, remote) of every SYN-queue entry whose timer gave up."""
    return [(r.t_us, r.remote) for r in c.records
            if isinstance(r, TimerRecord) and r.action is TimerAction.GAVE_UP]


def remote(c: Case, n: int) -> str:
    """The n-th spoofed SYN's source, as the trace writes it."""
    return f"{REMOTE_ADDR}:{c.rport + n}"


def test_syn_queue_holds_backlog_plus_one_then_drops_syns(iss: tuple[int, int]) -> None:
    """inet_csk_reqsk_queue_is_full (include/net/inet_connection_sock.h): full when its
    length is above sk_max_ack_backlog, so a backlog of 8 holds 9 entries; with
    syncookies 0, tcp_conn_request drops the SYN beyond (TCPReqQFullDrop)."""
    c = listen(*iss, NO_COOKIES, backlog=8)
    flood(c, range(1, 11), 0)
    c.expect([synack_to(c, n) for n in range(1, 10)], 0)
    assert c.listener is not None
    assert c.listener.syn_queue_len == c.listener.syn_queue_limit == 9
    assert c.ep.stats.dropped[DropReason.SYN_QUEUE_FULL] == 1 and c.ep.stats.listen_drops == 1
    assert c.ep.stats.passive_opens == 9


def test_full_queue_of_old_entries_goes_after_two_retransmissions(iss: tuple[int, int]) -> None:
    """reqsk_timer_handler: a flooded queue (9 entries, backlog 8) is more than half
    full.  At 1 s the entries' timers fire in turn; as fewer stay young, the later
    ones are allowed 4, 3, then 2 retransmissions, but all resend.  From then on none
    is young, so each is allowed 2 (1 and 3 s), and at 7 s (syn_ack_recalc:
    num_timeout 2 >= 2) they go, one after the other, until 4 are left (2·4 = 8 is
    not more than half of backlog 8): those resend and carry on.  The legitimate
    client, whose SYN and two retransmissions found the queue full, gets in with its
    third retransmission at 7.5 s."""
    c = listen(*iss, NO_COOKIES, backlog=8)
    assert c.listener is not None
    lst = c.listener
    stats = c.ep.stats
    flood(c, range(1, 10), 0)
    c.expect([synack_to(c, n) for n in range(1, 10)], 0)
    assert (lst.syn_queue_len, lst.young, lst.synack_retry_limit()) == (9, 9, 5)
    c.deliver(peer_syn(c), ms(500))  # the client's SYN: no room
    c.expect_nothing(ms(500))
    c.expect([synack_to(c, n) for n in range(1, 10)], seconds(1))
    assert (lst.syn_queue_len, lst.young, lst.synack_retry_limit()) == (9, 0, 2)
    c.deliver(peer_syn(c), ms(1500))
    c.expect_nothing(ms(1500))
    c.expect_nothing(seconds(3) - 1)
    c.expect([synack_to(c, n) for n in range(1, 10)], seconds(3))
    c.deliver(peer_syn(c), ms(3500))
    assert c.ep.next_timeout() == seconds(7)
    c.expect_nothing(seconds(7) - 1)
    assert lst.syn_queue_len == 9 and stats.listen_drops == 3
    assert stats.dropped[DropReason.SYN_QUEUE_FULL] == 3
    c.expect([synack_to(c, n) for n in range(6, 10)], seconds(7))
    assert (lst.syn_queue_len, lst.young) == (4, 0)
    assert gave_up(c) == [(seconds(7), remote(c, n)) for n in range(1, 6)]
    assert (stats.synack_retransmits, stats.timeouts, stats.syn_queue_pruned) == (22, 5, 5)
    assert c.transitions() == ([(State.LISTEN, State.SYN_RECEIVED)] * 9
                               + [(State.SYN_RECEIVED, State.CLOSED)] * 5)
    # The client's third retransmission (7.5 s) finds room: SYN-ACK, ACK, accepted.
    c.deliver(peer_syn(c), ms(7500))
    c.expect([our_synack(c)], ms(7500))
    assert (lst.syn_queue_len, lst.young) == (5, 1)
    c.deliver(c.peer, ms(7510))
    c.expect_nothing(ms(7510))
    conn = lst.accept()
    assert conn is not None and conn.state is State.ESTABLISHED and conn.remote_port == c.rport
    assert c.events() == [Connected(conn), AcceptReady(lst)]
    assert (lst.syn_queue_len, lst.young, stats.passive_opens) == (4, 0, 10)
    assert c.ep.next_timeout() == seconds(15)  # the 4 left: their third retransmission + 8 s


OLD, YOUNG = range(1, 6), range(6, 9)


def old_and_young(iss: tuple[int, int]) -> Case:
    """Backlog 8: 5 entries at 0 s, old by 3 s; 3 more at 6.5 s.  At 7 s the old ones
    find 8 entries, 3 young: 2·3 <= 8 < 4·3, limit 4, so they resend (their third
    retransmission).  At 7.5 s the young ones' first timeouts; from then on none is
    young and each is allowed 2: the once-young go at 13.5 s."""
    c = listen(*iss, NO_COOKIES, backlog=8)
    assert c.listener is not None
    lst = c.listener
    flood(c, OLD, 0)
    c.expect([synack_to(c, n) for n in OLD], 0)
    c.expect([synack_to(c, n) for n in OLD], seconds(1))
    c.expect([synack_to(c, n) for n in OLD], seconds(3))
    assert (lst.syn_queue_len, lst.young, lst.synack_retry_limit()) == (5, 0, 2)
    flood(c, YOUNG, ms(6500))
    c.expect([synack_to(c, n) for n in YOUNG], ms(6500))
    assert (lst.syn_queue_len, lst.young, lst.synack_retry_limit()) == (8, 3, 4)
    c.expect([synack_to(c, n) for n in OLD], seconds(7))
    c.expect([synack_to(c, n) for n in YOUNG], ms(7500))
    assert (lst.young, lst.synack_retry_limit()) == (0, 2)
    c.expect([synack_to(c, n) for n in YOUNG], ms(9500))
    assert gave_up(c) == []
    c.expect_nothing(ms(13500))
    assert gave_up(c) == [(ms(13500), remote(c, n)) for n in YOUNG]
    assert lst.syn_queue_len == 5
    return c


def test_young_entries_keep_the_old_ones_longer(iss: tuple[int, int]) -> None:
    """reqsk_timer_handler lowers the limit only while the length reaches 2·young,
    4·young ...: with young entries in the queue, old ones are allowed more
    retransmissions than in a queue of old ones only (2)."""
    c = old_and_young(iss)
    stats = c.ep.stats
    assert (stats.synack_retransmits, stats.timeouts, stats.syn_queue_pruned) == (5 * 3 + 3 * 2, 3, 3)
    assert c.ep.next_timeout() == seconds(15)  # the old ones' fourth timeout: 7 + 8 s


def test_pruning_stops_once_the_queue_is_half_full(iss: tuple[int, int]) -> None:
    """The queue above, continued: at 15 s the first old entry (3 retransmissions)
    finds 5 entries of backlog 8 (2·5 > 8), none young, limit 2, and goes; the
    other four find 4 (2·4 = 8, not more than max(8, backlog)) and get the whole
    synack_retries again: they resend at 15 and 31 s and time out at 63 s as
    usual, not pruned."""
    c = old_and_young(iss)
    assert c.listener is not None
    lst = c.listener
    c.expect([synack_to(c, n) for n in range(2, 6)], seconds(15))
    assert gave_up(c)[-1] == (seconds(15), remote(c, 1))
    assert (lst.syn_queue_len, lst.synack_retry_limit()) == (4, 5)
    c.expect_nothing(seconds(31) - 1)
    c.expect([synack_to(c, n) for n in range(2, 6)], seconds(31))
    c.expect_nothing(seconds(63) - 1)
    assert lst.syn_queue_len == 4
    c.expect_nothing(seconds(63))
    assert lst.syn_queue_len == 0
    assert gave_up(c)[-4:] == [(seconds(63), remote(c, n)) for n in range(2, 6)]
    stats = c.ep.stats
    assert (stats.timeouts, stats.syn_queue_pruned) == (3 + 1 + 4, 3 + 1)
    assert stats.synack_retransmits == 5 * 3 + 3 * 2 + 4 * 2


def test_half_full_means_more_than_max_8_and_backlog(iss: tuple[int, int]) -> None:
    """reqsk_timer_handler's test is 2·qlen > max(8, sk_max_ack_backlog): with backlog
    16, 8 old entries (2·8 = 16) keep their 5 retransmissions; of 9, the first to
    reach its third timeout goes and the other 8 keep theirs; with backlog 3 the
    queue is full at 4 entries (2·4 = 8), so it is never pruned at all."""
    kept = listen(*iss, NO_COOKIES, backlog=16)
    pruned = listen(*iss, NO_COOKIES, backlog=16)
    small = listen(*iss, NO_COOKIES, backlog=3)
    for c, sent, queued in ((kept, 8, 8), (pruned, 9, 9), (small, 5, 4)):
        flood(c, range(1, sent + 1), 0)
        for t in (0, seconds(1), seconds(3)):
            c.expect([synack_to(c, k) for k in range(1, queued + 1)], t)
    assert small.ep.stats.dropped[DropReason.SYN_QUEUE_FULL] == 1
    for c, first, n, pruned_ in ((kept, 1, 8, 0), (pruned, 2, 9, 1), (small, 1, 4, 0)):
        for t in (7, 15, 31):
            c.expect([synack_to(c, k) for k in range(first, n + 1)], seconds(t))
        assert c.ep.stats.syn_queue_pruned == pruned_
        c.expect_nothing(seconds(63))
        assert c.listener is not None and c.listener.syn_queue_len == 0
        kept_ = n - first + 1
        assert (c.ep.stats.synack_retransmits, c.ep.stats.timeouts) == (5 * kept_ + 2 * pruned_, n)
    assert gave_up(pruned)[0] == (seconds(7), remote(pruned, 1))


def test_young_counts_entries_whose_timer_has_not_fired(iss: tuple[int, int]) -> None:
    """Linux's queue->young: up when an entry is added (reqsk_queue_added), down at
    its first timeout (reqsk_timer_handler) or when it leaves still young
    (reqsk_queue_removed): here by a RST and by a completed handshake."""
    c = listen(*iss, NO_COOKIES, backlog=8)
    assert c.listener is not None
    lst = c.listener
    flood(c, range(1, 4), 0)
    c.deliver(peer_syn(c), 0)
    c.expect([synack_to(c, n) for n in range(1, 4)] + [our_synack(c)], 0)
    assert (lst.syn_queue_len, lst.young) == (4, 4)
    c.deliver(c.rst(c.rseq(1001))._replace(src_port=c.rport + 1), ms(10))  # RST at RCV.NXT
    c.expect_nothing(ms(10))
    assert (lst.syn_queue_len, lst.young, c.ep.stats.resets_received) == (3, 3, 1)
    c.deliver(c.peer, ms(20))
    c.expect_nothing(ms(20))
    assert (lst.syn_queue_len, lst.young, lst.accept_queue_len) == (2, 2, 1)
    c.expect([synack_to(c, n) for n in (2, 3)], seconds(1))
    assert (lst.syn_queue_len, lst.young) == (2, 0)
    c.deliver(Segment(c.rport + 2, c.lport, c.rseq(2001), c.lseq(1), ACK, PEER_WIN), seconds(2))
    c.expect_nothing(seconds(2))
    assert (lst.syn_queue_len, lst.young, lst.accept_queue_len) == (1, 0, 2)
