"""The playground page as the browser tests (tests/web/) drive it."""

from __future__ import annotations

from typing import Any

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
