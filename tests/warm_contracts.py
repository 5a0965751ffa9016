"""Compile every contract into the shared cache before the tests start.

``python -m tests.warm_contracts`` (``make contracts-cache``; ``make test`` runs it
beside the checks and the circuits' compiles). Left to the tests, the first processes
that need a contract each compile it at once: three workers and the nodes and
commands they start, on a new machine, compiled the same contract side by side, since
the cache is written only when a compile ends. Here each compiles once, while a core
would otherwise wait on the last circuit (tests/zk/warm_cache.py). Where the cache
holds them already, this reads them and returns.
"""

from __future__ import annotations

import sys
import time
import warnings

from l2gpu.l1.build import compile_contract, contracts_root


def main() -> int:
    """Compile every contract under ``contracts/`` (not its modules, named ``_*``)."""
    warnings.simplefilter("ignore")  # vyper's deprecation notes: the tests' own business
    started = time.monotonic()
    root = contracts_root()
    sources = [p for p in sorted(root.rglob("*.vy")) if not p.name.startswith("_")]
    for path in sources:
        compile_contract(str(path.relative_to(root)))
    print(f"contracts cache: {len(sources)} ready in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
