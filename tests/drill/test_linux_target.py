"""The linux target (synack.drill.linux): hand-written scripts run against the kernel.

These need root and /dev/net/tun (and nsenter).  Without them they skip with the
reason -- except under CI (``CI=true``), where a missing requirement is a failure, as
in the interop tests.  Each script gets its own namespace; every test checks none is
left behind.  The scripts set ``tcp_rmem`` to Linux's default (6 MB) so that the
kernel's window scale (7) does not depend on the host's own setting, which a new
namespace copies.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.ci import unavailable
from synack.drill import linux
from synack.drill.linux import LinuxTarget, LinuxUnavailable
from synack.drill.parser import parse
from synack.drill.runner import Outcome, ScriptResult

RMEM_SYSCTL = 'sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"'
RMEM = f"`{RMEM_SYSCTL}`\n"
NO_TS = f"`{RMEM_SYSCTL} net.ipv4.tcp_timestamps=0`\n"


def _ours() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"drill{os.getpid()}-")]


@pytest.fixture
def target() -> Iterator[LinuxTarget]:
    problem = LinuxTarget.problem()
    if problem is not None:
        unavailable(problem)
    yield LinuxTarget()
    assert _ours() == [], "a namespace of this process was left behind"


def run(target: LinuxTarget, text: str, path: str = "t.pkt", **kw: int | None) -> ScriptResult:
    return target.run(parse(text, path), tolerance_us=kw.get("tolerance_us"))


PASSIVE = RMEM + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0  > S. 0:0(0) ack 1 win 65160 <mss 1460,sackOK,TS val 5000 ecr 100,nop,wscale 7>
+.01 < . 1:1(0) ack 1 win 514 <nop,nop,TS val 110 ecr 5000>
+0  accept(3, ..., ...) = 4
+0  getsockopt(4, IPPROTO_TCP, TCP_MAXSEG, [1448], [4]) = 0
+0  write(4, ..., 1000) = 1000
+0  > P. 1:1001(1000) ack 1 win 510 <nop,nop,TS val 5010 ecr 110>
+.01 < . 1:1(0) ack 1001 win 514 <nop,nop,TS val 120 ecr 5010>
"""


def test_passive_open_matches_the_kernels_synack(target: LinuxTarget) -> None:
    result = run(target, PASSIVE)
    assert result.outcome is Outcome.PASSED, result.describe()


def test_active_open_learns_the_kernels_isn_and_port(target: LinuxTarget) -> None:
    result = run(target, NO_TS + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)
+0  fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0  > S 0:0(0) win 64240 <mss 1460,nop,nop,sackOK,nop,wscale 7>
+.01 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,nop,sackOK,nop,wscale 2>
+0  > . 1:1(0) ack 1 win 502
+0  getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+.01 < P. 1:101(100) ack 1 win 5792
+0  > . 1:1(0) ack 101 win 502
+0  read(3, ..., 1000) = 100
+0  read(3, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
""")
    assert result.outcome is Outcome.PASSED, result.describe()


def test_close_from_established_to_time_wait(target: LinuxTarget) -> None:
    result = run(target, NO_TS + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460,nop,wscale 0>
+0  > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,wscale 7>
+.01 < . 1:1(0) ack 1 win 65535
+0  accept(3, ..., ...) = 4
+0  close(4) = 0
+0  > F. 1:1(0) ack 1 win 502
+.01 < . 1:1(0) ack 2 win 65535
+.01 < F. 1:1(0) ack 2 win 65535
+0  > . 2:2(0) ack 2 win 502
// TIME-WAIT: a retransmitted FIN is ACKed again
+.01 < F. 1:1(0) ack 2 win 65535
+0  > . 2:2(0) ack 2 win 502
""")
    assert result.outcome is Outcome.PASSED, result.describe()


def test_syn_to_a_closed_port_gets_rst_ack(target: LinuxTarget) -> None:
    result = run(target, """
0   < S 0:0(0) win 65535 <mss 1460>
+0  > R. 0:0(0) ack 1 win 0
""")
    assert result.outcome is Outcome.PASSED, result.describe()


