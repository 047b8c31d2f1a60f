"""What the byte-stream scenarios share: a bulk transfer from the client to the
server over one link, and measurements of it taken from the trace.

The client connects, writes ``size`` bytes as fast as its send buffer takes them,
and closes; the server accepts, reads everything (from ``read_from`` on, so that a
reader that has not started yet lets its window close) and closes at end of file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from synack.core.config import DEFAULT_CONFIG, Config, ms, seconds
from synack.core.connection import Connection
from synack.core.events import Connected, Event, PeerClosed, Readable, Writable
from synack.core.seq import seq_add, seq_le
from synack.core.timers import Timer
from synack.core.trace import CongestionRecord, SegmentRecord, TimerAction, TimerRecord
from synack.core.wire import FIN, RST, SYN
from synack.sim import Host, Network

from .apps import accept_all
from .base import CLIENT_ADDR, SERVER_ADDR, Context, Run, Text

PORT: Final = 80
CONNECT_AT: Final = ms(100)


def payload(size: int) -> bytes:
    """``size`` bytes whose value depends on their offset (mod 256, which no segment size
    here divides): a segment delivered at the wrong place shows."""
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


@dataclass
class Transfer:
    """What happened to one bulk transfer."""

    size: int
    data: bytes
    received: bytearray = field(default_factory=bytearray)
    client: Connection | None = None
    server: Connection | None = None
    #: When the client's connect() returned (ESTABLISHED), µs.
    established_at: int | None = None
    #: When the server's application read the last byte, µs.
    done_at: int | None = None
    client_closed: bool = False
    server_closed: bool = False

    @property
    def intact(self) -> bool:
        return bytes(self.received) == self.data

    @property
    def seconds(self) -> float:
        """From ESTABLISHED to the last byte read, in seconds."""
        if self.established_at is None or self.done_at is None:
            return float("nan")
        return (self.done_at - self.established_at) / 1e6

    def goodput(self) -> float:
        """Application bytes per second, in bit/s."""
        return self.size * 8 / self.seconds if self.seconds > 0 else float("nan")


def bulk(ctx: Context, label: Text, size: int, *, client_config: Config = DEFAULT_CONFIG,
         server_config: Config = DEFAULT_CONFIG, read_from: int = 0, until: int = seconds(600),
         setup: Callable[[Network], object] | None = None, **link: Any) -> tuple[Network, Run, Transfer]:
    """Run a ``size``-byte upload over a link with ``link`` parameters (see
    :class:`~synack.sim.PathParams`; both directions alike unless ``forward=`` and
    ``backward=`` are given); ``setup(net)`` may add faults before it starts."""
    net, run = ctx.network(label)
    client = net.add_host("client", [CLIENT_ADDR], client_config)
    server = net.add_host("server", [SERVER_ADDR], server_config)
    net.connect(client, server, **link)
    if setup is not None:
        setup(net)
    t = Transfer(size, payload(size))
    listener = server.listen(PORT)
    accept_all(server, listener)
    written = [0]
    reading = [read_from <= 0]

    def pour(conn: Connection) -> None:
        while written[0] < size:
            n = client.send(conn, t.data[written[0]:written[0] + 65536])
            written[0] += n
            if n == 0:
                return
        if not t.client_closed:
            t.client_closed = True
            client.close(conn)

    def on_client(ev: Event) -> None:
        if isinstance(ev, Connected):
            t.client = ev.conn
            t.established_at = net.now
            pour(ev.conn)
        elif isinstance(ev, Writable):
            pour(ev.conn)

    def drain(host: Host[Any], conn: Connection) -> None:
        if t.server_closed:
            return
        t.received += host.read(conn)
        if len(t.received) >= size and t.done_at is None:
            t.done_at = net.now
        if conn.at_eof and not t.server_closed:
            t.server_closed = True
            host.close(conn)

    def on_server(ev: Event) -> None:
        if isinstance(ev, Connected):
            t.server = ev.conn
        if isinstance(ev, Readable | PeerClosed) and reading[0]:
            drain(server, ev.conn)

    def start_reading() -> None:
        reading[0] = True
        if t.server is not None:
            drain(server, t.server)

    client.on_event(on_client)
    server.on_event(on_server)
    if read_from > 0:
        net.at(read_from, start_reading)
    net.at(CONNECT_AT, lambda: client.connect(SERVER_ADDR, PORT))
    net.run(until=until)
    return net, run, t


# -- measurements from the trace ----------------------------------------------------------
def data_sent(run: Run, host: str) -> list[tuple[int, int, int]]:
    """Data segments ``host`` sent, as (t_us, seq, len)."""
    return [(r.t_us, r.seg.seq, len(r.seg.payload)) for r in run.records
            if isinstance(r, SegmentRecord) and r.event == "send" and r.host == host
            and r.seg is not None and r.seg.payload]


def pure_acks(run: Run, host: str) -> list[tuple[int, int, int]]:
    """Segments without data, SYN or FIN that ``host`` sent, as (t_us, ack, window field)."""
    return [(r.t_us, r.seg.ack, r.seg.window) for r in run.records
            if isinstance(r, SegmentRecord) and r.event == "send" and r.host == host
            and r.seg is not None and not r.seg.payload and not r.seg.flags & (SYN | FIN | RST)]


def duplicate_acks(run: Run, host: str) -> list[tuple[int, int]]:
    """Duplicate ACKs ``host`` sent (RFC 5681 §2: no data, same ACK number and window
    as the previous ACK while data is outstanding), as (t_us, ack)."""
    dups: list[tuple[int, int]] = []
    last: tuple[int, int] | None = None
    for t, ack, win in pure_acks(run, host):
        if last == (ack, win):
            dups.append((t, ack))
        last = (ack, win)
    return dups


def retransmissions(run: Run, host: str) -> list[tuple[int, int, int]]:
    """Data segments ``host`` sent again (a sequence number it had already sent)."""
    highest: int | None = None
    again: list[tuple[int, int, int]] = []
    for t, seq, n in data_sent(run, host):
        end = seq_add(seq, n)
        if highest is not None and seq_le(end, highest):
            again.append((t, seq, n))
        else:
            highest = end
    return again


def spurious_retransmissions(run: Run, sender: str, receiver: str) -> list[tuple[int, int, int]]:
    """Retransmissions by ``sender`` of a segment ``receiver`` had already received when
    it was sent again (reordering or a late ACK taken for a loss)."""
    arrived: dict[tuple[int, int], int] = {}
    for r in run.records:
        if (isinstance(r, SegmentRecord) and r.event == "recv" and r.host == receiver and r.seg is not None
                and r.seg.payload):
            arrived.setdefault((r.seg.seq, len(r.seg.payload)), r.t_us)
    return [(t, seq, n) for t, seq, n in retransmissions(run, sender)
            if arrived.get((seq, n), t + 1) <= t]


def timers_fired(run: Run, host: str, timer: Timer) -> list[int]:
    """When ``host``'s ``timer`` (``Timer.RETRANSMIT``, ``Timer.PERSIST``...) fired."""
    return [r.t_us for r in run.records if isinstance(r, TimerRecord) and r.host == host
            and r.action is TimerAction.FIRED and r.timer is timer]


def window_reductions(run: Run, host: str) -> list[tuple[int, int, int]]:
    """Each time ``host``'s congestion control lowered ssthresh (a loss), as (t_us,
    cwnd just before, the new ssthresh): the multiplicative decrease, read from the
    trace's congestion records."""
    out: list[tuple[int, int, int]] = []
    cwnd: int | None = None
    ssthresh: int | None = None
    for r in run.records:
        if isinstance(r, CongestionRecord) and r.host == host:
            if ssthresh is not None and cwnd is not None and r.ssthresh < ssthresh:
                out.append((r.t_us, cwnd, r.ssthresh))
            cwnd, ssthresh = r.cwnd, r.ssthresh
    return out
