"""Every claim of the seed as a named, deterministic, explained scenario.

``TOUR`` lists them in the seed's order (shared/SCENARIOS.md); each lives in its own
module exposing ``SCENARIO``.
"""

from __future__ import annotations

import importlib

from .base import LANGS, Context, Lang, Run, Scenario, Text

__all__ = ["LANGS", "TOUR", "Context", "Lang", "Run", "Scenario", "Text", "all_scenarios", "get"]

#: Scenario names in the order of the seed document.
TOUR: tuple[str, ...] = (
    "handshake",
    "lost-syn",
    "lost-synack",
    "synack-retries-exhausted",
    "queues",
    "old-duplicate-syn",
    "data-on-third-ack",
    "data-on-syn",
    "simultaneous-open",
    "syn-flood",
    "close",
    "half-close",
    "close-fin-ack-combined",
    "time-wait-lost-ack",
    "time-wait-old-segment",
    "simultaneous-close",
    "close-in-syn-sent",
    "refused",
)


def get(name: str) -> Scenario:
    """The scenario called ``name``; KeyError with the known names otherwise."""
    if name not in TOUR:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(TOUR)}")
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    scenario: Scenario = module.SCENARIO
    return scenario


def all_scenarios() -> list[Scenario]:
    return [get(name) for name in TOUR]
