"""Forecasting: the error measures, the backtest choice, the CLI shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from l2gpu.analytics.forecast import (
    BENCHMARK,
    ENSEMBLE,
    _selected_mase,
    forecast_series,
    mase,
    run_backtest,
    smape,
)
from l2gpu.analytics.series import Series, TimeAxis


@given(st.lists(st.floats(0, 1e6), min_size=30, max_size=60))
def test_smape_is_bounded_and_zero_on_a_perfect_forecast(values):
    y = np.array(values)
    assert smape(y, y) == 0.0
    assert 0.0 <= smape(y, y[::-1]) <= 200.0


def test_mase_of_the_seasonal_naive_forecast_in_sample_is_one():
    rng = np.random.default_rng(0)
    y = np.sin(np.arange(200) * 2 * np.pi / 24) * 10 + rng.normal(0, 1, 200)
    history, future = y[:176], y[176:]
    naive = y[152:176]  # one season back
    assert abs(mase(history[24:], history[:-24], history, 24) - 1.0) < 1e-12
    assert mase(future, naive, history, 24) > 0


def test_cli_forecast_picks_the_best_backtest_model(cli_json, data):
    out = cli_json(
        "forecast",
        data("helios_sensetime", "venus_throughput_10min.csv"),
        "--time-col",
        "time",
        "--value-col",
        "submit_gpu_num",
        "--freq",
        "h",
        "--agg",
        "sum",
        "--horizon",
        "24",
        "--json",
    )
    assert set(out) == {"model", "forecast", "backtest"}
    assert "SeasonalNaive" in out["backtest"]
    best = min(out["backtest"], key=lambda m: out["backtest"][m]["mase"])
    assert out["model"] == best
    rows = out["forecast"]
    assert len(rows) == 24
    assert rows[0]["time"] == "2020-08-16T00:00:00"
    assert rows[1]["time"] == "2020-08-16T01:00:00"
    assert all(r["lo"] <= r["mean"] <= r["hi"] for r in rows)


def _weekly_counts(days: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return 50 + 20 * (t % 7 >= 5) + rng.poisson(5, days).astype(float)


def test_backtest_scores_the_ensemble_and_the_ratio_to_seasonal_naive():
    y = _weekly_counts(70)
    tested = run_backtest(y, horizon=7, season=7, windows=3)
    assert ENSEMBLE in tested.scores
    assert BENCHMARK in tested.scores
    assert tested.mae_ratio[BENCHMARK] == 1.0
    assert set(tested.mae_ratio) == set(tested.scores) == set(tested.errors)
    assert tested.errors[ENSEMBLE].shape == (3, 7)
    assert np.isfinite(tested.selected_mase)
    # a clean weekly cycle: something beats repeating last week
    assert tested.scores[tested.best]["mase"] <= tested.scores[BENCHMARK]["mase"]


def test_selected_mase_scores_each_window_with_the_model_picked_before_it():
    rows = {"a": [1.0, 3.0, 3.0], "b": [2.0, 1.0, 1.0]}
    # window 2: a was best on window 1 -> 3.0; window 3: b is best on 1-2 (1.5 < 2) -> 1.0
    assert _selected_mase(rows) == 2.0


def test_forecast_of_a_nonnegative_series_stays_nonnegative():
    y = np.maximum(0.0, 200.0 - 2.0 * np.arange(100)) + (np.arange(100) % 7 == 0)
    axis = TimeAxis("datetime", pd.Timestamp("2024-01-01"), pd.Timedelta(days=1))
    result = forecast_series(Series("fall", axis, np.arange(100.0), y), horizon=7)
    assert np.all(result.mean >= 0)
    assert np.all(result.lo >= 0)
    assert np.all(result.lo <= result.mean)
    assert np.all(result.mean <= result.hi)
    assert result.times[0] == "2024-04-10"
