"""Adoption curves: recovery of known parameters, real series, segments, CLI shape."""

from __future__ import annotations

import numpy as np
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
        "--json",
    )
    assert set(out) == {"groups"}
    assert {"arbitrum", "optimism", "zksync_era"} <= set(out["groups"])
    group = out["groups"]["zksync_era"]
    assert set(group) == {"model", "params", "rmse", "segments", "forecast"}
    assert group["model"] in MODELS
    assert set(group["segments"]) == set(SEGMENTS)
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
