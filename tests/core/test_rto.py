"""RTO per RFC 6298 (SRTT/RTTVAR after samples, K = 4, granularity, bounds as Config
knobs with Linux's defaults, exponential backoff, Karn's rule)."""

from __future__ import annotations

from support.harness import ACK, PSH, Case, established, ms, seconds
from synack.core.config import Config
from synack.core.rtt import GRANULARITY, rto_from, rtt_update
from synack.core.wire import Segment

RAW = Config(min_rto=ms(1))  # see the estimator's own values, not the 200 ms floor


def sent(c: Case, off: int, payload: bytes) -> Segment:
    return c.ours._replace(seq=c.lseq(1 + off), flags=ACK | PSH, payload=payload)


def test_rto_defaults_are_linux() -> None:
    cfg = Config()
    assert (cfg.initial_rto, cfg.min_rto, cfg.max_rto) == (seconds(1), ms(200), seconds(120))


def test_rto_estimator_arithmetic() -> None:
    srtt, rttvar = rtt_update(None, 0, ms(100))                 # 2.2: SRTT = R, RTTVAR = R/2
    assert (srtt, rttvar) == (ms(100), ms(50))
    assert rto_from(srtt, rttvar, ms(1), seconds(60)) == ms(300)  # SRTT + 4·RTTVAR
    srtt, rttvar = rtt_update(srtt, rttvar, ms(200))            # 2.3: RTTVAR first, old SRTT
    assert (srtt, rttvar) == (112_500, 62_500)
    assert rto_from(srtt, rttvar, ms(1), seconds(60)) == 112_500 + 250_000
    assert rto_from(ms(5), 0, 0, seconds(60)) == ms(5) + GRANULARITY  # 2.2: max(G, K·RTTVAR)
    assert rto_from(ms(5), 0, ms(200), seconds(60)) == ms(200)       # 2.4 floor (Linux 200 ms)
    assert rto_from(seconds(100), seconds(10), ms(200), seconds(60)) == seconds(60)  # 2.5 cap


def test_rto_after_samples_and_after_backoff(iss: tuple[int, int]) -> None:
    c = established(*iss, config=RAW)  # the SYN-ACK came back after 10 ms: first sample
    assert c.c.srtt == ms(10) and c.c.rto == ms(10) + 4 * ms(5)
    t = c.now
    c.c.send(b"x")
    c.expect([sent(c, 0, b"x")], t)
    c.deliver(c.peer._replace(ack=c.lseq(2)), t + ms(30))  # second sample: 30 ms
    c.expect_nothing(t + ms(30))
    assert c.c.srtt == (7 * ms(10) + ms(30)) // 8 == 12_500
    assert c.c.rto == 12_500 + 4 * ((3 * ms(5) + abs(ms(10) - ms(30))) // 4) == 47_500
    t += ms(30)
    c.c.send(b"y")
    c.expect([sent(c, 1, b"y")], t)
    for k in range(3):  # 5.5: each expiry doubles the RTO
        t += 47_500 << k
        c.expect_nothing(t - 1)
        c.expect([sent(c, 1, b"y")], t)
        assert c.c.rto == 47_500 << (k + 1)
    c.deliver(c.peer._replace(ack=c.lseq(3)), t + ms(10))
    c.expect_nothing(t + ms(10))
    assert c.c.rto == 47_500 << 3  # Karn: the retransmitted segment gives no sample
