"""The L2 spec reproduces its vectors (tests/vectors/l2/*.json) exactly."""

from __future__ import annotations

import pytest

from .vectors import load, run

CASES = load()


@pytest.mark.parametrize(("name", "vector"), CASES, ids=[name for name, _ in CASES])
def test_spec_reproduces_the_vector(name: str, vector: dict) -> None:
    expected = [
        {k: step[k] for k in ("root", "balances", "error") if k in step} for step in vector["steps"]
    ]
    assert run(vector) == expected
