"""Window-scale arithmetic (RFC 7323 §2): SND.WND = SEG.WND << Snd.Wind.Shift on
non-SYN segments, SEG.WND = RCV.WND >> Rcv.Wind.Shift on ours, never on SYNs; shifts
above 14 count as 14; no option from the peer means no scaling either way."""

from __future__ import annotations

from support.harness import (
    ACK,
    PEER_SYN_OPTS,
    PSH,
    SYN,
    SYN_WIN,
    T_EST,
    WSCALE,
    Case,
    established,
    syn_sent,
)
from synack.core.wire import Options, Segment


def handshake(iss: tuple[int, int], peer_opts: Options, window: int = SYN_WIN) -> Case:
    c = syn_sent(*iss)
    c.deliver(Segment(c.rport, c.lport, c.riss, c.lseq(1), SYN | ACK, window, peer_opts), T_EST)
    c.now = T_EST
    c.ep.packets_to_send(T_EST)
    return c


def test_window_scale_send_window_is_the_field_shifted(iss: tuple[int, int]) -> None:
    c = established(*iss)
    assert c.c.snd_wnd == SYN_WIN  # the SYN-ACK's window is never scaled
    c.deliver(c.peer._replace(window=1000))
    assert c.c.snd_wnd == 1000 << WSCALE == 128_000


def test_window_scale_our_field_is_the_free_space_shifted_down(iss: tuple[int, int]) -> None:
    c = established(*iss)
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"x" * 1000))
    (p,) = c.ep.packets_to_send(c.now)
    assert p.seg.window == (65535 - 1000) >> WSCALE == 504  # rounded down, never up


def test_window_scale_shift_above_14_is_14(iss: tuple[int, int]) -> None:
    c = handshake(iss, PEER_SYN_OPTS._replace(wscale=15))
    assert c.c.snd_wscale == 14
    c.deliver(c.peer._replace(window=3))
    assert c.c.snd_wnd == 3 << 14


def test_window_scale_off_without_the_peers_option(iss: tuple[int, int]) -> None:
    c = handshake(iss, PEER_SYN_OPTS._replace(wscale=None))
    assert (c.c.snd_wscale, c.c.rcv_wscale) == (0, 0)
    c.deliver(c.peer._replace(window=1000))
    assert c.c.snd_wnd == 1000
    c.deliver(c.peer._replace(flags=ACK | PSH, payload=b"x" * 10))
    (p,) = c.ep.packets_to_send(c.now)
    assert p.seg.window == 65535 - 10
