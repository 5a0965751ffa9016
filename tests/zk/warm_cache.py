"""Compile the suite's large circuits before the tests start, two at a time.

``python -m tests.zk.warm_cache`` (``make zk-cache``; ``make test`` runs it beside the
lint and type checks). On a new machine each batch circuit costs circom a minute or
more of one core. Left to the tests, the first test of each of three workers that
needs the same circuit waits on its lock (:func:`l2gpu.zk.toolchain.compile_circuit`
compiles each once, by content hash) while a core idles; here the circuits compile in
two processes while ruff and mypy use what is left. Where the cache holds them
already, this hashes their sources and returns.

The development keys are left to the tests: the first process that needs a circuit's
keys makes them in memory (a quarter of a minute for the tests' batch circuit) and
every other one reads them from the cache, which costs as much again or more (a
proving key is checked point by point as it loads); made here, every test process
would read them.

A circuit the tests stop using is only wasted work here, never a wrong result: every
fixture compiles and keys what it needs itself, from the same cache.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from l2gpu.cli.zk_node import DEFAULT_SHAPE, parse_shape
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.zk.batch_circuit import compile_batch
from l2gpu.zk.toolchain import ToolchainMissing, find_toolchain

DEPTH = 8  # the tests' depth (tests/zk/test_zk_batch.py, the CLI's default)
# (shape, validium), largest first so that the last one to finish is the smallest
CIRCUITS: tuple[tuple[BatchShape, bool], ...] = (
    (parse_shape(DEFAULT_SHAPE), True),  # test_zk_validium, bench designs: 2^19
    (BatchShape(1, 3, 1), False),  # tests/zk/test_bench_zk.py's LARGE
    (parse_shape(DEFAULT_SHAPE), False),  # every other zk test, node and demo
)


def make(shape: BatchShape, validium: bool) -> str:
    """Compile ``shape`` at the tests' depth (only if not cached)."""
    started = time.monotonic()
    circuit = compile_batch(shape, DEPTH, validium=validium)
    return f"{circuit.name}: ready in {time.monotonic() - started:.1f} s"


def main() -> int:
    """Make every circuit of :data:`CIRCUITS`; 2 when the toolchain is missing."""
    try:
        find_toolchain()
    except ToolchainMissing as exc:
        allowed = os.environ.get("L2GPU_TEST_ALLOW_MISSING") == "1"
        print(f"zk cache: {exc}", file=sys.stderr)
        return 0 if allowed else 2  # the zk tests fail with the same message
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(make, shape, validium) for shape, validium in CIRCUITS]
        for future in futures:
            print(f"zk cache: {future.result()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
