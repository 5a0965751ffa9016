"""Print the measured tables of docs/analytics.md (markdown), from the shared data.

    .venv/bin/python tools/analytics_tables.py > /tmp/tables.md

Every number in the doc's tables comes from a run of this script.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from l2gpu.analytics import datasets
from l2gpu.analytics.abm.compare import calibrate, compare_engines
from l2gpu.analytics.adoption import fit_adoption
from l2gpu.analytics.allocation import trace as traces
from l2gpu.analytics.allocation.calibrate import capacity_for_wait
from l2gpu.analytics.allocation.policies import POLICIES, make_policy
from l2gpu.analytics.allocation.report import Prices, summarize
from l2gpu.analytics.allocation.simulator import replay
from l2gpu.analytics.series import read_series
from l2gpu.core.errors import L2gpuError


def adoption_table() -> None:
    """Fit quality of every series in l2_growthepie_2023/ and diffusion_benchmarks/."""
    print("| series | group | points | model | RMSE | NRMSE | AIC gap to 2nd | late majority |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for source in datasets.diffusion_sources() + datasets.l2_sources():
        series = read_series(
            datasets.data_file(source.file),
            source.time_col,
            source.value_col,
            group_col=source.group_col,
            skipped=[],
        )
        for group, one in series.items():
            until = float(one.t[int(np.argmax(one.y))]) if source.until_peak else None
            try:
                result = fit_adoption(one, cumulative=source.cumulative, until=until, rounds=50)
            except L2gpuError as exc:
                print(f"| {source.name} | {group} | - | not fitted: {exc.what} | | | | |")
                continue
            aics = sorted(f.aic for f in result.candidates.values())
            scale = float(np.max(np.abs(one.y)))
            late = result.to_json()["segments"]["late_majority"]
            print(
                f"| {source.name} | {group} | {result.fitted_until} | {result.fit.model.name} "
                f"| {result.fit.rmse:.4g} | {result.fit.rmse / scale:.3f} "
                f"| {aics[1] - aics[0]:.1f} | {late} |"
            )


def allocation_table() -> None:
    """Every policy on both whole traces."""
    prices = Prices.from_market(datasets.gpu_prices("V100"))
    print(f"prices: own {prices.own_usd_per_gpu_h:.3f} rent {prices.rent_usd_per_gpu_h:.3f}")
    for name, observed in (
        ("philly", traces.philly_observed_wait),
        ("alibaba2023", traces.alibaba_observed_wait),
    ):
        trace = traces.load_trace(name)
        capacity = capacity_for_wait(trace, observed())
        print(
            f"{name}: {len(trace)} jobs, {capacity / trace.units_per_gpu:g} GPUs, "
            f"target wait {observed():.0f} s"
        )
        for policy in POLICIES:
            start = time.perf_counter()
            row = summarize(replay(trace, make_policy(policy), capacity), prices)
            took = time.perf_counter() - start
            print(
                f"| {name} | {policy} | {row['avg_jct_s']:.0f} | {row['p99_jct_s']:.0f} "
                f"| {row['avg_wait_s']:.0f} | {row['makespan_s'] / 86400:.2f} "
                f"| {row['utilization']:.3f} | {row['rented_jobs']} | {row['cost_usd']:.0f} "
                f"| {took:.2f} |"
            )


def abm_figures() -> None:
    """Engine agreement and calibration error."""
    comparison = compare_engines(2_000, 365, seeds=8)
    print(f"engines: max gap {comparison.max_gap:.4f}, max z {comparison.max_z:.2f}")
    fit = calibrate()
    print(
        f"calibration from {fit.start}: p={fit.params.p:.3g} q={fit.params.q:.3g} "
        f"rmse={fit.rmse:.4f} (fresh seeds {fit.fresh_rmse:.4f}) "
        f"observed end {fit.observed[-1]:.3f} simulated end {fit.simulated[-1]:.3f} "
        f"evaluations {fit.evaluations} at search bound {fit.at_bound}"
    )


if __name__ == "__main__":
    # The forecast tables are docs/forecasts.md: `l2gpu forecast report --docs` writes them.
    parts = sys.argv[1:] or ["adoption", "allocation", "abm"]
    for part in parts:
        {
            "adoption": adoption_table,
            "allocation": allocation_table,
            "abm": abm_figures,
        }[part]()
