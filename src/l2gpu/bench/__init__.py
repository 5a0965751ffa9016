"""Benchmark suites behind ``l2gpu bench <suite> --json``.

Each suite is a function returning one flat dict of figures. Throughputs are
medians over several rounds, measured in one process pinned to one core.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

Suite = Callable[[], dict[str, Any]]


def pin_to_one_core() -> int | None:
    """Pin this process to one CPU so that 'per second on one core' means what it says."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def median_rate(action: Callable[[], object], count: int, rounds: int) -> float:
    """Median over ``rounds`` of ``count / seconds`` for ``action`` run ``count`` times."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            action()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def environment() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
