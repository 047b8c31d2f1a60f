"""The README's drill section says what the code does: every sysctl the synack target
maps is in its table (and nothing else), and every declared divergence of the corpus
is in its list of departures (and nothing else), in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synack.drill.parser import parse_file
from synack.drill.sysctl import SYSCTLS, TARGET_SYSCTLS

ROOT = Path(__file__).resolve().parents[2]


def section(name: str) -> str:
    text = (ROOT / name).read_text(encoding="utf-8")
    start = text.index("## Drill")
    return text[start:text.index("\n## ", start + 1)]


@pytest.mark.parametrize("readme", ["README.md", "README.zh.md"])
def test_the_sysctl_table_is_the_targets(readme: str) -> None:
    rows = re.findall(r"^\| `(net\.[a-z0-9_.]+)` \|", section(readme), re.M)
    assert sorted(rows) == sorted([*SYSCTLS, *TARGET_SYSCTLS])


@pytest.mark.parametrize("readme", ["README.md", "README.zh.md"])
def test_the_departures_table_lists_every_declared_divergence(readme: str) -> None:
    declared = sorted(f"{p.parent.name}/{p.name}" for p in (ROOT / "drill").glob("*/*.pkt")
                      if parse_file(p).departs)
    listed = re.findall(r"^\| `([a-z0-9-]+/[a-z0-9-]+\.pkt)` \|", section(readme), re.M)
    assert sorted(listed) == declared