def test_connect_refused_by_rst(target: LinuxTarget) -> None:
    result = run(target, NO_TS + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0...0.02 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)
+0  > S 0:0(0) win 64240 <mss 1460,nop,nop,sackOK,nop,wscale 7>
+.02 < R. 0:0(0) ack 1 win 0
""")
    assert result.outcome is Outcome.PASSED, result.describe()


def test_blocking_calls_run_while_later_lines_go_on(target: LinuxTarget) -> None:
    result = run(target, RMEM + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0...0.1 accept(3, ..., ...) = 4
+0  < S 0:0(0) win 65535 <mss 1000,nop,wscale 0>
+0  > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,wscale 7>
+.1 < . 1:1(0) ack 1 win 65535
+0...0.05 read(4, ..., 100) = 10
+.05 < P. 1:11(10) ack 1 win 65535
+0  > . 1:1(0) ack 11 <...>
""")
    assert result.outcome is Outcome.PASSED, result.describe()


def test_a_blocking_call_that_returns_late_fails(target: LinuxTarget) -> None:
    result = run(target, RMEM + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0...0.05 accept(3, ..., ...) = 4
+0  < S 0:0(0) win 65535 <mss 1000,nop,wscale 0>
+0  > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,wscale 7>
+.1 < . 1:1(0) ack 1 win 65535
""")
    assert result.outcome is Outcome.FAILED
    assert result.line == 6  # the accept
    assert result.message.startswith("accept() returned: expected at 0.05")


def test_ipv6_passive_open(target: LinuxTarget) -> None:
    result = run(target, "--ip_version=ipv6\n" + RMEM + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1440,sackOK,nop,nop,nop,wscale 7>
+0  > S. 0:0(0) ack 1 win 64800 <mss 1440,nop,nop,sackOK,nop,wscale 7>
+.01 < . 1:1(0) ack 1 win 512
+0  accept(3, ..., ...) = 4
+0  close(4) = 0
+0  > F. 1:1(0) ack 1 win 507
+0  < R. 1:1(0) ack 2 win 0
""")
    assert result.outcome is Outcome.PASSED, result.describe()


def test_wrong_synack_fails_with_the_mismatch(target: LinuxTarget) -> None:
    result = run(target, RMEM + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460,sackOK,nop,nop,nop,wscale 7>
+0  > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,nop,sackOK,nop,wscale 9>
""")
    assert result.outcome is Outcome.FAILED
    assert result.line == 7
    assert result.message == ("options: expected <mss 1460,nop,nop,sackOK,nop,wscale 9> "
                              "got <mss 1460,nop,nop,sackOK,nop,wscale 7>")


def test_packet_at_the_wrong_time_fails(target: LinuxTarget) -> None:
    # The SYN-ACK comes at once, not 0.1 s later.
    result = run(target, RMEM + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460>
+.1 > S. 0:0(0) ack 1 win 64240 <mss 1460>
""")
    assert result.outcome is Outcome.FAILED
    assert result.line == 7
    assert result.message.startswith("packet S. 0:0(0) ack 1 win 64240 <mss 1460>: expected at 0.1")


