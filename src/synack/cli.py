"""The ``synack`` command: the tour of the seed's scenarios, and one scenario at a time.

    synack tour [--lang en|zh] [--seed N] [--step]
    synack scenario list [--lang en|zh]
    synack scenario run NAME [--seed N] [--lang en|zh] [--pcap FILE] [--json FILE]
                             [--svg FILE] [--html FILE]
                             [--netstat-at T] [--absolute-seq] [--plot FILE.png|FILE.svg]
    synack serve [--echo | --http DIR] [--port P] [--netns NAME] [--pcap FILE] [FAULTS]
    synack connect HOST PORT [--send FILE] [--output FILE] [--netns NAME] [--pcap FILE] [FAULTS]
    synack ss [--netns NAME]
    synack web [--port 8000] [--no-open]
    synack drill [--target synack|linux|both] [--tolerance-us N] [--verbose] SCRIPT...

serve, connect and ss run synack on a TUN device in a private network namespace
(root needed); see the README's "Real network (TUN)".  web builds the playground
(web/dist, when it is missing or stale) and serves it on 127.0.0.1.  FAULTS: [--loss P]
[--delay MS] [--duplicate P] [--reorder P] [--seed N], applied in each direction
independently.

Bad arguments or unwritable files print one line, ``synack: error: ...``, and exit 2;
so does any failure to write, standard output's included (``synack: error: cannot
write standard output: No space left on device``).  A reader of standard output that
goes away early (``synack tour | head``) ends the command quietly, with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Final, NoReturn

from rich.cells import cell_len
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text as RichText

from synack import __version__
from synack.capture import write_pcap
from synack.drill import cli as drill_cli
from synack.scenarios import ALL, LANGS, TOUR, Lang, Run, Scenario, get
from synack.views.jsonl import LineWriter
from synack.views.ladder import render_ladder
from synack.views.ladder.text import wrap_cells
from synack.views.netstat import render_netstat
from synack.views.plot import PlotError, PlotRun, plot_format, plot_runs
from synack.views.proofs import TABLE_HEADERS, proof_rows, proof_table

EXIT_USAGE = 2
STDOUT = "standard output"


class CliError(Exception):
    """A problem with what the user asked for, or a write that failed: printed as one
    line, exit status 2."""


class StdoutClosed(Exception):
    """Standard output's reader went away (a pipe closed early): nothing more to say."""


def cannot_write(what: str, exc: OSError) -> CliError:
    return CliError(f"cannot write {what}: {exc.strerror or exc}")


