"""The wire-behaviour check of refactors: every scenario's segments and states,
before and after.

``record`` runs every scenario (the tour and the byte-stream ones) with seeds 1-3
and prints, for each run, a digest of its segment records (sent, received with
the stack's verdict, dropped or lost: every header field and the payload) and its
state changes; ``--lines`` prints the records themselves.  ``compare COMMIT`` runs
``record`` against a temporary worktree of ``COMMIT`` and here, and shows the first
records that differ; ``--wire`` compares only what crossed the wire and the states
(segments sent and received, state changes), for commits from before the trace
carried verdicts.  tests/scenarios/test_trace_unchanged.py holds the digests and
fails when one moves.

    python scripts/trace_check.py record > tests/golden/trace_digests.json
    python scripts/trace_check.py compare 78b539f --wire
    python scripts/trace_check.py compare HEAD~3 --scenario handshake --seed 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SEEDS = (1, 2, 3)
ROOT = Path(__file__).resolve().parent.parent


def reason_of(r: Any) -> str:
    """A segment record's reason as text (the trace before verdicts held a string)."""
    text = getattr(r, "reason_text", None) if hasattr(r, "verdict") else r.reason
    return str(text)


def projection(records: list[Any], wire: bool = False) -> Iterator[str]:
    """One line per segment or state record: what must not change in a refactor.

    Segment records: time, host, event, addresses, every header field, the
    payload's digest and, unless ``wire``, a drop's reason and an arrival's verdict
    (drops are then left out).  State records: time, host, connection, from, to.
    (Timers, notes and congestion records are views of the same behaviour and may
    be re-worded.)"""
    for r in records:
        kind = type(r).__name__
        if kind == "SegmentRecord":
            if wire and r.event == "drop":
                continue
            seg = r.seg
            head = f"{r.t_us} {r.host} {r.event} {r.src}>{r.dst}"
            if seg is None:
                yield f"{head} malformed {reason_of(r)}"
                continue
            o = seg.options
            pay = hashlib.sha256(bytes(seg.payload)).hexdigest()[:12] if seg.payload else "-"
            line = (f"{head} {seg.src_port}>{seg.dst_port} f={seg.flags} s={seg.seq} a={seg.ack}"
                    f" w={seg.window} u={seg.urg} mss={o.mss} ws={o.wscale} sok={int(o.sack_permitted)}"
                    f" ts={o.timestamps} sack={list(o.sack_blocks)} len={len(seg.payload)} p={pay}")
            if r.event == "drop":
                line += f" reason={reason_of(r)}"
            elif r.event == "recv" and not wire:
                line += f" verdict={r.verdict.value} reason={reason_of(r)}"
            yield line
        elif kind == "StateRecord":
            yield f"{r.t_us} {r.host} state {r.local}|{r.remote} {r.old.value}>{r.new.value}"


def runs(name: str | None, seed: int | None, wire: bool = False) -> Iterator[tuple[str, list[str]]]:
    sys.path.insert(0, str(Path.cwd() / "src"))
    from synack.scenarios import ALL, get

    for scenario in ALL if name is None else (name,):
        for s in SEEDS if seed is None else (seed,):
            for i, run in enumerate(get(scenario).run(s), 1):
                yield f"{scenario} seed={s} run={i}", list(projection(run.records, wire))


def record(args: argparse.Namespace) -> int:
    out: dict[str, object] = {}
    for key, lines in runs(args.scenario, args.seed, args.wire):
        if args.lines:
            out[key] = lines
        else:
            out[key] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


def compare(args: argparse.Namespace) -> int:
    extra = ["--wire"] if args.wire else []
    if args.scenario:
        extra += ["--scenario", args.scenario]
    if args.seed:
        extra += ["--seed", str(args.seed)]
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.commit],
                       check=True, capture_output=True)
        try:
            env = {**os.environ, "PYTHONPATH": str(tree / "src")}
            base = json.loads(subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "record", "--lines", *extra],
                cwd=tree, env=env, check=True, capture_output=True, text=True).stdout)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=True, capture_output=True)
    here = dict(runs(args.scenario, args.seed, args.wire))
    differ = 0
    for key in sorted(set(base) | set(here)):
        a, b = base.get(key), here.get(key)
        if a == b:
            continue
        differ += 1
        print(f"DIFFERS {key}: {len(a or [])} records at {args.commit}, {len(b or [])} here")
        for i, (x, y) in enumerate(zip(a or [], b or [], strict=False)):
            if x != y:
                print(f"  first difference at record {i}:\n    {args.commit}: {x}\n    here:    {y}")
                break
    print(f"{len(set(base) | set(here))} runs compared, {differ} differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for cmd in ("record", "compare"):
        p = sub.add_parser(cmd)
        if cmd == "compare":
            p.add_argument("commit")
        else:
            p.add_argument("--lines", action="store_true", help="the records, not their digests")
        p.add_argument("--wire", action="store_true", help="segments sent and received, and states only")
        p.add_argument("--scenario")
        p.add_argument("--seed", type=int)
    args = parser.parse_args()
    return record(args) if args.cmd == "record" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
