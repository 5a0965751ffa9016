"""The modules that prove in the worker share one worker (tests/conftest.py), so the
list must name every module that uses the batch circuits' keys, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from ..conftest import SHARED_PROVING_KEYS

ROOT = Path(__file__).resolve().parents[2]
# the fixtures that load a batch circuit's proving key, and the benchmarks that do
USES_KEYS = re.compile(r"\b(batch_keys|validium_keys|zk\.run\(|measure_zk_moves\()")


def test_every_module_that_loads_a_batch_key_shares_the_worker() -> None:
    using = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("test_*.py")
        if path != Path(__file__).resolve() and USES_KEYS.search(path.read_text())
    }
    assert using == SHARED_PROVING_KEYS
