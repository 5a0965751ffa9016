"""Allocation: the simulator's invariants on a slice of Philly, policies, sizing advice."""

from __future__ import annotations

import numpy as np
import pytest
from tests.parts import missing_part

from l2gpu.analytics import datasets
from l2gpu.analytics.allocation.policies import POLICIES, make_policy
from l2gpu.analytics.allocation.report import Prices, recommend
from l2gpu.analytics.allocation.simulator import replay
from l2gpu.analytics.allocation.trace import load_trace

JOBS = 6_000


@pytest.fixture(scope="module")
def philly():
    # Module-scoped, so it runs before conftest's per-test skip: check the data here too.
    if not datasets.data_root().is_dir():
        missing_part("shared data sets not found")
    trace = load_trace("philly").head(JOBS)
    # A cluster small enough for queues to form on this slice.
    return trace, 200


def peak_usage(result, capacity) -> float:
    owned = ~result.rented
    starts, ends = result.first_start[owned], result.end[owned]
    times = np.concatenate([starts, ends])
    change = np.concatenate([result.demand[owned], -result.demand[owned]])
    order = np.lexsort((change, times))  # at equal times, releases first
    return float(np.max(np.cumsum(change[order])))


@pytest.mark.parametrize("name", ["fifo", "fifo_backfill", "sjf", "price", "hybrid"])
def test_non_preemptive_replays_respect_capacity_and_run_times(philly, name):
    trace, capacity = philly
    result = replay(trace, make_policy(name), capacity)
    assert np.all(np.isfinite(result.end))
    assert np.all(result.first_start >= result.submit)
    assert np.allclose(result.end - result.first_start, result.duration)
    assert peak_usage(result, capacity) <= capacity


def test_fifo_starts_jobs_in_arrival_order(philly):
    trace, capacity = philly
    result = replay(trace, make_policy("fifo"), capacity)
    order = np.argsort(result.first_start, kind="stable")
    assert np.all(np.diff(result.submit[order]) >= 0)


@pytest.mark.parametrize("name", ["las", "srtf"])
def test_preemptive_policies_preempt_and_every_job_gets_its_full_run_time(philly, name):
    trace, capacity = philly
    result = replay(trace, make_policy(name), capacity)
    assert result.preemptions > 0
    assert np.all(result.jct >= result.duration - 1e-6)


def test_backfilling_never_lets_a_fitting_job_wait_behind_one_that_does_not(philly):
    trace, capacity = philly
    strict = replay(trace, make_policy("fifo"), capacity)
    backfill = replay(trace, make_policy("fifo_backfill"), capacity)
    assert backfill.jct.mean() < strict.jct.mean()
    # some job started before an earlier one: that is the backfilling
    order = np.argsort(backfill.first_start, kind="stable")
    assert np.any(np.diff(backfill.submit[order]) < 0)


def test_smarter_policies_beat_fifo_on_average_jct(philly):
    trace, capacity = philly
    average = {n: replay(trace, make_policy(n), capacity).jct.mean() for n in POLICIES}
    assert min(average["sjf"], average["las"], average["price"]) < average["fifo"]


def test_recommendation_is_the_cheapest_whole_number_of_gpus():
    rng = np.random.default_rng(1)
    demand = rng.gamma(4.0, 10.0, size=500)
    prices = Prices(0.3, 1.0)
    advice = recommend(demand, 1.0, prices)

    def cost(g: float) -> float:
        return g * 500 * 0.3 + np.maximum(demand - g, 0).sum() * 1.0

    assert advice["cost_usd"] == pytest.approx(min(cost(g) for g in range(0, 200)))
    # newsvendor: the share of hours above the owned level is about own/rent
    assert abs(np.mean(demand > advice["own_gpus"]) - 0.3) < 0.02


def test_cli_replay_prints_every_policy(cli_json):
    out = cli_json(
        "allocate", "replay", "--trace", "alibaba2023", "--jobs", "1500", "--gpus", "20", "--json"
    )
    assert [row["policy"] for row in out["policies"]] == list(POLICIES)
    for row in out["policies"]:
        assert 0 < row["utilization"] <= 1
        assert row["p99_jct_s"] >= row["avg_jct_s"] * 0.5


def test_cli_unknown_policy_is_a_user_error(cli):
    status, _, err = cli("allocate", "replay", "--policy", "lottery")
    assert status == 2
    assert "unknown policy 'lottery'" in err


def test_the_abm_speedup_is_measured_at_equal_sizes():
    from l2gpu.bench.analytics import abm_speedup_curve

    curve = abm_speedup_curve(days=5, budget_s=1.0)
    assert [p["agents"] for p in curve[:2]] == [2_000, 20_000]
    for p in curve:
        assert p["speedup"] == pytest.approx(p["mesa_s"] / p["vectorized_s"], rel=0.05)
    assert all(p["mesa_s"] <= 1.0 for p in curve[2:])  # the largest size within the budget
