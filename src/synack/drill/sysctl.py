"""Backquoted shell lines on the synack target: the sysctls synack has a knob for.

On the linux target a backquoted line runs in a shell inside the namespace; on the
synack target only what this module understands is allowed, and anything else is a
one-line :class:`ShellError` naming it:

- ``sysctl [-q] [-w] NAME=VALUE [NAME=VALUE ...]`` (several commands may be joined by
  ``;`` or ``&&``; ``> /dev/null`` and ``2>&1`` are ignored);
- ``echo VALUE > /proc/sys/net/ipv4/NAME``;
- a path to a shell script (``../common/defaults.sh``, relative to the script's
  directory, as packetdrill runs it): read, and each line taken as above (``#``
  comments and blank lines skipped).

:data:`SYSCTLS` is the table (the README prints it): each name, the ``Config`` field
it sets, and how the value converts.  ``$((...))`` arithmetic in a value is evaluated.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Final

from synack.core.config import Config


class ShellError(Exception):
    """A shell line the synack target cannot map: one line, naming the construct."""


def _int(value: str) -> int:
    text = value.strip()
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"not an integer: {text!r}")
    return int(text)


def _triple_middle(value: str) -> int:
    parts = value.split()
    if len(parts) != 3:
        raise ValueError(f"expected three numbers 'min default max', got {value!r}")
    return _int(parts[1])


def _bool(value: str) -> bool:
    n = _int(value)
    if n not in (0, 1, 2):
        raise ValueError(f"expected 0 or 1, got {n}")
    return n != 0


def _congestion(value: str) -> str:
    name = value.strip()
    table = {"cubic": "cubic", "reno": "newreno", "newreno": "newreno"}
    if name not in table:
        raise ValueError(f"congestion control {name!r}: synack has cubic and reno (NewReno)")
    return table[name]


def _port_range(value: str) -> tuple[int, int]:
    parts = value.split()
    if len(parts) != 2:
        raise ValueError(f"expected 'low high', got {value!r}")
    return _int(parts[0]), _int(parts[1])


Setter = Callable[[Config, str], dict[str, object]]


def _field(name: str, conv: Callable[[str], object]) -> Setter:
    return lambda cfg, value: {name: conv(value)}


#: sysctl name -> (the Config field(s), the conversion, for the README) and the setter.
SYSCTLS: Final[dict[str, tuple[str, Setter]]] = {
    "net.ipv4.tcp_syncookies": ("syncookies (0, 1, 2)", _field("syncookies", _int)),
    "net.ipv4.tcp_syn_retries": ("syn_retries", _field("syn_retries", _int)),
    "net.ipv4.tcp_synack_retries": ("synack_retries", _field("synack_retries", _int)),
    "net.ipv4.tcp_retries2": ("retries2", _field("retries2", _int)),
    "net.ipv4.tcp_timestamps": ("timestamps (0 off, 1 or 2 on)", _field("timestamps", _bool)),
    "net.ipv4.tcp_sack": ("sack", _field("sack", _bool)),
    "net.ipv4.tcp_window_scaling": (
        "wscale (0: None; 1: 7)",
        lambda cfg, v: {"wscale": 7 if _bool(v) else None}),
    "net.ipv4.tcp_fin_timeout": (
        "fin_timeout (seconds)", lambda cfg, v: {"fin_timeout": _int(v) * 1_000_000}),
    "net.ipv4.tcp_max_syn_backlog": ("max_syn_backlog", _field("max_syn_backlog", _int)),
    "net.ipv4.tcp_rmem": (
        "rcv_buf = default / 2 (tcp_adv_win_scale 1: half is window)",
        lambda cfg, v: {"rcv_buf": max(1, _triple_middle(v) // 2)}),
    "net.ipv4.tcp_wmem": ("snd_buf = default", lambda cfg, v: {"snd_buf": _triple_middle(v)}),
    "net.ipv4.tcp_keepalive_time": (
        "keepalive_time (seconds)", lambda cfg, v: {"keepalive_time": _int(v) * 1_000_000}),
    "net.ipv4.tcp_keepalive_intvl": (
        "keepalive_intvl (seconds)", lambda cfg, v: {"keepalive_intvl": _int(v) * 1_000_000}),
    "net.ipv4.tcp_keepalive_probes": ("keepalive_probes", _field("keepalive_probes", _int)),
    "net.ipv4.tcp_rfc1337": ("rfc1337", _field("rfc1337", _bool)),
    "net.ipv4.tcp_abort_on_overflow": ("abort_on_overflow", _field("abort_on_overflow", _bool)),
    "net.ipv4.tcp_congestion_control": ("congestion (cubic; reno: newreno)",
                                        _field("congestion", _congestion)),
    "net.ipv4.tcp_invalid_ratelimit": (
        "oow_ack_interval (milliseconds)", lambda cfg, v: {"oow_ack_interval": _int(v) * 1000}),
    "net.ipv4.tcp_challenge_ack_limit": ("challenge_ack_limit", _field("challenge_ack_limit", _int)),
    "net.ipv4.tcp_min_snd_mss": ("min_snd_mss", _field("min_snd_mss", _int)),
    "net.ipv4.ip_local_port_range": (
        "ephemeral_low, ephemeral_high",
        lambda cfg, v: dict(zip(("ephemeral_low", "ephemeral_high"), _port_range(v), strict=True))),
}

#: Sysctls that are not Config fields but that the synack target keeps itself.
TARGET_SYSCTLS: Final = {"net.core.somaxconn": "the listen backlog's upper bound (default 4096)"}

_ARITH: Final = re.compile(r"\$\(\(([0-9+\-*/() ]+)\)\)")


def _arith(text: str) -> str:
    def value(m: re.Match[str]) -> str:
        tokens = re.findall(r"\d+|[+\-*/()]", m.group(1))
        pos = 0

        def expr() -> int:
            nonlocal pos
            total = term()
            while pos < len(tokens) and tokens[pos] in "+-":
                op = tokens[pos]
                pos += 1
                total = total + term() if op == "+" else total - term()
            return total

        def term() -> int:
            nonlocal pos
            total = atom()
            while pos < len(tokens) and tokens[pos] in "*/":
                op = tokens[pos]
                pos += 1
                rhs = atom()
                if op == "/" and rhs == 0:
                    raise ShellError("division by zero in $((...))")
                total = total * rhs if op == "*" else total // rhs
            return total

        def atom() -> int:
            nonlocal pos
            if pos >= len(tokens):
                raise ShellError(f"bad arithmetic $(({m.group(1)}))")
            tok = tokens[pos]
            pos += 1
            if tok == "(":
                inner = expr()
                if pos >= len(tokens) or tokens[pos] != ")":
                    raise ShellError(f"bad arithmetic $(({m.group(1)}))")
                pos += 1
                return inner
            if tok == "-":
                return -atom()
            if not tok.isdigit():
                raise ShellError(f"bad arithmetic $(({m.group(1)}))")
            return int(tok)

        result = expr()
        if pos != len(tokens):
            raise ShellError(f"bad arithmetic $(({m.group(1)}))")
        return str(result)

    return _ARITH.sub(value, text)


@dataclasses.dataclass(slots=True)
class Settings:
    """What the shell lines set: the Config and the target's own values."""

    config: Config
    somaxconn: int = 4096


