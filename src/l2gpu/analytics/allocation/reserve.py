"""Reserving market capacity ahead of forecast peaks, measured against not reserving.

    reservation_schedule   per hour of the trace, the units to hold ready: the forecast
                           offered load above the owned cluster
    Reserve                the price-aware scheduler, plus a pool of reserved GPUs that
                           a job which does not fit the owned cluster starts on at once
    compare_reservation    the same trace and owned GPUs with and without the pool:
                           waits, JCT and cost (reserved hours billed used or not)

The forecast is causal and seasonal: the offered load of an hour (estimated work
of the jobs submitted in it, per second) is forecast as the ``level`` quantile of
the same hour on the ``days`` days before. It reads submit times and the trace's
duration *estimates* only. Reserved GPUs are paid at the market's rent price
for every hour held; on-demand renting (the hybrid policy) is a different rule.
"""

from __future__ import annotations

import heapq

import numpy as np

from l2gpu.analytics.allocation.policies import PriceAware
from l2gpu.analytics.allocation.report import Prices, summarize
from l2gpu.analytics.allocation.simulator import replay
from l2gpu.analytics.allocation.trace import Trace

HOUR_S = 3600.0
SEASON = 24  # bins per day


def offered_load(trace: Trace, bin_s: float = HOUR_S) -> np.ndarray:
    """Estimated work submitted per bin, in units busy (unit-seconds over the bin)."""
    start = float(np.min(trace.submit))
    bins = ((trace.submit - start) // bin_s).astype(int)
    work = np.bincount(bins, weights=trace.estimate * trace.demand)
    return work / bin_s


def reservation_schedule(
    trace: Trace, capacity: int, *, days: int = 7, level: float = 0.5, headroom: float = 1.0
) -> np.ndarray:
    """Units to reserve per hour from the trace's first submission.

    Hour ``b`` reserves ``ceil(forecast - headroom * capacity)`` (never below 0), where
    the forecast is the ``level`` quantile of the offered load at ``b - 24``,
    ``b - 48`` .. ``b - 24 * days``: hours that had ended, so no job reserves on its
    own account. Hours with no earlier day reserve nothing.
    """
    load = offered_load(trace)
    reserve = np.zeros(len(load), dtype=np.int64)
    for b in range(SEASON, len(load)):
        earlier = load[b - SEASON * np.arange(1, days + 1)[: b // SEASON]]
        forecast = float(np.quantile(earlier, level))
        reserve[b] = max(int(np.ceil(forecast - headroom * capacity)), 0)
    return reserve


class Reserve(PriceAware):
    """Price-aware on the owned GPUs; a job that does not fit starts on the reserved
    pool of its hour if the pool has room (ready: no provisioning wait)."""

    name = "price_reserve"

    def __init__(self, schedule: np.ndarray, delay_share: float = 0.1) -> None:
        super().__init__(delay_share)
        self.schedule = np.asarray(schedule, dtype=np.int64)

    def reset(self, trace: Trace, capacity: int) -> None:
        """Start with an empty pool."""
        super().reset(trace, capacity)
        self.start = float(np.min(trace.submit))
        self.in_pool: list[tuple[float, int]] = []  # (end, units) of jobs on the pool
        self.pool_used = 0
        self.provisioning_s = 0.0

    def rent(self, job: int, now: float, free: int) -> bool:
        """Use the pool when the owned cluster has no room and the hour's pool has."""
        need = int(self.trace.demand[job])
        if need <= free:
            return False
        while self.in_pool and self.in_pool[0][0] <= now:
            self.pool_used -= heapq.heappop(self.in_pool)[1]
        hour = int((now - self.start) // HOUR_S)
        held = int(self.schedule[hour]) if hour < len(self.schedule) else 0
        if self.pool_used + need > held:
            return False
        # The simulator runs a rented job for its real duration: the pool is busy
        # until then (bookkeeping of what happened, not a scheduling estimate).
        heapq.heappush(self.in_pool, (now + float(self.trace.duration[job]), need))
        self.pool_used += need
        return True


def compare_reservation(
    trace: Trace, capacity: int, prices: Prices, *, days: int = 7, level: float = 0.5
) -> dict[str, object]:
    """The price-aware scheduler with and without the forecast-driven reserved pool.

    ``days`` and ``level`` shape the forecast (:func:`reservation_schedule`). Cost:
    owned GPUs over the makespan plus every reserved GPU-hour at the rent price.
    """
    schedule = reservation_schedule(trace, capacity, days=days, level=level)
    rows = {}
    for name, policy in (("without", PriceAware()), ("with", Reserve(schedule))):
        result = replay(trace, policy, capacity)
        row = summarize(result, prices)
        reserved_gpu_h = float(schedule.sum()) / trace.units_per_gpu if name == "with" else 0.0
        own_cost = float(row["cost_usd"]) - float(row["rent_cost_usd"])
        rows[name] = {
            "avg_wait_s": round(float(row["avg_wait_s"]), 1),
            "p99_wait_s": round(float(row["p99_wait_s"]), 1),
            "avg_jct_s": round(float(row["avg_jct_s"]), 1),
            "jobs_on_reserved": int(row["rented_jobs"]),
            "reserved_gpu_hours": round(reserved_gpu_h, 1),
            "cost_usd": round(own_cost + reserved_gpu_h * prices.rent_usd_per_gpu_h, 2),
        }
    before, after = rows["without"], rows["with"]
    return {
        "trace": trace.name,
        "jobs": len(trace),
        "gpus": capacity / trace.units_per_gpu,
        **rows,
        "avg_wait_ratio": round(after["avg_wait_s"] / max(before["avg_wait_s"], 1e-9), 4),
        "extra_cost_usd": round(after["cost_usd"] - before["cost_usd"], 2),
    }