def _say(line: str) -> None:
    """One line to standard error (if even that fails, there is no one to tell)."""
    with contextlib.suppress(OSError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _say(f"synack: error: {message} (see 'synack --help')")
        raise SystemExit(EXIT_USAGE)

    def _print_message(self, message: str, file: object = None) -> None:
        # argparse ignores a failure to write --help or --version; we report it.
        if message and file is sys.stdout:
            _write_stdout(message)
        elif message:
            _say(message.rstrip("\n"))


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise StdoutClosed from None
    except OSError as exc:
        raise cannot_write(STDOUT, exc) from None


class _Console(Console):
    """rich's Console, whose failures to write standard output are the command's to
    report (rich writes and flushes at each ``print``): a pipe whose reader went away
    raises :class:`StdoutClosed` (rich's own answer is ``SystemExit(1)``), any other
    failure a :class:`CliError`."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise StdoutClosed

    def print(self, *objects: Any, **kwargs: Any) -> None:
        try:
            super().print(*objects, **kwargs)
        except OSError as exc:
            self.quiet = True
            raise cannot_write(STDOUT, exc) from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|ms|us|µs)?\s*$")


def parse_duration(text: str) -> int:
    """``"2.5"``/``"2.5s"`` → 2_500_000 µs; ``"500ms"``, ``"100us"`` likewise."""
    m = _DURATION.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (use e.g. 2.5, 2.5s, 500ms)")
    value = float(m.group(1))
    unit = m.group(2) or "s"
    scale = {"s": 1_000_000, "ms": 1_000, "us": 1, "µs": 1}[unit]
    return round(value * scale)


def parse_seed(text: str) -> int:
    try:
        seed = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a seed: {text!r} (a whole number >= 0)") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"not a seed: {text!r} (a whole number >= 0)")
    return seed


def parse_busy_poll(text: str) -> int:
    from synack.drivers.tun import MAX_BUSY_POLL_US, check_busy_poll  # (asyncio only when needed)

    try:
        return check_busy_poll(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a busy poll: {text!r} (0 to {MAX_BUSY_POLL_US} µs)") from None


def parse_probability(text: str) -> float:
    """``"0.05"`` or ``"5%"`` → 0.05."""
    t = text.strip()
    percent = t.endswith("%")
    try:
        p = float(t[:-1] if percent else t)
    except ValueError:
        p = -1.0
    if percent:
        p /= 100
    if not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError(f"not a probability: {text!r} (0 to 1, or a percentage such as 5%)")
    return p


#: The longest --delay: everything a fault holds leaves within a minute.
MAX_DELAY_MS = 60_000


def parse_delay_ms(text: str) -> float:
    """Milliseconds, ``"20"`` or ``"2.5"``."""
    try:
        ms_ = float(text)
    except ValueError:
        ms_ = -1.0
    if not 0.0 <= ms_ <= MAX_DELAY_MS:
        raise argparse.ArgumentTypeError(f"not a delay: {text!r} (milliseconds, 0 to {MAX_DELAY_MS})")
    return ms_


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="synack", description="TCP's handshake and close, run, drawn and explained.")
    p.add_argument("--version", action="version", version=f"synack {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    tour = sub.add_parser("tour", help="every scenario of the seed, in its order")
    tour.add_argument("--lang", choices=LANGS, default="en")
    tour.add_argument("--seed", type=parse_seed, default=1)
    tour.add_argument("--absolute-seq", action="store_true",
                      help="show raw sequence numbers (default: relative to each side's ISN)")
    tour.add_argument("--step", action="store_true",
                      help="one ladder at a time: Enter shows the next, end of input (Ctrl-D) stops")

    scen = sub.add_parser("scenario", help="list or run scenarios")
    ssub = scen.add_subparsers(dest="action", required=True, parser_class=_Parser)
    lst = ssub.add_parser("list", help="the scenarios and what they show")
    lst.add_argument("--lang", choices=LANGS, default="en")
    run = ssub.add_parser("run", help="run one scenario")
    run.add_argument("name", help="a scenario name (see 'synack scenario list')")
    run.add_argument("--seed", type=parse_seed, default=1, help="master seed of the simulation (default 1)")
    run.add_argument("--lang", choices=LANGS, default="en")
    run.add_argument("--pcap", metavar="FILE", help="write the packets as pcap (one file per run)")
    run.add_argument("--json", metavar="FILE", help="write the trace as JSON Lines")
    run.add_argument("--svg", metavar="FILE", help="draw the ladder as SVG (labels in --lang)")
    run.add_argument("--html", metavar="FILE",
                     help="write one self-contained HTML page stepping through the ladder (labels in --lang)")
    run.add_argument("--netstat-at", metavar="T", type=parse_duration,
                     help="show every host's connection table at virtual time T (e.g. 2.5s)")
    run.add_argument("--absolute-seq", action="store_true",
                     help="show raw sequence numbers (default: relative to each side's ISN, as Wireshark)")
    run.add_argument("--plot", metavar="FILE",
                     help="draw sequence numbers (and cwnd) over time into FILE.png or FILE.svg")

    def net_options(cmd: argparse.ArgumentParser, pcap: bool = True) -> None:
        cmd.add_argument("--netns", metavar="NAME", default="synack",
                         help="network namespace: joined if it exists, else created and removed on exit "
                              "(default: synack)")
        if pcap:
            cmd.add_argument("--pcap", metavar="FILE", help="capture everything crossing the TUN device")
            cmd.add_argument("--busy-poll", metavar="US", type=parse_busy_poll, default=0,
                             help="after each burst of packets, poll the device US µs more before sleeping "
                                  "(as Linux's net.core.busy_poll): lower latency under load, for CPU "
                                  "(default 0: off)")

    def fault_options(cmd: argparse.ArgumentParser) -> None:
        faults = cmd.add_argument_group(
            "faults", "injected by synack between the device and itself, in each direction independently "
                      "(kernel -> synack and synack -> kernel), each drawing from its own seeded stream")
        faults.add_argument("--loss", metavar="P", type=parse_probability, default=0.0,
                            help="drop each packet with probability P (0..1 or N%%)")
        faults.add_argument("--delay", metavar="MS", type=parse_delay_ms, default=0.0,
                            help="delay every packet by MS milliseconds")
        faults.add_argument("--duplicate", metavar="P", type=parse_probability, default=0.0,
                            help="send a second copy of a packet with probability P")
        faults.add_argument("--reorder", metavar="P", type=parse_probability, default=0.0,
                            help="hold a packet back 10 ms more with probability P (later ones overtake it)")
        faults.add_argument("--seed", metavar="N", type=parse_seed, default=1,
                            help="seed of the faults' random streams (default 1)")

    serve = sub.add_parser("serve", help="serve on a TUN device (root): echo, or files over HTTP")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--echo", action="store_true", help="send every byte back (the default)")
    mode.add_argument("--http", metavar="DIR", help="serve the files under DIR over HTTP/1.1")
    serve.add_argument("--port", type=parse_port, default=8080, help="port to listen on (default 8080)")
    net_options(serve)
    fault_options(serve)

    conn = sub.add_parser("connect", help="a netcat-like client on a TUN device (root)")
    conn.add_argument("host", help="peer address, e.g. 198.18.0.1 (the namespace's kernel side)")
    conn.add_argument("port", type=parse_port)
    conn.add_argument("--send", metavar="FILE", help="send FILE instead of standard input")
    conn.add_argument("--output", metavar="FILE", help="write the peer's bytes to FILE, not standard output")
    net_options(conn)
    fault_options(conn)

    ss = sub.add_parser("ss", help="the connection table of the synack running in a namespace (like ss -tan)")
    net_options(ss, pcap=False)

    web = sub.add_parser("web", help="the playground: build web/dist if needed, serve it on 127.0.0.1")
    web.add_argument("--port", type=parse_port, default=8000, help="port to listen on (default 8000)")
    web.add_argument("--no-open", action="store_true", help="do not open a browser")
    drill_cli.add_parser(sub)
    return p


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"not a port: {text!r} (1..65535)")
    return port


def cmd_net(args: argparse.Namespace, console: Console) -> int:
    """serve / connect / ss (imported here: asyncio and pyroute2 only when needed)."""
    from synack.drivers import commands

    try:
        if args.command in ("serve", "connect"):
            faults = commands.make_faults(args.loss, args.delay, args.duplicate, args.reorder, args.seed)
        if args.command == "serve":
            commands.serve(args.netns, args.pcap, args.port, args.http, faults, args.busy_poll)
        elif args.command == "connect":
            commands.connect(args.netns, args.pcap, args.host, args.port, args.send, args.output, faults,
                             args.busy_poll)
        else:
            now, rows = commands.show_table(args.netns)
            if not console.is_terminal:
                console.width = max(console.width, 160)  # IPv6 rows whole when piped
            console.print(render_netstat(rows, now, host=f"synack@{args.netns}"))
    except commands.CommandError as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """Build the playground if needed, then serve it (imported here: http.server only when needed)."""
    from synack import webserve

    try:
        dist = webserve.ensure_built(say=_say)
        webserve.serve(dist, args.port, open_browser=not args.no_open, say=_say)
    except webserve.WebError as exc:
        raise CliError(str(exc)) from None
    return 0


def _scenario(name: str) -> Scenario:
    try:
        return get(name)
    except KeyError:
        raise CliError(f"unknown scenario {name!r} (known: {', '.join(ALL)})") from None


def _open_for_writing(path: str) -> IO[str]:
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise cannot_write(path, exc) from None


def _check_writable(path: str) -> None:
    """A file we can create (or append to), before running anything; left as it was.
    A FIFO or a device is left alone: opening one is already writing to it (a reader
    of ``--pcap >(tcpdump -r -)`` would see the end of its input at once)."""
    with contextlib.suppress(OSError):  # (missing: the open below says what is wrong)
        mode = os.stat(path).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            return
    existed = os.path.lexists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise cannot_write(path, exc) from None
    if not existed:
        os.remove(path)


def _check_plot_path(path: str) -> None:
    """A known image format and a file we can create, before running anything."""
    try:
        plot_format(path)
    except PlotError as exc:
        raise CliError(str(exc)) from None
    _check_writable(path)


def _write_json(out: IO[str], path: str, runs: Sequence[Run]) -> None:
    """The runs' records as JSON Lines into ``out`` (opened on ``path``), closed."""
    line = LineWriter().line
    try:
        for n, run in enumerate(runs, 1):
            tail = f',"run":{n}' if len(runs) > 1 else ""
            for rec in run.records:
                out.write(line(rec, tail) + "\n")
        out.close()  # the last of it is written here (ENOSPC shows here, if not before)
    except OSError as exc:
        raise cannot_write(path, exc) from None


def _write_text(path: str, text: str) -> None:
    """``text`` into the file ``path``, whole (a failure to write is the command's error)."""
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise cannot_write(path, exc) from None


def _ladder_svg(scenario: Scenario, runs: Sequence[Run], lang: Lang) -> str:
    """The runs' ladders as one SVG; each segment's ``data-event`` is its line number
    (from 0) in what ``--json`` writes for the same runs."""
    from synack.views.svg import ladder_svg

    parts, offset = [], 0
    for run in runs:
        parts.append((run.records, offset))
        offset += len(run.records)
    return ladder_svg(parts, lang=lang, names=[(run.left, run.right) for run in runs],
                      titles=[run.label(lang) for run in runs],
                      title=f"{scenario.name}: {scenario.title(lang)}")


def _pcap_paths(path: str, runs: int) -> list[str]:
    if runs == 1:
        return [path]
    p = Path(path)
    suffix = p.suffix or ".pcap"
    return [str(p.with_name(f"{p.stem}-run{i + 1}{suffix}")) for i in range(runs)]


def _fact_lines(run: Run, lang: Lang, width: int) -> list[str]:
    """The run's facts, each after an arrow, wrapped to ``width`` (Chinese too: between
    any two characters), never cut."""
    lines: list[str] = []
    for fact in run.facts:
        for i, part in enumerate(fact(lang).split("\n")):
            lines.extend(wrap_cells("→ " + part if i == 0 else part, width))
    return lines


def _proof_table(run: Run, lang: Lang) -> Table:
    """What each side has proven about the other after each segment of ``run``."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 1))
    for header in TABLE_HEADERS[lang]:
        table.add_column(header, overflow="fold")
    for row in proof_table(proof_rows(run.records, run.left, run.right), lang):
        table.add_row(*row)
    return table


def render_scenario(console: Console, scenario: Scenario, runs: Sequence[Run], lang: Lang, *,
                    relative_seq: bool = False, index: int | None = None,
                    between: Callable[[], bool] | None = None) -> bool:
    """Print ``scenario``'s explanation and each run's ladder; ``between`` is asked
    before every run after the first, and False from it stops (returned)."""
    heading = scenario.title(lang)
    if index is not None:
        heading = f"{index}. {heading}"
    heading = f"{heading}  [{scenario.name}]"
    if cell_len(heading) + 6 <= console.width:
        console.print(Rule(RichText(heading, style="bold")))
    else:   # too long for the rule: the rule, then the heading wrapped under it
        console.print(Rule())
        console.print(RichText("\n".join(wrap_cells(heading, console.width)), style="bold"))
    console.print(RichText(("出处" if lang == "zh" else "Seed section") + f": {scenario.section}",
                           style="dim"))
    console.print(Padding(RichText("\n".join(wrap_cells(scenario.explanation(lang), console.width - 2))),
                          (0, 0, 1, 2)))
    for n, run in enumerate(runs, 1):
        if n > 1 and between is not None and not between():
            return False
        label = run.label(lang)
        title = f"{label}" if len(runs) == 1 else f"({n}/{len(runs)}) {label}"
        ladder = render_ladder(run.records, run.left, run.right, title=title,
                               width=min(console.width - 4, 120),
                               relative_seq=relative_seq, max_rows=run.max_rows, lang=lang)
        parts: list[object] = [ladder]
        if scenario.proofs:
            parts.append(_proof_table(run, lang))
        if run.facts:
            parts.append(RichText("\n".join(_fact_lines(run, lang, console.width - 4)), style="bold cyan"))
        console.print(Panel(Group(*parts), border_style="dim"))  # type: ignore[arg-type]
        if run.netstat_time is not None:
            for host, rows in run.netstat.items():
                console.print(render_netstat(rows, run.netstat_time, host=host))
    return True


_STEP_PROMPT: Final = {"en": "[Enter: next · Ctrl-D: stop]", "zh": "[回车：下一步 · Ctrl-D：结束]"}


def _wait_for_enter(console: Console, lang: Lang) -> bool:
    """Ask for Enter on standard input: True when it came, False at end of input or
    on Ctrl-C (either stops the tour quietly)."""
    console.print(RichText(_STEP_PROMPT[lang], style="dim"), end="")
    _flush_stdout()
    try:
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        line = ""
    if not line:
        console.print()   # end the prompt's line, then stop quietly
        return False
    return True


def cmd_tour(args: argparse.Namespace, console: Console) -> int:
    between: Callable[[], bool] | None = None
    if args.step:
        def between() -> bool:
            return _wait_for_enter(console, args.lang)
    for i, name in enumerate(TOUR, 1):
        if i > 1 and between is not None and not between():
            return 0
        scenario = _scenario(name)
        runs = scenario.run(args.seed)
        if not render_scenario(console, scenario, runs, args.lang, relative_seq=not args.absolute_seq,
                               index=i, between=between):
            return 0
    return 0


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    for name in ALL:
        scenario = _scenario(name)
        console.print(RichText.assemble((f"{name:<26}", "bold"), scenario.title(args.lang),
                                        (f"  ({scenario.section})", "dim")))
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    scenario = _scenario(args.name)
    # Open outputs first, so a bad path fails before the work is done.
    if args.pcap:
        _check_writable(args.pcap)  # (with several runs, FILE-run1.pcap... go beside it)
    if args.plot:
        _check_plot_path(args.plot)
    for path in (args.svg, args.html):
        if path:
            _check_writable(path)
    json_out = _open_for_writing(args.json) if args.json else None
    try:
        runs = scenario.run(args.seed, netstat_at=args.netstat_at, capture=bool(args.pcap))
        render_scenario(console, scenario, runs, args.lang, relative_seq=not args.absolute_seq)
        if json_out is not None:
            _write_json(json_out, args.json, runs)
            console.print(RichText(f"trace written to {args.json}", style="dim"))
        if args.pcap:
            for path, run in zip(_pcap_paths(args.pcap, len(runs)), runs, strict=True):
                try:
                    write_pcap(path, run.packets)
                except OSError as exc:
                    raise cannot_write(path, exc) from None
                console.print(RichText(f"pcap written to {path} ({len(run.packets)} packets)", style="dim"))
        if args.plot:
            try:
                plot_runs([PlotRun(run.label("en"), run.records) for run in runs], args.plot,
                          title=f"{scenario.name}: {scenario.title('en')}")
            except OSError as exc:
                raise cannot_write(args.plot, exc) from None
            except PlotError as exc:
                raise CliError(str(exc)) from None
            console.print(RichText(f"plot written to {args.plot}", style="dim"))
        if args.svg or args.html:
            svg = _ladder_svg(scenario, runs, args.lang)
            if args.svg:
                _write_text(args.svg, svg)
                console.print(RichText(f"ladder written to {args.svg}", style="dim"))
            if args.html:
                from synack.views.html import ladder_html

                page = ladder_html(svg, lang=args.lang, title=f"{scenario.name}: {scenario.title(args.lang)}",
                                   section=scenario.section, explanation=scenario.explanation(args.lang),
                                   titles=[run.label(args.lang) for run in runs],
                                   facts=[[f(args.lang) for f in run.facts] for run in runs])
                _write_text(args.html, page)
                console.print(RichText(f"page written to {args.html}", style="dim"))
    finally:
        if json_out is not None and not json_out.closed:  # a failure before it was written
            with contextlib.suppress(OSError):
                json_out.close()
    return 0


def _flush_stdout() -> None:
    """Write out what standard output still buffers, so that a failure shows here and
    not as noise ("Exception ignored ...") when the interpreter exits."""
    _write_stdout("")


def _drop_stdout() -> None:
    """Standard output failed or its reader went away: what it still buffers goes to
    /dev/null when the interpreter exits (it would fail again there, noisily)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (replaced, as by pytest's capsys)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _command(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    console = _Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 110  # piped to a file or a pager: room for a ladder and netstat
    if args.command == "tour":
        return cmd_tour(args, console)
    if args.command in ("serve", "connect", "ss"):
        return cmd_net(args, console)
    if args.command == "web":
        return cmd_web(args)
    if args.command == "drill":
        try:
            return drill_cli.cmd_drill(args, console)
        except drill_cli.DrillUsageError as exc:
            raise CliError(str(exc)) from None
    if args.action == "list":
        return cmd_list(args, console)
    return cmd_run(args, console)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            status = _command(argv)
        except SystemExit:  # argparse is done: --help or --version printed, or a usage error
            _flush_stdout()
            raise
        _flush_stdout()
        return status
    except (StdoutClosed, BrokenPipeError):  # the latter: met outside rich (connect's bytes)
        _drop_stdout()
        return 0
    except CliError as exc:
        try:
            _flush_stdout()
        except (StdoutClosed, CliError):
            _drop_stdout()
        _say(f"synack: error: {exc}")
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
