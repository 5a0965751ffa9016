"""Job traces for the allocation simulator: the Philly and Alibaba 2023 traces as arrays.

A trace holds, per job, its submit time and run time (seconds), its GPU demand
in integer units (GPUs for Philly; milli-GPUs for Alibaba, whose pods share
GPUs), and a duration *estimate* that a scheduler may use.

The estimate is what a scheduler could know at submission: the median run time
of the last 50 earlier submissions of the same group (virtual cluster and size
for Philly, QoS class and size for Alibaba), or of all earlier jobs when the
group is new. It never looks at the job's own run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from l2gpu.analytics import datasets
from l2gpu.core.errors import L2gpuError

HISTORY = 50  # earlier jobs per group behind an estimate


@dataclass(frozen=True)
class Trace:
    """Jobs sorted by submit time; ``units_per_gpu`` converts demand units to GPUs."""

    name: str
    submit: np.ndarray
    duration: np.ndarray
    demand: np.ndarray
    estimate: np.ndarray
    units_per_gpu: int
    # Cluster size used for replays unless one is given (see default_capacity).
    capacity: int

    def __len__(self) -> int:
        return len(self.submit)

    def head(self, count: int) -> Trace:
        """The first ``count`` jobs (tests replay a slice; benchmarks the whole trace)."""
        return Trace(
            self.name,
            self.submit[:count],
            self.duration[:count],
            self.demand[:count],
            self.estimate[:count],
            self.units_per_gpu,
            self.capacity,
        )


def estimate_durations(frame: pd.DataFrame, group: list[str]) -> np.ndarray:
    """Causal duration estimates: rolling median of earlier jobs in the same group."""
    earlier = frame.groupby(group, sort=False)["duration"].transform(
        lambda s: s.shift(1).rolling(HISTORY, min_periods=1).median()
    )
    overall = frame["duration"].shift(1).expanding().median()
    estimate = earlier.fillna(overall).fillna(frame["duration"].median())
    return estimate.to_numpy(float)


def default_capacity(
    submit: np.ndarray, duration: np.ndarray, demand: np.ndarray, load: float
) -> int:
    """The cluster size at which the trace's offered load is ``load`` of capacity.

    Traces record jobs, not the whole cluster behind them, so a replay needs a
    size; sizing to a fixed offered load makes queueing (and so the policies)
    matter, as in a busy production cluster.
    """
    span = float(np.max(submit + duration) - np.min(submit))
    work = float(np.sum(duration * demand))
    return max(int(np.ceil(work / span / load)), int(np.max(demand)))


def philly_observed_wait() -> float:
    """Philly's published average queueing delay of GPU jobs (Acme cluster summary)."""
    return float(datasets.load_cluster_summaries().loc["Philly", "avg_que_time_gpu"])


def alibaba_observed_wait() -> float:
    """Alibaba 2023's average delay from pod creation to scheduling, for pods that ran."""
    frame = datasets.load_alibaba_pods()
    return float(frame["observed_wait"].mean())


def philly_trace(load: float = 0.9) -> Trace:
    """The whole Philly trace (82,247 jobs); capacity sized to ``load`` offered load."""
    frame = datasets.load_philly_jobs()
    submit = frame["submit"].to_numpy(float)
    duration = frame["duration"].to_numpy(float)
    demand = frame["num_gpus"].to_numpy(np.int64)
    estimate = estimate_durations(frame, ["cluster", "num_gpus"])
    capacity = default_capacity(submit, duration, demand, load)
    return Trace("philly", submit, duration, demand, estimate, 1, capacity)


def alibaba_trace(load: float = 0.9) -> Trace:
    """Alibaba 2023 GPU pods that ran (6,203), in milli-GPUs; capacity sized to ``load``."""
    frame = datasets.load_alibaba_pods()
    submit = frame["submit"].to_numpy(float)
    duration = frame["duration"].to_numpy(float)
    demand = np.round(frame["gpus"].to_numpy(float) * 1000).astype(np.int64)
    frame = frame.assign(size=frame["num_gpu"])
    estimate = estimate_durations(frame, ["qos", "size"])
    capacity = default_capacity(submit, duration, demand, load)
    return Trace("alibaba2023", submit, duration, demand, estimate, 1000, capacity)


TRACES = {"philly": philly_trace, "alibaba2023": alibaba_trace}


def load_trace(name: str, load: float = 0.9) -> Trace:
    """A trace by name (philly or alibaba2023)."""
    if name not in TRACES:
        raise L2gpuError(f"unknown trace '{name}'", f"choose one of: {', '.join(TRACES)}")
    if not 0.05 <= load <= 2.0:
        raise L2gpuError(f"offered load {load} is out of range", "choose a load in 0.05 .. 2.0")
    return TRACES[name](load)
