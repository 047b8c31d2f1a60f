"""Random segments, timeouts and user calls in every state (Hypothesis).

For a connection driven into each state through real segments, feed random
segments (any flag combination, sequence and acknowledgment numbers near and far
from the window edges, any payload size, window and options), random clock jumps
and random user calls.  Nothing may escape but a UsageError from a user call, and
after every step the invariants hold:

- every live connection: SND.UNA <= SND.NXT <= SND.MAX (sequence space), a State,
  not CLOSED, at most ``rcv_buf`` unread octets;
- a CLOSED connection is gone from ``ep.connections``;
- every segment we emit serialises and parses back to itself, with a window field
  that fits 16 bits; it has ACK unless it is our SYN or a RST; options only on
  SYNs (MUST-65); no data on a RST;
- every traced state change is an edge of TRANSITIONS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import harness as h
from support.harness import ACK, CLIENT_PORT, FIN, LOCAL_ADDR, PSH, REMOTE_ADDR, RST, SERVER_PORT, SYN, Case
from synack.core.config import Config
from synack.core.errors import UsageError
from synack.core.seq import MASK, seq_le
from synack.core.state import TRANSITIONS, State
from synack.core.trace import StateRecord
from synack.core.wire import URG, Options, Segment, parse_segment, serialize

CONFIGS = [
    Config(retries2=4, syn_retries=3, synack_retries=2),
    # Small buffers: zero windows, partial takes and a full send buffer happen.
    Config(retries2=4, syn_retries=3, synack_retries=2, rcv_buf=3000, snd_buf=4000, wscale=None,
           challenge_ack_limit=3, rfc1337=True),
    # Stateless SYNs, resets on overflow, a 1 s TIME-WAIT, a short FIN-WAIT-2.
    Config(retries2=3, syn_retries=2, synack_retries=1, syncookies=2, abort_on_overflow=True,
           time_wait=1_000_000, fin_timeout=5_000_000, rcv_buf=20000, wscale=2, snd_buf=10000),
    # Timestamps (PAWS, RTTM, cookies carrying options in TSval) with cookies on overflow.
    Config(retries2=4, syn_retries=3, synack_retries=2, timestamps=True, max_syn_backlog=1),
]
Builder = Callable[[int, int, str, Config], Case]


def _listen(liss: int, riss: int, opener: str, config: Config) -> Case:
    return h.listen(liss, riss, config, backlog=2)


BUILDERS: dict[str, Builder] = {
    "closed": lambda liss, riss, opener, config: h.closed(liss, riss, config),
    "listen": _listen,
    "syn_sent": lambda liss, riss, opener, config: h.syn_sent(liss, riss, config),
    "syn_received": lambda liss, riss, opener, config: h.syn_received(liss, riss, config),
    "established": h.established,
    "fin_wait_1": h.fin_wait_1,
    "fin_wait_2": h.fin_wait_2,
    "close_wait": h.close_wait,
    "closing": h.closing,
    "last_ack": h.last_ack,
    "time_wait": h.time_wait,
}

# -- strategies ---------------------------------------------------------------------------
EDGE_DELTAS = [-(2**31), -70000, -65536, -3001, -1461, -2, -1, 1, 2, 1460, 2999, 3000, 65534, 65535,
               65536, 2**31 - 1]
# Mostly exact (in-sequence segments and acceptable ACKs get deep into the state
# machine), often at the edges, sometimes anywhere.
deltas = st.one_of(st.just(0), st.just(0), st.sampled_from(EDGE_DELTAS), st.integers(-3, 3),
                   st.integers(-(2**32), 2**32))
payload_lens = st.one_of(st.sampled_from([0, 0, 0, 1, 2, 536, 1460, 3000]), st.integers(0, 2000))
COMMON_FLAGS = [ACK, ACK, ACK | PSH, ACK | PSH, FIN | ACK, FIN | PSH | ACK, RST, RST | ACK, SYN, SYN | ACK]
flag_values = st.one_of(st.sampled_from(COMMON_FLAGS), st.integers(0, 255))
options = st.builds(
    Options,
    mss=st.sampled_from([None, 1, 536, 1460, 9000, 65535]),
    wscale=st.sampled_from([None, 0, 7, 14, 15, 255]),
    sack_permitted=st.booleans(),
    timestamps=st.one_of(st.none(), st.tuples(st.integers(0, MASK), st.integers(0, MASK))),
    sack_blocks=st.lists(st.tuples(st.integers(0, MASK), st.integers(0, MASK)), max_size=3).map(tuple),
)


@dataclass(frozen=True)
class SegStep:
    flags: int
    seq_anchor: str
    seq_delta: int
    ack_anchor: str
    ack_delta: int
    payload_len: int
    window: int
    options: Options
    other_port: bool
    urg: int


@dataclass(frozen=True)
class TimeStep:
    dt: int


@dataclass(frozen=True)
class UserStep:
    op: str


Step = SegStep | TimeStep | UserStep

seg_steps = st.builds(
    SegStep,
    flags=flag_values,
    seq_anchor=st.sampled_from(["rcv_nxt", "rcv_nxt", "rcv_nxt", "rcv_edge", "irs"]),
    seq_delta=deltas,
    ack_anchor=st.sampled_from(["snd_una", "snd_nxt", "snd_max", "snd_max", "iss"]),
    ack_delta=deltas,
    payload_len=payload_lens,
    window=st.one_of(st.just(0), st.just(512), st.just(0xFFFF), st.integers(0, 0xFFFF)),
    options=st.one_of(st.just(Options()), options),
    other_port=st.integers(0, 9).map(lambda n: n == 0),
    urg=st.one_of(st.just(0), st.integers(0, 0xFFFF)),
)
time_steps = st.builds(TimeStep, dt=st.sampled_from([0, 1000, 200_000, 1_000_000, 3_000_000, 60_000_000,
                                                     130_000_000]))
USER_OPS = ["read", "read", "read_some", "send", "send", "send_big", "send_urgent", "shutdown", "close",
            "abort"]
user_steps = st.builds(UserStep, op=st.sampled_from(USER_OPS))
steps = st.lists(st.one_of(seg_steps, seg_steps, seg_steps, time_steps, user_steps), min_size=5, max_size=40)


# -- the driver ---------------------------------------------------------------------------------
def anchors(c: Case) -> dict[str, int]:
    conn = c.conn
    if conn is None:
        conns = c.ep.connections
        conn = conns[0] if conns else None
    if conn is None or conn.state is State.CLOSED:
        return {"rcv_nxt": c.rseq(1), "rcv_edge": c.rseq(65536), "irs": c.riss,
                "snd_una": c.lseq(1), "snd_nxt": c.lseq(1), "snd_max": c.lseq(1), "iss": c.liss}
    return {"rcv_nxt": conn.rcv_nxt, "rcv_edge": (conn.rcv_nxt + conn.rcv_wnd) & MASK, "irs": conn.irs,
            "snd_una": conn.snd_una, "snd_nxt": conn.snd_nxt, "snd_max": conn.snd_max, "iss": conn.iss}


def apply(c: Case, step: Step, now: int) -> int:
    if isinstance(step, TimeStep):
        now += step.dt
        c.ep.handle_timeout(now)
    elif isinstance(step, UserStep):
        conn = c.conn
        if conn is None and c.listener is not None:
            conn = c.listener.accept()
            c.conn = conn
        if conn is not None:
            try:
                if step.op == "read":
                    conn.read()
                elif step.op == "read_some":
                    conn.read(700)
                elif step.op == "send":
                    conn.send(b"s" * 100)
                elif step.op == "send_big":
                    conn.send(b"S" * 5000)
                elif step.op == "send_urgent":
                    conn.send(b"U" * 300, urgent=True)
                elif step.op == "shutdown":
                    conn.shutdown(now)
                elif step.op == "close":
                    conn.close(now)
                else:
                    conn.abort(now)
            except UsageError:
                pass
    else:
        a = anchors(c)
        seg = Segment(c.rport + (1 if step.other_port else 0), c.lport,
                      (a[step.seq_anchor] + step.seq_delta) & MASK,
                      (a[step.ack_anchor] + step.ack_delta) & MASK,
                      step.flags, step.window, step.options, b"\xab" * step.payload_len, step.urg)
        c.ep.receive_segment(seg, REMOTE_ADDR, LOCAL_ADDR, now)
    return now


def check(c: Case, now: int) -> None:
    for p in c.ep.packets_to_send(now):
        assert p.src == LOCAL_ADDR and p.dst == REMOTE_ADDR
        seg = p.seg
        assert 0 <= seg.window <= 0xFFFF and 0 <= seg.seq <= MASK and 0 <= seg.ack <= MASK
        assert seg.src_port in (SERVER_PORT, CLIENT_PORT, SERVER_PORT + 1, CLIENT_PORT + 1)
        assert parse_segment(serialize(seg, p.src, p.dst), p.src, p.dst) == seg
        # Only our first SYN and a RST answering a segment without ACK lack ACK...
        assert seg.flags & (ACK | RST) or seg.flags == SYN, seg
        # ...options ride only on SYNs (MUST-65) - except SACK blocks on ACKs while
        # out-of-order data is held (RFC 2018) - and a RST carries no data.
        assert seg.options._replace(sack_blocks=(), timestamps=None) == Options() or seg.flags & SYN, seg
        assert not seg.options.sack_blocks or seg.flags & ACK, seg
        assert not (seg.flags & RST and seg.payload), seg
        assert not (seg.flags & SYN and seg.flags & (RST | FIN)), seg
        assert bool(seg.flags & URG) == (seg.urg > 0), seg  # a pointer exactly with URG
    while c.ep.next_event() is not None:
        pass
    live = c.ep.connections
    for conn in live:
        assert isinstance(conn.state, State) and conn.state is not State.CLOSED
        assert seq_le(conn.snd_una, conn.snd_nxt), (conn.snd_una, conn.snd_nxt)
        assert seq_le(conn.snd_nxt, conn.snd_max), (conn.snd_nxt, conn.snd_max)
        assert conn.bytes_readable <= conn.config.rcv_buf
        assert conn.rcv_wnd >= 0
    if c.conn is not None and c.conn.state is State.CLOSED:
        assert c.conn not in live
    for r in c.records:
        if isinstance(r, StateRecord):
            assert (r.old, r.new) in TRANSITIONS, (r.old, r.new)
    c.records.clear()


@pytest.mark.parametrize("state", list(BUILDERS))
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(iss=st.sampled_from(h.ISS_PAIRS), opener=st.sampled_from(["active", "passive"]),
       config=st.sampled_from(CONFIGS), script=steps)
def test_fuzz_states_random_input_keeps_invariants(state: str, iss: tuple[int, int], opener: str,
                                                   config: Config, script: list[Step]) -> None:
    if config.syncookies == 2:
        opener = "active"  # the passive fixtures expect a SYN-queue entry, not a cookie
    c = BUILDERS[state](iss[0], iss[1], opener, config)
    now = c.now
    check(c, now)
    for step in script:
        now = apply(c, step, now)
        check(c, now)
    # Then the peer falls silent: time alone ends every connection, except one
    # that waits for its application with nothing in flight (ESTABLISHED,
    # CLOSE-WAIT, FIN-WAIT-2 after shutdown()).  No TCB is left without a timer.
    for _ in range(40):
        now += 130_000_000
        c.ep.handle_timeout(now)
        check(c, now)
    for conn in c.ep.connections:
        assert conn.state in {State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_2}, conn
        assert conn.next_timeout() is None and conn.bytes_unacked == 0, conn
    if c.listener is not None:
        assert c.listener.syn_queue_len == 0
