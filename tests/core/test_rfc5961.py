"""RFC 5961 (blind in-window attacks): each rule once, in every state it applies to.

RFC 9293 §3.10.7.4 takes RFC 5961's three mitigations into its segment processing:
a RST must hit RCV.NXT exactly (§3.2), a SYN in a synchronized state is never taken
as a reset (§4), an ACK must lie within [SND.UNA - MAX.SND.WND, SND.NXT] (§5), and
the challenge ACKs they cause are throttled (§7, ``Config.challenge_ack_limit``).

Each state is reached through real segments (``support.harness``), with both ISS
assignments (the ``iss`` fixture) and, past the handshake, both openers.
SYN-RECEIVED comes twice: the simultaneous open's Connection, and the passive open's
entry in the listener's SYN queue (which has no Connection).  Every test asserts the
exact segments we send, the state afterwards and the drop counters.

What differs by state on purpose stays in that state's module:

- SYN-RECEIVED (test_syn_received.py): an exact RST is "connection refused" after a
  simultaneous open and silently removes a passive open's entry; a SYN in a passive
  open's window resets the entry (§3.10.7.4 fourth check: back to LISTEN); a bad ACK
  gets a RST (§3.10.7.4 fifth check), not §5's ACK; a SYN repeating the peer's first
  one gets the SYN-ACK again.
- TIME-WAIT (test_time_wait.py): with ``Config(rfc1337=True)`` an exact RST is
  ignored (RFC 1337 F1); a SYN above RCV.NXT, with a listener on the port, reuses
  the 4-tuple (MAY-2) instead of drawing a challenge ACK.
- SYN-SENT (test_syn_sent.py): RFC 5961 §3.2 there: a RST counts only when it
  acknowledges our SYN.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import pytest

from support import harness
from support.harness import ACK, CONFIG, PSH, SYN, SYN_WIN, Case, ms, peer_syn, seconds
from synack.core.config import Config
from synack.core.errors import DropReason
from synack.core.events import Closed, ConnectionReset, Event
from synack.core.seq import MASK
from synack.core.state import State
from synack.core.wire import Segment

#: (our ISS, the peer's ISS): the ``iss`` fixture of conftest.py.
Iss = tuple[int, int]

_REACH_SYNCHRONIZED: dict[State, Callable[[int, int, str, Config], Case]] = {
    State.ESTABLISHED: harness.established,
    State.FIN_WAIT_1: harness.fin_wait_1,
    State.FIN_WAIT_2: harness.fin_wait_2,
    State.CLOSE_WAIT: harness.close_wait,
    State.CLOSING: harness.closing,
    State.LAST_ACK: harness.last_ack,
    State.TIME_WAIT: harness.time_wait,
}


@dataclass(frozen=True)
class Where:
    """A state to try a rule in, how it was opened, and where RCV.NXT, SND.UNA and
    SND.NXT stand there (octets after the peer's ISS, ours, ours)."""

    state: State
    #: "active" or "passive"; in SYN-RECEIVED "simultaneous" or "passive".
    opener: str
    rcv_nxt: int
    snd_una: int
    snd_nxt: int

    @property
    def id(self) -> str:
        return f"{self.state}-{self.opener}"

    def reach(self, iss: Iss, config: Config = CONFIG) -> Case:
        """The state, freshly reached, with its events drained."""
        liss, riss = iss
        if self.state is State.SYN_RECEIVED:
            c = (harness.half_open if self.opener == "passive" else harness.syn_received)(liss, riss, config)
        else:
            c = _REACH_SYNCHRONIZED[self.state](liss, riss, self.opener, config)
        if c.conn is not None:
            assert (c.c.rcv_nxt, c.c.snd_una, c.c.snd_nxt) == \
                (c.rseq(self.rcv_nxt), c.lseq(self.snd_una), c.lseq(self.snd_nxt))
        c.events()
        return c


#: The synchronized states, each reached by connect() and through a listener, with
#: (RCV.NXT, SND.UNA, SND.NXT): a SYN and a FIN each take one sequence number.
SYNCHRONIZED = [Where(state, opener, *seqs)
                for state, seqs in [(State.ESTABLISHED, (1, 1, 1)), (State.FIN_WAIT_1, (1, 1, 2)),
                                    (State.FIN_WAIT_2, (1, 2, 2)), (State.CLOSE_WAIT, (2, 1, 1)),
                                    (State.CLOSING, (2, 1, 2)), (State.LAST_ACK, (2, 1, 2)),
                                    (State.TIME_WAIT, (2, 2, 2))]
                for opener in ("active", "passive")]
#: SYN-RECEIVED: our SYN (at ISS) is not acknowledged yet.
SIMULTANEOUS = Where(State.SYN_RECEIVED, "simultaneous", 1, 0, 1)
HALF_OPEN = Where(State.SYN_RECEIVED, "passive", 1, 0, 1)


def at(wheres: Sequence[Where]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("where", wheres, ids=[w.id for w in wheres])


def state_of(c: Case) -> State:
    """The state of the TCB under test: the Connection's, or for a passive open's
    half-open entry SYN-RECEIVED while it is in the listener's SYN queue."""
    if c.conn is not None:
        return c.conn.state
    assert c.listener is not None
    return State.SYN_RECEIVED if c.listener.syn_queue_len == 1 else State.CLOSED


def challenge_ack(c: Case, where: Where) -> Segment:
    """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with our window for an empty receive buffer."""
    return c.ours._replace(seq=c.lseq(where.snd_nxt), ack=c.rseq(where.rcv_nxt))


def dropped(reason: DropReason, n: int = 1) -> Counter[DropReason]:
    return Counter({reason: n})


# == RST (§3.2) ==========================================================================
class Rst(NamedTuple):
    id: str
    make: Callable[[Case, Where], Segment]


#: RSTs at RCV.NXT.  Without the ACK flag the acknowledgment field means nothing.
EXACT_RSTS = [
    Rst("rst", lambda c, w: c.rst(c.rseq(w.rcv_nxt))),
    Rst("rst-with-an-ack-field-but-no-ack-flag", lambda c, w: c.rst(c.rseq(w.rcv_nxt), c.lseq(w.snd_nxt))),
    Rst("rst-ack", lambda c, w: c.rst(c.rseq(w.rcv_nxt), c.lseq(w.snd_nxt), ACK)),
    Rst("rst-with-text", lambda c, w: c.rst(c.rseq(w.rcv_nxt))._replace(payload=b"go away")),  # SHLD-2
]


def reset_events(c: Case, where: Where) -> list[Event]:
    """What the application hears of an acceptable RST: "connection reset", also in
    CLOSING and LAST-ACK, where our FIN was never acknowledged (RFC 9293 only deletes
    the TCB there; Linux's tcp_reset reports ECONNRESET).  TIME-WAIT's close was
    clean: nothing to report (RFC 9293 §3.10.7.4, and Linux with tcp_rfc1337=0:
    TIME-WAIT assassination)."""
    if where.state is State.TIME_WAIT:
        return [Closed(c.c)]
    return [ConnectionReset(c.c), Closed(c.c)]


@at(SYNCHRONIZED)
@pytest.mark.parametrize("rst", EXACT_RSTS, ids=[r.id for r in EXACT_RSTS])
def test_rst_at_rcv_nxt_resets_the_connection(iss: Iss, where: Where, rst: Rst) -> None:
    """RFC 5961 §3.2: "2) If the RST bit is set and the sequence number exactly matches
    the next expected sequence number (RCV.NXT), then TCP MUST reset the connection."
    """
    c = where.reach(iss)
    c.deliver(rst.make(c, where))
    c.expect_nothing()
    assert c.c.state is State.CLOSED
    assert c.transitions()[-1] == (where.state, State.CLOSED)
    assert c.events() == reset_events(c, where)
    assert c.ep.connections == []
    assert c.ep.stats.resets_received == 1
    assert c.ep.stats.dropped == Counter()


#: RCV.NXT + these is in the window (RCV.WND is 65535 in every state here).
IN_WINDOW = [1, 2, 5, 8, 48, 49, 99, 100, 65000]


@at([*SYNCHRONIZED, SIMULTANEOUS, HALF_OPEN])
@pytest.mark.parametrize("off", IN_WINDOW)
def test_in_window_rst_with_wrong_seq_gets_a_challenge_ack(iss: Iss, where: Where, off: int) -> None:
    """RFC 5961 §3.2: "3) If the RST bit is set and the sequence number does not exactly
    match the next expected sequence value, yet is within the current receive window
    (RCV.NXT < SEG.SEQ < RCV.NXT+RCV.WND), TCP MUST send an acknowledgment (challenge
    ACK): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.  After sending the challenge ACK, TCP
    MUST drop the unacceptable segment and stop processing the incoming packet
    further."
    """
    c = where.reach(iss)
    c.deliver(c.rst(c.rseq(where.rcv_nxt + off)))
    c.expect([challenge_ack(c, where)], exact=True)
    assert state_of(c) is where.state
    assert c.events() == []
    assert c.ep.stats.dropped == dropped(DropReason.RST_CHALLENGED)
    assert c.ep.stats.challenge_acks == 1
    assert c.ep.stats.resets_received == 0


#: RCV.NXT + these is outside the window: below it, or at or beyond RCV.NXT + RCV.WND.
OUTSIDE_THE_WINDOW = [-1, -2, -4, -11, -102, -1000, 70000, 2**31 - 1, 2**31]


@at([*SYNCHRONIZED, SIMULTANEOUS, HALF_OPEN])
@pytest.mark.parametrize("off", OUTSIDE_THE_WINDOW)
def test_rst_outside_the_window_is_dropped_silently(iss: Iss, where: Where, off: int) -> None:
    """RFC 5961 §3.2: "1) If the RST bit is set and the sequence number is outside the
    current receive window, silently drop the segment."
    """
    c = where.reach(iss)
    c.deliver(c.rst(c.rseq(where.rcv_nxt + off)))
    c.expect_nothing()
    assert state_of(c) is where.state
    assert c.events() == []
    assert c.ep.stats.dropped == dropped(DropReason.RST_OUT_OF_WINDOW)
    assert c.ep.stats.challenge_acks == 0
    assert c.ep.stats.resets_received == 0


# == SYN (§4) ============================================================================
class Syn(NamedTuple):
    id: str
    make: Callable[[Case, Where], Segment]
    #: A SYN without ACK above RCV.NXT: in TIME-WAIT with a listener on the port, it
    #: opens a new connection on the 4-tuple instead (test_time_wait.py).
    new_connection_in_time_wait: bool


def on_the_ack_template(flags: int, off: int) -> Callable[[Case, Where], Segment]:
    """The peer's ACK template with SYN set, at RCV.NXT + ``off``."""
    return lambda c, w: c.peer._replace(seq=c.rseq(w.rcv_nxt + off), flags=flags)


IN_WINDOW_SYNS = [
    Syn("syn-at-rcv-nxt", on_the_ack_template(SYN, 0), False),
    Syn("syn-ack-at-rcv-nxt", on_the_ack_template(SYN | ACK, 0), False),
    Syn("syn-in-the-window", on_the_ack_template(SYN, 49), True),
    Syn("syn-ack-in-the-window", on_the_ack_template(SYN | ACK, 49), False),
    # a new connection's SYN (window 65535, options), and a bare one
    Syn("new-syn-at-rcv-nxt", lambda c, w: peer_syn(c)._replace(seq=c.rseq(w.rcv_nxt)), False),
    Syn("new-syn-in-the-window", lambda c, w: peer_syn(c)._replace(seq=c.rseq(w.rcv_nxt + 9)), True),
    Syn("bare-syn-in-the-window",
        lambda c, w: Segment(c.rport, c.lport, c.rseq(w.rcv_nxt + 998), 0, SYN, SYN_WIN), True),
]
_SYN_CASES = [(w, s) for w in [*SYNCHRONIZED, SIMULTANEOUS] for s in IN_WINDOW_SYNS
              if not (w.state is State.TIME_WAIT and w.opener == "passive" and s.new_connection_in_time_wait)]


@pytest.mark.parametrize(("where", "syn"), _SYN_CASES, ids=[f"{w.id}-{s.id}" for w, s in _SYN_CASES])
def test_syn_in_a_synchronized_state_gets_a_challenge_ack(iss: Iss, where: Where, syn: Syn) -> None:
    """RFC 5961 §4.2: "1) If the SYN bit is set, irrespective of the sequence number, TCP
    MUST send an ACK (also referred to as challenge ACK) to the remote peer:
    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.  After sending the acknowledgment, TCP MUST
    drop the unacceptable segment and stop processing further."  (RFC 9293 §3.10.7.4
    fourth check; in SYN-RECEIVED after a simultaneous open: "handle per the
    directions for synchronized states".)
    """
    c = where.reach(iss)
    c.deliver(syn.make(c, where))
    c.expect([challenge_ack(c, where)], exact=True)
    assert c.c.state is where.state
    assert c.events() == []
    assert c.ep.stats.dropped == dropped(DropReason.SYN_CHALLENGED)
    assert c.ep.stats.challenge_acks == 1
    assert c.ep.connections == [c.c]


OLD_SYNS = [
    Syn("syn-at-irs", lambda c, w: c.peer._replace(seq=c.riss, flags=SYN, ack=0), False),
    Syn("new-syn-at-irs", lambda c, w: peer_syn(c), False),  # the peer's SYN, retransmitted
]


@at([*SYNCHRONIZED, SIMULTANEOUS])
@pytest.mark.parametrize("syn", OLD_SYNS, ids=[s.id for s in OLD_SYNS])
def test_syn_below_the_window_gets_a_plain_ack(iss: Iss, where: Where, syn: Syn) -> None:
    """RFC 5961 §4.2's SYN, "irrespective of the sequence number", gets an ACK: below
    the window RFC 9293's first check answers it ("If an incoming segment is not
    acceptable, an acknowledgment should be sent in reply ...
    <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"), so it is dropped as out of window, not
    counted as a challenge.
    """
    c = where.reach(iss)
    c.deliver(syn.make(c, where))
    c.expect([challenge_ack(c, where)], exact=True)
    assert c.c.state is where.state
    assert c.events() == []
    assert c.ep.stats.dropped == dropped(DropReason.OUT_OF_WINDOW)
    assert c.ep.stats.challenge_acks == 0


# == ACK (§5) ============================================================================
def with_ack(c: Case, where: Where, ack: int, payload: bytes) -> Segment:
    """The peer's next segment at RCV.NXT (``payload`` with PSH), acknowledging ``ack``."""
    return c.peer._replace(seq=c.rseq(where.rcv_nxt), ack=ack, flags=ACK | PSH if payload else ACK,
                           payload=payload)


#: SND.NXT + these has not been sent; some segments carry text.
UNSENT = [(1, b""), (3, b""), (4, b""), (999, b"abc")]


@at(SYNCHRONIZED)
@pytest.mark.parametrize(("beyond", "payload"), UNSENT, ids=["1", "3", "4", "999-with-text"])
def test_ack_of_unsent_data_is_dropped_with_an_ack(iss: Iss, where: Where, beyond: int,
                                                   payload: bytes) -> None:
    """RFC 5961 §5.2: "The ACK value is considered acceptable only if it is in the range
    of ((SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT).  All incoming segments whose
    ACK value doesn't satisfy the above condition MUST be discarded and an ACK sent
    back."  Here SEG.ACK > SND.NXT (RFC 9293 §3.10.7.4 fifth check: "send an ACK,
    drop the segment, and return"); the text is discarded with it.
    """
    c = where.reach(iss)
    c.deliver(with_ack(c, where, c.lseq(where.snd_nxt + beyond), payload))
    c.expect([challenge_ack(c, where)], exact=True)
    assert c.c.state is where.state
    assert c.c.snd_una == c.lseq(where.snd_una)
    assert c.c.bytes_readable == 0
    assert c.events() == []
    assert c.ep.stats.dropped == dropped(DropReason.ACK_OF_UNSENT)


@at(SYNCHRONIZED)
@pytest.mark.parametrize("payload", [b"abc", b""], ids=["with-text", "without-text"])
def test_ack_older_than_the_largest_window_is_dropped_with_an_ack(iss: Iss, where: Where,
                                                                  payload: bytes) -> None:
    """RFC 5961 §5.2, the lower bound: SEG.ACK < SND.UNA - MAX.SND.WND ("the largest
    window that the local sender has ever received from its peer") is not "ignored"
    as an old duplicate (RFC 793); the segment is "discarded and an ACK sent back".
    """
    c = where.reach(iss)
    too_old = (c.c.snd_una - c.c.max_snd_wnd - 1) & MASK
    c.deliver(with_ack(c, where, too_old, payload))
    c.expect([challenge_ack(c, where)], exact=True)
    assert c.c.state is where.state
    assert c.c.bytes_readable == 0
    assert c.events() == []
    assert c.ep.stats.dropped == dropped(DropReason.BAD_ACK)


@at(SYNCHRONIZED)
def test_ack_at_the_lower_edge_of_the_range_is_acceptable(iss: Iss, where: Where) -> None:
    """RFC 5961 §5.2: SEG.ACK = SND.UNA - MAX.SND.WND is still in the acceptable range:
    an old duplicate ACK, ignored (no answer, no drop)."""
    c = where.reach(iss)
    oldest = (c.c.snd_una - c.c.max_snd_wnd) & MASK
    c.deliver(with_ack(c, where, oldest, b""))
    c.expect_nothing()
    assert c.c.state is where.state
    assert c.ep.stats.dropped == Counter()


# == the challenge-ACK throttle (§7) ======================================================
# (Connections only: the listener answers for its SYN-queue entries without a limit.)
@at([*SYNCHRONIZED, SIMULTANEOUS])
def test_challenge_acks_are_throttled_per_second(iss: Iss, where: Where) -> None:
    """RFC 5961 §7: "An implementation SHOULD include an ACK throttling mechanism to be
    conservative", the number of challenge ACKs "in a specified interval" being
    configurable: ``Config.challenge_ack_limit`` per second, per connection.
    """
    # (RTOs of 3 s: no SYN-ACK or FIN is retransmitted within the second.)
    c = where.reach(iss, Config(challenge_ack_limit=2, initial_rto=seconds(3), min_rto=seconds(3)))
    for k in range(3):
        c.deliver(c.rst(c.rseq(where.rcv_nxt + 9 + k)), c.now + ms(k))
    c.expect([challenge_ack(c, where)], c.now + ms(2), exact=True)  # one ACK answers both
    assert c.ep.stats.challenge_acks == 2
    assert c.ep.stats.dropped == Counter({DropReason.RST_CHALLENGED: 2, DropReason.CHALLENGE_ACK_LIMIT: 1})
    t = c.now + seconds(1)
    c.deliver(c.rst(c.rseq(where.rcv_nxt + 19)), t)
    c.expect([challenge_ack(c, where)], t, exact=True)
    assert c.ep.stats.challenge_acks == 3
    assert c.c.state is where.state


@at([*SYNCHRONIZED, SIMULTANEOUS])
def test_rst_and_syn_challenges_share_one_budget(iss: Iss, where: Where) -> None:
    """RFC 5961 §7 throttles challenge ACKs, whatever drew them: a SYN's (§4) and a
    RST's (§3.2) count against the same limit."""
    c = where.reach(iss, Config(challenge_ack_limit=1))
    c.deliver(c.peer._replace(seq=c.rseq(where.rcv_nxt), flags=SYN | ACK))
    c.deliver(c.rst(c.rseq(where.rcv_nxt + 9)))
    c.expect([challenge_ack(c, where)], exact=True)
    assert c.ep.stats.challenge_acks == 1
    assert c.ep.stats.dropped == Counter({DropReason.SYN_CHALLENGED: 1, DropReason.CHALLENGE_ACK_LIMIT: 1})
    assert c.c.state is where.state
