"""Long analytics work reports its progress through a plain callback: done only grows,
up to the total, and the default callback costs nothing. No terminal is involved
(the bars are :mod:`l2gpu.cli.live`'s, tested in ``tests/cli/test_live.py``)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from l2gpu.analytics.allocation.policies import make_policy
from l2gpu.analytics.allocation.simulator import replay
from l2gpu.analytics.allocation.trace import Trace
from l2gpu.analytics.backtest import plan_origins, run_backtest
from l2gpu.analytics.candidates import BASELINE_NAMES, baselines
from l2gpu.core.progress import every, no_progress


class _Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def __call__(self, done: int, total: int, label: str) -> None:
        self.calls.append((done, total, label))


def _grows_to_its_total(calls: list[tuple[int, int, str]]) -> None:
    done = [d for d, _, _ in calls]
    totals = {t for _, t, _ in calls}
    assert len(totals) == 1
    assert done[0] == 0
    assert done[-1] == totals.pop()
    assert all(a < b for a, b in pairwise(done))


def test_a_backtest_reports_every_forecast_of_origins_times_candidates() -> None:
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.uniform(0, 60, 60), np.tile(rng.uniform(10, 50, 12), 20)])
    plan = plan_origins(len(y), 12, season=12)
    candidates = baselines(12)
    seen = _Calls()
    quiet = run_backtest(y, candidates, plan, baselines=BASELINE_NAMES)
    tested = run_backtest(y, candidates, plan, baselines=BASELINE_NAMES, on_progress=seen,
                          label="backtest demand")  # fmt: skip
    _grows_to_its_total(seen.calls)
    assert seen.calls[-1] == (len(plan.origins) * len(candidates),) * 2 + ("backtest demand",)
    assert len(seen.calls) == len(plan.origins) * len(candidates) + 1
    assert tested.forecasts.keys() == quiet.forecasts.keys()  # watching changes nothing


def _trace(jobs: int) -> Trace:
    rng = np.random.default_rng(5)
    return Trace(
        name="synthetic",
        submit=np.sort(rng.uniform(0, 10_000, jobs)),
        duration=rng.uniform(10, 2_000, jobs),
        demand=rng.choice([1, 2, 4, 8], jobs),
        estimate=rng.uniform(10, 2_000, jobs),
        units_per_gpu=1,
        capacity=16,
    )


def test_a_replay_reports_arrived_jobs_every_hundredth_of_the_trace_up_to_all() -> None:
    trace = _trace(1_050)
    for policy in ("fifo", "las"):
        seen = _Calls()
        watched = replay(trace, make_policy(policy), on_progress=seen)
        _grows_to_its_total(seen.calls)
        assert seen.calls[-1] == (1_050, 1_050, f"replay synthetic under {policy}")
        assert len(seen.calls) == 1 + 105  # the start, then every 10th job (the last is one)
        quiet = replay(trace, make_policy(policy))
        assert np.array_equal(watched.end, quiet.end)


def test_the_default_callback_and_the_report_interval() -> None:
    assert no_progress(1, 2, "anything") is None
    assert every(1_050) == 10
    assert every(5) == 1
    assert every(0) == 1
