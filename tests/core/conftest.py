"""Fixtures for tests/core: the ISS pairs and one fixture per TCP state.

``helpers.py`` lives next to this file; putting this directory on ``sys.path`` lets
the modules under ``states/`` import it as ``helpers``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpers
from helpers import ISS_PAIRS, Case


@pytest.fixture(params=ISS_PAIRS, ids=["iss", "iss-swapped"])
def iss(request: pytest.FixtureRequest) -> tuple[int, int]:
    """(our ISS, the peer's ISS): 10000 / 2**32-100, and swapped."""
    pair: tuple[int, int] = request.param
    return pair


@pytest.fixture(params=["active", "passive"])
def opener(request: pytest.FixtureRequest) -> str:
    """Whether we reached ESTABLISHED by connect() or through a listener."""
    value: str = request.param
    return value


@pytest.fixture
def closed(iss: tuple[int, int]) -> Case:
    return helpers.closed(*iss)


@pytest.fixture
def listening(iss: tuple[int, int]) -> Case:
    return helpers.listen(*iss)


@pytest.fixture
def syn_sent(iss: tuple[int, int]) -> Case:
    return helpers.syn_sent(*iss)


@pytest.fixture
def syn_received(iss: tuple[int, int]) -> Case:
    return helpers.syn_received(*iss)


@pytest.fixture
def established(iss: tuple[int, int], opener: str) -> Case:
    return helpers.established(*iss, opener)


@pytest.fixture
def fin_wait_1(iss: tuple[int, int], opener: str) -> Case:
    return helpers.fin_wait_1(*iss, opener)


@pytest.fixture
def fin_wait_2(iss: tuple[int, int], opener: str) -> Case:
    return helpers.fin_wait_2(*iss, opener)


@pytest.fixture
def close_wait(iss: tuple[int, int], opener: str) -> Case:
    return helpers.close_wait(*iss, opener)


@pytest.fixture
def closing(iss: tuple[int, int], opener: str) -> Case:
    return helpers.closing(*iss, opener)


@pytest.fixture
def last_ack(iss: tuple[int, int], opener: str) -> Case:
    return helpers.last_ack(*iss, opener)


@pytest.fixture
def time_wait(iss: tuple[int, int], opener: str) -> Case:
    return helpers.time_wait(*iss, opener)
