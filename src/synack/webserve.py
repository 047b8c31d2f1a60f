"""The playground's build and its local server (``make web``, ``synack web``).

:func:`build` makes ``web/dist/`` from the repository: the Pyodide runtime files the
page needs (from ``web/node_modules/pyodide``, installed by ``npm ci`` from
``web/package-lock.json``), ``synack.zip`` (synack's pure-Python packages the page
imports: :data:`BROWSER_FILES`, none of which needs rich or matplotlib), and the
page itself (``web/src/``).  Nothing is fetched at run time: ``web/dist/`` works
offline from any static file server.

:func:`serve` serves a directory on 127.0.0.1 only, with the MIME types the page
needs (``.mjs`` as JavaScript, ``.wasm`` as WebAssembly).

    python -m synack.webserve          # build web/dist (what `make web` runs)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from synack import __version__

#: The repository holding this file, when synack runs from a clone (an editable
#: install); web/ is there.
REPO: Final = Path(__file__).resolve().parents[2]
SYNACK: Final = Path(__file__).resolve().parent

#: What the page imports of synack, relative to the package: whole packages, then
#: single modules.  The command line, the drivers (asyncio, TUN), the terminal views
#: (rich) and the plots (matplotlib) stay out.
BROWSER_PACKAGES: Final = ("core", "sim", "scenarios")
BROWSER_MODULES: Final = (
    "__init__.py", "capture.py", "playground.py", "views/__init__.py", "views/jsonl.py", "views/svg.py",
    "views/ladder/__init__.py", "views/ladder/model.py", "views/words.py", "views/cards.py", "views/quiz.py",
    "views/proofs.py",
)
#: The Pyodide runtime files the page loads (from the npm package).
PYODIDE_FILES: Final = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
                        "pyodide-lock.json", "package.json")
#: Served with these types whatever the system's mimetypes say.
MIME_TYPES: Final = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".wasm": "application/wasm", ".zip": "application/zip",
    ".svg": "image/svg+xml", ".png": "image/png",
}
STAMP: Final = "build.json"
HOW: Final = "install nodejs and npm (apt-get install nodejs npm), then run 'make web'"


class WebError(Exception):
    """The playground cannot be built or served (one line: what and how to fix it)."""


def web_dir(repo: Path = REPO) -> Path:
    web = repo / "web"
    if not (web / "package.json").is_file() or not (web / "src" / "index.html").is_file():
        raise WebError(f"no playground sources at {web}: synack web needs synack's repository "
                       "(an editable install of a clone: pip install -e .)")
    return web


def browser_files(package: Path = SYNACK) -> list[Path]:
    """The synack modules the page imports, relative to the package directory."""
    files: list[Path] = []
    for sub in BROWSER_PACKAGES:
        files += sorted(p.relative_to(package) for p in (package / sub).rglob("*.py"))
    files += [Path(m) for m in BROWSER_MODULES if (package / m).is_file()]
    return files


def pack_synack(dest: Path, package: Path = SYNACK) -> int:
    """Write ``synack.zip`` (the modules of :func:`browser_files`, under ``synack/``) to
    ``dest``, byte for byte the same for the same sources; returns the file count."""
    files = browser_files(package)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            info = zipfile.ZipInfo(f"synack/{rel.as_posix()}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, (package / rel).read_bytes())
    return len(files)


def _sources(web: Path, package: Path) -> Iterator[Path]:
    yield web / "package-lock.json"
    yield from sorted(p for p in (web / "src").rglob("*") if p.is_file())
    yield from (package / rel for rel in browser_files(package))


def fingerprint(web: Path, package: Path = SYNACK) -> str:
    """A digest of everything the build reads (to tell whether dist/ is stale)."""
    h = hashlib.sha256()
    for path in _sources(web, package):
        h.update(str(path.relative_to(path.anchor)).encode())
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()


def is_built(web: Path, package: Path = SYNACK) -> bool:
    stamp = web / "dist" / STAMP
    try:
        return bool(json.loads(stamp.read_text())["sources"] == fingerprint(web, package))
    except (OSError, ValueError, KeyError):
        return False


def _npm_ci(web: Path, say: Callable[[str], object]) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise WebError(f"web/node_modules/pyodide is missing and there is no npm: {HOW}")
    say("npm ci (web/package-lock.json) ...")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=web,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise WebError(f"npm ci failed in {web}: {tail[0]}")


def build(repo: Path = REPO, *, say: Callable[[str], object] = print, package: Path = SYNACK) -> Path:
    """Build ``web/dist`` (running ``npm ci`` first when the Pyodide package is not
    installed, or is older than the lockfile); returns the dist directory."""
    web = web_dir(repo)
    pyodide = web / "node_modules" / "pyodide"
    lock = web / "package-lock.json"
    installed = pyodide / "package.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        _npm_ci(web, say)
    dist = web / "dist"
    tmp = web / "dist.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "pyodide").mkdir(parents=True)
    for name in PYODIDE_FILES:
        src = pyodide / name
        if not src.is_file():
            raise WebError(f"{src} is missing: run 'npm ci' in {web} again")
        shutil.copy2(src, tmp / "pyodide" / name)
    for src in sorted((web / "src").rglob("*")):
        if src.is_file():
            out = tmp / src.relative_to(web / "src")
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out)
    count = pack_synack(tmp / "synack.zip", package)
    version = json.loads(installed.read_text())["version"]
    (tmp / STAMP).write_text(json.dumps({"synack": __version__, "pyodide": version, "modules": count,
                                         "sources": fingerprint(web, package)}, indent=1) + "\n")
    shutil.rmtree(dist, ignore_errors=True)
    tmp.rename(dist)
    say(f"built {dist} (Pyodide {version}, {count} synack modules)")
    return dist


def ensure_built(repo: Path = REPO, *, say: Callable[[str], object] = print) -> Path:
    """``web/dist``, built first when it is missing or older than its sources."""
    web = web_dir(repo)
    if is_built(web):
        return web / "dist"
    return build(repo, say=say)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.extensions_map = {**self.extensions_map, **MIME_TYPES}
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the command prints its address once

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()


def make_server(directory: Path, port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server of ``directory`` on 127.0.0.1:``port`` (0: any free port), not started."""
    handler = functools.partial(_Handler, directory=str(directory))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve(directory: Path, port: int = 8000, *, open_browser: bool = True,
          say: Callable[[str], object] = print) -> None:
    """Serve ``directory`` on 127.0.0.1 until interrupted, opening a browser on it."""
    try:
        server = make_server(directory, port)
    except OSError as exc:
        raise WebError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    say(f"synack playground at {url} (Ctrl-C stops it)")
    if open_browser:
        import webbrowser
        threading.Timer(0.3, webbrowser.open, (url,)).start()
    with server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["build"]):
        print("usage: python -m synack.webserve [build]", file=sys.stderr)
        return 2
    try:
        build()
    except WebError as exc:
        print(f"synack: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
