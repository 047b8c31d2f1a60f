"""PAWS in the SYN queue (RFC 7323 §5.3 R1): the handshake's final ACK with a TSval
older than the SYN's is refused before any connection is made, as Linux's
tcp_check_req does, so the entry keeps its place and its SYN-ACK timer.  (A fuzz
finding: the connection was made first and refused the ACK itself, and stayed in
SYN-RECEIVED, in neither queue and with no timer, for ever.)"""

from __future__ import annotations

from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.errors import DropReason
from synack.core.isn import FixedIsn
from synack.core.state import State
from synack.core.timestamps import tsval
from synack.core.wire import ACK, SYN, Options, Segment

US, PEER = "10.0.0.1", "10.0.0.2"
ISS = 10_000


def syn_then(ep: Endpoint, port: int, final_tsval: int) -> Segment:
    """A client's SYN (TSval 1000) and our SYN-ACK; then its final ACK with
    ``final_tsval``; returns our SYN-ACK."""
    ep.receive_segment(Segment(port, 80, 5000, 0, SYN, 65535, Options(mss=1460, timestamps=(1000, 0))),
                       PEER, US, 0)
    [synack] = [p.seg for p in ep.packets_to_send(0)]
    assert synack.options.timestamps is not None
    ep.receive_segment(Segment(port, 80, 5001, ISS + 1, ACK, 512,
                               Options(timestamps=(final_tsval, synack.options.timestamps[0]))), PEER, US, 0)
    return synack


def test_a_final_ack_older_than_the_syn_is_answered_and_the_entry_stays() -> None:
    ep = Endpoint([US], Config(timestamps=True), isn=FixedIsn(ISS))
    listener = ep.listen(80, 1)
    syn_then(ep, 40000, 999)
    # Answered with <SEQ=ISS+1><ACK=IRS+1><CTL=ACK>, the window scaled as the SYN-ACK
    # offered none (no scaling without the peer's option), TSecr = the SYN's TSval.
    [ack] = [p.seg for p in ep.packets_to_send(0)]
    assert ack == Segment(80, 40000, ISS + 1, 5001, ACK, 65535, Options(timestamps=(tsval(0, 0), 1000)))
    assert ep.stats.dropped[DropReason.PAWS] == 1
    assert (listener.syn_queue_len, listener.accept_queue_len, ep.connections) == (1, 0, [])
    # The entry's timer still runs: the SYN-ACK is retransmitted at 1 s ...
    assert ep.next_timeout() == 1_000_000
    ep.handle_timeout(1_000_000)
    [again] = [p.seg for p in ep.packets_to_send(1_000_000)]
    assert (again.flags, again.seq, again.ack) == (SYN | ACK, ISS, 5001)
    # ... and a good final ACK still completes the handshake.
    assert again.options.timestamps is not None
    good = Options(timestamps=(1001, again.options.timestamps[0]))
    ep.receive_segment(Segment(40000, 80, 5001, ISS + 1, ACK, 512, good), PEER, US, 1_100_000)
    conn = listener.accept()
    assert conn is not None and conn.state is State.ESTABLISHED and listener.syn_queue_len == 0


def test_refused_final_acks_never_fill_the_accept_queue_beyond_the_backlog() -> None:
    """With a backlog of 1, a refused handshake, two completed ones, then the refused
    one's next (good) ACK: the accept queue holds 2 (backlog + 1, as Linux's), and the
    late ACK meets a full queue (dropped, as Linux with tcp_abort_on_overflow 0)."""
    ep = Endpoint([US], Config(timestamps=True), isn=FixedIsn(ISS))
    listener = ep.listen(80, 1)
    synack = syn_then(ep, 40000, 999)
    ep.packets_to_send(0)
    syn_then(ep, 40001, 1000)
    syn_then(ep, 40002, 1000)
    assert listener.accept_queue_len == 2
    assert synack.options.timestamps is not None
    late = Options(timestamps=(1002, synack.options.timestamps[0]))
    ep.receive_segment(Segment(40000, 80, 5001, ISS + 1, ACK, 512, late), PEER, US, 0)
    assert listener.accept_queue_len == 2 and ep.stats.dropped[DropReason.ACCEPT_QUEUE_FULL] == 1
    assert [c.state for c in ep.connections] == [State.ESTABLISHED] * 2


def test_an_accepted_connection_has_the_listeners_settings() -> None:
    """A listener made under other settings than its endpoint's now (a socket's
    SO_RCVBUF before listen()) passes them to the connections it makes, as an accepted
    socket inherits the listening socket's options in Linux."""
    ep = Endpoint([US], Config(), isn=FixedIsn(ISS))
    ep.config = Config(rcv_buf=1_000_000, timestamps=True)
    listener = ep.listen(80, 1)
    ep.config = Config()
    synack = syn_then(ep, 40000, 1000)
    conn = listener.accept()
    assert conn is not None and conn.config is listener.config and conn.rcv.size == 1_000_000
    assert synack.options.timestamps is not None  # the listener's timestamps, too


def test_a_retransmitted_syn_is_answered_once_per_half_second_and_restarts_the_timer() -> None:
    """Linux's tcp_check_req: a retransmitted SYN gets the SYN-ACK again unless one
    was sent for another such SYN less than tcp_invalid_ratelimit (500 ms) ago, and
    that SYN-ACK restarts the entry's timer from now (reqsk_timeout)."""
    ep = Endpoint([US], Config(), isn=FixedIsn(ISS))
    ep.listen(80, 1)
    syn = Segment(40000, 80, 5000, 0, SYN, 65535, Options(mss=1460))
    synack = Segment(80, 40000, ISS, 5001, SYN | ACK, 65535, Options(mss=1460))

    def answers(at: int) -> list[Segment]:
        ep.receive_segment(syn, PEER, US, at)
        return [p.seg for p in ep.packets_to_send(at)]

    assert answers(0) == [synack]
    assert ep.next_timeout() == 1_000_000
    assert answers(300_000) == [synack]
    assert ep.next_timeout() == 1_300_000   # restarted by the answer
    assert answers(500_000) == []           # 200 ms after the last answer: rate-limited
    assert answers(800_000) == [synack]     # 500 ms after it
    assert ep.next_timeout() == 1_800_000
    ep.handle_timeout(1_800_000)
    assert [p.seg for p in ep.packets_to_send(1_800_000)] == [synack]
    assert ep.next_timeout() == 3_800_000   # the timer's own backoff: 2 s
    assert ep.stats.synack_retransmits == 3
