"""The playground in a real browser: Debian's chromium (/usr/bin/chromium), driven by
Playwright for Python, on web/dist (built here when missing or stale; ``make test``
builds it first) served on 127.0.0.1.  No browser is ever downloaded.

Without chromium, Playwright, or node/npm for the build, these tests skip with the
reason -- except under CI (``CI=true``), where a missing requirement is a failure.

One page is loaded once (Pyodide loads once) and each test opens its run through the
URL's fragment, the page's contract: ``index.html#scenario=NAME&seed=N&lang=en|zh``
(plus the what-if settings); the page sets ``window.synack.ready`` when the run is
drawn.  Every test fails on a console error or an uncaught exception in the page.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.ci import unavailable
from support.webpage import RUN_TIMEOUT_MS, Page
from synack import webserve

CHROMIUM = Path(os.environ.get("SYNACK_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def dist() -> Path:
    if not CHROMIUM.exists():
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[dev]')")
    web = webserve.REPO / "web"
    if not webserve.is_built(web) and shutil.which("npm") is None \
            and not (web / "node_modules" / "pyodide").is_dir():
        unavailable("web/dist is not built and there is no npm to build it (apt-get install nodejs npm)")
    try:
        return webserve.ensure_built(say=lambda _line: None)
    except webserve.WebError as exc:
        unavailable(str(exc))
        raise


@pytest.fixture(scope="session")
def base_url(dist: Path) -> Iterator[str]:
    server = webserve.make_server(dist, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser(dist: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def session_page(browser: Any, base_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(RUN_TIMEOUT_MS)
    p = Page(page, base_url)
    page.goto(f"{base_url}#scenario=handshake&seed=1&lang=en")
    p.wait_ready()
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def web(session_page: Page) -> Iterator[Page]:
    """The page, checked for console errors after the test."""
    session_page.errors.clear()
    yield session_page
    assert session_page.errors == [], "the page logged errors"
