"""Forecasting: the error measures, the backtest choice, the CLI shape."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from l2gpu.analytics.forecast import mase, smape


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
