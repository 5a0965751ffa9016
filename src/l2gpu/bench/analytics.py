"""The ``analytics`` suite: fitting, simulation, forecasting and replay speed and quality.

Figures (medians where a figure is timed more than once):

* ``bass_fit_ms``: one Bass fit (multi-start least squares), median over every
  adoption series of the shared data;
* ``abm_agent_steps_per_s``: 1,000,000 agents x 365 days, vectorized engine;
* ``abm_vs_mesa_speedup``: that rate over the Mesa engine's at 2,000 agents;
* ``forecast_mase``: per demand series, the best model by backtest and its MASE
  (and seasonal naive's, for comparison), its MAE over seasonal naive's on the
  same windows, and ``selected_mase``: the model picked on the earlier windows
  only, scored on the next (the choice's own score, without selection optimism);
* ``replay_jobs_per_s``: the whole Philly trace, slowest policy; per policy beside it;
* ``jct_improvement_vs_fifo``: FIFO's average JCT over the best policy's, Philly
  (and Alibaba 2023 beside it).

Unlike the crypto suite this one is not pinned to one core: the acceptance
figures are stated for the 2-core machine as a whole.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from l2gpu.bench import environment


def _median_seconds(action: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bass_fit_ms() -> tuple[float, int]:
    """Median time of one Bass fit over every adoption series; and the series count."""
    from l2gpu.analytics import datasets
    from l2gpu.analytics.adoption.curves import MODELS
    from l2gpu.analytics.adoption.fit import fit_curve
    from l2gpu.analytics.series import read_series

    times = []
    for source in datasets.diffusion_sources() + datasets.l2_sources():
        series = read_series(
            datasets.data_file(source.file),
            source.time_col,
            source.value_col,
            group_col=source.group_col,
            skipped=[],
        )
        for one in series.values():
            keep = one.y > 0
            t, y = one.t[keep] - one.t[keep][0], one.y[keep]
            start = time.perf_counter()
            fit_curve(MODELS["bass"], t, y, cumulative=source.cumulative)
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times), len(times)


def abm_rates(
    agents: int = 1_000_000, days: int = 365, mesa_agents: int = 2_000
) -> tuple[float, float]:
    """Agent-steps per second of the vectorized and the Mesa engines."""
    from l2gpu.analytics.abm.mesa_model import simulate_mesa
    from l2gpu.analytics.abm.vectorized import simulate

    fast = _median_seconds(lambda: simulate(agents, days), 3)
    slow = _median_seconds(lambda: simulate_mesa(mesa_agents, days), 3)
    return agents * days / fast, mesa_agents * days / slow


def forecast_quality() -> dict[str, dict[str, Any]]:
    """Best model by backtest and its MASE for every demand series."""
    from l2gpu.analytics.forecast import BENCHMARK, run_backtest
    from l2gpu.analytics.usage import demand_series

    result = {}
    for demand in demand_series():
        tested = run_backtest(demand.series.y, horizon=demand.horizon, season=demand.season)
        best = tested.best
        result[demand.name] = {
            "model": best,
            "mase": round(tested.scores[best]["mase"], 3),
            "seasonal_naive_mase": round(tested.scores[BENCHMARK]["mase"], 3),
            "mae_vs_seasonal_naive": round(tested.mae_ratio[best], 3),
            "selected_mase": round(tested.selected_mase, 3),
        }
    return result


def replay_figures() -> dict[str, Any]:
    """Whole-trace replays of every policy on Philly and Alibaba 2023."""
    from l2gpu.analytics.allocation import trace as traces
    from l2gpu.analytics.allocation.calibrate import capacity_for_wait
    from l2gpu.analytics.allocation.policies import POLICIES, make_policy
    from l2gpu.analytics.allocation.simulator import replay

    figures: dict[str, Any] = {}
    for name, observed in (
        ("philly", traces.philly_observed_wait),
        ("alibaba2023", traces.alibaba_observed_wait),
    ):
        trace = traces.load_trace(name)
        capacity = capacity_for_wait(trace, observed())
        avg, seconds = {}, {}
        for policy in POLICIES:
            start = time.perf_counter()
            result = replay(trace, make_policy(policy), capacity)
            seconds[policy] = time.perf_counter() - start
            avg[policy] = float(result.jct.mean())
        best = min(avg, key=avg.__getitem__)
        figures[name] = {
            "jobs": len(trace),
            "gpus": capacity / trace.units_per_gpu,
            "avg_jct_s": {k: round(v) for k, v in avg.items()},
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            "best": best,
            "improvement": avg["fifo"] / avg[best],
        }
    return figures


def run() -> dict[str, Any]:
    """Measure everything; return the figures."""
    fit_ms, series_count = bass_fit_ms()
    fast, slow = abm_rates()
    forecasts = forecast_quality()
    replays = replay_figures()
    philly = replays["philly"]
    return {
        "suite": "analytics",
        "bass_fit_ms": round(fit_ms, 2),
        "bass_fit_series": series_count,
        "abm_agent_steps_per_s": round(fast),
        "mesa_agent_steps_per_s": round(slow),
        "abm_vs_mesa_speedup": round(fast / slow, 1),
        "forecast_mase": forecasts,
        "replay_jobs_per_s": round(philly["jobs"] / max(philly["seconds"].values())),
        "replay_seconds_by_policy": philly["seconds"],
        "jct_improvement_vs_fifo": round(philly["improvement"], 3),
        "best_policy": philly["best"],
        "avg_jct_s_by_policy": philly["avg_jct_s"],
        "philly_gpus": philly["gpus"],
        "alibaba2023": {
            k: replays["alibaba2023"][k]
            for k in ("jobs", "gpus", "avg_jct_s", "best", "improvement")
        },
        **environment(),
    }
