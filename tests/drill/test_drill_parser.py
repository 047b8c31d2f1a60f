"""The drill parser: packetdrill's syntax (TCP subset) to script values, one-line errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synack.drill.parser import DrillSyntaxError, parse
from synack.drill.script import (
    ELLIPSIS,
    Direction,
    Ends,
    ListArg,
    OrArg,
    PacketLine,
    ShellLine,
    StructArg,
    Symbol,
    SyscallLine,
    TcpOption,
    TimeKind,
    TimeSpec,
)

SCRIPT = """\
// a listener
--tolerance_usecs=10000
`../common/defaults.sh`
/* two
   lines */
// synack departs: the reason
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
+.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
0.2~0.3 > P. 1:101(100) ack 1 urg 5 <nop,nop,TS val 100 ecr 5,nop,nop,sack 1:2 3:4>
* > R. 1:1(0) ack 1 win 0 <...>
+0...0.5 read(4, ..., 2000) = 2000
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 `sysctl -q net.ipv4.tcp_sack=0`
+0 < SEW 0:0(0) win 1
+0 < - 0:0(0) win 1
"""


def test_a_script_parses_to_its_values() -> None:
    s = parse(SCRIPT, "t.pkt")
    assert s.options == (("tolerance_usecs", "10000"),)
    assert s.init == ShellLine(3, TimeSpec(TimeKind.ABSOLUTE, 0), "../common/defaults.sh")
    assert s.departs == ("the reason",)
    ev = s.events
    assert ev[0] == SyscallLine(7, TimeSpec(TimeKind.ABSOLUTE, 0), "socket",
                                (ELLIPSIS, Symbol("SOCK_STREAM"), Symbol("IPPROTO_TCP")), 3)
    assert isinstance(ev[1], SyscallLine)
    assert ev[1].args[2] == OrArg((Symbol("O_RDWR"), Symbol("O_NONBLOCK")))
    assert isinstance(ev[2], SyscallLine)
    assert ev[2].args[3] == StructArg((("l_onoff", 1), ("l_linger", 0)))
    assert ev[3] == PacketLine(10, TimeSpec(TimeKind.RELATIVE, 100_000), Direction.INBOUND, "S",
                               0, 0, 0, None, 32792, None,
                               (TcpOption("mss", (1000,)), TcpOption("nop"), TcpOption("wscale", (7,))))
    assert isinstance(ev[4], PacketLine) and ev[4].flags == "S." and ev[4].ack == 1 and ev[4].win is None
    p = ev[5]
    assert isinstance(p, PacketLine)
    assert p.time == TimeSpec(TimeKind.RANGE, 200_000, 300_000)
    assert (p.start, p.end, p.length, p.urg) == (1, 101, 100, 5)
    assert p.options == (TcpOption("nop"), TcpOption("nop"), TcpOption("TS", (100, 5)),
                         TcpOption("nop"), TcpOption("nop"), TcpOption("sack", (1, 2, 3, 4)))
    assert isinstance(ev[6], PacketLine) and ev[6].options is None and ev[6].time.kind is TimeKind.ANY
    r = ev[7]
    assert isinstance(r, SyscallLine) and r.blocking and r.end_time == TimeSpec(TimeKind.ABSOLUTE, 500_000)
    assert r.args == (4, ELLIPSIS, 2000)
    c = ev[8]
    assert isinstance(c, SyscallLine)
    assert (c.result, c.errno, c.note) == (-1, "EINPROGRESS", "Operation now in progress")
    assert ev[9] == ShellLine(16, TimeSpec(TimeKind.RELATIVE, 0), "sysctl -q net.ipv4.tcp_sack=0")
    assert isinstance(ev[10], PacketLine) and ev[10].flags == "SEW"
    assert isinstance(ev[11], PacketLine) and ev[11].flags == ""
    assert ListArg((1,)) == ListArg((1,))


@pytest.mark.parametrize(("text", "message"), [
    ("0 sendmsg(3, ..., 0) = 0", "t.pkt:1: unsupported system call 'sendmsg'"),
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0)",
     "t.pkt:2: an inbound packet needs 'win N'"),
    ("0 < S 0:0(0) win 10 <md5 1>", "t.pkt:1: unsupported TCP option 'md5'"),
    ("0 < S 0:5(0) win 10", "t.pkt:1: inconsistent sequence numbers 0:5(0)"),
    ("0 < SX 0:0(0) win 10", "t.pkt:1: unsupported TCP flags 'SX' (letters: F S R P U E W, '.' for ACK)"),
    ("* < S 0:0(0) win 10", "t.pkt:1: time '*' is for outbound packets, not inbound packets"),
    ("0 < S 0:0(0) win 10 <...>", "t.pkt:1: <...> is for outbound packets only"),
    ("0 > [ect0] S 0:0(0)", "t.pkt:1: IP header fields (tos, ecn, ttl, flowlabel) are not supported"),
    ("0 < S 0:0(0) win 70000", "t.pkt:1: the window 70000 is out of range for 16 bits"),
    ("0~0.1 close(3) = 0", "t.pkt:1: a time range is for outbound packets, not system calls"),
    ("\n\n0 close(3 = 0", "t.pkt:3: expected ')' of close(), found '='"),
    ("0 > S 0:0(0) <mss 1>\n/* open", "t.pkt:2: unterminated /* comment"),
    ("0 ~", "t.pkt:1: expected a number of seconds as the end of a time range, found end of file"),
    ("0 close(3) = 0 $", "t.pkt:1: unexpected character '$'"),
])
def test_errors_are_one_line_with_the_line_number(text: str, message: str) -> None:
    with pytest.raises(DrillSyntaxError) as info:
        parse(text, "t.pkt")
    assert str(info.value) == message


ALPHABET = st.sampled_from([*"0123456789.+-*~<>()[]{},=:|`\"/ \n\tSFRPUEWackwinurgmsnopTSvalecr",
                            "...", "sackOK", "wscale", "socket(", "//", "/*", "*/", "<...>", "0x",
                              " win 1", " ack 1", "1:1(0)", "close(3) = 0", "\n+0 "])


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_random_text_raises_only_drill_syntax_errors(text: str) -> None:
    try:
        parse(text, "r.pkt")
    except DrillSyntaxError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_unicode_raises_only_drill_syntax_errors(text: str) -> None:
    try:
        parse(text, "r.pkt")
    except DrillSyntaxError as exc:
        assert "\n" not in str(exc)


def test_a_packet_line_may_name_its_ports_and_addresses() -> None:
    s = parse("0 < 40000>8080 S 0:0(0) win 1\n"
              "+0 > 198.18.0.2:8080>198.18.0.9:40000 S. 0:0(0) ack 1 <...>\n"
              "+0 < [fd00::9]:40000>[ff02::1]:8080 . 1:1(0) ack 1 win 1\n", "t.pkt")
    lines = [e for e in s.events if isinstance(e, PacketLine)]
    assert [line.ends for line in lines] == [
        Ends(40000, 8080), Ends(8080, 40000, "198.18.0.2", "198.18.0.9"),
        Ends(40000, 8080, "fd00::9", "ff02::1")]
    assert lines[0].flags == "S" and lines[1].flags == "S." and lines[2].ack == 1
    assert str(lines[2]) == "+0 < [fd00::9]:40000>[ff02::1]:8080 . 1:1(0) ack 1 win 1"


@pytest.mark.parametrize(("ends", "message"), [
    ("0>8080", "port 0 is out of range"),
    ("40000>70000", "port 70000 is out of range"),
    ("40000 8080", "expected '>' between the ports, found '8080'"),
    ("198.18.0.300:1>198.18.0.2:8080", "bad address '198.18.0.300'"),
    ("198.18.0.1:1>[fd00::2]:8080", "a packet's two addresses must be of one family"),
])
def test_bad_ends_are_one_line_errors(ends: str, message: str) -> None:
    with pytest.raises(DrillSyntaxError) as info:
        parse(f"0 < {ends} S 0:0(0) win 1\n", "t.pkt")
    assert str(info.value) == f"t.pkt:1: {message}"
