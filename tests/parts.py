"""What the suite does when a part it needs (PostgreSQL, anvil, the shared data) is missing.

It fails: a green ``make test`` must mean every test ran. A developer without them
may opt into skips with ``L2GPU_TEST_ALLOW_MISSING=1`` (read once at import, before
the tests clear the ``L2GPU_*`` variables).
"""

from __future__ import annotations

import os

import pytest

ALLOW_MISSING = os.environ.get("L2GPU_TEST_ALLOW_MISSING") == "1"


def missing_part(reason: str) -> None:
    """Fail the test, or skip it under ``L2GPU_TEST_ALLOW_MISSING=1``; ``reason`` says
    what is missing and how to get it."""
    if ALLOW_MISSING:
        pytest.skip(reason)
    pytest.fail(reason + " (set L2GPU_TEST_ALLOW_MISSING=1 to skip instead)", pytrace=False)
