"""The Rollup's gas snapshot is current: a change that moves gas shows in the diff."""

from __future__ import annotations

from pathlib import Path

from .rollup_gas import SNAPSHOT, measure_rollup_gas, render


def test_the_rollup_gas_snapshot_file_is_current() -> None:
    """Regenerate with ``make vectors`` when a change moves gas, and say why."""
    assert Path(SNAPSHOT).read_text() == render(measure_rollup_gas())