def with_fields(config: Config, changes: dict[str, object]) -> Config:
    """``config`` with ``changes``; ValueError when Config refuses them."""
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def apply_sysctl(settings: Settings, name: str, value: str) -> None:
    if name in TARGET_SYSCTLS:
        try:
            settings.somaxconn = _int(value)
        except ValueError as exc:
            raise ShellError(f"sysctl {name}={value}: {exc}") from None
        return
    entry = SYSCTLS.get(name)
    if entry is None:
        raise ShellError(f"sysctl {name} has no synack equivalent (see the README's table)")
    try:
        changes = entry[1](settings.config, value)
        settings.config = with_fields(settings.config, changes)
    except (ValueError, TypeError) as exc:
        raise ShellError(f"sysctl {name}={value}: {exc}") from None


def run_shell(settings: Settings, command: str, cwd: Path, depth: int = 0) -> None:
    """Apply one backquoted command (see the module doc) to ``settings``."""
    text = _arith(command)
    for part in re.split(r";|&&|\n", text):
        part = re.sub(r"\s*(2>&1|[12]?>\s*/dev/null)\s*", " ", part).strip()
        if not part or part.startswith("#"):
            continue
        try:
            words = shlex.split(part, comments=True)
        except ValueError as exc:
            raise ShellError(f"cannot read the shell command {part!r}: {exc}") from None
        if not words:
            continue
        if words[0] == "sysctl":
            assignments = [w for w in words[1:] if w not in ("-q", "-w", "-qw", "-wq")]
            if not assignments:
                raise ShellError(f"sysctl without NAME=VALUE: {part!r}")
            for item in assignments:
                name, eq, value = item.partition("=")
                if not eq:
                    raise ShellError(f"sysctl {item}: only NAME=VALUE assignments are supported")
                apply_sysctl(settings, name.strip(), value)
            continue
        m = re.fullmatch(r"echo\s+(.+?)\s*>\s*/proc/sys/(\S+)", part)
        if m:
            value = m.group(1).strip().strip("\"'")
            apply_sysctl(settings, m.group(2).replace("/", "."), value)
            continue
        if len(words) == 1 and words[0].endswith(".sh"):
            path = (cwd / words[0]).resolve()
            if depth > 4:
                raise ShellError(f"{words[0]}: includes nested too deep")
            try:
                body = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise ShellError(f"cannot read {words[0]}: {reason}") from None
            run_shell(settings, body, path.parent, depth + 1)
            continue
        raise ShellError(f"shell command {part!r} is not a sysctl the synack target can map")
