"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def no_monitor_env() -> Iterator[None]:
    """Settings read MONITOR_* variables over their arguments: keep the host's out of a module."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("MONITOR_"):
                mp.delenv(key)
        yield
