"""Adoption curves: recovery of known parameters, real series, segments, CLI shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.analytics import datasets
from l2gpu.analytics.adoption import SEGMENTS, fit_adoption, segments_from_counts
from l2gpu.analytics.adoption.bass import bass_cumulative, bass_density, bass_peak_time
from l2gpu.analytics.adoption.curves import MODELS
from l2gpu.analytics.adoption.fit import fit_curve
from l2gpu.analytics.series import read_series


@settings(max_examples=15, deadline=None)
@given(p=st.floats(0.002, 0.05), q=st.floats(0.1, 0.8), m=st.floats(1e3, 1e7))
def test_bass_fit_recovers_the_parameters_of_noise_free_data(p, q, m):
    t = np.arange(30, dtype=float)
    # per-period adopters with the launch one period before the first point
    y = bass_cumulative(t + 1.0, p, q, m) - bass_cumulative(t, p, q, m)
    fit = fit_curve(MODELS["bass"], t, y, cumulative=False)
    assert np.allclose(fit.theta, [p, q, m], rtol=0.05)


def test_bass_density_is_the_derivative_and_peaks_where_stated():
    p, q, m = 0.01, 0.4, 1000.0
    t = np.linspace(0.5, 30, 300)
    numeric = np.gradient(bass_cumulative(t, p, q, m), t)
    assert np.allclose(numeric[5:-5], bass_density(t, p, q, m)[5:-5], rtol=1e-3)
    peak = bass_peak_time(p, q)
    assert abs(t[np.argmax(bass_density(t, p, q, m))] - peak) < 0.2


def test_every_benchmark_series_fits_better_than_its_mean():
    # A fitted S-curve must explain more than a flat line through the data does.
    for source in datasets.diffusion_sources()[:7]:
        (series,) = read_series(
            datasets.data_file(source.file), source.time_col, source.value_col
        ).values()
        result = fit_adoption(series, cumulative=source.cumulative, rounds=20)
        kept = series.y[np.argmax(series.y > 0) :]
        assert result.fit.rmse < np.std(kept), source.name


def test_segments_are_in_rogers_order_and_forecast_band_holds_the_forecast():
    (series,) = read_series(
        datasets.data_file("diffusion_benchmarks/answering_machines_sales.csv"), "year", "sales"
    ).values()
    result = fit_adoption(series, cumulative=False, horizon=4, rounds=50)
    starts = [result.segments[name] for name in SEGMENTS]
    assert all(s is not None for s in starts)
    assert starts == sorted(starts)
    assert np.all(result.forecast_lo <= result.forecast_hi)
    for name, (lo, hi) in result.intervals.items():
        value = result.fit.theta[result.fit.model.params.index(name)]
        assert lo <= hi
        assert lo * 0.5 <= value <= hi * 2  # the estimate sits in (or next to) its interval


def test_segments_from_counts_match_rogers_shares_on_a_uniform_stream():
    t = np.arange(1000, dtype=float)
    segments = segments_from_counts(t, np.ones(1000))
    assert segments["innovators"] == 0
    assert abs(segments["early_majority"] - 160) <= 1
    assert abs(segments["laggards"] - 840) <= 1


def test_cli_fit_prints_the_documented_shape_per_group(cli_json, data):
    out = cli_json(
        "adoption",
        "fit",
        data("l2_growthepie_2023", "l2_daily_metrics.csv"),
        "--time-col",
        "date",
        "--value-col",
        "daa",
        "--group-col",
        "chain",
        "--cumulative",
        "--until",
        "2023-05-31",
        "--horizon",
        "30",
        "--bootstrap",
        "20",
        "--no-backtest",
        "--json",
    )
    assert set(out) == {"groups"}
    assert {"arbitrum", "optimism", "zksync_era"} <= set(out["groups"])
    group = out["groups"]["zksync_era"]
    assert set(group) == {"model", "params", "rmse", "segments", "segment_intervals", "forecast"}
    assert group["model"] in MODELS
    assert set(group["segments"]) == set(SEGMENTS)
    for name, (lo, hi) in ((n, (v["lo"], v["hi"])) for n, v in group["segment_intervals"].items()):
        if lo and hi and group["segments"][name]:
            assert lo <= hi
    assert len(group["forecast"]) == 30
    assert group["forecast"][0]["time"] == "2023-06-01"
    assert set(group["forecast"][0]) == {"time", "value", "lo", "hi"}


def test_cli_plot_writes_a_png(cli, data, tmp_path):
    out = tmp_path / "fit.png"
    status, _, err = cli(
        "adoption",
        "plot",
        data("diffusion_benchmarks", "ibm_mainframe_generations.csv"),
        "--time-col",
        "year_index",
        "--value-col",
        "SIU1",
        "--horizon",
        "3",
        "--bootstrap",
        "20",
        "-o",
        str(out),
    )
    assert status == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_growth_that_did_not_come_is_forecast_by_the_backtest_winner_not_the_curve(
    cli_json, tmp_path
):
    # a logistic rise that stalls at 60 % of where the early curve was heading, then
    # drifts down: an S-curve fitted to it keeps promising growth that never comes
    days = np.arange(240, dtype=float)
    rise = 1000.0 / (1.0 + np.exp(-(days - 80.0) / 12.0))
    stall = np.where(days < 100, rise, rise[100] * (1 - 0.002 * (days - 100)))
    weekly = 1.0 + 0.05 * np.sin(2 * np.pi * days / 7)
    noise = np.random.default_rng(3).normal(1.0, 0.02, len(days))
    path = tmp_path / "stalled.csv"
    dates = pd.date_range("2022-01-01", periods=len(days), freq="D")
    pd.DataFrame({"date": dates, "users": stall * weekly * noise}).to_csv(path, index=False)
    out = cli_json(
        "adoption", "fit", str(path), "--time-col", "date", "--value-col", "users",
        "--cumulative", "--horizon", "14", "--bootstrap", "20", "--json",
    )  # fmt: skip
    group = out["groups"]["users"]
    assert group["model"] in MODELS  # the curve fit stays, as a description
    assert set(group["segment_intervals"]) == set(SEGMENTS)
    judged = group["backtest"]
    assert judged["judged"] is True
    assert judged["origins"] >= 8
    curve = judged["s_curves"]["SCurve"]
    assert curve["verdict"].startswith("loses to ")  # and says by how much
    assert max(curve["relative_mae"].values()) > 1.0
    assert group["forecast_model"] == judged["choice"]["model"] != "SCurve"
    assert len(group["forecast"]) == 14
    assert group["forecast"][0]["time"] == "2022-08-29"
    assert all(r["lo"] <= r["value"] <= r["hi"] for r in group["forecast"])
