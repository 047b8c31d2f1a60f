"""The playground's build and server (synack.webserve), and the rule the browser
needs: nothing packed for it imports rich, matplotlib or anything else outside the
standard library that Pyodide has."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import urllib.request
import zipfile
from pathlib import Path

import pytest

from synack import webserve
from synack.cli import main


def test_the_pack_holds_what_the_page_imports_and_nothing_else(tmp_path: Path) -> None:
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    count = webserve.pack_synack(a)
    webserve.pack_synack(b)
    assert a.read_bytes() == b.read_bytes(), "the same sources pack to the same bytes"
    names = set(zipfile.ZipFile(a).namelist())
    assert len(names) == count
    for needed in ("synack/__init__.py", "synack/playground.py", "synack/core/state.py",
                   "synack/sim/network.py", "synack/scenarios/handshake.py", "synack/views/jsonl.py",
                   "synack/views/ladder/model.py", "synack/capture.py", "synack/views/words.py",
                   "synack/views/cards.py", "synack/views/quiz.py", "synack/views/proofs.py"):
        assert needed in names
    for left_out in ("synack/cli.py", "synack/webserve.py", "synack/views/plot.py", "synack/views/netstat.py",
                     "synack/views/ladder/text.py"):
        assert left_out not in names
    assert not any(n.startswith("synack/drivers/") for n in names)


# The browser's Python: the standard library, less what Pyodide leaves out, and no
# third-party package.  Importing any of these fails in the child below.
BLOCKED = ("rich", "matplotlib", "pyroute2", "numpy", "scapy", "hypothesis", "ssl", "sqlite3", "tkinter",
           "curses", "readline", "multiprocessing", "socket", "asyncio")


def test_nothing_packed_for_the_browser_needs_rich_or_matplotlib(tmp_path: Path) -> None:
    """Unpack synack.zip alone and import every module in it, with the packages a
    browser lacks made unimportable; then run a scenario and draw it as the page does."""
    pack = tmp_path / "synack.zip"
    webserve.pack_synack(pack)
    zipfile.ZipFile(pack).extractall(tmp_path / "site")
    code = textwrap.dedent(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError(f"{{name}} is not in the browser")
                return None
        sys.meta_path.insert(0, Block())
        for name in {BLOCKED!r}:
            sys.modules.pop(name, None)
        sys.path.insert(0, {str(tmp_path / "site")!r})
        import zipfile, importlib, json
        names = [n[:-3].replace("/", ".").removesuffix(".__init__")
                 for n in zipfile.ZipFile({str(pack)!r}).namelist()]
        for name in names:
            importlib.import_module(name)
        import synack.playground as p
        assert p.__file__.startswith({str(tmp_path / "site")!r}), p.__file__
        doc = json.loads(p.run_json("lost-syn", 1, '{{"drop": "1:server:SA:1"}}'))
        assert len(doc["records"]) > 10, doc
        json.dumps(p.catalogue()); json.dumps(p.diagram()); json.dumps(p.cards())
        json.loads(p.extras_json(1))
        p.run_json("why-three", 1)
        assert json.loads(p.extras_json(2))["proofs"]["rows"]["zh"]
        assert "error" not in json.loads(p.run_json("close", 1, '{{"close": "server", "close_at": "500"}}'))
        p.svg(1, "zh"); p.pcap(1); p.packet_hex(3)
        bad = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
        assert not bad, bad
        print("ok", len(names))
    """)
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def test_the_server_is_local_and_types_what_the_page_loads(tmp_path: Path) -> None:
    for name, body in (("index.html", b"<!doctype html>"), ("app.mjs", b"export {}"), ("x.wasm", b"\0asm"),
                       ("synack.zip", b"PK")):
        (tmp_path / name).write_bytes(body)
    server = webserve.make_server(tmp_path, 0)
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        types = {}
        for name in ("index.html", "app.mjs", "x.wasm", "synack.zip"):
            with urllib.request.urlopen(base + name, timeout=10) as resp:
                types[name] = resp.headers["Content-Type"]
        assert types["app.mjs"].startswith("text/javascript")
        assert types["x.wasm"] == "application/wasm"
        assert types["index.html"].startswith("text/html")
    finally:
        server.shutdown()
        server.server_close()


def test_without_the_sources_one_line_says_why(tmp_path: Path) -> None:
    with pytest.raises(webserve.WebError, match="synack web needs synack's repository"):
        webserve.ensure_built(tmp_path)


def test_without_npm_one_line_says_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web = tmp_path / "web"
    (web / "src").mkdir(parents=True)
    (web / "src" / "index.html").write_text("<!doctype html>")
    (web / "package.json").write_text("{}")
    (web / "package-lock.json").write_text("{}")
    monkeypatch.setattr(webserve.shutil, "which", lambda _name: None)
    with pytest.raises(webserve.WebError, match=r"install nodejs and npm .* then run 'make web'"):
        webserve.build(tmp_path, say=lambda _line: None)


def test_synack_web_reports_a_busy_port(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(webserve, "ensure_built", lambda say: tmp_path)
    blocker = webserve.make_server(tmp_path, 0)
    try:
        port = blocker.server_address[1]
        assert main(["web", "--port", str(port), "--no-open"]) == 2
    finally:
        blocker.server_close()
    err = capsys.readouterr().err
    assert err.startswith("synack: error: cannot listen on 127.0.0.1:") and err.count("\n") == 1


def test_the_build_when_npm_is_here(tmp_path: Path) -> None:
    """A whole build (when web/node_modules is installed or npm can install it: the
    browser tests build too, and under CI they must run)."""
    web = webserve.REPO / "web"
    if not (web / "node_modules" / "pyodide").is_dir() and webserve.shutil.which("npm") is None:
        pytest.skip("no npm (the browser tests say so too)")
    dist = webserve.ensure_built(say=lambda _line: None)
    assert webserve.is_built(web)
    for name in ("index.html", "app.js", "worker.js", "synack.zip", "pyodide/pyodide.mjs",
                 "pyodide/pyodide.asm.wasm", "pyodide/python_stdlib.zip", "pyodide/pyodide-lock.json"):
        assert (dist / name).is_file(), name
    # Nothing in the page is fetched from elsewhere: no absolute URL in what it loads.
    for name in ("index.html", "app.js", "worker.js", "i18n.js", "style.css"):
        text = (dist / name).read_text(encoding="utf-8")
        text = text.replace("http://www.w3.org/2000/svg", "")  # (a namespace, not a fetch)
        assert "http://" not in text and "https://" not in text, name
