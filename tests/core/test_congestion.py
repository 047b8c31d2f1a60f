"""Pluggable congestion control: the registry, NewReno's arithmetic (RFC 5681 §3.1),
CUBIC's (RFC 9438), and the CongestionRecord trace."""

from __future__ import annotations

import itertools

import pytest

from support.harness import Case, established, ms
from synack.core.config import Config
from synack.core.congestion import (
    CONGESTION_CONTROLS,
    INITIAL_SSTHRESH,
    Cubic,
    NewReno,
    new_congestion_control,
    register_congestion_control,
)
from synack.core.congestion.cubic import BETA, C
from synack.core.trace import CongestionRecord
from synack.views.jsonl import record_to_dict

MSS = 1460


def test_registry_defaults_to_cubic_like_linux() -> None:
    assert Config().congestion == "cubic"
    assert isinstance(new_congestion_control("cubic", MSS, 10 * MSS), Cubic)
    assert isinstance(new_congestion_control("newreno", MSS, 10 * MSS), NewReno)
    with pytest.raises(ValueError, match="congestion"):
        Config(congestion="vegas")


def test_registry_takes_a_new_controller() -> None:
    register_congestion_control("reno-again", NewReno)
    try:
        assert Config(congestion="reno-again").congestion == "reno-again"
    finally:
        del CONGESTION_CONTROLS["reno-again"]


def test_initial_window_is_ten_segments_and_configurable(iss: tuple[int, int]) -> None:
    c = established(*iss)
    assert c.c.cwnd == 10 * MSS and c.c.ssthresh == INITIAL_SSTHRESH
    c = established(*iss, config=Config(initial_window=4))
    assert c.c.cwnd == 4 * MSS


def test_newreno_slow_start_congestion_avoidance_loss_and_rto() -> None:
    r = NewReno(MSS, 10 * MSS)
    r.on_ack(MSS, None, 0)
    r.on_ack(100, None, 0)
    assert r.cwnd == 11 * MSS + 100                       # eq. 2: min(N, SMSS) per ACK
    r.on_ack(5 * MSS, None, 0)
    assert r.cwnd == 12 * MSS + 100                       # ABC: at most one SMSS per ACK
    r.on_loss(20 * MSS, 0)
    assert r.ssthresh == r.cwnd == 10 * MSS               # eq. 4
    r.on_ack(MSS, None, 0)
    assert r.cwnd == 10 * MSS + MSS * MSS // (10 * MSS)   # eq. 3
    r.on_rto(MSS, True, 0)
    assert r.ssthresh == 2 * MSS and r.cwnd == MSS        # floor 2·SMSS; LW = 1 segment
    r.on_rto(8 * MSS, False, 0)
    assert r.ssthresh == 2 * MSS                          # not again in the same episode


def test_cubic_reduction_and_k() -> None:
    cu = Cubic(MSS, 100 * MSS)
    cu.on_loss(100 * MSS, 0)
    assert cu.ssthresh == cu.cwnd == int(100 * MSS * BETA)
    assert cu._w_max == 100 * MSS
    cu.on_ack(MSS, 0, 0)  # the epoch starts: K = ∛((W_max − cwnd) / C) seconds
    assert cu._k == pytest.approx(((100 - 70) / C) ** (1 / 3), rel=1e-9)
    # Fast convergence (§4.7): a loss below W_max remembers less than cwnd.
    cu.cwnd = 80 * MSS
    cu.on_loss(80 * MSS, 1)
    assert cu._w_max == pytest.approx(80 * MSS * (1 + BETA) / 2)


def test_cubic_grows_toward_w_max_then_beyond() -> None:
    cu = Cubic(MSS, 100 * MSS)
    cu.on_loss(100 * MSS, 0)
    srtt = ms(100)
    now = 0
    samples = []
    while now < 12_000_000:  # 12 s of ACKs: one window per RTT
        for _ in range(cu.cwnd // MSS):
            cu.on_ack(MSS, srtt, now)
        samples.append((now, cu.cwnd))
        now += srtt
    k_us = int(cu._k * 1e6)
    at_k = min(samples, key=lambda s: abs(s[0] - k_us))[1]
    assert abs(at_k - 100 * MSS) < 5 * MSS                # plateau at W_max around t = K
    assert samples[-1][1] > 120 * MSS                     # convex growth afterwards
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(samples))


def test_cubic_rto_resets_to_one_segment() -> None:
    cu = Cubic(MSS, 40 * MSS)
    cu.on_rto(40 * MSS, True, 0)
    assert cu.cwnd == MSS and cu.ssthresh == 28 * MSS


def test_cubic_reno_friendly_region_at_small_windows() -> None:
    cu = Cubic(MSS, 10 * MSS)
    cu.on_loss(10 * MSS, 0)  # W_max 10 segments, cwnd 7
    cwnd0 = cu.cwnd
    for _ in range(7):
        cu.on_ack(MSS, ms(10), 0)
    # W_cubic at t=0 is 7 segments; W_est grew by α per window: cwnd follows W_est.
    assert cu.cwnd >= cwnd0 + int(0.5 * MSS)


def test_congestion_record_only_on_change(iss: tuple[int, int]) -> None:
    c = established(*iss)
    before = [r for r in c.records if isinstance(r, CongestionRecord)]
    c.c.send(b"x" * 100)
    c.expect([c.ours._replace(payload=b"x" * 100)])
    c.expect_nothing(c.now)  # nothing changed: no record
    c.deliver(c.peer._replace(ack=c.lseq(101)), c.now + ms(10))
    recs = [r for r in c.records if isinstance(r, CongestionRecord)][len(before):]
    assert [r.inflight for r in recs] == [100, 0]
    last = recs[-1]
    # 100 bytes in flight never filled the 10-segment cwnd: an application-limited
    # flow does not grow it (RFC 9438 §4.6, RFC 7661); the record is for the flight.
    assert last.cwnd == 10 * MSS and last.t_us == c.now + ms(10)
    d = record_to_dict(last)
    assert d["event"] == "cc" and d["cwnd"] == last.cwnd and d["inflight"] == 0
    assert set(d) == {"t_us", "host", "event", "conn", "cwnd", "ssthresh", "srtt_us", "rto_us", "inflight"}


def test_ack_of_syn_does_not_grow_cwnd(iss: tuple[int, int], opener: str) -> None:
    c: Case = established(*iss, opener)
    assert c.c.cwnd == 10 * MSS  # RFC 5681 §3.1: the SYN's ACK leaves cwnd alone


def test_cwnd_grows_only_while_it_limits_the_sender(iss: tuple[int, int]) -> None:
    """Slow start grows cwnd by the bytes ACKed when more than half of it was in
    flight; an application-limited flight (here one segment of ten) leaves it alone."""
    c = established(*iss)
    c.c.send(b"x" * MSS)
    c.expect([c.ours._replace(payload=b"x" * MSS)])
    c.deliver(c.peer._replace(ack=c.lseq(1 + MSS)), c.now + ms(10))
    assert c.c.cwnd == 10 * MSS
    c.c.send(b"y" * (6 * MSS))  # six segments out of ten: cwnd-limited in slow start
    sent = [p.seg for p in c.ep.packets_to_send(c.now + ms(10))]
    assert [len(s.payload) for s in sent] == [MSS] * 6
    c.deliver(c.peer._replace(ack=c.lseq(1 + 7 * MSS)), c.now + ms(20))
    assert c.c.cwnd == 11 * MSS  # one SMSS per ACK in slow start (RFC 5681 eq. 2)
