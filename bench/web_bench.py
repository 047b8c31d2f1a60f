"""The playground's speed in Debian's chromium (a benchmark: it prints, it does not fail).

    python bench/web_bench.py [--loads 3] [--scenarios NAME,...] [--json FILE]

- first load: a fresh browser context (nothing cached) opens
  ``index.html#scenario=handshake&seed=1&lang=en`` from web/dist served on 127.0.0.1,
  until the page has drawn the run (``window.synack.ready``); the page's own figure
  for loading Python and synack (``window.synack.loadMs``) beside it.  Target ≤ 5 s.
- re-run after a what-if: for each tour scenario, the seed's run is drawn, then the
  URL asks for the same run with a what-if (link delay 20 ms); timed from the change
  to the redrawn page.  Target ≤ 1 s, syn-flood (which shows its progress) ≤ 10 s.

web/dist is built first when missing or stale (``make web``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from synack import webserve
from synack.scenarios import TOUR

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
READY = "window.synack && window.synack.ready === true"
WHAT_IF = "link_delay=20"


def go(page: Any, fragment: str) -> None:
    """Open the run of ``fragment`` in the loaded page; wait until it is drawn."""
    if page.evaluate("location.hash.slice(1)") != fragment:
        page.evaluate("f => { window.synack.ready = false; location.hash = f; }", fragment)
    page.wait_for_function(READY, timeout=300_000)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loads", type=int, default=3, help="first loads to time (default 3)")
    ap.add_argument("--scenarios", default=",".join(TOUR), help="scenarios to re-run (default: the tour)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    dist = webserve.ensure_built(say=lambda line: print(line, file=sys.stderr))
    server = webserve.make_server(dist, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    out: dict[str, Any] = {"first_load_s": [], "python_load_s": [], "rerun_s": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(args.loads):
            context = browser.new_context()
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(f"{url}#scenario=handshake&seed=1&lang=en")
            page.wait_for_function(READY, timeout=120_000)
            out["first_load_s"].append(time.perf_counter() - t0)
            out["python_load_s"].append(page.evaluate("window.synack.loadMs") / 1000)
            context.close()
        context = browser.new_context()
        page = context.new_page()
        page.on("pageerror", lambda e: print(f"page error: {e}", file=sys.stderr))
        page.on("console", lambda m: print(f"console.{m.type}: {m.text}", file=sys.stderr)
                if m.type == "error" else None)
        page.set_default_timeout(300_000)
        page.goto(f"{url}#scenario=handshake&seed=1&lang=en")
        page.wait_for_function(READY, timeout=120_000)
        for name in args.scenarios.split(","):
            go(page, f"scenario={name}&seed=1&lang=en")
            seed_run = page.evaluate("window.synack.runMs") / 1000
            t0 = time.perf_counter()
            go(page, f"scenario={name}&seed=1&lang=en&{WHAT_IF}")
            rerun = time.perf_counter() - t0
            records = page.evaluate("window.synack.trace.length")
            print(f"  {name}: {rerun:.2f} s", file=sys.stderr)
            out["rerun_s"][name] = {"seed_run_s": round(seed_run, 3), "rerun_s": round(rerun, 3),
                                    "records": records}
        context.close()
        browser.close()
    server.shutdown()

    loads = out["first_load_s"]
    print(f"first load (fresh context, handshake drawn): median {statistics.median(loads):.2f} s "
          f"[{', '.join(f'{x:.2f}' for x in loads)}]; Python and synack loaded in "
          f"{statistics.median(out['python_load_s']):.2f} s   (target <= 5 s)")
    print(f"\nre-run after a what-if ({WHAT_IF}), per scenario (target <= 1 s; syn-flood <= 10 s):")
    print(f"  {'scenario':<26} {'records':>8} {'seed run':>9} {'re-run':>8}")
    for name, row in out["rerun_s"].items():
        target = 10.0 if name == "syn-flood" else 1.0
        flag = "" if row["rerun_s"] <= target else "  over target"
        print(f"  {name:<26} {row['records']:>8} {row['seed_run_s']:>8.2f}s {row['rerun_s']:>7.2f}s{flag}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
