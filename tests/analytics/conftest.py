"""Fixtures of the analytics tests: the shared data folder and a CLI runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.parts import missing_part

from l2gpu.analytics import datasets
from l2gpu.cli.main import main

DATA = datasets.data_root()


@pytest.fixture(autouse=True)
def _need_data() -> None:
    if not DATA.is_dir():
        missing_part(f"shared data sets not found at {DATA}")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``l2gpu args...``; return (exit status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


@pytest.fixture
def cli_json(cli: Callable[..., tuple[int, str, str]]) -> Callable[..., dict]:
    """Run a command that prints JSON; fail on a non-zero status."""

    def run(*args: str) -> dict:
        status, out, err = cli(*args)
        assert status == 0, err
        return json.loads(out)

    return run


@pytest.fixture
def data() -> Callable[..., str]:
    """Path of a shared data file, as text for the CLI."""
    return lambda *parts: str(Path(DATA).joinpath(*parts))
