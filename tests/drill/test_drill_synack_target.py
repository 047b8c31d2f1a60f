"""The synack target: scripts against the core in virtual time; exact failure lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from synack.drill.parser import parse
from synack.drill.runner import Outcome
from synack.drill.synack_target import SynackTarget
from synack.drill.sysctl import Settings, ShellError, run_shell

LISTEN = """\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>
"""


def run(text: str) -> tuple[Outcome, int | None, str]:
    r = SynackTarget().run(parse(text, "t.pkt"))
    return r.outcome, r.line, r.message


def test_a_handshake_and_data_pass() -> None:
    text = LISTEN + """\
+0 > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 1000
+0 accept(3, ..., ...) = 4
+0 < P. 1:101(100) ack 1 win 1000
+0 > . 1:1(0) ack 101
+0 read(4, ..., 1000) = 100
+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 101
"""
    assert run(text) == (Outcome.PASSED, None, "")


def test_a_wrong_field_is_named_with_its_line() -> None:
    assert run(LISTEN + "+0 > S. 0:0(0) ack 2 <mss 1460>\n") == (Outcome.FAILED, 5, "ack: expected 2 got 1")


def test_a_late_packet_fails_on_time() -> None:
    # The SYN-ACK leaves at once, not 0.5 s later.
    assert run(LISTEN + "+.5 > S. 0:0(0) ack 1 <mss 1460>\n") == (
        Outcome.FAILED, 5,
        "packet S. 0:0(0) ack 1 win 65535 <mss 1460>: expected at 0.500000 s, happened at 0.000000 s "
        "(tolerance 62500 us)")


def test_a_retransmission_comes_at_its_time() -> None:
    text = LISTEN + "+0 > S. 0:0(0) ack 1 <mss 1460>\n+1 > S. 0:0(0) ack 1 <mss 1460>\n"
    assert run(text)[0] is Outcome.PASSED
    text = LISTEN + "+0 > S. 0:0(0) ack 1 <mss 1460>\n+2 > S. 0:0(0) ack 1 <mss 1460>\n"
    assert run(text)[:2] == (Outcome.FAILED, 6)


def test_an_unexpected_packet_fails() -> None:
    assert run(LISTEN + "+1 close(3) = 0\n") == (
        Outcome.FAILED, 5, "unexpected packet at 0.000000 s: S. 0:0(0) ack 1 win 65535 <mss 1460>")


def test_a_declared_divergence_is_reported_as_such() -> None:
    r = SynackTarget().run(parse("// synack departs: test\n" + LISTEN + "+0 > S. 0:0(0) ack 9\n", "t.pkt"))
    assert (r.outcome, r.ok, r.departs) == (Outcome.DIVERGED, True, ("test",))


def test_syscall_results_and_errno() -> None:
    text = """\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0 < R. 0:0(0) ack 1 win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [111], [4]) = 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
"""
    assert run(text) == (Outcome.PASSED, None, "")
    again = text.replace("[0], [4]", "[111], [4]")
    assert run(again) == (Outcome.FAILED, 7, "getsockopt SO_ERROR: expected [111], got [0]")
    wrong = text.replace("= -1 EINPROGRESS", "= 0")
    assert run(wrong) == (Outcome.FAILED, 3, "connect(): expected = 0, got = -1 EINPROGRESS")


def test_unknown_shell_and_sysctl_are_one_line_errors(tmp_path: Path) -> None:
    assert run("0 `ip link set lo up`\n") == (
        Outcome.ERROR, 1, "shell command 'ip link set lo up' is not a sysctl the synack target can map")
    assert run("0 `sysctl -q net.ipv4.tcp_frto=2`\n") == (
        Outcome.ERROR, 1, "sysctl net.ipv4.tcp_frto has no synack equivalent (see the README's table)")
    inc = tmp_path / "defaults.sh"
    inc.write_text('#!/bin/sh\n# comment\nsysctl -q net.ipv4.tcp_rmem="4096 $((64*1024)) 6291456"\n'
                   "sysctl -q net.ipv4.tcp_sack=0 > /dev/null 2>&1\n"
                   "echo 2 > /proc/sys/net/ipv4/tcp_syncookies\n")
    settings = Settings(SynackTarget().config)
    run_shell(settings, "./defaults.sh", tmp_path)
    assert (settings.config.rcv_buf, settings.config.sack, settings.config.syncookies) == (32768, False, 2)
    with pytest.raises(ShellError, match=r"cannot read missing\.sh"):
        run_shell(settings, "missing.sh", tmp_path)


def test_a_blocking_read_returns_when_data_comes() -> None:
    text = LISTEN + """\
+0 > S. 0:0(0) ack 1 <mss 1460>
+0 < . 1:1(0) ack 1 win 1000
+0 accept(3, ..., ...) = 4
+0...0.2 read(4, ..., 1000) = 50
+.2 < P. 1:51(50) ack 1 win 1000
+0 > . 1:1(0) ack 51
"""
    assert run(text) == (Outcome.PASSED, None, "")
    assert run(text.replace("0.2 read", "0.3 read"))[:2] == (Outcome.FAILED, 8)


def test_each_named_port_is_a_connection_with_its_own_numbers() -> None:
    # Two clients: the second's SYN-ACK counts from its own ISN (0 again), goes to
    # its own port, and its ACK is taken as its own.
    text = LISTEN + """\
+0 > S. 0:0(0) ack 1 <mss 1460>
+0 < 198.18.0.9:40000>198.18.0.2:8080 S 0:0(0) win 65535 <mss 1400>
+0 > 198.18.0.2:8080>198.18.0.9:40000 S. 0:0(0) ack 1 <mss 1460>
+0 < 198.18.0.9:40000>198.18.0.2:8080 . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 1500) = 1500
+0 > 198.18.0.2:8080>198.18.0.9:40000 . 1:1401(1400) ack 1
+0 > 198.18.0.2:8080>198.18.0.9:40000 P. 1401:1501(100) ack 1
"""
    assert run(text) == (Outcome.PASSED, None, "")


def test_a_packet_to_other_ends_than_written_fails() -> None:
    text = LISTEN + "+0 > 8080>40000 S. 0:0(0) ack 1 <mss 1460>\n"
    assert run(text) == (Outcome.FAILED, 5, "ends: expected 198.18.0.2:8080>198.18.0.1:40000 "
                                            "got 198.18.0.2:8080>198.18.0.1:48879")


def test_a_syn_to_an_address_not_the_hosts_is_not_answered() -> None:
    text = LISTEN.replace("< S", "< 198.18.0.1:48879>198.18.0.77:8080 S")
    text += "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
    outcome, line, message = run(text)
    assert (outcome, line) == (Outcome.FAILED, 5)
    assert message.startswith("expected +0 > S. 0:0(0) ack 1 <mss 1460> but nothing was sent")


def test_an_exception_in_the_stack_is_a_failure_at_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from synack.core.listener import Listener

    def broken(*args: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(Listener, "receive", broken)
    assert run(LISTEN) == (Outcome.FAILED, 4, "synack raised ZeroDivisionError: division by zero")
