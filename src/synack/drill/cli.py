"""``synack drill [--target synack|linux|both] [--tolerance-us N] [--verbose] SCRIPT...``

One line per script and target as each finishes, then a table of every script against
every target.  Exit status 0 when every script passed or declared its divergence, 1
when one failed or could not run, 2 for a bad argument or a target that cannot run
here (``--target linux`` without root): one line saying why.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from .parser import DrillSyntaxError, parse_file
from .runner import Outcome, ScriptResult, Target
from .synack_target import SynackTarget

TARGETS = ("synack", "linux", "both")
EXIT_FAILED = 1
EXIT_USAGE = 2

SHORT = {Outcome.PASSED: "pass", Outcome.FAILED: "FAIL", Outcome.DIVERGED: "departs",
         Outcome.ERROR: "ERROR"}


class DrillUsageError(Exception):
    """A target that cannot run here, or no script: one line, exit 2."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    drill = sub.add_parser("drill", help="run packetdrill-syntax scripts against synack or Linux")
    drill.add_argument("scripts", nargs="+", metavar="SCRIPT", help="packetdrill-syntax .pkt files")
    drill.add_argument("--target", choices=TARGETS, default="synack",
                       help="synack (virtual time, no privileges; the default), linux (the kernel in a "
                            "network namespace, root needed) or both")
    drill.add_argument("--tolerance-us", type=_tolerance, default=None, metavar="N",
                       help="timing tolerance in microseconds (default: the script's "
                            "--tolerance_usecs, else 4000 as packetdrill)")
    drill.add_argument("--verbose", action="store_true", help="print every packet and call as it is run")


def _tolerance(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"not a tolerance: {text!r} (microseconds, 0 to 10000000)")
    return value


def make_targets(which: str) -> list[Target]:
    targets: list[Target] = []
    if which in ("synack", "both"):
        targets.append(SynackTarget())
    if which in ("linux", "both"):
        try:
            from . import linux
        except ImportError:
            raise DrillUsageError("the linux target (synack.drill.linux) is not available in this "
                                  "installation") from None
        try:
            targets.append(linux.LinuxTarget())
        except linux.LinuxUnavailable as exc:
            raise DrillUsageError(str(exc)) from None
    return targets


def run_drill(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Run the scripts; ``say`` prints one line."""
    targets = make_targets(args.target)
    results: list[tuple[str, dict[str, ScriptResult]]] = []
    for name in args.scripts:
        row: dict[str, ScriptResult] = {}
        try:
            script = parse_file(name)
        except DrillSyntaxError as exc:
            for target in targets:
                row[target.name] = ScriptResult(name, target.name, Outcome.ERROR, exc.line, exc.message)
            say(f"ERROR    {exc}")
            results.append((name, row))
            continue
        for target in targets:
            result = target.run(script, tolerance_us=args.tolerance_us, verbose=args.verbose)
            log = getattr(target, "log", None)
            if args.verbose and isinstance(log, list):
                for line in log:
                    say(f"  {target.name} {line}")
            row[target.name] = result
            say(f"{SHORT[result.outcome]:<8} {result.describe()}")
        results.append((name, row))
    say("")
    names = [t.name for t in targets]
    width = max([len("script"), *(len(n) for n, _ in results)])
    say((f"{'script':<{width}}  " + "  ".join(f"{n:<8}" for n in names)).rstrip())
    for name, row in results:
        say((f"{name:<{width}}  " + "  ".join(f"{SHORT[row[n].outcome]:<8}" for n in names)).rstrip())
    total = len(results)
    for n in names:
        counts = {o: sum(1 for _, row in results if row[n].outcome is o) for o in Outcome}
        say(f"{n}: {total} scripts, {counts[Outcome.PASSED]} passed, "
            f"{counts[Outcome.DIVERGED]} declared divergences, {counts[Outcome.FAILED]} failed, "
            f"{counts[Outcome.ERROR]} errors")
    ok = all(r.ok for _, row in results for r in row.values())
    return 0 if ok else EXIT_FAILED


def cmd_drill(args: argparse.Namespace, console: Console) -> int:
    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    for name in args.scripts:
        if not Path(name).is_file():
            raise DrillUsageError(f"no such script: {name}")
    return run_drill(args, say)
