"""Own versus rent under forecast uncertainty, and its regret against hindsight.

    expected_cost          cost of owning ``g`` GPUs when demand follows the forecast's
                           quantiles (renting covers what exceeds ``g``)
    recommend_quantiles    the ``g`` of least expected cost; the cost at the 50th and
                           90th percentile paths; the plans sized to either path alone
    regret_backtest        at each scored origin of a nested backtest: recommend from
                           the forecast made before it, price that plan on the demand
                           that followed, and compare with the cheapest plan for that
                           demand in hindsight

The forecast is a set of quantile paths (0.025 .. 0.975, see
:meth:`Forecast.quantiles`); at each step the demand's distribution is read as the
piecewise-linear quantile function through them, so the expected excess over ``g``
is an average over evenly spaced quantile levels. Costs are USD (own and rent in
USD per GPU-hour, as :class:`~l2gpu.analytics.allocation.report.Prices`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from l2gpu.analytics.allocation.report import Prices, recommend
from l2gpu.analytics.backtest import Backtest
from l2gpu.core.errors import L2gpuError

# Quantile levels averaged over for an expectation: the forecasts' band ends bound them.
_LEVELS = np.linspace(0.025, 0.975, 39)


def plan_cost(owned: float, demand: np.ndarray, hours_per_step: float, prices: Prices) -> float:
    """USD of owning ``owned`` GPUs over ``demand``'s steps and renting the excess."""
    demand = np.maximum(np.asarray(demand, dtype=float), 0.0)
    rent_h = float(np.sum(np.maximum(demand - owned, 0.0))) * hours_per_step
    own_h = owned * len(demand) * hours_per_step
    return own_h * prices.own_usd_per_gpu_h + rent_h * prices.rent_usd_per_gpu_h


def expected_cost(
    owned: float, quantiles: Mapping[float, np.ndarray], hours_per_step: float, prices: Prices
) -> float:
    """Expected USD of owning ``owned`` GPUs when each step's demand has these quantiles."""
    levels = np.array(sorted(quantiles))
    paths = np.vstack([np.maximum(quantiles[q], 0.0) for q in levels])  # levels x steps
    # Per step, the demand at every averaging level (interpolated between the bands).
    spread = np.vstack(
        [np.interp(_LEVELS, levels, paths[:, s]) for s in range(paths.shape[1])]
    )  # steps x averaging levels
    rent_h = float(np.sum(np.maximum(spread - owned, 0.0).mean(axis=1))) * hours_per_step
    own_h = owned * paths.shape[1] * hours_per_step
    return own_h * prices.own_usd_per_gpu_h + rent_h * prices.rent_usd_per_gpu_h


def recommend_quantiles(
    quantiles: Mapping[float, np.ndarray], hours_per_step: float, prices: Prices
) -> dict[str, float]:
    """The owned GPUs of least expected cost, with its cost at the 50th and 90th
    percentile demand paths, and the plans a single path (p50, p90) would give."""
    for level in (0.5, 0.9):
        if level not in quantiles:
            raise L2gpuError(
                f"the forecast has no {level:.0%} quantile",
                "forecast with the 80 % band (levels 80 and 95)",
            )
    top = float(np.ceil(np.max(quantiles[max(quantiles)])))
    candidates = np.arange(0.0, max(top, 0.0) + 1.0)
    costs = [expected_cost(g, quantiles, hours_per_step, prices) for g in candidates]
    owned = float(candidates[int(np.argmin(costs))])
    p50, p90 = quantiles[0.5], quantiles[0.9]
    return {
        "own_gpus": owned,
        "expected_cost_usd": float(min(costs)),
        "cost_at_p50_demand_usd": plan_cost(owned, p50, hours_per_step, prices),
        "cost_at_p90_demand_usd": plan_cost(owned, p90, hours_per_step, prices),
        "own_gpus_if_p50": recommend(p50, hours_per_step, prices)["own_gpus"],
        "own_gpus_if_p90": recommend(p90, hours_per_step, prices)["own_gpus"],
        "own_usd_per_gpu_h": prices.own_usd_per_gpu_h,
        "rent_usd_per_gpu_h": prices.rent_usd_per_gpu_h,
        "hours": len(p50) * hours_per_step,
    }


