"""Timestamps alone (``synack.core.timestamps``, RFC 7323): the TSval clock,
negotiation, PAWS with the 24-day rule (§5.3, §5.5), TS.Recent's rule R3 (§4.3) and
the RTTM echo (§4).  Whole connections with timestamps are in test_timestamps.py."""

from __future__ import annotations

import pytest

from synack.core.config import ms, seconds
from synack.core.timestamps import NO_TIMESTAMPS, PAWS_24DAYS, Timestamps, tsval

NOW = seconds(1000)


def negotiated(recent: int, offset: int = 0, now: int = NOW) -> Timestamps:
    """Timestamps agreed on a SYN whose TSval was ``recent``, at ``now``."""
    ts = Timestamps(offset)
    ts.negotiate(True, (recent, 0), now)
    return ts


def test_tsval_is_a_millisecond_clock_plus_the_offset_modulo_2_32() -> None:
    """RFC 7323 §5.4: TSval = clock (1 ms, as Linux) + a per-connection offset, 32 bits."""
    assert tsval(1_999, 0) == 1
    assert tsval(ms(5), 2**32 - 3) == 2
    assert Timestamps(2**32 - 3).option(ms(5)) == (2, 0)


def test_negotiate_needs_our_offer_and_the_peers_option() -> None:
    """RFC 7323 §3.2: timestamps only when both SYNs carry them; the SYN's TSval is TS.Recent (§5.2)."""
    ts = Timestamps()
    ts.negotiate(False, (77, 0), NOW)
    ts.negotiate(True, None, NOW)
    assert not ts.ok and ts.recent == 0
    ts.negotiate(True, (77, 5), NOW)
    assert ts.ok and (ts.recent, ts.recent_at) == (77, NOW)
    assert ts.option(NOW) == (1_000_000, 77)  # TSecr echoes TS.Recent
    assert not NO_TIMESTAMPS.ok


@pytest.mark.parametrize(("recent", "val", "rejected"), [
    (1000, 999, True),              # older: an old duplicate
    (1000, 1000, False),            # equal is not older
    (1000, 1001, False),
    (2**32 - 10, 5, False),         # newer across the wrap
    (5, 2**32 - 10, True),          # older across the wrap
])
def test_paws_rejects_a_tsval_older_than_ts_recent(recent: int, val: int, rejected: bool) -> None:
    """RFC 7323 §5.3 R1: SEG.TSval < TS.Recent (modulo 2**32) marks an old duplicate."""
    ts = negotiated(recent)
    assert ts.paws_rejects(val, NOW + 1) is rejected
    assert ts.recent == recent  # PAWS alone never moves TS.Recent


def test_paws_forgets_a_ts_recent_idle_for_more_than_24_days() -> None:
    """RFC 7323 §5.5 (Linux TCP_PAWS_24DAYS): an outdated TS.Recent rejects nothing and is replaced."""
    ts = negotiated(1000)
    assert ts.paws_rejects(999, NOW + PAWS_24DAYS)  # 24 days exactly: still valid
    later = NOW + PAWS_24DAYS + 1
    assert not ts.paws_rejects(999, later)
    assert (ts.recent, ts.recent_at) == (999, later)


@pytest.mark.parametrize(("seq", "val", "taken"), [
    (100, 2000, True),              # SEG.SEQ = Last.ACK.sent, newer TSval
    (50, 1000, True),               # below Last.ACK.sent, equal TSval
    (101, 2000, False),             # beyond Last.ACK.sent: a later segment
    (50, 999, False),               # older TSval
    (2**32 - 10, 2000, True),       # below Last.ACK.sent across the wrap
])
def test_ts_recent_is_updated_only_by_a_segment_covering_last_ack_sent(seq: int, val: int,
                                                                      taken: bool) -> None:
    """RFC 7323 §5.3 R3 (§4.3): SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent."""
    ts = negotiated(1000)
    ts.update_recent(seq, val, 100, NOW + 5)
    assert (ts.recent, ts.recent_at) == ((val, NOW + 5) if taken else (1000, NOW))


def test_echo_gives_the_round_trip_in_ms_once() -> None:
    """RFC 7323 §4 RTTM: RTT = now − SEG.TSecr on our clock (offset included); the echo is consumed."""
    ts = negotiated(1000, offset=2**32 - 100)
    ts.ack_tsecr = tsval(NOW - ms(35), ts.offset)
    assert ts.echo_ms(NOW) == 35
    assert ts.ack_tsecr == 0 and ts.echo_ms(NOW) is None


@pytest.mark.parametrize(("sent", "echo"), [
    (NOW - ms(59_999), 59_999),
    (NOW - ms(60_000), None),       # older than a minute: no sample
    (NOW + ms(1), None),            # from the future
])
def test_echo_is_no_sample_when_older_than_a_minute_or_from_the_future(sent: int, echo: int | None) -> None:
    """RFC 7323 §4 / Linux tcp_rtt_tsopt_us: an implausible echo gives no RTT sample."""
    ts = negotiated(1000, offset=7)
    ts.ack_tsecr = tsval(sent, 7)
    assert ts.echo_ms(NOW) == echo
    assert ts.ack_tsecr == 0


def test_echo_of_zero_is_none_as_linux_reads_it() -> None:
    """Linux tcp_ack: TSecr 0 means no echo (RFC 7323 §3.2: TSecr is valid only with ACK)."""
    offset = 2**32 - (NOW - ms(10)) // 1000
    ts = negotiated(1000, offset=offset)
    assert tsval(NOW - ms(10), offset) == 0  # a segment sent 10 ms ago did carry TSval 0 ...
    ts.ack_tsecr = 0
    assert ts.echo_ms(NOW) is None           # ... but an echo of 0 is read as none