def test_a_packet_no_line_expects_fails(target: LinuxTarget) -> None:
    # The kernel ACKs the FIN; the script forgets it and goes on 0.1 s later.
    result = run(target, NO_TS + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460>
+0  > S. 0:0(0) ack 1 win 64240 <mss 1460>
+.01 < . 1:1(0) ack 1 win 65535
+0  < F. 1:1(0) ack 1 win 65535
+.1 accept(3, ..., ...) = 4
""")
    assert result.outcome is Outcome.FAILED
    assert result.line == 10
    assert "unexpected packet at 0.01" in result.message
    assert result.message.endswith(". 1:1(0) ack 2 win 64239")


def test_sysctls_stay_in_the_namespace(target: LinuxTarget) -> None:
    host = Path("/proc/sys/net/ipv4/tcp_sack").read_text()
    result = run(target, """
`sysctl -q net.ipv4.tcp_sack=0`
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  `sysctl -q net.ipv4.tcp_timestamps=0`
+0  < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0>
+0  > S. 0:0(0) ack 1 win 64240 <mss 1460>
""")
    assert result.outcome is Outcome.PASSED, result.describe()
    assert Path("/proc/sys/net/ipv4/tcp_sack").read_text() == host


def test_shell_lines_run_from_the_scripts_folder(target: LinuxTarget, tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "tcp").mkdir()
    defaults = tmp_path / "common" / "defaults.sh"
    defaults.write_text(f"#!/bin/sh\n{RMEM_SYSCTL} net.ipv4.tcp_timestamps=0\n")
    defaults.chmod(0o755)
    script = tmp_path / "tcp" / "open.pkt"
    script.write_text("`../common/defaults.sh`\n" + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0>
+0  > S. 0:0(0) ack 1 win 64240 <mss 1460,nop,nop,sackOK>
""")
    result = target.run(parse(script.read_text(), str(script)))
    assert result.outcome is Outcome.PASSED, result.describe()


def test_a_failing_command_fails_the_script(target: LinuxTarget) -> None:
    result = run(target, """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  `sysctl -q net.ipv4.no_such_knob=1`
""")
    assert result.outcome is Outcome.FAILED
    assert result.line == 3
    assert result.message == ("command exited with 1: sysctl: cannot stat /proc/sys/net/ipv4/no_such_knob: "
                              "No such file or directory: sysctl -q net.ipv4.no_such_knob=1")


def test_a_call_the_target_cannot_make_is_an_error(target: LinuxTarget) -> None:
    result = run(target, """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_NO_SUCH_OPTION, [1], 4) = 0
""")
    assert result.outcome is Outcome.ERROR
    assert result.line == 3
    assert result.message == "not supported on linux: optname: unknown name SO_NO_SUCH_OPTION"


def test_socket_options_round_trip(target: LinuxTarget) -> None:
    result = run(target, """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
+0  getsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, [8]) = 0
+0  setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0
+0  getsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], [4]) = 0
+0  setsockopt(3, SOL_SOCKET, SO_KEEPALIVE, [1], 4) = 0
+0  setsockopt(3, IPPROTO_TCP, TCP_KEEPIDLE, [7], 4) = 0
+0  getsockopt(3, IPPROTO_TCP, TCP_KEEPIDLE, [7], [4]) = 0
+0  setsockopt(3, IPPROTO_TCP, TCP_USER_TIMEOUT, [3000], 4) = 0
+0  getsockopt(3, IPPROTO_TCP, TCP_USER_TIMEOUT, [3000], [4]) = 0
+0  getsockopt(3, IPPROTO_TCP, TCP_KEEPCNT, [9], [4]) = 0
+0  close(3) = 0
+0  close(3) = -1 EBADF (Bad file descriptor)
""")
    assert result.outcome is Outcome.PASSED, result.describe()


def test_a_wrong_value_from_getsockopt_fails(target: LinuxTarget) -> None:
    result = run(target, """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  getsockopt(3, IPPROTO_TCP, TCP_KEEPCNT, [5], [4]) = 0
""")
    assert result.outcome is Outcome.FAILED
    assert (result.line, result.message) == (3, "getsockopt TCP_KEEPCNT: expected [5], got [9]")


def test_a_script_takes_well_under_a_second(target: LinuxTarget) -> None:
    started = time.monotonic()
    result = run(target, """
0   < S 0:0(0) win 65535 <mss 1460>
+0  > R. 0:0(0) ack 1 win 0
""")
    assert result.outcome is Outcome.PASSED, result.describe()
    assert time.monotonic() - started < 1.0


def test_without_privileges_the_target_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linux, "privilege_problem",
                        lambda: "needs root (network namespaces and TUN devices); run with sudo")
    with pytest.raises(LinuxUnavailable) as info:
        LinuxTarget()
    assert str(info.value) == ("the linux target needs root (network namespaces and TUN devices); "
                               "run with sudo")


