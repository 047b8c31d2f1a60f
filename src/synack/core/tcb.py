"""The transmission control block as RFC 9293 §3.3.1 names it, read-only.

A connection's state lives in its parts (``snd``, ``rcv``, ``rec``, ``ts``); tests,
views and drivers read it here under the RFC's names (``snd_una``, ``rcv_nxt``...)
and the statistics an operator asks for (``cwnd``, ``srtt``, Recv-Q and Send-Q).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .recovery import Recovery
    from .recv import ReceiveSpace
    from .send import SendSpace
    from .timestamps import Timestamps


class TcbView:
    """Read-only RFC names over a connection's parts."""

    __slots__ = ()

    if TYPE_CHECKING:
        snd: SendSpace
        rcv: ReceiveSpace
        rec: Recovery
        ts: Timestamps
        _retries: int

    # -- send sequence space --------------------------------------------------------
    @property
    def iss(self) -> int:
        return self.snd.iss

    @property
    def snd_una(self) -> int:
        return self.snd.una

    @property
    def snd_nxt(self) -> int:
        return self.snd.nxt

    @property
    def snd_max(self) -> int:
        """The highest sequence number sent (+1)."""
        return self.snd.max

    @property
    def snd_wnd(self) -> int:
        return self.snd.wnd

    @property
    def snd_wl1(self) -> int:
        return self.snd.wl1

    @property
    def snd_wl2(self) -> int:
        return self.snd.wl2

    @property
    def max_snd_wnd(self) -> int:
        """RFC 5961 §5 MAX.SND.WND."""
        return self.snd.max_wnd

    @property
    def snd_mss(self) -> int:
        """The effective send MSS (§3.7.1)."""
        return self.snd.mss

    @property
    def snd_wscale(self) -> int:
        return self.snd.wscale

    @property
    def bytes_unacked(self) -> int:
        """Send-Q: data written and not yet acknowledged."""
        return self.snd.unacked

    @property
    def send_space(self) -> int:
        return self.snd.space

    # -- receive sequence space -------------------------------------------------------
    @property
    def irs(self) -> int:
        return self.rcv.irs

    @property
    def rcv_nxt(self) -> int:
        return self.rcv.nxt

    @property
    def rcv_wnd(self) -> int:
        """RCV.WND: the free space in the receive buffer."""
        return self.rcv.window

    @property
    def rcv_adv(self) -> int:
        """The right edge of the window we advertised."""
        return self.rcv.adv

    @property
    def rcv_wscale(self) -> int:
        return self.rcv.wscale

    @property
    def sack_ok(self) -> bool:
        return self.rcv.sack_ok

    @property
    def ts_ok(self) -> bool:
        return self.ts.ok

    @property
    def bytes_readable(self) -> int:
        """Recv-Q: in-order data the application has not read."""
        return len(self.rcv.buf)

    @property
    def urgent_pending(self) -> int:
        """Octets of urgent data not yet read (MUST-33); 0 outside urgent mode."""
        return self.rcv.urgent_pending

    @property
    def peer_closed(self) -> bool:
        """The peer's FIN has arrived (end of the data it will send)."""
        return self.rcv.peer_fin

    @property
    def at_eof(self) -> bool:
        return self.rcv.peer_fin and not self.rcv.buf

    # -- retransmission and congestion -------------------------------------------------
    @property
    def cwnd(self) -> int:
        """The congestion window (octets)."""
        return self.rec.cc.cwnd

    @property
    def ssthresh(self) -> int:
        return self.rec.cc.ssthresh

    @property
    def in_recovery(self) -> bool:
        """In fast recovery (RFC 5681 §3.2, RFC 6582)."""
        return self.rec.in_recovery

    @property
    def rto(self) -> int:
        return self.rec.rto

    @property
    def srtt(self) -> int | None:
        return self.rec.srtt

    @property
    def rttvar(self) -> int:
        return self.rec.rttvar

    @property
    def retries(self) -> int:
        """Retransmissions (or probes) since the peer last acknowledged something."""
        return self._retries
