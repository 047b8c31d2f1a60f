"""packetdrill's syntax, the TCP subset, to :class:`~synack.drill.script.Script` values.

The grammar (the README has it too)::

    script    := option* init? event*
    option    := "--" NAME ["=" VALUE]                  e.g. --tolerance_usecs=10000
    init      := "`" COMMAND "`"                         before the first event
    event     := time (packet | syscall | shell)
    time      := ["+"] NUM | "*" | NUM "~" NUM | "+" NUM "~" "+" NUM
    packet    := ("<" | ">") [ends] flags seq ["ack" INT] ["win" INT] ["urg" INT] [options]
    ends      := PORT ">" PORT | ADDR ":" PORT ">" ADDR ":" PORT
    ADDR      := an IPv4 address | "[" an IPv6 address "]"
    flags     := letters of "FSRPUEW" [.] | "." | "-"
    seq       := INT ":" INT "(" INT ")"
    options   := "<" "..." ">" | "<" opt ("," opt)* ">"
    opt       := "nop" | "eol" | "mss" INT | "wscale" INT | "sackOK"
               | "sack" (INT ":" INT)+ | "TS" "val" INT "ecr" INT
    syscall   := ["..." NUM] NAME "(" [arg ("," arg)*] ")" "=" arg [ERRNO] ["(" TEXT ")"]
    arg       := INT | "..." | NAME | NAME "(" args ")" | STRING | "[" args "]"
               | "{" NAME "=" arg ("," NAME "=" arg)* "}" | arg "|" arg
    shell     := "`" COMMAND "`"

Comments are ``//`` to the end of the line and ``/* ... */``.  A comment
``// synack departs: <reason>`` declares a known divergence of the synack target.

Anything outside the subset is a :class:`DrillSyntaxError` naming the line and the
construct; the parser raises nothing else, whatever the text.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .script import (
    ELLIPSIS,
    FLAG_LETTERS,
    Arg,
    CallArg,
    Direction,
    Ends,
    Event,
    ListArg,
    OrArg,
    PacketLine,
    Script,
    ShellLine,
    StringArg,
    StructArg,
    Symbol,
    SyscallLine,
    TcpOption,
    TimeKind,
    TimeSpec,
)

SYSCALLS: Final = frozenset({
    "socket", "bind", "listen", "accept", "connect", "read", "recv", "write", "send",
    "shutdown", "close", "fcntl", "setsockopt", "getsockopt",
})

DEPARTS: Final = re.compile(r"//\s*synack departs:\s*(.+?)\s*$")

# A packet line's addressed ends (drill's extension of packetdrill's ports):
# 198.18.0.9:40000>198.18.0.2:8080 or [fd00::9]:40000>[fd00::2]:8080.
_END: Final = r"(?:(\d+\.\d+\.\d+\.\d+)|\[([0-9A-Fa-f:.]+)\]):(\d+)"
_ADDRESSED_ENDS: Final = re.compile(_END + r"\s*>\s*" + _END)


class DrillSyntaxError(Exception):
    """A script outside the subset: ``path:line: what``, one line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "word", "str", "bq", "opt", "punct", "ellipsis", "end"
    text: str
    line: int
    pos: int  # offset in the source


