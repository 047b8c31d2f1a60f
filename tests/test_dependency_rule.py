"""The one dependency rule (shared/DESIGN.md): ``synack.core`` imports only pure stdlib
modules and other ``synack.core`` modules.  Never asyncio, socket, os, time, random,
threading or logging, and never another synack package.

The check reads the source (it imports nothing), so it covers imports inside
functions and under ``if TYPE_CHECKING:`` as well, and calls to ``__import__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE_DIR = Path(__file__).resolve().parents[1] / "src" / "synack" / "core"
CORE_PACKAGE = "synack.core"

ALLOWED_STDLIB = frozenset({
    "__future__", "struct", "enum", "dataclasses", "typing", "collections", "hashlib",
    "hmac", "functools", "ipaddress", "heapq", "bisect", "itertools", "math", "operator",
})


def _inside_core(module: str) -> bool:
    return module == CORE_PACKAGE or module.startswith(CORE_PACKAGE + ".")


def _check_absolute(module: str) -> str | None:
    """Why importing ``module`` breaks the rule, or None when it is allowed."""
    top = module.split(".")[0]
    if top == "synack":
        return None if _inside_core(module) else f"{module} is a synack package outside core"
    return None if top in ALLOWED_STDLIB else f"{module} is not on the pure-stdlib allow-list"


def _resolve_relative(package: str, level: int, module: str | None) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` inside ``package``."""
    parts = package.split(".")
    if level - 1 >= len(parts):
        return None  # beyond the top-level package
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Every import in ``source`` (the text of ``module``) that breaks the rule."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        problems: list[str | None] = []
        if isinstance(node, ast.Import):
            problems = [_check_absolute(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                problems = [_check_absolute(node.module or "")]
            else:
                target = _resolve_relative(package, node.level, node.module)
                if target is None or not _inside_core(target):
                    dots = "." * node.level
                    problems = [f"{dots}{node.module or ''} leaves synack.core ({target or 'beyond top'})"]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "__import__"):
            problems = ["__import__() call"]
        line = getattr(node, "lineno", 0)
        found += [f"{module}:{line}: {p}" for p in problems if p is not None]
    return found


def _core_modules() -> list[Path]:
    return sorted(CORE_DIR.rglob("*.py"))


def _module_name(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(CORE_DIR.parent.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def test_core_has_modules() -> None:
    # Guards against the walk silently finding nothing (a moved directory).
    names = {_module_name(p)[0] for p in _core_modules()}
    assert {"synack.core", "synack.core.wire", "synack.core.ip"} <= names


def test_core_imports_only_pure_stdlib_and_core() -> None:
    found: list[str] = []
    for path in _core_modules():
        module, is_package = _module_name(path)
        found += violations(path.read_text(encoding="utf-8"), module, is_package)
    assert found == [], "synack.core breaks the dependency rule:\n" + "\n".join(found)


# -- the checker itself ------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "import socket",
    "import os.path",
    "import struct, time",
    "from random import Random",
    "from asyncio import Queue",
    "import logging as log",
    "def f() -> None:\n    import threading\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import socket\n",
    "import synack.sim",
    "from synack.views import ladder",
    "from synack import cli",
    "from .. import sim",
    "from ..drivers.tun import Tun",
    "from ... import anything",
    "m = __import__('os')",
])
def test_checker_catches_violation(source: str) -> None:
    assert len(violations(source, "synack.core.example")) == 1


@pytest.mark.parametrize("source", [
    "from __future__ import annotations",
    "import struct\nimport hashlib, hmac",
    "from collections import deque\nfrom dataclasses import dataclass, field",
    "from typing import TYPE_CHECKING, Final\nif TYPE_CHECKING:\n    from .connection import Connection",
    "from . import wire",
    "from .wire import Segment",
    "import synack.core.wire",
    "from synack.core.seq import seq_lt",
    "import collections.abc",
])
def test_checker_accepts_allowed(source: str) -> None:
    assert violations(source, "synack.core.example") == []


def test_checker_relative_imports_from_a_subpackage() -> None:
    # In synack/core/congestion/base.py, ".." is synack.core and "..." is synack.
    assert violations("from ..wire import Segment", "synack.core.congestion.base") == []
    assert violations("from .. import seq", "synack.core.congestion", is_package=True) == []
    assert len(violations("from ...sim import link", "synack.core.congestion.base")) == 1
    assert len(violations("from .. import sim", "synack.core", is_package=True)) == 1
