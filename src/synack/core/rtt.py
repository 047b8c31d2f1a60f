"""The retransmission timer's estimator (RFC 6298 §2), in integer microseconds."""

from __future__ import annotations

from typing import Final

#: Clock granularity G of RFC 6298 (we count in µs; 1 ms keeps the variance term sane).
GRANULARITY: Final = 1_000
#: RFC 6298 5.7 / Linux TCP_TIMEOUT_FALLBACK: RTO once data flows after a SYN was
#: retransmitted and no RTT sample exists.
FALLBACK_RTO: Final = 3_000_000


def rtt_update(srtt: int | None, rttvar: int, sample: int, expected: int = 1) -> tuple[int, int]:
    """``(srtt, rttvar)`` after one RTT measurement (RFC 6298 2.2 and 2.3).

    ``expected`` is RFC 7323 Appendix G's ExpectedSamples, the number of samples one
    round trip yields when every ACK is timed (timestamps): the gains become α/E and
    β/E, so that a window's worth of samples moves the estimate as one would."""
    if srtt is None:
        return sample, sample // 2
    err = srtt - sample if srtt > sample else sample - srtt  # (abs, written out: per sample)
    if expected == 1:
        rttvar = (3 * rttvar + err) // 4  # β = 1/4, using the old SRTT
        srtt = (7 * srtt + sample) // 8   # α = 1/8
        return srtt, rttvar
    b, a = 4 * expected, 8 * expected
    rttvar = ((b - 1) * rttvar + err) // b
    srtt = ((a - 1) * srtt + sample) // a
    return srtt, rttvar


def rto_from(srtt: int, rttvar: int, min_rto: int, max_rto: int) -> int:
    """RTO = SRTT + max(G, 4·RTTVAR), within [min_rto, max_rto] (2.2-2.5)."""
    # (min and max written out: the builtins are slow calls, and this runs per sample)
    var = 4 * rttvar
    rto = srtt + (var if var > GRANULARITY else GRANULARITY)
    if rto < min_rto:
        rto = min_rto
    return rto if rto < max_rto else max_rto
