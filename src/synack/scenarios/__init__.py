"""Every claim of the seed as a named, deterministic, explained scenario.

``TOUR`` lists them in the seed's order (shared/SCENARIOS.md), ``STREAM`` the
byte-stream scenarios (windows, loss, reordering, retransmission); each lives in its
own module exposing ``SCENARIO``.
"""

from __future__ import annotations

import importlib

from .base import LANGS, Context, Lang, Run, Scenario, Text

__all__ = ["ALL", "LANGS", "STREAM", "TOUR", "Context", "Lang", "Run", "Scenario", "Text", "all_scenarios",
           "get"]

#: Scenario names in the order of the seed document.
TOUR: tuple[str, ...] = (
    "why-three",
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

#: The byte stream: throughput, loss, reordering, flow control, fast retransmit.
STREAM: tuple[str, ...] = (
    "bulk",
    "bulk-lossy",
    "reorder",
    "zero-window",
    "fast-retransmit",
    "urgent",
)

#: Every scenario ``get`` knows: the tour, then the stream scenarios.
ALL: tuple[str, ...] = TOUR + STREAM


def get(name: str) -> Scenario:
    """The scenario called ``name``; KeyError with the known names otherwise."""
    if name not in ALL:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(ALL)}")
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    scenario: Scenario = module.SCENARIO
    return scenario


def all_scenarios() -> list[Scenario]:
    return [get(name) for name in ALL]
