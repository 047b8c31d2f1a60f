"""A socket table like ``ss -tan -o``, from :class:`~synack.core.info.SocketInfo` rows.

::

    Proto  State        Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Timer
    tcp    LISTEN            0     128  10.0.0.2:80         *:*
    tcp    SYN-RECV          0       0  10.0.0.2:80         10.0.0.1:40000     timer:(synack,1sec,1)
    tcp    TIME-WAIT         0       0  10.0.0.1:40001      10.0.0.2:80        timer:(timewait,59sec,0)
    listener 10.0.0.2:80: syn-queue 1, accept-queue 0/128

For a listener, Recv-Q is its accept queue's length and Send-Q its backlog, as ss
shows them; the SYN (half-open) queue's length, which ss does not show, is the note
under the table.  Timers read ``timer:(name,remaining,retries)`` with ss's names
("on" for retransmission, "timewait", "keepalive", "persist") and synack's own
("synack", "fin-wait-2").  :func:`count_by_state` gives the seed's
``netstat -n -p TCP | grep SYN_RECV`` count.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from synack.core.info import SocketInfo

__all__ = ["count_by_state", "format_remaining", "netstat_text", "render_netstat", "timer_text"]

_TIMER_NAMES: Final = {"retrans": "on", "retransmit": "on", "rto": "on"}

_STATE_STYLE: Final = {
    "LISTEN": "bold cyan", "SYN-SENT": "bold yellow", "SYN-RECV": "bold yellow",
    "SYN-RCVD": "bold yellow", "SYN-RECEIVED": "bold yellow", "ESTABLISHED": "bold green",
    "ESTAB": "bold green", "CLOSED": "bold",
}


def format_remaining(us: int) -> str:
    """Time left on a timer, in ss's units: ``"800ms"``, ``"59sec"``, ``"1min30sec"``.

    ss writes 1.5 s as ``"1.500ms"``; that reads as milliseconds, so a time under ten
    seconds with a fraction is written ``"1.5sec"`` here.  Expired timers read ``"0ms"``.
    """
    ms = max(0, us) // 1000
    if ms < 1000:
        return f"{ms}ms"
    minutes, secs = divmod(ms // 1000, 60)
    if minutes:
        if minutes > 9 or not secs:
            return f"{minutes}min"
        return f"{minutes}min{secs}sec"
    tenths = ms % 1000 // 100
    if secs < 10 and tenths:
        return f"{secs}.{tenths}sec"
    return f"{secs}sec"


def timer_text(row: SocketInfo, now_us: int) -> str:
    """``"timer:(timewait,59sec,0)"``, or ``""`` when no timer runs."""
    if row.timer is None:
        return ""
    name = _TIMER_NAMES.get(row.timer, row.timer)
    left = format_remaining(row.timer_deadline - now_us) if row.timer_deadline is not None else ""
    return f"timer:({name},{left},{row.retries})"


def count_by_state(rows: Sequence[SocketInfo]) -> dict[str, int]:
    """How many rows are in each state, in order of first appearance:
    ``{"LISTEN": 1, "SYN-RECV": 128}``."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


def _listener_notes(rows: Sequence[SocketInfo]) -> list[str]:
    return [f"listener {r.local}: syn-queue {r.syn_q}, accept-queue {r.recv_q}/{r.send_q}"
            for r in rows if r.state == "LISTEN"]


def render_netstat(rows: Sequence[SocketInfo], now_us: int, *, host: str | None = None) -> RenderableType:
    """The table as a rich renderable: an optional ``host$ ss -tan -o`` line, the
    table, and one note per listener with its SYN-queue length."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    # On a narrow terminal a cell folds onto a second line rather than being cut.
    table.add_column("Proto", overflow="fold")
    table.add_column("State", overflow="fold")
    table.add_column("Recv-Q", justify="right", overflow="fold")
    table.add_column("Send-Q", justify="right", overflow="fold")
    table.add_column("Local Address:Port", overflow="fold")
    table.add_column("Peer Address:Port", overflow="fold")
    table.add_column("Timer", overflow="fold")
    for r in rows:
        table.add_row("tcp", Text(r.state, style=_STATE_STYLE.get(r.state, "bold magenta")),
                      str(r.recv_q), str(r.send_q), Text(r.local), Text(r.remote),  # "[v6]:p" is no markup
                      Text(timer_text(r, now_us), style="yellow"))
    parts: list[RenderableType] = []
    if host is not None:
        parts.append(Text(f"{host}$ ss -tan -o", style="dim"))
    parts.append(table)
    parts.extend(Text(note, style="italic") for note in _listener_notes(rows))
    return Group(*parts)


def netstat_text(rows: Sequence[SocketInfo], now_us: int, host: str | None = None) -> str:
    """:func:`render_netstat` as plain text (trailing spaces removed)."""
    buf = io.StringIO()
    console = Console(file=buf, width=400, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(render_netstat(rows, now_us, host=host))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"
