"""Figures of a replay (JCT, wait, makespan, utilization, cost) and sizing advice.

Costs are in USD. Owned GPUs cost ``own_usd_per_gpu_h`` for every hour of the
makespan, busy or idle; rented GPUs cost ``rent_usd_per_gpu_h`` for the hours
they run. By default the market's 10th-percentile price stands for the cost of
owning (an owner who rents out at that price about breaks even) and its median
for renting (vast.ai snapshot, ``datasets.gpu_prices``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.allocation.simulator import Replay
from l2gpu.analytics.datasets import GpuPrices
from l2gpu.core.errors import L2gpuError


@dataclass(frozen=True)
class Prices:
    """USD per GPU-hour of owning and of renting."""

    own_usd_per_gpu_h: float
    rent_usd_per_gpu_h: float

    @classmethod
    def from_market(cls, prices: GpuPrices) -> Prices:
        """Own at the market's 10th percentile, rent at its median."""
        return cls(prices.market_p10, prices.market_p50)


def summarize(result: Replay, prices: Prices) -> dict[str, float | int | str]:
    """One row of the per-policy table."""
    gpus = result.units_per_gpu
    hours = result.makespan / 3600.0
    rented = result.rented
    rent_gpu_h = float(np.sum(result.duration[rented] * result.demand[rented])) / gpus / 3600.0
    own_cost = result.capacity / gpus * hours * prices.own_usd_per_gpu_h
    rent_cost = rent_gpu_h * prices.rent_usd_per_gpu_h
    return {
        "policy": result.policy,
        "jobs": len(result.submit),
        "gpus": result.capacity / gpus,
        "avg_jct_s": float(np.mean(result.jct)),
        "p99_jct_s": float(np.percentile(result.jct, 99)),
        "avg_wait_s": float(np.mean(result.wait)),
        "p99_wait_s": float(np.percentile(result.wait, 99)),
        "makespan_s": result.makespan,
        "utilization": result.utilization,
        "rented_jobs": int(np.sum(rented)),
        "preemptions": result.preemptions,
        "cost_usd": own_cost + rent_cost,
        "rent_cost_usd": rent_cost,
    }


def recommend(demand_gpus: np.ndarray, hours_per_step: float, prices: Prices) -> dict[str, float]:
    """How many GPUs to own and how many GPU-hours to rent for a demand path.

    Owning ``g`` GPUs costs ``g * hours * own`` and renting covers the excess,
    ``sum(max(d - g, 0)) * rent``. The cost is convex in ``g``; its minimum sits
    where the share of steps with demand above ``g`` equals own / rent (the
    newsvendor rule), which the search over every candidate ``g`` finds exactly.
    """
    demand = np.asarray(demand_gpus, dtype=float)
    if len(demand) == 0 or not np.all(np.isfinite(demand)):
        raise L2gpuError("the demand path is empty or has missing values", "check the input")
    if prices.own_usd_per_gpu_h <= 0 or prices.rent_usd_per_gpu_h <= 0:
        raise L2gpuError("prices must be positive", "pass --own-price and --rent-price above 0")
    demand = np.maximum(demand, 0.0)
    hours = len(demand) * hours_per_step
    candidates = np.unique(np.ceil(np.concatenate([[0.0], demand])))

    def cost(owned: float) -> tuple[float, float]:
        rent_h = float(np.sum(np.maximum(demand - owned, 0.0))) * hours_per_step
        return owned * hours * prices.own_usd_per_gpu_h + rent_h * prices.rent_usd_per_gpu_h, rent_h

    costs = [cost(g) for g in candidates]
    best = int(np.argmin([c for c, _ in costs]))
    peak = float(np.ceil(demand.max()))
    return {
        "own_gpus": float(candidates[best]),
        "rent_gpu_hours": costs[best][1],
        "cost_usd": costs[best][0],
        "own_all_cost_usd": cost(peak)[0],
        "rent_all_cost_usd": cost(0.0)[0],
        "own_usd_per_gpu_h": prices.own_usd_per_gpu_h,
        "rent_usd_per_gpu_h": prices.rent_usd_per_gpu_h,
        "hours": hours,
    }