_TOKEN: Final = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+|\n)
  | (?P<linecomment>//[^\n]*)
  | (?P<blockcomment>/\*.*?\*/)
  | (?P<ellipsis>\.\.\.)
  | (?P<num>0[xX][0-9a-fA-F]+|\d+\.\d+|\d+\.(?!\.)|\.\d+|\d+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>"[^"\n]*")
  | (?P<bq>`[^`]*`)
  | (?P<punct>[<>()\[\]{},=:~+*.|\-])
""", re.VERBOSE | re.DOTALL)


def tokenize(text: str, path: str) -> tuple[list[Token], list[str]]:
    """The tokens (comments dropped) and the departure reasons found in comments."""
    tokens: list[Token] = []
    departs: list[str] = []
    pos, line = 0, 1
    while pos < len(text):
        # packetdrill's options: "--name=value" at the start of a line, up to its end.
        if text.startswith("--", pos) and (pos == 0 or text[pos - 1] == "\n" or
                                          text[:pos].rstrip(" \t").endswith("\n")):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            tokens.append(Token("opt", text[pos + 2:end].strip(), line, pos))
            pos = end
            continue
        m = _TOKEN.match(text, pos)
        if m is None and text.startswith("/*", pos):
            raise DrillSyntaxError(path, line, "unterminated /* comment")
        if m is None:
            raise DrillSyntaxError(path, line, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "linecomment":
            found = DEPARTS.match(value)
            if found:
                departs.append(found.group(1))
        elif kind not in ("ws", "blockcomment"):
            tokens.append(Token(kind, value, line, pos))
        elif kind == "blockcomment" and "/*" in value[2:]:
            raise DrillSyntaxError(path, line, "nested /* comment")
        line += value.count("\n")
        pos = m.end()
    tokens.append(Token("end", "", line, len(text)))
    return tokens, departs


def _parse_int(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.text = text
        self.tokens, self.departs = tokenize(text, path)
        self.i = 0

    # -- helpers --------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, n: int = 1) -> Token:
        return self.tokens[min(self.i + n, len(self.tokens) - 1)]

    def fail(self, message: str, tok: Token | None = None) -> DrillSyntaxError:
        return DrillSyntaxError(self.path, (tok or self.tok).line, message)

    def shown(self, tok: Token | None = None) -> str:
        t = tok or self.tok
        return "end of file" if t.kind == "end" else repr(t.text)

    def take(self) -> Token:
        tok = self.tok
        if tok.kind != "end":
            self.i += 1
        return tok

    def at(self, text: str) -> bool:
        return self.tok.kind in ("punct", "ellipsis") and self.tok.text == text

    def expect(self, text: str, what: str) -> Token:
        if not self.at(text):
            raise self.fail(f"expected '{text}' {what}, found {self.shown()}")
        return self.take()

    def integer(self, what: str, *, signed: bool = False) -> int:
        negative = False
        if signed and self.at("-"):
            self.take()
            negative = True
        tok = self.tok
        if tok.kind != "num" or "." in tok.text:
            raise self.fail(f"expected an integer {what}, found {self.shown()}")
        self.take()
        value = _parse_int(tok.text)
        return -value if negative else value

    def bounded(self, noun: str, bits: int) -> int:
        tok = self.tok
        value = self.integer(f"({noun})")
        if value >= 1 << bits:
            raise self.fail(f"{noun} {value} is out of range for {bits} bits", tok)
        return value

    def word_is(self, text: str) -> bool:
        return self.tok.kind == "word" and self.tok.text == text

    # -- script ---------------------------------------------------------------------------
    def script(self) -> Script:
        options: list[tuple[str, str]] = []
        while self.tok.kind == "opt":
            tok = self.take()
            name, _, value = tok.text.partition("=")
            if not re.fullmatch(r"[a-z_0-9]+", name):
                raise self.fail(f"bad option --{tok.text}", tok)
            options.append((name, value.strip().strip('"')))
        init: ShellLine | None = None
        if self.tok.kind == "bq":
            tok = self.take()
            init = ShellLine(tok.line, TimeSpec(TimeKind.ABSOLUTE, 0), tok.text[1:-1].strip())
        events: list[Event] = []
        while self.tok.kind != "end":
            if self.tok.kind == "opt":
                raise self.fail(f"option --{self.tok.text} after the first event")
            events.append(self.event())
        return Script(self.path, tuple(events), tuple(self.departs), tuple(options), init,
                      str(Path(self.path).parent))

    def time(self) -> TimeSpec:
        if self.at("*"):
            self.take()
            return TimeSpec(TimeKind.ANY)
        relative = False
        if self.at("+"):
            self.take()
            relative = True
        start = self.seconds("as an event's time")
        if self.at("~"):
            self.take()
            if relative:
                self.expect("+", "after '~' in a relative time range")
            end = self.seconds("as the end of a time range")
            if end < start:
                raise self.fail("time range is backwards")
            return TimeSpec(TimeKind.RELATIVE_RANGE if relative else TimeKind.RANGE, start, end)
        return TimeSpec(TimeKind.RELATIVE if relative else TimeKind.ABSOLUTE, start)

    def seconds(self, what: str) -> int:
        tok = self.tok
        if tok.kind != "num" or tok.text.lower().startswith("0x"):
            raise self.fail(f"expected a number of seconds {what}, found {self.shown()}")
        self.take()
        return round(float(tok.text) * 1_000_000)

    def event(self) -> Event:
        first = self.tok
        if first.kind not in ("num",) and not self.at("+") and not self.at("*"):
            raise self.fail(f"expected an event's time, found {self.shown()}")
        when = self.time()
        line = first.line
        if self.at("<") or self.at(">"):
            return self.packet(line, when)
        if self.tok.kind == "bq":
            tok = self.take()
            self.only_outbound_times(when, line, "a shell command")
            return ShellLine(line, when, tok.text[1:-1].strip())
        if self.at("...") or self.tok.kind == "word":
            return self.syscall(line, when)
        raise self.fail(f"expected a packet, a system call or a `command` after the time, "
                        f"found {self.shown()}")

    def only_outbound_times(self, when: TimeSpec, line: int, what: str) -> None:
        if when.kind is TimeKind.ANY:
            raise DrillSyntaxError(self.path, line, f"time '*' is for outbound packets, not {what}")
        if when.kind in (TimeKind.RANGE, TimeKind.RELATIVE_RANGE):
            raise DrillSyntaxError(self.path, line, f"a time range is for outbound packets, not {what}")

    # -- packets --------------------------------------------------------------------------
    def packet(self, line: int, when: TimeSpec) -> PacketLine:
        direction = Direction.INBOUND if self.take().text == "<" else Direction.OUTBOUND
        if direction is Direction.INBOUND:
            self.only_outbound_times(when, line, "inbound packets")
        if self.at("(") or (self.at("[") and not _ADDRESSED_ENDS.match(self.text, self.tok.pos)):
            raise self.fail("IP header fields (tos, ecn, ttl, flowlabel) are not supported")
        ends = self.ends(line)
        flags = self.flags()
        if self.word_is("udp") or self.word_is("icmp") or self.word_is("UDP"):
            raise self.fail(f"{self.tok.text} packets are not supported (TCP only)")
        start = self.bounded("the start sequence number", 32)
        self.expect(":", "in start:end(length)")
        end = self.bounded("the end sequence number", 32)
        self.expect("(", "in start:end(length)")
        length = self.bounded("the payload length", 16)
        self.expect(")", "in start:end(length)")
        if end != (start + length) % (1 << 32) and end != start + length:
            raise self.fail(f"inconsistent sequence numbers {start}:{end}({length})")
        ack = win = urg = None
        if self.word_is("ack"):
            self.take()
            ack = self.bounded("the ack", 32)
        if self.word_is("win"):
            self.take()
            win = self.bounded("the window", 16)
        if self.word_is("urg"):
            self.take()
            urg = self.bounded("the urgent pointer", 16)
        options: tuple[TcpOption, ...] | None = ()
        if self.at("<"):
            options = self.options()
        if direction is Direction.INBOUND:
            if win is None:
                raise DrillSyntaxError(self.path, line, "an inbound packet needs 'win N'")
            if options is None:
                raise DrillSyntaxError(self.path, line, "<...> is for outbound packets only")
        return PacketLine(line, when, direction, flags, start, end, length, ack, win, urg, options, ends)

    def ends(self, line: int) -> Ends | None:
        """``40000>8080`` (packetdrill's ports) or ``ADDR:PORT>ADDR:PORT``; None when the
        line goes straight on to its flags."""
        m = _ADDRESSED_ENDS.match(self.text, self.tok.pos)
        if m is not None:
            addrs: list[str] = []
            for text in (m.group(1) or m.group(2), m.group(4) or m.group(5)):
                try:
                    addrs.append(str(ipaddress.ip_address(text)))
                except ValueError:
                    raise DrillSyntaxError(self.path, line, f"bad address {text!r}") from None
            if (":" in addrs[0]) != (":" in addrs[1]):
                raise DrillSyntaxError(self.path, line, "a packet's two addresses must be of one family")
            ports = [int(m.group(3)), int(m.group(6))]
            for port in ports:
                if not 0 < port < 65536:
                    raise DrillSyntaxError(self.path, line, f"port {port} is out of range")
            while self.tok.kind != "end" and self.tok.pos < m.end():
                self.take()
            return Ends(ports[0], ports[1], addrs[0], addrs[1])
        if self.tok.kind != "num":
            return None
        src = self.integer("(the source port)")
        self.expect(">", "between the ports")
        dst = self.integer("(the destination port)")
        for port in (src, dst):
            if not 0 < port < 65536:
                raise DrillSyntaxError(self.path, line, f"port {port} is out of range")
        return Ends(src, dst)

    def flags(self) -> str:
        if self.at("-"):
            self.take()
            return ""
        if self.at("."):
            self.take()
            return "."
        tok = self.tok
        if tok.kind != "word":
            raise self.fail(f"expected TCP flags, found {self.shown()}")
        bad = [ch for ch in tok.text if ch not in FLAG_LETTERS]
        if bad or len(set(tok.text)) != len(tok.text):
            raise self.fail(f"unsupported TCP flags {tok.text!r} (letters: F S R P U E W, '.' for ACK)")
        self.take()
        text = tok.text
        nxt = self.tok
        if self.at(".") and nxt.pos == tok.pos + len(tok.text):
            self.take()
            text += "."
        return text

    def options(self) -> tuple[TcpOption, ...] | None:
        self.expect("<", "to open the options")
        if self.at("..."):
            self.take()
            self.expect(">", "after <...")
            return None
        out: list[TcpOption] = []
        while True:
            out.append(self.option())
            if self.at(","):
                self.take()
                continue
            self.expect(">", "to close the options")
            break
        size = sum(_option_size(o) for o in out)
        if size > 40:
            raise self.fail(f"the options take {size} bytes, more than the 40 a header holds")
        return tuple(out)

    def option(self) -> TcpOption:
        tok = self.tok
        if tok.kind != "word":
            raise self.fail(f"expected a TCP option, found {self.shown()}")
        name = tok.text
        self.take()
        if name in ("nop", "eol", "sackOK"):
            return TcpOption(name)
        if name == "mss":
            return TcpOption("mss", (self.bounded("the mss", 16),))
        if name == "wscale":
            return TcpOption("wscale", (self.bounded("the window scale", 8),))
        if name == "sack":
            edges: list[int] = []
            while self.tok.kind == "num":
                edges.append(self.bounded("a SACK edge", 32))
                self.expect(":", "in a SACK block left:right")
                edges.append(self.bounded("a SACK edge", 32))
            if not edges:
                raise self.fail("expected SACK blocks left:right after 'sack'")
            if len(edges) > 8:
                raise self.fail("more than 4 SACK blocks", tok)
            return TcpOption("sack", tuple(edges))
        if name == "TS":
            if not self.word_is("val"):
                raise self.fail(f"expected 'val' after 'TS', found {self.shown()}")
            self.take()
            val = self.bounded("the TS val", 32)
            if not self.word_is("ecr"):
                raise self.fail(f"expected 'ecr' after the TS val, found {self.shown()}")
            self.take()
            return TcpOption("TS", (val, self.bounded("the TS ecr", 32)))
        raise self.fail(f"unsupported TCP option {name!r}", tok)

    # -- system calls ---------------------------------------------------------------------
    def syscall(self, line: int, when: TimeSpec) -> SyscallLine:
        self.only_outbound_times(when, line, "system calls")
        end_time: TimeSpec | None = None
        if self.at("..."):
            self.take()
            if self.at("+"):
                raise self.fail("the end time of a blocking call is written without '+'")
            end_time = TimeSpec(TimeKind.ABSOLUTE, self.seconds("as a blocking call's end time"))
        tok = self.tok
        if tok.kind != "word":
            raise self.fail(f"expected a system call, found {self.shown()}")
        name = tok.text
        if name not in SYSCALLS:
            raise self.fail(f"unsupported system call {name!r}")
        self.take()
        args = self.arglist("(", ")", f"of {name}()")
        self.expect("=", f"after {name}(...)")
        result = self.arg()
        errno: str | None = None
        note: str | None = None
        if self.tok.kind == "word" and self.tok.text.startswith("E") and self.tok.text.isupper():
            errno = self.take().text
        if self.at("(") and self.tok.line == self.tokens[self.i - 1].line:
            note = self.note()
        return SyscallLine(line, when, name, args, result, errno, note, end_time)

    def note(self) -> str:
        open_tok = self.take()
        close = self.text.find(")", open_tok.pos)
        newline = self.text.find("\n", open_tok.pos)
        if close < 0 or (0 <= newline < close):
            raise self.fail("unterminated '(' note after the result", open_tok)
        while self.tok.kind != "end" and self.tok.pos < close:
            self.take()
        self.expect(")", "to close the note")
        return self.text[open_tok.pos + 1:close].strip()

    def arglist(self, opening: str, closing: str, what: str) -> tuple[Arg, ...]:
        self.expect(opening, what)
        out: list[Arg] = []
        if self.at(closing):
            self.take()
            return ()
        while True:
            out.append(self.arg())
            if self.at(","):
                self.take()
                continue
            self.expect(closing, what)
            return tuple(out)

    def arg(self) -> Arg:
        first = self.atom()
        if not self.at("|"):
            return first
        items = [first]
        while self.at("|"):
            self.take()
            items.append(self.atom())
        return OrArg(tuple(items))

    def atom(self) -> Arg:
        tok = self.tok
        if self.at("..."):
            self.take()
            return ELLIPSIS
        if tok.kind == "num" or self.at("-"):
            return self.integer("as an argument", signed=True)
        if tok.kind == "str":
            self.take()
            return StringArg(tok.text[1:-1])
        if self.at("["):
            return ListArg(self.arglist("[", "]", "in a [list]"))
        if self.at("{"):
            self.take()
            fields: list[tuple[str, Arg]] = []
            while not self.at("}"):
                key = self.tok
                if key.kind != "word":
                    raise self.fail(f"expected a field name in {{...}}, found {self.shown()}")
                self.take()
                self.expect("=", f"after the field {key.text}")
                fields.append((key.text, self.arg()))
                if self.at(","):
                    self.take()
                elif not self.at("}"):
                    raise self.fail(f"expected ',' or '}}' in {{...}}, found {self.shown()}")
            self.take()
            return StructArg(tuple(fields))
        if tok.kind == "word":
            self.take()
            if self.at("("):
                return CallArg(tok.text, self.arglist("(", ")", f"of {tok.text}()"))
            return Symbol(tok.text)
        raise self.fail(f"expected an argument, found {self.shown()}")


def _option_size(opt: TcpOption) -> int:
    return {"nop": 1, "eol": 1, "sackOK": 2, "mss": 4, "wscale": 3, "TS": 10}.get(
        opt.kind, 2 + 4 * len(opt.values))


def parse(text: str, path: str = "<script>") -> Script:
    """Parse a script's text.  Raises only :class:`DrillSyntaxError`."""
    try:
        return _Parser(text, path).script()
    except DrillSyntaxError:
        raise
    except (RecursionError, ValueError, OverflowError) as exc:  # absurd input: still one line
        raise DrillSyntaxError(path, 1, f"cannot parse: {type(exc).__name__}") from None


def parse_file(path: str | Path) -> Script:
    """Read and parse a script file; an unreadable file is a DrillSyntaxError at line 0."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DrillSyntaxError(str(path), 0, f"cannot read: {reason}") from None
    return parse(text, str(path))
