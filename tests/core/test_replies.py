"""Replies alone (``synack.core.replies``): the reset answering a segment (RFC 9293
§3.5.2), the options of our SYN and SYN,ACK (§3.7.1, RFC 7323, RFC 2018), a
listener's ACK for a half-open entry, and the limits on answering unacceptable
segments (RFC 5961 §7, Linux tcp_invalid_ratelimit)."""

from __future__ import annotations

import pytest

from synack.core.config import Config, ms, seconds
from synack.core.errors import DropReason
from synack.core.replies import ReplyLimits, half_open_ack, occupies_sequence_space, reset_for, syn_options
from synack.core.stats import Stats
from synack.core.timestamps import tsval
from synack.core.wire import ACK, FIN, NO_OPTIONS, PSH, RST, SYN, Options, Segment

WRAP = 2**32 - 1
EVERYTHING = Options(mss=1400, wscale=9, sack_permitted=True, timestamps=(5555, 0))


def incoming(seq: int, ack: int, flags: int, payload: bytes = b"") -> Segment:
    """A segment from port 4000 to our port 80."""
    return Segment(4000, 80, seq, ack, flags, 8192, NO_OPTIONS, payload)


# -- reset_for ----------------------------------------------------------------------------
def test_reset_for_a_segment_with_an_ack_is_a_bare_rst_at_seg_ack() -> None:
    """§3.5.2 (and §3.10.7.1): if the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>."""
    seg = incoming(123, WRAP, ACK | PSH, b"data")
    assert reset_for(seg) == Segment(80, 4000, WRAP, 0, RST, 0)


@pytest.mark.parametrize(("seq", "flags", "payload", "ack"), [
    (1000, SYN, b"", 1001),                 # the SYN counts
    (WRAP, SYN, b"", 0),                    # ... across the wrap
    (1000, 0, b"abc", 1003),
    (WRAP - 2, FIN | PSH, b"ab", 0),        # data and the FIN count
    (1000, SYN | FIN, b"x", 1003),
    (1000, 0, b"", 1000),
])
def test_reset_for_a_segment_without_an_ack_acknowledges_all_of_it(seq: int, flags: int, payload: bytes,
                                                                   ack: int) -> None:
    """§3.5.2: otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN and FIN counting in SEG.LEN."""
    assert reset_for(incoming(seq, 0, flags, payload)) == Segment(80, 4000, 0, ack, RST | ACK, 0)


# -- SYN options --------------------------------------------------------------------------
def test_our_syn_offers_every_option_configured() -> None:
    """§3.7.1 MAY-3 (MSS on every SYN), RFC 7323 §1.3/§3.2 (TSecr 0 on a SYN), RFC 2018 §2."""
    assert syn_options(Config(timestamps=True), None, 777) == \
        Options(mss=1460, wscale=7, sack_permitted=True, timestamps=(777, 0))
    assert syn_options(Config(mss=1000, wscale=None, sack=False), None, 777) == Options(mss=1000)


def test_our_syn_ack_answers_only_what_the_peer_offered() -> None:
    """RFC 7323 §1.3, §3.2 and RFC 2018 §2: window scale, timestamps and SACK only if the SYN had them."""
    config = Config(timestamps=True)
    assert syn_options(config, NO_OPTIONS, 777) == Options(mss=1460)
    assert syn_options(config, Options(sack_permitted=True), 777) == Options(mss=1460, sack_permitted=True)
    assert syn_options(config, EVERYTHING, 777, 5555) == \
        Options(mss=1460, wscale=7, sack_permitted=True, timestamps=(777, 5555))  # TSecr = its TSval


def test_our_syn_ack_offers_nothing_we_did_not_configure() -> None:
    """RFC 7323 / RFC 2018: an option is used only if both ends offer it."""
    config = Config(wscale=None, sack=False, timestamps=False)
    assert syn_options(config, EVERYTHING, 777, 5555) == Options(mss=1460)


def test_a_syn_cookie_without_timestamps_negotiates_only_the_mss() -> None:
    """Linux syncookies (cookie_init_timestamp): without timestamps nothing remembers wscale or SACK."""
    config = Config(timestamps=True)
    assert syn_options(config, EVERYTHING, 0, mss=536, negotiable=False) == Options(mss=536)


# -- a listener's ACK ---------------------------------------------------------------------
def test_half_open_ack_acknowledges_the_syn_with_the_connections_scaled_window() -> None:
    """§3.10.7.4 first check from SYN-RECEIVED: <SEQ=ISS+1><ACK=IRS+1><CTL=ACK>, window scaled (RFC 7323)."""
    config = Config(rcv_buf=100_000)
    assert half_open_ack(80, 4000, WRAP, WRAP - 1, config, Options(wscale=2), 0, 0) == \
        Segment(80, 4000, 0, WRAP, ACK, 65535 >> 7)
    assert half_open_ack(80, 4000, 10, 20, config, NO_OPTIONS, 0, 0) == Segment(80, 4000, 11, 21, ACK, 65535)


