"""Checking the two implementations against each other, and calibrating to real data.

compare_engines   same parameters, several seeds each: the largest gap between
                  the mean L2-share curves, in standard errors of that gap
calibrate         grid search of the innovation and imitation rates against the
                  observed share of users on L2s (growthepie, 2021-2023)
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
    """The best parameters on the grid and the fit error they leave."""

    params: AbmParams
    rmse: float
    observed: np.ndarray
    simulated: np.ndarray
    start: str


def observed_target() -> tuple[np.ndarray, np.ndarray, str]:
    """(daily L2 share of active addresses, daily Ethereum median fee USD, first day)."""
    share = datasets.l2_share_of_users()
    frame = datasets.load_l2_daily()
    fee = frame[frame["chain"] == "ethereum"].set_index("date")["txcosts_median_usd"]
    fee = fee.reindex(share.index).ffill().bfill().fillna(2.0)
    return share.to_numpy(float), fee.to_numpy(float), share.index[0].date().isoformat()


def calibrate(
    n_agents: int = 20_000,
    seed: int = 0,
    p_grid: tuple[float, ...] = (1e-4, 2e-4, 4e-4, 8e-4, 1.6e-3),
    q_grid: tuple[float, ...] = (0.005, 0.01, 0.02, 0.04, 0.08),
) -> Calibration:
    """Grid search of (p, q) minimizing the RMSE against the observed L2 share.

    The same seed for every point of the grid (common random numbers) makes the
    comparison between grid points about the parameters, not about the draws.
    """
    observed, fee, start = observed_target()
    best: Calibration | None = None
    for p in p_grid:
        for q in q_grid:
            params = replace(AbmParams(), p=p, q=q)
            run = simulate(n_agents, len(observed), params, l1_fee_usd=fee, seed=seed)
            rmse = float(np.sqrt(np.mean((run.l2_share - observed) ** 2)))
            if best is None or rmse < best.rmse:
                best = Calibration(params, rmse, observed, run.l2_share, start)
    assert best is not None
    return best
