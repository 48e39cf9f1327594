"""System tools some tests need (Chromium, LibreOffice): skip without them, but never in CI.

`.ci/run` installs them and runs with `CI` set; there a missing tool is a failure,
so a green CI run always means the browser and print tests ran.
"""

from __future__ import annotations

import os
import warnings

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def missing_tool(reason: str) -> None:
    """Fail in CI, else skip loudly: `reason` says what is missing and how to install it."""
    if in_ci():
        pytest.fail(f"{reason} (CI installs it in .ci/run: it must be there)")
    warnings.warn(f"SKIPPED: {reason}", stacklevel=2)
    pytest.skip(reason)