def test_half_open_ack_rounds_the_scaled_window_down() -> None:
    """RFC 7323 §2.3: the field is the window shifted right (65535 >> 7 = 511, 65408
    octets): 127 short of the SYN-ACK's edge, which the listener still accepts (its
    acceptable window is the free buffer; see ReceiveSpace.advertise)."""
    config = Config()
    ack = half_open_ack(80, 4000, 10, 20, config, Options(wscale=7), 0, 0)
    assert ack.window == 511 and min(config.rcv_buf, 0xFFFF) - (ack.window << 7) == 127


def test_half_open_ack_carries_timestamps_only_when_negotiated() -> None:
    """RFC 7323 §3.2: TSval from our clock and offset, TSecr the peer's SYN's TSval."""
    peer = Options(timestamps=(5555, 0))
    now = seconds(3)
    on = half_open_ack(80, 4000, 10, 20, Config(timestamps=True), peer, 99, now)
    assert on.options == Options(timestamps=(tsval(now, 99), 5555)) and tsval(now, 99) == 3099
    off = half_open_ack(80, 4000, 10, 20, Config(timestamps=False), peer, 99, now)
    assert off.options == NO_OPTIONS


@pytest.mark.parametrize(("flags", "payload", "occupies"), [
    (ACK, b"x", True),
    (ACK | FIN, b"", True),
    (ACK, b"", False),
    (SYN, b"x", False),
    (SYN | FIN, b"", False),
])
def test_occupies_sequence_space_is_data_or_a_fin_without_a_syn(flags: int, payload: bytes,
                                                               occupies: bool) -> None:
    """Linux tcp_oow_rate_limited: a segment whose sender waits for its ACK."""
    assert occupies_sequence_space(flags, payload) is occupies


# -- ReplyLimits --------------------------------------------------------------------------
def test_challenge_acks_are_unlimited_by_default_and_counted() -> None:
    """RFC 5961 §7 (Linux tcp_challenge_ack_limit, INT_MAX today): every challenge ACK goes."""
    stats = Stats()
    limits = ReplyLimits(Config(), stats)
    for i in range(50):
        assert limits.challenge(i, DropReason.RST_CHALLENGED) is DropReason.RST_CHALLENGED
    assert stats.challenge_acks == 50 and stats.dropped[DropReason.RST_CHALLENGED] == 50
    assert stats.dropped[DropReason.CHALLENGE_ACK_LIMIT] == 0


def test_challenge_acks_are_limited_per_second_and_the_held_back_counted() -> None:
    """RFC 5961 §7: at most challenge_ack_limit per second; one held back is counted as the limit's drop."""
    stats = Stats()
    limits = ReplyLimits(Config(challenge_ack_limit=2), stats)
    t = seconds(5)
    assert limits.challenge(t, DropReason.RST_CHALLENGED) is DropReason.RST_CHALLENGED
    assert limits.challenge(t + ms(100), DropReason.SYN_CHALLENGED) is DropReason.SYN_CHALLENGED
    assert limits.challenge(t + ms(200), DropReason.RST_CHALLENGED) is None
    assert limits.challenge(t + seconds(1) - 1, DropReason.RST_CHALLENGED) is None
    assert limits.challenge(t + seconds(1), DropReason.RST_CHALLENGED) is DropReason.RST_CHALLENGED
    assert stats.challenge_acks == 3 and stats.dropped[DropReason.CHALLENGE_ACK_LIMIT] == 2
    assert stats.dropped[DropReason.RST_CHALLENGED] == 2 and stats.dropped[DropReason.SYN_CHALLENGED] == 1


def test_out_of_window_acks_go_at_most_once_per_interval() -> None:
    """Linux tcp_invalid_ratelimit (500 ms): two ends that disagree cannot ACK each other in a loop."""
    stats = Stats()
    limits = ReplyLimits(Config(), stats)
    t = seconds(5)
    assert limits.out_of_window(t, False)
    assert not limits.out_of_window(t + ms(500) - 1, False)
    assert limits.out_of_window(t + ms(500), False)
    assert not limits.out_of_window(t + ms(501), False)
    assert stats.dropped[DropReason.OOW_ACK_LIMIT] == 2


def test_out_of_window_data_or_fin_is_always_answered_and_spends_no_budget() -> None:
    """Linux tcp_oow_rate_limited: a segment occupying sequence space is likely a retransmission."""
    stats = Stats()
    limits = ReplyLimits(Config(), stats)
    t = seconds(5)
    assert limits.out_of_window(t, False)
    assert all(limits.out_of_window(t + i, True) for i in range(1, 5))
    assert stats.dropped[DropReason.OOW_ACK_LIMIT] == 0
    limits = ReplyLimits(Config(), stats)
    assert limits.out_of_window(t, True)
    assert limits.out_of_window(t + 1, False)  # the data's ACK did not start the interval
