"""The nested rolling-origin backtest on series whose answer is known in advance.

Fast by design: numpy baselines and scripted candidates only (no statsforecast fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from l2gpu.analytics.backtest import (
    MIN_ORIGINS,
    Forecast,
    median_forecast,
    plan_origins,
    run_backtest,
)
from l2gpu.analytics.candidates import BASELINE_NAMES, Naive, TrailingMean, baselines
from l2gpu.analytics.selection import final_choice, hindsight_best, metrics, nested_choice
from l2gpu.core.errors import L2gpuError


@dataclass(frozen=True)
class Scripted:
    """A fake model that knows the truth and misses it by a set amount per origin."""

    name: str
    truth: np.ndarray
    misses: dict[int, float] = field(default_factory=dict)
    default: float = 0.0
    fail_at: tuple[int, ...] = ()

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        origin = len(y)
        if origin in self.fail_at:
            raise RuntimeError("did not converge")
        mean = self.truth[origin : origin + horizon] + self.misses.get(origin, self.default)
        return Forecast(mean, {lv: (mean - 1.0, mean + 1.0) for lv in levels})


def _alternating(length: int) -> np.ndarray:
    # 0, 1, 0, 1 ...: the in-sample naive error is exactly 1 at every origin, so a
    # scripted miss of e is a MASE of e
    return (np.arange(length) % 2).astype(float)


def test_origins_tile_the_end_and_a_short_series_is_refused_with_the_shortfall():
    plan = plan_origins(200, 10, season=1)
    assert plan.origins == tuple(range(120, 200, 10))
    assert plan.origins[-1] + plan.horizon == 200
    assert plan.completed_before(3) == (0, 1, 2)
    assert plan.scored() == (3, 4, 5, 6, 7)  # two ranked windows before each
    with pytest.raises(L2gpuError, match="needs at least 27"):
        plan_origins(25, 10, season=1)  # 10 training points, 7 steps of 1, a 10-step window
    with pytest.raises(L2gpuError, match=f"--origins {MIN_ORIGINS}"):
        plan_origins(200, 10, season=1, origins=5)


def test_overlapping_windows_count_only_once_they_have_ended():
    # 24-step windows 12 apart: a window is usable two origins later, not one
    plan = plan_origins(200, 24, season=1, step=12)
    assert plan.completed_before(4) == (0, 1, 2)
    assert all(plan.origins[j] + 24 <= plan.origins[4] for j in plan.completed_before(4))
    with pytest.raises(L2gpuError, match="overlap so much"):
        plan_origins(100, 40, season=1)


def test_seasonal_naive_wins_an_exactly_seasonal_series_with_mase_zero():
    rng = np.random.default_rng(1)
    pattern = rng.uniform(10, 50, 12)
    # a noisy start gives the MASE scale something to measure; then the cycle repeats exactly
    y = np.concatenate([rng.uniform(0, 60, 60), np.tile(pattern, 20)])
    plan = plan_origins(len(y), 12, season=12)
    tested = run_backtest(y, baselines(12), plan, baselines=BASELINE_NAMES)
    assert {name for _, name in nested_choice(tested)} == {"SeasonalNaive"}
    choice = final_choice(tested)
    assert choice.model == "SeasonalNaive"
    assert choice.nested.mase == pytest.approx(0.0, abs=1e-9)
    assert choice.nested_relative_mae["Naive"] < 0.05
    assert choice.earned  # it beat every other baseline; itself is not a rival
    assert choice.verdict().startswith(
        "SeasonalNaive (a baseline) is shown: the nested choice beat"
    )
    assert metrics(tested, "Naive", plan.scored()).mase > 1.0


def test_nested_choice_is_made_on_earlier_windows_and_differs_from_hindsight():
    y = _alternating(200)
    origins = plan_origins(200, 10, season=1).origins  # 120, 130, ..., 190
    early = {o: 1.0 for o in origins[:4]}
    late = {o: 5.0 for o in origins[4:]}
    steady = Scripted("Steady", y, {o: 2.0 for o in origins[:4]}, default=1.5)
    tested = run_backtest(
        y, [Scripted("Naive", y, default=9.0), Scripted("Early", y, early | late), steady],
        plan_origins(200, 10, season=1), baselines=["Naive"], ensembles=(),
    )  # fmt: skip
    picks = [name for _, name in nested_choice(tested)]
    # origins 3, 4: Early led on the windows before them; from 5 on Steady leads
    assert picks == ["Early", "Early", "Steady", "Steady", "Steady"]
    assert hindsight_best(tested) == "Steady"
    nested = final_choice(tested).nested
    assert nested.mae == pytest.approx((1 + 5 + 1.5 + 1.5 + 1.5) / 5)
    # the hindsight pick scores better on the same windows: that gap is selection optimism
    assert metrics(tested, "Steady", tested.plan.scored()).mae < nested.mae


def test_a_choice_that_loses_to_a_baseline_in_the_nested_backtest_is_not_shown():
    y = _alternating(200)
    origins = plan_origins(200, 10, season=1).origins
    misses = {o: 1.0 for o in origins} | {origins[4]: 6.0}
    tested = run_backtest(
        y, [Scripted("Naive", y, default=2.0), Scripted("Fancy", y, misses)],
        plan_origins(200, 10, season=1), baselines=["Naive"], ensembles=(),
    )  # fmt: skip
    choice = final_choice(tested)
    assert choice.picked == "Fancy"  # best mean MASE over every window (11/7 < 2)
    assert choice.lost_to["Naive"] == pytest.approx(2.4 / 2.0)  # picks: 1, 6, 2, 2, 1
    assert choice.model == "Naive"
    assert not choice.earned
    assert "lost to Naive by 20.0 %" in choice.verdict()


def test_the_ranked_ensemble_is_the_median_of_the_best_on_earlier_windows():
    y = _alternating(200)
    scripted = [Scripted(f"m{i}", y, default=float(miss)) for i, miss in enumerate([4, 1, 3, 2])]
    plan = plan_origins(200, 10, season=1)
    tested = run_backtest(y, scripted, plan, baselines=["m0"], ensembles=(3,))
    path = tested.forecasts["Median-top3"]
    assert path[0] is None  # nothing ranked the members yet
    for k in range(1, len(plan.origins)):
        made = path[k]
        assert made is not None
        # members m1, m3, m2 (misses 1, 2, 3): the median misses by 2
        np.testing.assert_allclose(made.mean, tested.actual[k] + 2.0)


def test_a_failing_candidate_is_recorded_and_sits_out_the_choices_that_need_it():
    y = _alternating(200)
    plan = plan_origins(200, 10, season=1)
    flaky = Scripted("Flaky", y, default=0.0, fail_at=(plan.origins[2],))
    tested = run_backtest(
        y, [Scripted("Naive", y, default=1.0), flaky], plan, baselines=["Naive"], ensembles=()
    )
    assert "did not converge" in tested.failures["Flaky"][0]
    picks = dict(nested_choice(tested))
    # Flaky is perfect, but origin 2 is a selection window of every later choice
    assert set(picks.values()) == {"Naive"}


@pytest.mark.parametrize(
    ("model", "series", "horizon", "origins"),
    [
        # i.i.d. Gaussian noise: the mean method's interval
        (TrailingMean(200), lambda rng: rng.normal(100.0, 10.0, 1000), 100, 8),
        # a Gaussian random walk: the naive interval, widening with sqrt(h)
        (Naive(), lambda rng: np.cumsum(rng.normal(0.0, 1.0, 3100)), 10, 300),
    ],
)
def test_interval_coverage_of_a_gaussian_series_is_near_nominal(model, series, horizon, origins):
    y = series(np.random.default_rng(7))
    plan = plan_origins(len(y), horizon, season=1, origins=origins)
    tested = run_backtest(y, [model], plan, baselines=[model.name], ensembles=())
    coverage = metrics(tested, model.name, range(origins)).coverage
    assert abs(coverage[80] - 0.80) < 0.05
    assert abs(coverage[95] - 0.95) < 0.03


def test_quantiles_of_a_forecast_and_of_a_median_keep_their_order():
    a = Forecast(np.array([1.0]), {80: (np.array([0.5]), np.array([1.5]))})
    b = Forecast(np.array([3.0]), {80: (np.array([2.0]), np.array([4.0]))})
    c = Forecast(np.array([2.0]), {80: (np.array([0.0]), np.array([9.0]))})
    quantiles = median_forecast([a, b, c]).quantiles()
    assert list(quantiles) == [0.1, 0.5, 0.9]
    assert quantiles[0.1][0] == 0.5
    assert quantiles[0.5][0] == 2.0
    assert quantiles[0.9][0] == 4.0


def test_gradient_boosting_learns_a_noisy_daily_cycle_better_than_repeating_yesterday():
    from l2gpu.analytics.gbm import GradientBoosting

    rng = np.random.default_rng(5)
    hours = np.arange(24 * 30)
    cycle = 50 + 30 * np.sin(2 * np.pi * hours / 24)
    y = cycle + rng.normal(0, 8, len(hours))
    made = GradientBoosting(24, 24 * 28).forecast(y[:-24], 24, (80, 95))
    lo95, lo80, mid, hi80, hi95 = made.quantiles().values()
    assert np.all((lo95 <= lo80) & (lo80 <= mid) & (mid <= hi80) & (hi80 <= hi95))
    truth = cycle[-24:]  # the noise-free cycle: what a good model should find
    assert np.mean(np.abs(mid - truth)) < 0.85 * np.mean(np.abs(y[-48:-24] - truth))


def test_smape_is_zero_on_a_perfect_forecast_and_bounded_by_200():
    from l2gpu.analytics.selection import smape

    y = np.array([0.0, 1.0, 5.0, 2.0])
    assert smape(y, y) == 0.0
    assert 0.0 < smape(y, y[::-1]) <= 200.0
    assert smape(np.array([1.0]), np.array([0.0])) == 200.0