TS_TICKS = "--tcp_ts_tick_usecs=1000\n" + RMEM + """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0  > S. 0:0(0) ack 1 win 65160 <mss 1460,sackOK,TS val 1000 ecr 100,nop,wscale 7>
+.01 < . 1:1(0) ack 1 win 514 <nop,nop,TS val 110 ecr 1000>
+0  accept(3, ..., ...) = 4
+.05 write(4, ..., 100) = 100
+0  > P. 1:101(100) ack 1 win 510 <nop,nop,TS val {val} ecr 110>
"""


def test_ts_val_is_anchored_and_checked_with_ticks(target: LinuxTarget) -> None:
    # The kernel's TSval has a random offset; the first outbound TS val anchors it, and
    # 60 ms later (1 ms ticks) it must have moved by 60, within the tolerance.
    assert run(target, TS_TICKS.format(val=1060)).outcome is Outcome.PASSED
    result = run(target, TS_TICKS.format(val=1100))
    assert result.outcome is Outcome.FAILED
    assert result.line == 12
    # About 1060: the calls between the two packets take a little time of their own,
    # and the kernel's millisecond clock may tick once more than the script's.
    found = re.search(r"\(TS val (\d+) in script space, expected 1100\)$", result.message)
    assert found is not None, result.message
    assert 1059 <= int(found.group(1)) <= 1063


def test_a_terminated_run_removes_its_namespace_and_helper(target: LinuxTarget, tmp_path: Path) -> None:
    script = tmp_path / "slow.pkt"
    script.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n"
                      "+0 listen(3, 1) = 0\n+0...20 accept(3, ..., ...) = 4\n+20 < S 0:0(0) win 65535\n")
    cli = subprocess.Popen([sys.executable, "-m", "synack.cli", "drill", "--target", "linux", str(script)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        children: list[str] = []
        while time.monotonic() < deadline and not children:
            time.sleep(0.05)
            children = subprocess.run(["ps", "--ppid", str(cli.pid), "-o", "pid="], capture_output=True,
                                      text=True, check=False).stdout.split()
        ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
        assert f"drill{cli.pid}-0" in ns
        assert children, "the helper never started"
        time.sleep(0.3)
        cli.terminate()  # SIGTERM, by its pid
        cli.wait(timeout=20)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    assert f"drill{cli.pid}-" not in ns
    assert [c for c in children if os.path.exists(f"/proc/{c}")] == []


def test_kernel_counters_are_read_as_nstat_names_them() -> None:
    text = ("Tcp: RtoAlgorithm RtoMin ActiveOpens InErrs\nTcp: 1 200 0 2\n"
            "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPChallengeACK\n"
            "TcpExt: 0 3 3 1\nIp6InReceives                    \t7\nIp6InDiscards 0\n")
    counters = linux.kernel_counters(text)
    assert counters == {"TcpRtoAlgorithm": 1, "TcpRtoMin": 200, "TcpActiveOpens": 0, "TcpInErrs": 2,
                        "TcpExtSyncookiesSent": 0, "TcpExtListenOverflows": 3, "TcpExtListenDrops": 3,
                        "TcpExtTCPChallengeACK": 1, "Ip6InReceives": 7, "Ip6InDiscards": 0}
    assert linux.telling_counters(counters) == ("TcpExtListenDrops=3, TcpExtListenOverflows=3, "
                                                "TcpExtTCPChallengeACK=1, TcpInErrs=2")


def test_the_scripts_descriptors_are_mapped_to_the_kernels(target: LinuxTarget) -> None:
    # packetdrill's rule: socket() and accept() pass with any descriptor when the script
    # expects one, and the script's number names it from then on.
    result = run(target, """
0  socket(..., SOCK_STREAM, IPPROTO_TCP) = 7
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 9
+0 close(7) = 0
+0 close(7) = -1 EBADF (Bad file descriptor)
+0 setsockopt(9, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0
+0 getsockopt(9, IPPROTO_TCP, TCP_NODELAY, [1], [4]) = 0
+0 close(9) = 0
""")
    assert result.outcome is Outcome.PASSED, result.describe()
