"""A gradient-boosted forecaster: LightGBM on lag features, one model for every step.

Each training row is an origin ``i`` inside the training window and a step ``h``
ahead; the target is the value at ``i + h`` over the origin's level (the mean of its
last season), so that one model learns the shape of the cycle whatever the level.
Features: the step, the target's phase in the season (and in the week, for hours),
the values one season (and one week) before the target, the last value and the mean
of the last four seasons, all over the level. One model per quantile (LightGBM's
pinball loss) gives the median, used as the point forecast, and the interval bounds;
the quantiles are sorted step by step so that they never cross.

Why this model and not mlforecast: LightGBM needs only numpy and scipy, which are
already here; mlforecast would add optuna, scikit-learn and joblib for the same
trees. The backtests in docs/forecasts.md say where it earns its place: on the
hourly demand series, so the candidates include it there only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.backtest import Forecast

WEEK_OF_HOURS = 168
# at most this many distinct steps per origin in the training rows (evenly spread)
STEPS = 24
PARAMS = {
    "objective": "quantile",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "verbose": -1,
    "num_threads": 1,
    "deterministic": True,
    "seed": 0,
}
ROUNDS = 100


@dataclass(frozen=True)
class GradientBoosting:
    """LightGBM quantile regressions on lag features (see the module docstring)."""

    season: int
    max_train: int
    name: str = "LightGBM"

    @property
    def _cycles(self) -> tuple[int, ...]:
        return (self.season, WEEK_OF_HOURS) if self.season == 24 else (self.season,)

    def _features(self, y: np.ndarray, origins: np.ndarray, step: int) -> np.ndarray:
        """Rows of features for a forecast ``step`` ahead of each origin (last index seen)."""
        season = self.season
        target = origins + step
        level = self._level(y, origins)
        columns = [np.full(len(origins), float(step))]
        for cycle in self._cycles:
            columns.append((target % cycle).astype(float))
            back = cycle * ((step - 1) // cycle + 1)  # the same phase, seen by the origin
            columns.append(y[target - back] / level)
        columns.append(y[origins] / level)
        window = 4 * season
        sums = np.concatenate([[0.0], np.cumsum(y)])
        columns.append((sums[origins + 1] - sums[origins + 1 - window]) / window / level)
        return np.column_stack(columns)

    def _level(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        sums = np.concatenate([[0.0], np.cumsum(y)])
        level = (sums[origins + 1] - sums[origins + 1 - self.season]) / self.season
        # a season of zeros (a quiet night of requests) would divide by zero
        return np.maximum(level, 0.1 * float(np.mean(np.abs(y))) + 1e-9)

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """Train on the recent values, forecast ``horizon`` steps with quantile bands."""
        import lightgbm as lgb

        y = np.asarray(y, dtype=float)[-self.max_train :]
        first = max(4 * self.season, max(self._cycles)) - 1
        steps = np.unique(np.linspace(1, horizon, min(horizon, STEPS)).round().astype(int))
        rows, targets = [], []
        for step in steps:
            origins = np.arange(first, len(y) - step)
            if len(origins):
                rows.append(self._features(y, origins, int(step)))
                targets.append(y[origins + step] / self._level(y, origins))
        if sum(len(t) for t in targets) < 10 * len(steps):
            raise ValueError(f"{self.name} needs more history than {len(y)} points")
        data = lgb.Dataset(np.vstack(rows), np.concatenate(targets))
        last = np.array([len(y) - 1])
        future = np.vstack([self._features(y, last, h) for h in range(1, horizon + 1)])
        tails = sorted({round((1 - lv / 100) / 2, 6) for lv in levels})
        quantiles = [*tails, 0.5, *(round(1 - t, 6) for t in reversed(tails))]
        paths = [
            lgb.train({**PARAMS, "alpha": q}, data, num_boost_round=ROUNDS).predict(future)
            for q in quantiles
        ]
        ordered = np.sort(np.vstack(paths), axis=0) * self._level(y, last)[0]
        by_quantile = dict(zip(quantiles, ordered, strict=True))
        bands = {
            lv: (
                by_quantile[round((1 - lv / 100) / 2, 6)],
                by_quantile[round(1 - (1 - lv / 100) / 2, 6)],
            )
            for lv in levels
        }
        return Forecast(by_quantile[0.5], bands)
