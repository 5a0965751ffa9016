"""Checking the two implementations against each other, and calibrating to real data.

compare_engines   same parameters, several seeds each: the largest gap between
                  the mean L2-share curves, in standard errors of that gap
calibrate         the innovation and imitation rates that fit the observed share
                  of users on L2s (growthepie, 2021-2023): a log grid over a wide
                  box, then Nelder-Mead from its best point
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from l2gpu.analytics import datasets
from l2gpu.analytics.abm.mesa_model import simulate_mesa
from l2gpu.analytics.abm.model import AbmParams
from l2gpu.analytics.abm.vectorized import simulate


@dataclass(frozen=True)
class EngineComparison:
    """Mean curves of both engines and how far apart they are."""

    numpy_mean: np.ndarray
    mesa_mean: np.ndarray
    max_gap: float
    max_z: float


def compare_engines(
    n_agents: int, days: int, seeds: int, params: AbmParams | None = None
) -> EngineComparison:
    """Run both engines ``seeds`` times; compare their mean L2-share curves day by day.

    Different seeds give independent runs, so the gap between the two means has
    standard error sqrt(var_a / k + var_b / k). Same model, same curves: the
    largest gap stays within a few standard errors (3.5 is the usual bar over a
    year of correlated days).
    """
    a = np.array([simulate(n_agents, days, params, seed=s).l2_share for s in range(seeds)])
    b = np.array(
        [simulate_mesa(n_agents, days, params, seed=1000 + s).l2_share for s in range(seeds)]
    )
    gap = a.mean(axis=0) - b.mean(axis=0)
    error = np.sqrt(a.var(axis=0, ddof=1) / seeds + b.var(axis=0, ddof=1) / seeds)
    # Days on which both engines are still at zero carry no information.
    informative = error > 0
    z = np.abs(gap[informative]) / error[informative] if informative.any() else np.zeros(1)
    return EngineComparison(
        a.mean(axis=0), b.mean(axis=0), float(np.max(np.abs(gap))), float(np.max(z))
    )


@dataclass(frozen=True)
class Calibration:
    """The fitted parameters and the fit error they leave.

    ``rmse``: of the mean curve over the fitting seeds; ``fresh_rmse``: the same
    parameters, mean curve over as many other seeds (a fit to the draws would show
    here); ``at_bound``: the optimum sits on the edge of the search box (widen it).
    """

    params: AbmParams
    rmse: float
    observed: np.ndarray
    simulated: np.ndarray
    start: str
    fresh_rmse: float = float("nan")
    evaluations: int = 0
    at_bound: bool = False


def observed_target() -> tuple[np.ndarray, np.ndarray, str]:
    """(daily L2 share of active addresses, daily Ethereum median fee USD, first day)."""
    share = datasets.l2_share_of_users()
    frame = datasets.load_l2_daily()
    fee = frame[frame["chain"] == "ethereum"].set_index("date")["txcosts_median_usd"]
    fee = fee.reindex(share.index).ffill().bfill().fillna(2.0)
    return share.to_numpy(float), fee.to_numpy(float), share.index[0].date().isoformat()


def calibrate(
    n_agents: int = 20_000,
    seeds: int = 4,
    p_bounds: tuple[float, float] = (1e-6, 1e-2),
    q_bounds: tuple[float, float] = (1e-3, 0.3),
) -> Calibration:
    """Fit (p, q) by the RMSE of the mean simulated L2 share against the observed one.

    Search in log10 space: a grid with half-decade steps over the box, then
    Nelder-Mead from the grid's best point, clipped to the box. Every evaluation
    uses the same seeds (common random numbers), so differences between points are
    about the parameters, not about the draws; averaging over a few seeds keeps a
    rare early innovator from steering the fit.
    """
    from scipy.optimize import minimize

    observed, fee, start = observed_target()
    low = np.log10([p_bounds[0], q_bounds[0]])
    high = np.log10([p_bounds[1], q_bounds[1]])
    evaluations = 0

    def curve(x: np.ndarray, first_seed: int = 0) -> np.ndarray:
        p, q = 10.0 ** np.clip(x, low, high)
        params = replace(AbmParams(), p=float(p), q=float(q))
        runs = [
            simulate(n_agents, len(observed), params, l1_fee_usd=fee, seed=first_seed + s).l2_share
            for s in range(seeds)
        ]
        return np.mean(runs, axis=0)

    def error(x: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        return float(np.sqrt(np.mean((curve(x) - observed) ** 2)))

    grid = [
        np.array([a, b])
        for a in np.arange(low[0], high[0] + 1e-9, 0.5)
        for b in np.arange(low[1], high[1] + 1e-9, 0.5)
    ]
    start_point = min(grid, key=error)
    simplex = [start_point + np.array(step) for step in ((0, 0), (0.25, 0), (0, 0.05))]
    found = minimize(
        error,
        start_point,
        method="Nelder-Mead",
        options={"xatol": 0.01, "fatol": 1e-4, "initial_simplex": simplex},
    )
    x = np.clip(found.x, low, high)
    p, q = 10.0**x
    simulated = curve(x)
    fresh = curve(x, first_seed=1000)
    return Calibration(
        params=replace(AbmParams(), p=float(p), q=float(q)),
        rmse=float(np.sqrt(np.mean((simulated - observed) ** 2))),
        observed=observed,
        simulated=simulated,
        start=start,
        fresh_rmse=float(np.sqrt(np.mean((fresh - observed) ** 2))),
        evaluations=evaluations,
        at_bound=bool(np.any(np.isclose(x, low, atol=0.02) | np.isclose(x, high, atol=0.02))),
    )
