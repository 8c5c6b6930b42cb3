"""Under CI a missing test dependency fails the test instead of skipping it: CI exists to run
the browser, PostgreSQL, nginx and ../shared tests, and a silent skip would pass them unrun."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

ON_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail under CI (`CI=true`)."""
    if ON_CI:
        pytest.fail(f"CI must run this test, but {reason}", pytrace=False)
    pytest.skip(reason)
