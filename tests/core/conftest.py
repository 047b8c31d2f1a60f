"""Fixtures for tests/core: the ISS pairs and one fixture per TCP state, reached
through real segments by ``support.harness``."""

from __future__ import annotations

import pytest

from support import harness
from support.harness import ISS_PAIRS, Case


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
    return harness.closed(*iss)


@pytest.fixture
def listening(iss: tuple[int, int]) -> Case:
    return harness.listen(*iss)


@pytest.fixture
def syn_sent(iss: tuple[int, int]) -> Case:
    return harness.syn_sent(*iss)


@pytest.fixture
def syn_received(iss: tuple[int, int]) -> Case:
    return harness.syn_received(*iss)


@pytest.fixture
def established(iss: tuple[int, int], opener: str) -> Case:
    return harness.established(*iss, opener)


@pytest.fixture
def fin_wait_1(iss: tuple[int, int], opener: str) -> Case:
    return harness.fin_wait_1(*iss, opener)


@pytest.fixture
def fin_wait_2(iss: tuple[int, int], opener: str) -> Case:
    return harness.fin_wait_2(*iss, opener)


@pytest.fixture
def close_wait(iss: tuple[int, int], opener: str) -> Case:
    return harness.close_wait(*iss, opener)


@pytest.fixture
def closing(iss: tuple[int, int], opener: str) -> Case:
    return harness.closing(*iss, opener)


@pytest.fixture
def last_ack(iss: tuple[int, int], opener: str) -> Case:
    return harness.last_ack(*iss, opener)


@pytest.fixture
def time_wait(iss: tuple[int, int], opener: str) -> Case:
    return harness.time_wait(*iss, opener)
