"""The SYN queue under a flood of SYNs nobody completes: its bound (Linux's
inet_csk_reqsk_queue_is_full, include/net/inet_connection_sock.h, as read in 6.18).

The "spoofed" SYNs here come from the peer's address with other ports (n = 1, 2 ...:
port ``rport + n``, ISS ``riss + 1000n``); they are never answered.
"""

from __future__ import annotations

from support.harness import Case, listen, our_synack, peer_syn
from synack.core.config import Config
from synack.core.errors import DropReason
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
