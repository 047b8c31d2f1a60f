"""The fuzzer of issue 9: random and mutated segments, packets, user calls and timer
advances thrown at an endpoint in every state, the invariants checked after each
input (docs/FUZZ.md).

    python scripts/fuzz.py --minutes 10            # make fuzz
    python scripts/fuzz.py --seconds 60 --seed 7   # what CI runs (tests/test_fuzz_smoke.py)
    python scripts/fuzz.py --seed 7 --episode 1234 # one episode of that run again

It prints ``fuzz: N inputs in S s (R/s), F failures, seed X`` and exits 1 if anything
failed, after writing a shrunk reproducer per distinct failure (``--repro-dir``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synfuzz.engine import report_coverage, run
from synfuzz.known import KNOWN

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fuzz.py", description=__doc__.split("\n\n")[0])
    budget = ap.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="run this long (default 10)")
    budget.add_argument("--seconds", type=float, help="run this long")
    ap.add_argument("--inputs", type=int, help="stop after this many inputs (between episodes)")
    ap.add_argument("--seed", type=int, default=42, help="the run's seed (default 42)")
    ap.add_argument("--episode", type=int, help="run only this episode of the seed's run")
    ap.add_argument("--repro-dir", type=Path, default=ROOT / "out" / "fuzz",
                    help="where reproducers go (default out/fuzz)")
    ap.add_argument("--shrink-seconds", type=float, default=60.0,
                    help="time to shrink each distinct failure (0: write the whole episode)")
    ap.add_argument("--max-failures", type=int, default=10, help="stop after this many distinct failures")
    ap.add_argument("--check-every", type=int, default=25,
                    help="replay every Nth episode from its tape and compare (0: never)")
    ap.add_argument("--no-foreign-dst", action="store_true",
                    help="drop corrupted packets whose destination is not ours instead of delivering them")
    ap.add_argument("--strict", action="store_true",
                    help="fail on the known failures too (synfuzz/known.py) instead of counting them")
    ap.add_argument("--quiet", action="store_true", help="no progress lines, no coverage")
    ap.add_argument("--digest", action="store_true",
                    help="print a digest of everything the run sent (the same for the same seed and inputs)")
    args = ap.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else 60.0 * (args.minutes if args.minutes else 10.0)
    if args.inputs is not None and args.minutes is None and args.seconds is None:
        seconds = None
    episodes = None
    first = 0
    if args.episode is not None:
        first, episodes, seconds = args.episode, 1, None

    def log(line: str) -> None:
        # (--quiet keeps what a failure says: where, the reproducer)
        if not args.quiet or "FAILURE" in line or "reproducer" in line or "itself" in line:
            print(line, flush=True)

    result = run(args.seed, seconds=seconds, max_inputs=args.inputs, max_episodes=episodes,
                 first_episode=first, repro_dir=args.repro_dir, shrink_seconds=args.shrink_seconds,
                 max_findings=args.max_failures, check_every=args.check_every,
                 foreign_dst=not args.no_foreign_dst,
                 tolerate=frozenset() if args.strict else frozenset(KNOWN), log=log)
    if not args.quiet:
        report_coverage(result, print)
    for f in result.findings.values():
        print(f"failure x{f.count}: {f.message.splitlines()[0]}")
        print(f"  first at input {f.input_index:,} (episode {f.episode}); reproducer: {f.path}")
    if args.digest:
        print(f"fuzz: digest {result.digest}")
    print(result.summary(), flush=True)
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
