"""What a test does when something it needs is missing here: it skips with the reason,
except under CI (``CI=true``), where it fails: CI runs as root on a machine that has
everything (``.ci/run`` installs it), so a skip there would hide a test that never ran."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip for ``reason``, or fail under CI."""
    if CI:
        pytest.fail(f"cannot run under CI=true: {reason}")
    pytest.skip(reason)
