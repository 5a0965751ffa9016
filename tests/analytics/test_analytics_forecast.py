"""Forecasting from the CLI: the shown forecast, the backtest report, bad input.

The statsforecast fits run here on one small real series (Helios Earth, 181 days);
the evaluation logic itself is tested in ``test_backtest.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from l2gpu.analytics.forecast import forecast_series
from l2gpu.analytics.series import Series, TimeAxis

EARTH = ("helios_sensetime", "earth_vc_gpu_capacity_daily.csv")


def test_cli_forecast_shows_the_nested_choice_or_a_baseline(cli_json, data):
    out = cli_json(
        "forecast", data(*EARTH), "--time-col", "date", "--value-col", "total",
        "--horizon", "7", "--json",
    )  # fmt: skip
    assert {"model", "forecast", "backtest", "nested", "earned", "verdict"} <= set(out)
    assert {"SeasonalNaive", "Naive", "Drift", "TrailingMean", "AutoETS"} <= set(out["backtest"])
    best = min(out["backtest"], key=lambda m: out["backtest"][m]["mase"])
    if out["earned"]:
        assert out["model"] == best
    else:  # the choice did not beat every baseline: a baseline is shown instead
        assert out["model"] in ("Naive", "SeasonalNaive", "Drift", "TrailingMean")
        assert out["model"] in out["verdict"]
    rows = out["forecast"]
    assert [r["time"] for r in rows[:2]] == ["2020-09-29", "2020-09-30"]
    assert len(rows) == 7
    assert all(r["lo"] <= r["mean"] <= r["hi"] for r in rows)


def test_backtest_of_a_builtin_series_reports_every_candidate_and_plots(cli_json, tmp_path):
    png = tmp_path / "earth.png"
    out = cli_json(
        "forecast", "backtest", "earth_gpus_assigned", "--horizon", "7", "--plot", str(png),
        "--json",
    )  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = out["horizons"]["7"]
    assert len(report["origins"]) == 8
    assert report["origins"][-1] + 7 == out["points"]
    for name in ("SeasonalNaive", "AutoETS", "AutoARIMA", "Median-top3"):
        figures = report["candidates"][name]
        assert {"mae", "rmse", "mase", "coverage"} <= set(figures["scored"])
        assert set(figures["relative_mae"]) == {"Naive", "SeasonalNaive", "Drift", "TrailingMean"}
    picks = report["nested"]["picks"]
    assert [p["origin"] for p in picks] == report["scored_origins"]
    choice = report["choice"]
    assert choice["earned"] == (not choice["lost_to"])
    assert all(ratio >= 1 for ratio in choice["lost_to"].values())
    quantiles = report["forecast"][0]
    assert quantiles["q0.025"] <= quantiles["q0.1"] <= quantiles["q0.5"] <= quantiles["q0.9"]


def test_backtest_refuses_gaps_short_series_and_text_with_a_message(cli, tmp_path):
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    cases = {
        "gap": (days.delete([10, 11]), "misses 2 steps, the first after 2024-01-10"),
        "short": (days[:30], "needs at least"),
    }
    for name, (times, message) in cases.items():
        path = tmp_path / f"{name}.csv"
        pd.DataFrame({"day": times, "v": np.arange(len(times)) % 7}).to_csv(path, index=False)
        status, out, err = cli("forecast", "backtest", str(path), "--horizon", "7", "--json")
        assert (status, out) == (2, ""), err
        assert message in err
        assert "Traceback" not in err
    text = tmp_path / "text.csv"
    text.write_text(
        "day,v\n" + "".join(f"2024-01-{d:02d},{d}\n" for d in range(1, 30)) + "2024-01-30,y\n"
    )
    status, _, err = cli("forecast", "backtest", str(text), "--horizon", "7")
    assert status == 2
    assert "'y' is not a number" in err
    status, _, err = cli("forecast", "backtest", "no_such_series")
    assert status == 2
    assert "earth_gpus_assigned" in err


def test_forecast_of_a_nonnegative_series_stays_nonnegative():
    y = np.maximum(0.0, 200.0 - 2.0 * np.arange(100)) + (np.arange(100) % 7 == 0)
    axis = TimeAxis("datetime", pd.Timestamp("2024-01-01"), pd.Timedelta(days=1))
    result = forecast_series(Series("fall", axis, np.arange(100.0), y), horizon=7)
    assert np.all(result.mean >= 0)
    assert np.all(result.lo >= 0)
    assert np.all(result.lo <= result.mean)
    assert np.all(result.mean <= result.hi)
    assert result.times[0] == "2024-04-10"