@dataclass(frozen=True)
class Regret:
    """Per scored origin: the plan, its realized cost, hindsight's cost and the regret."""

    origins: tuple[int, ...]
    owned: np.ndarray
    cost: np.ndarray
    hindsight_cost: np.ndarray

    @property
    def regret_usd(self) -> np.ndarray:
        """Realized cost of the plan minus the cheapest plan's for the same demand."""
        return self.cost - self.hindsight_cost

    @property
    def relative(self) -> np.ndarray:
        """Regret over hindsight's cost (0.1: the plan cost 10 % more than needed)."""
        return self.regret_usd / np.maximum(self.hindsight_cost, 1e-12)

    def to_json(self) -> dict[str, object]:
        """Medians over origins and the per-origin rows."""
        return {
            "origins": len(self.origins),
            "median_regret_usd": round(float(np.median(self.regret_usd)), 4),
            "median_relative_regret": round(float(np.median(self.relative)), 4),
            "rows": [
                {
                    "origin": o,
                    "own_gpus": float(g),
                    "cost_usd": round(float(c), 4),
                    "hindsight_cost_usd": round(float(h), 4),
                }
                for o, g, c, h in zip(
                    self.origins, self.owned, self.cost, self.hindsight_cost, strict=True
                )
            ],
        }


def regret_of_plans(
    owned: np.ndarray,
    realized: list[np.ndarray],
    origins: tuple[int, ...],
    hours_per_step: float,
    prices: Prices,
) -> Regret:
    """Price each plan on the demand that followed it; hindsight plans for that demand."""
    cost = [plan_cost(g, d, hours_per_step, prices) for g, d in zip(owned, realized, strict=True)]
    best = [recommend(d, hours_per_step, prices)["cost_usd"] for d in realized]
    return Regret(origins, np.asarray(owned, dtype=float), np.array(cost), np.array(best))


def regret_backtest(
    y: np.ndarray,
    tested: Backtest,
    picks: tuple[tuple[int, str], ...],
    hours_per_step: float,
    prices: Prices,
) -> dict[str, Regret]:
    """At each ``(k, model)`` of the nested choice: the forecast ``model`` made from
    ``y[:origin]`` only, the plans it gives (expected cost; sized to p50; to p90),
    and their regret on ``y[origin:origin + horizon]``."""
    plans: dict[str, list[float]] = {"expected": [], "p50": [], "p90": []}
    realized, origins = [], []
    for k, model in picks:
        made = tested.forecasts[model][k]
        if made is None:
            continue
        origin = tested.plan.origins[k]
        advice = recommend_quantiles(made.quantiles(), hours_per_step, prices)
        plans["expected"].append(advice["own_gpus"])
        plans["p50"].append(advice["own_gpus_if_p50"])
        plans["p90"].append(advice["own_gpus_if_p90"])
        realized.append(y[origin : origin + tested.plan.horizon])
        origins.append(origin)
    if not origins:
        raise L2gpuError("no scored origin has a forecast", "use a longer series")
    return {
        name: regret_of_plans(np.array(owned), realized, tuple(origins), hours_per_step, prices)
        for name, owned in plans.items()
    }


def series_regret(name: str, prices: Prices, *, all_candidates: bool = False) -> dict[str, Any]:
    """:func:`regret_backtest` on a built-in demand series at its first horizon.

    By default the candidates are the four baselines and their median ensemble (a
    backtest of a second, not the minute of every model); ``all_candidates`` runs them all.
    """
    import pandas as pd

    from l2gpu.analytics.candidates import BASELINE_NAMES, candidates_for
    from l2gpu.analytics.judge import backtest_series, gapless_values
    from l2gpu.analytics.named_series import load_named
    from l2gpu.analytics.selection import nested_choice

    named = load_named(name)
    y = gapless_values(named.series)
    horizon = named.horizons[0]
    candidates = None
    if not all_candidates:
        every = candidates_for(named.setup.season, len(y) // 2, cumulative=False)
        candidates = [c for c in every if c.name in BASELINE_NAMES]
    tested, _ = backtest_series(y, horizon, named.setup, name=name, candidates=candidates)
    axis = named.series.axis
    hours = pd.Timedelta(axis.value_at(1.0) - axis.value_at(0.0)).total_seconds() / 3600.0
    found = regret_backtest(y, tested, nested_choice(tested), hours, prices)
    return {"series": name, "horizon": horizon, **{k: r.to_json() for k, r in found.items()}}
