"""Forecasts that act: the price suggestion, own-versus-rent regret, forecast reservations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from l2gpu.analytics import datasets
from l2gpu.analytics.allocation.own_rent import (
    plan_cost,
    recommend_quantiles,
    regret_of_plans,
)
from l2gpu.analytics.allocation.policies import PriceAware
from l2gpu.analytics.allocation.report import Prices, recommend
from l2gpu.analytics.allocation.reserve import Reserve, reservation_schedule
from l2gpu.analytics.allocation.simulator import replay
from l2gpu.analytics.allocation.trace import Trace
from l2gpu.analytics.price_acceptance import AcceptanceCurve
from l2gpu.analytics.price_suggest import backtest_prices, choose_fixed, choose_markup

PRICES = Prices(own_usd_per_gpu_h=1.0, rent_usd_per_gpu_h=2.0)


def curve() -> AcceptanceCurve:
    """A made-up model: rentals between 0.7 and 1.4 times the median, 50 % utilised."""
    return AcceptanceCurve(
        gpu="V100",
        median_usd_per_gpu_h=1.0,
        utilisation=0.5,
        rented_knots=(0.7, 0.8, 1.0, 1.2, 1.4),
        cross_section_slope=0.0,
    )


# --- price suggestion ------------------------------------------------------------------


def test_acceptance_falls_with_price_and_is_the_utilisation_at_the_median():
    c = curve()
    assert float(c.accept(1.0)) == pytest.approx(0.5)
    levels = c.accept(np.linspace(0.7, 1.4, 20))
    assert np.all(np.diff(levels) <= 1e-12)
    assert float(c.accept(1.5)) == 0.0


def test_the_price_choice_never_reads_the_scoring_windows():
    medians = np.array([2.0, 2.1, 1.9, 2.0, 2.2, 2.1, 1.8, 1.7, 1.6, 1.5])
    poisoned = medians.copy()
    origin = 6
    poisoned[origin:] = [50.0, 0.01, 99.0, 0.2]  # nothing the rules may have seen
    clean, dirty = backtest_prices(curve(), medians), backtest_prices(curve(), poisoned)
    k = origin - 4  # row of that origin (the first is MIN_TRAIN = 4)
    assert clean.markup[: k + 1] == pytest.approx(dirty.markup[: k + 1])
    assert clean.fixed[: k + 1] == pytest.approx(dirty.fixed[: k + 1])
    assert clean.suggested[: k + 1] == pytest.approx(dirty.suggested[: k + 1])
    # and the choosers see what they are given: the training windows decide
    assert choose_markup(curve(), medians[:origin]) == choose_markup(curve(), poisoned[:origin])
    assert choose_fixed(curve(), medians[:origin]) == choose_fixed(curve(), poisoned[:origin])


def test_a_tracking_price_beats_a_fixed_one_when_the_market_falls():
    medians = np.linspace(3.0, 1.0, 16)
    tested = backtest_prices(curve(), medians)
    assert tested.gain("fixed") > 0.0
    assert set(tested.to_json()) >= {"gain_vs_fixed", "gain_vs_median", "windows"}


def test_the_real_data_gives_a_suggestion_inside_the_rented_range():
    from l2gpu.analytics.price_suggest import price_report

    report = price_report("V100")
    low, high = report["rented_price_range_usd_per_gpu_h"]
    assert low <= report["suggested_usd_per_gpu_h"] <= high
    assert report["backtest"]["scored_windows"] >= 10
    assert np.isfinite(report["backtest"]["gain_vs_fixed"])


# --- own versus rent --------------------------------------------------------------------


def test_regret_is_zero_when_the_plan_is_hindsights():
    realized = [np.array([3.0, 5.0, 4.0, 9.0]), np.array([1.0, 1.0, 2.0, 0.0])]
    best = np.array([recommend(d, 1.0, PRICES)["own_gpus"] for d in realized])
    found = regret_of_plans(best, realized, (10, 20), 1.0, PRICES)
    assert found.regret_usd == pytest.approx([0.0, 0.0])
    assert found.relative == pytest.approx([0.0, 0.0])
    worse = regret_of_plans(best + 3.0, realized, (10, 20), 1.0, PRICES)
    assert np.all(worse.regret_usd > 0)


def test_a_certain_forecast_recommends_what_hindsight_would():
    demand = np.array([2.0, 6.0, 6.0, 3.0, 8.0])
    certain = {q: demand for q in (0.025, 0.1, 0.5, 0.9, 0.975)}
    advice = recommend_quantiles(certain, 1.0, PRICES)
    assert advice["own_gpus"] == recommend(demand, 1.0, PRICES)["own_gpus"]
    assert advice["cost_at_p50_demand_usd"] == pytest.approx(
        plan_cost(advice["own_gpus"], demand, 1.0, PRICES)
    )


def test_wider_uncertainty_never_costs_less_at_the_90th_percentile():
    mean = np.full(6, 10.0)
    narrow = {0.025: mean - 1, 0.1: mean - 0.5, 0.5: mean, 0.9: mean + 0.5, 0.975: mean + 1}
    wide = {0.025: mean - 8, 0.1: mean - 5, 0.5: mean, 0.9: mean + 5, 0.975: mean + 8}
    a, b = recommend_quantiles(narrow, 1.0, PRICES), recommend_quantiles(wide, 1.0, PRICES)
    assert b["expected_cost_usd"] > a["expected_cost_usd"]
    assert b["own_gpus_if_p90"] > a["own_gpus_if_p90"]


# --- reservations -----------------------------------------------------------------------


def peaked_trace(days: int = 10) -> Trace:
    """One 2-GPU job an hour all day, and 30 one-GPU one-hour jobs at noon, every day."""
    submit, duration, demand = [], [], []
    for day in range(days):
        for hour in range(24):
            submit.append(day * 86400.0 + hour * 3600.0)
            duration.append(1800.0)
            demand.append(2)
        for j in range(30):
            submit.append(day * 86400.0 + 12 * 3600.0 + j * 60.0)
            duration.append(3600.0)
            demand.append(1)
    order = np.argsort(submit, kind="stable")
    s, d, g = (np.asarray(a, dtype=float)[order] for a in (submit, duration, demand))
    return Trace("peaked", s, d, g.astype(np.int64), d.copy(), 1, 10)


def test_reserving_for_a_predictable_peak_cuts_waits():
    trace = peaked_trace()
    schedule = reservation_schedule(trace, 10)
    assert schedule[:24].sum() == 0  # nothing to forecast from on the first day
    assert schedule[24 + 12] > 0
    assert schedule[24 + 3] == 0
    without = replay(trace, PriceAware(), 10)
    with_pool = replay(trace, Reserve(schedule), 10)
    assert with_pool.rented.sum() > 0
    assert with_pool.wait.mean() < 0.5 * without.wait.mean()


def test_an_empty_schedule_is_the_scheduler_without_reservations():
    trace = peaked_trace(3)
    plain = replay(trace, PriceAware(), 10)
    none = replay(trace, Reserve(np.zeros(100, dtype=np.int64)), 10)
    assert np.array_equal(plain.end, none.end)


# --- command line -----------------------------------------------------------------------


def test_cli_price_suggestion_and_its_errors(cli, cli_json):
    found = cli_json("provider", "price", "--gpu", "RTX_4090", "--json")
    assert found["gpu"] == "RTX_4090"
    assert found["backtest"] is None
    status, out, _ = cli("provider", "price", "--gpu", "H100")
    assert status == 0
    assert "best fixed price" in out
    status, _, err = cli("provider", "price", "--gpu", "RTX4090X")
    assert status == 2
    assert "RTX_4090" in err
    assert "Traceback" not in err
    status, _, err = cli("provider", "price", "--gpu", "T4")
    assert status == 2
    assert "no rented/available prices" in err


def test_cli_price_without_data_says_where_to_put_it(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "data_root", lambda: tmp_path / "nowhere")
    status, _, err = cli("provider", "price", "--gpu", "V100")
    assert status == 2
    assert "not found" in err
    assert "Traceback" not in err


def test_cli_recommend_reports_p50_and_p90_costs(cli, cli_json, tmp_path: Path):
    hours = 24 * 30
    t = np.arange(hours)
    values = 20 + 8 * np.sin(2 * np.pi * t / 24) + (t % 7)
    path = tmp_path / "demand.csv"
    pd.DataFrame(
        {"time": pd.date_range("2024-01-01", periods=hours, freq="h"), "gpus": values}
    ).to_csv(path, index=False)
    found = cli_json(
        "allocate",
        "recommend",
        str(path),
        "--time-col",
        "time",
        "--value-col",
        "gpus",
        "--horizon",
        "24",
        "--own-price",
        "1",
        "--rent-price",
        "2",
        "--json",
    )
    assert found["cost_at_p90_demand_usd"] >= found["cost_at_p50_demand_usd"]
    assert found["own_gpus_if_p90"] >= found["own_gpus_if_p50"]
    status, _, err = cli(
        "allocate",
        "recommend",
        str(tmp_path / "none.csv"),
        "--time-col",
        "t",
        "--value-col",
        "v",
    )
    assert status == 2
    assert "Traceback" not in err
    bad = tmp_path / "bad.csv"
    bad.write_text("time,gpus\nnot a date,x\n")
    status, _, err = cli(
        "allocate", "recommend", str(bad), "--time-col", "time", "--value-col", "gpus"
    )
    assert status == 2
    assert "Traceback" not in err


def test_cli_regret_names_the_series_it_knows(cli):
    status, _, err = cli("allocate", "regret", "--series", "bitcoin")
    assert status == 2
    assert "philly_active_nodes" in err
    assert "Traceback" not in err
