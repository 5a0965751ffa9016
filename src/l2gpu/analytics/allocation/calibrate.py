"""Sizing the replayed cluster: the capacity at which FIFO reproduces the observed wait.

A trace lists jobs, not the cluster that ran them (Philly's jobs here are a
subset of its VCs; Alibaba's pods shared a cluster with other work). Replaying on
an arbitrary size would make queueing, and so every comparison of policies,
arbitrary too. Instead the cluster is the smallest one on which FIFO gives the
average queueing delay that was observed in production, found by bisection
(FIFO's average wait only falls as GPUs are added).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from l2gpu.analytics.allocation.policies import Fifo
from l2gpu.analytics.allocation.simulator import replay
from l2gpu.analytics.allocation.trace import Trace


def fifo_wait(trace: Trace, capacity: int) -> float:
    """Average wait of FIFO on ``capacity`` units."""
    return float(np.mean(replay(trace, Fifo(), capacity).wait))


def capacity_for_wait(trace: Trace, target_wait: float, *, tolerance: float = 0.02) -> int:
    """The smallest capacity (in the trace's units) with FIFO average wait <= target."""
    step = trace.units_per_gpu
    low = int(np.max(trace.demand))
    high = max(trace.capacity, low)
    while fifo_wait(trace, high) > target_wait:
        high *= 2
    # Bisection in whole GPUs; stop once the bracket is within the tolerance.
    while high - low > max(step, int(tolerance * high)):
        middle = (low + high) // 2
        if fifo_wait(trace, middle) > target_wait:
            low = middle
        else:
            high = middle
    return high


def calibrated(trace: Trace, target_wait: float) -> Trace:
    """The trace with its capacity set by :func:`capacity_for_wait`."""
    return replace(trace, capacity=capacity_for_wait(trace, target_wait))
