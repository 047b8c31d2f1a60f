"""The playground page as the browser tests (tests/web/) drive it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from synack.cli import main

#: How long a run may take to be drawn (syn-flood's seven runs of a 20,000-SYN flood
#: take seconds; a loaded CI machine, more).
RUN_TIMEOUT_MS = 180_000


class Page:
    """One loaded playground page and its console's errors."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                if m.type in ("error", "assert") else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def open(self, fragment: str) -> None:
        """Open the run of ``fragment`` and wait until it is drawn."""
        if not self.page.url.startswith(self.base_url):
            self.page.goto(f"{self.base_url}#{fragment}")
        elif self.page.evaluate("location.hash.slice(1)") != fragment:
            self.page.evaluate("f => { window.synack.ready = false; location.hash = f; }", fragment)
        self.wait_ready()

    def wait_ready(self) -> None:
        self.page.wait_for_function("window.synack && window.synack.ready === true", timeout=RUN_TIMEOUT_MS)

    def trace_len(self) -> int:
        n: int = self.page.evaluate("window.synack.trace.length")
        return n


CJK = re.compile(r"[\u4e00-\u9fff]")
#: Traces longer than this are compared through a digest of their JSON text (and a
#: sample), not brought over whole (syn-flood's is 330,000 records).
WHOLE = 20_000
_cli_cache: dict[str, str] = {}


def cli_jsonl(name: str, seed: int = 1) -> str:
    """What ``synack scenario run NAME --seed N --json FILE`` writes (run in-process)."""
    key = f"{name}:{seed}"
    if key not in _cli_cache:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "trace.jsonl"
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(["scenario", "run", name, "--seed", str(seed), "--json", str(out)]) == 0
            _cli_cache[key] = out.read_text(encoding="utf-8")
    return _cli_cache[key]


def page_jsonl_digest(web: Page) -> str:
    digest: str = web.page.evaluate("""async () => {
        const text = window.synack.trace.map((r) => JSON.stringify(r) + "\\n").join("");
        const buf = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
        return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
    }""")
    return digest


def assert_trace_is(web: Page, expected_text: str) -> None:
    lines = expected_text.splitlines()
    n = web.trace_len()
    assert n == len(lines)
    if n <= WHOLE:
        assert web.page.evaluate("window.synack.trace") == [json.loads(line) for line in lines]
        return
    assert page_jsonl_digest(web) == hashlib.sha256(expected_text.encode("utf-8")).hexdigest()
    for i in (0, 1, n // 3, n // 2, n - 2, n - 1):
        assert web.page.evaluate(f"window.synack.trace[{i}]") == json.loads(lines[i])
