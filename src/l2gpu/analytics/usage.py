"""Usage patterns of GPU clusters: seasonality, utilization, queueing, job sizes.

Works on the shared traces (Philly, Helios Venus, Alibaba 2023) and on any frame
with the same columns, such as the market's own lease table once it exists.
Also names the demand series that forecasting is judged on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from l2gpu.analytics import datasets
from l2gpu.analytics.series import Series, TimeAxis


def hourly_profile(values: pd.Series) -> pd.Series:
    """Mean value by hour of day (0-23), relative to the overall mean (1.0 = average)."""
    by_hour = values.groupby(values.index.hour).mean()
    return by_hour / values.mean()


def weekly_profile(values: pd.Series) -> pd.Series:
    """Mean value by day of week (0 = Monday), relative to the overall mean."""
    by_day = values.groupby(values.index.dayofweek).mean()
    return by_day / values.mean()


def peak_to_trough(profile: pd.Series) -> float:
    """How strong a cycle is: the largest over the smallest value of a profile."""
    low = float(profile.min())
    return float(profile.max()) / low if low > 0 else float("inf")


def size_distribution(gpus: pd.Series) -> dict[str, float]:
    """Share of jobs by GPU count (as text keys, for JSON)."""
    shares = gpus.value_counts(normalize=True).sort_index()
    return {f"{k:g}": float(v) for k, v in shares.items()}


def duration_quantiles(durations: pd.Series) -> dict[str, float]:
    """Run-time quantiles in seconds (p50, p90, p99) and the mean."""
    q = durations.quantile([0.5, 0.9, 0.99])
    return {
        "p50": float(q[0.5]),
        "p90": float(q[0.9]),
        "p99": float(q[0.99]),
        "mean": float(durations.mean()),
    }


def philly_patterns() -> dict[str, object]:
    """Philly: arrival seasonality, node utilization, job sizes and durations."""
    jobs = datasets.load_philly_jobs()
    arrivals = jobs.set_index("timestamp")["num_gpus"].resample("h").sum()
    nodes = datasets.load_philly_node_usage()["utilization"].resample("h").mean().dropna()
    return {
        "jobs": len(jobs),
        "gpu_demand_hourly_peak_to_trough": peak_to_trough(hourly_profile(arrivals)),
        "gpu_demand_weekly_peak_to_trough": peak_to_trough(weekly_profile(arrivals)),
        "node_utilization_mean": float(nodes.mean()),
        "node_utilization_p10": float(nodes.quantile(0.1)),
        "node_utilization_p90": float(nodes.quantile(0.9)),
        "gpus_per_job": size_distribution(jobs["num_gpus"]),
        "duration_s": duration_quantiles(jobs["duration"]),
    }


def venus_patterns() -> dict[str, object]:
    """Helios Venus: hourly and weekly cycles of GPU demand."""
    gpus = datasets.load_venus_throughput()["submit_gpu_num"].resample("h").sum()
    return {
        "gpu_demand_hourly_peak_to_trough": peak_to_trough(hourly_profile(gpus)),
        "gpu_demand_weekly_peak_to_trough": peak_to_trough(weekly_profile(gpus)),
        "gpus_per_hour_mean": float(gpus.mean()),
    }


def alibaba_patterns() -> dict[str, object]:
    """Alibaba 2023: fractional GPU sizes, durations, observed queueing."""
    pods = datasets.load_alibaba_pods()
    return {
        "pods": len(pods),
        "gpus_per_pod": size_distribution(pods["gpus"].round(2)),
        "duration_s": duration_quantiles(pods["duration"]),
        "observed_wait_s": duration_quantiles(pods["observed_wait"]),
    }


@dataclass(frozen=True)
class DemandSeries:
    """A demand series of the shared data with the forecast horizon it is judged at."""

    name: str
    series: Series
    horizon: int
    season: int


def _hourly(name: str, values: pd.Series) -> Series:
    values = values.interpolate()
    axis = TimeAxis("datetime", values.index[0], pd.Timedelta(hours=1))
    return Series(name, axis, np.arange(len(values), dtype=float), values.to_numpy(float))


def demand_series() -> list[DemandSeries]:
    """The GPU demand series forecasting must handle (hourly, next day; daily, next week)."""
    venus = datasets.load_venus_throughput()["submit_gpu_num"].resample("h").sum()
    active = datasets.load_philly_node_usage()["active"].resample("h").mean()
    jobs = datasets.load_philly_jobs().set_index("timestamp")["num_gpus"].resample("h").sum()
    # Every GPU pod asked for counts, also those still pending when the list was taken.
    pods = datasets.load_alibaba_requests()
    # Before day ~116 the pod list holds only long-lived survivors, not arrivals.
    dense = pods[pods["submit"] >= 1.0e7]
    alibaba = (
        pd.Series(dense["gpus"].to_numpy(), index=pd.to_datetime(dense["submit"], unit="s"))
        .resample("h")
        .sum()
    )
    earth = datasets.load_earth_capacity()
    earth_axis = TimeAxis("datetime", earth.index[0], pd.Timedelta(days=1))
    return [
        DemandSeries("venus_gpus_submitted", _hourly("venus_gpus_submitted", venus), 24, 24),
        DemandSeries("philly_active_nodes", _hourly("philly_active_nodes", active), 24, 24),
        DemandSeries("philly_gpus_submitted", _hourly("philly_gpus_submitted", jobs), 24, 24),
        DemandSeries("alibaba_gpus_submitted", _hourly("alibaba_gpus_submitted", alibaba), 24, 24),
        DemandSeries(
            "earth_gpus_assigned",
            Series(
                "earth_gpus_assigned",
                earth_axis,
                np.arange(len(earth), dtype=float),
                earth.to_numpy(float),
            ),
            7,
            7,
        ),
    ]
