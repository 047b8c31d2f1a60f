"""Interop with the Linux kernel through a TUN device in a private namespace.

These tests need root and /dev/net/tun (and ``ip``, ``curl``, ``ss``, ``tshark``).
Without them they skip with the reason -- except under CI (``CI=true``), where a
missing requirement is a failure: CI runs as root on a machine that has everything.
"""

from __future__ import annotations

import pytest

from support.ci import unavailable
from support.tunhelp import problem


@pytest.fixture
def tun_ok() -> None:
    problem_text = problem()
    if problem_text is not None:
        unavailable(problem_text)


