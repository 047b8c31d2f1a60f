"""The ss-like socket table."""

from __future__ import annotations

import pytest
from rich.console import Console

from synack.core.info import SocketInfo
from synack.views.netstat import count_by_state, format_remaining, netstat_text, render_netstat, timer_text

NOW = 1_000_000

LISTENER = SocketInfo("LISTEN", "10.0.0.2:80", "*:*", 2, 128, syn_q=3)
HALF_OPEN = SocketInfo("SYN-RECV", "10.0.0.2:80", "10.0.0.1:40000", 0, 0, "synack", NOW + 1_000_000, 1)
TIME_WAIT = SocketInfo("TIME-WAIT", "10.0.0.1:40001", "10.0.0.2:80", 0, 0, "timewait", NOW + 59_500_000, 0)
SYN_SENT = SocketInfo("SYN-SENT", "10.0.0.1:40002", "10.0.0.2:80", 0, 1, "on", NOW + 800_000, 2)
ESTABLISHED = SocketInfo("ESTABLISHED", "10.0.0.1:40003", "10.0.0.2:80", 5, 100)


def test_table_text_exactly() -> None:
    text = netstat_text([LISTENER, HALF_OPEN, TIME_WAIT, SYN_SENT, ESTABLISHED], NOW, host="server")
    assert text.splitlines() == [
        "server$ ss -tan -o",
        "Proto  State        Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Timer",
        "tcp    LISTEN            2     128  10.0.0.2:80         *:*",
        "tcp    SYN-RECV          0       0  10.0.0.2:80         10.0.0.1:40000     timer:(synack,1sec,1)",
        "tcp    TIME-WAIT         0       0  10.0.0.1:40001      10.0.0.2:80        timer:(timewait,59sec,0)",
        "tcp    SYN-SENT          0       1  10.0.0.1:40002      10.0.0.2:80        timer:(on,800ms,2)",
        "tcp    ESTABLISHED       5     100  10.0.0.1:40003      10.0.0.2:80",
        "listener 10.0.0.2:80: syn-queue 3, accept-queue 2/128",
    ]
    assert text.endswith("/128\n")


def test_table_without_host_or_listener() -> None:
    assert netstat_text([TIME_WAIT], NOW) == (
        "Proto  State      Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Timer\n"
        "tcp    TIME-WAIT       0       0  10.0.0.1:40001      10.0.0.2:80        timer:(timewait,59sec,0)\n"
    )


def test_empty_table_has_its_header() -> None:
    assert netstat_text([], NOW).splitlines() == [
        "Proto  State  Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Timer"]


@pytest.mark.parametrize(("us", "text"), [
    (-5, "0ms"), (0, "0ms"), (800_000, "800ms"), (1_000_000, "1sec"), (1_500_000, "1.5sec"),
    (10_700_000, "10sec"), (59_999_999, "59sec"), (90_000_000, "1min30sec"), (120_000_000, "2min"),
    (600_000_000, "10min"),
])
def test_format_remaining(us: int, text: str) -> None:
    assert format_remaining(us) == text


def test_timer_text() -> None:
    assert timer_text(TIME_WAIT, NOW) == "timer:(timewait,59sec,0)"
    assert timer_text(ESTABLISHED, NOW) == ""
    retrans = SYN_SENT._replace(timer="retrans", timer_deadline=NOW - 10)
    assert timer_text(retrans, NOW) == "timer:(on,0ms,2)"


def test_count_by_state_like_grep_syn_recv() -> None:
    flood = [LISTENER] + [HALF_OPEN._replace(remote=f"203.0.113.{i}:1234") for i in range(128)]
    counts = count_by_state([*flood, ESTABLISHED])
    assert counts == {"LISTEN": 1, "SYN-RECV": 128, "ESTABLISHED": 1}
    assert list(counts) == ["LISTEN", "SYN-RECV", "ESTABLISHED"]


def test_render_is_coloured_in_a_terminal() -> None:
    console = Console(force_terminal=True, color_system="standard", width=120, record=True)
    with console.capture() as capture:
        console.print(render_netstat([LISTENER, HALF_OPEN], NOW))
    out = capture.get()
    assert "\x1b[" in out and "SYN-RECV" in out


def test_ipv6_addresses_are_not_read_as_markup() -> None:
    from synack.core.info import SocketInfo
    from synack.views.netstat import netstat_text

    text = netstat_text([SocketInfo("ESTABLISHED", "[fd00:5ac::2]:8080", "[fd00:5ac::1]:40000", 0, 0)], 0)
    assert "[fd00:5ac::2]:8080" in text and "[fd00:5ac::1]:40000" in text
