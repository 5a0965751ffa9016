"""Demand forecasting with statsforecast, judged by rolling-origin backtests.

Each candidate model is refitted at several forecast origins near the end of the
series and scored on the ``horizon`` points after each origin:

* MASE: mean absolute error over the in-sample mean absolute error of the
  seasonal naive forecast (same season) up to that origin. Below 1 means better
  than repeating the last season, which is the bar a forecaster must clear.
* sMAPE: mean of 2|y - f| / (|y| + |f|), in percent (0 where both are 0).

The model with the lowest mean MASE is refitted on the whole series and gives the
forecast, with a 95 % conformal prediction interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from l2gpu.analytics.series import Series
from l2gpu.core.errors import L2gpuError

LEVEL = 95
BACKTEST_WINDOWS = 5
# AutoARIMA and AutoETS get slow on long hourly series; the last few weeks carry
# what matters for a forecast of the next day, so training stops looking back there.
MAX_TRAIN = 24 * 7 * 4

# season length by pandas frequency: one day of hours, one week of days, ...
_SEASONS = {"h": 24, "30min": 48, "D": 7, "W": 52, "MS": 12, "QS": 4, "YS": 1}


def season_for(freq: str) -> int:
    """The natural season of a frequency (1 when it has none we know)."""
    key = freq.split("-")[0]
    if key.startswith("W"):
        key = "W"
    return _SEASONS.get(key, 1)


def candidate_models(season: int) -> list[object]:
    """The statsforecast models compared in every backtest."""
    from statsforecast.models import (
        MSTL,
        AutoARIMA,
        AutoETS,
        AutoTheta,
        SeasonalNaive,
        SeasonalWindowAverage,
        WindowAverage,
    )

    models: list[object] = [SeasonalNaive(season_length=season)]
    # Averages of the last few seasons (or the last day) are robust to the bursts
    # of job-arrival counts that trip the fitted models.
    if season > 1:
        models.append(SeasonalWindowAverage(season_length=season, window_size=4))
    models.append(WindowAverage(window_size=max(season, 7)))
    models.append(AutoETS(season_length=season if season <= 24 else 1))
    models.append(AutoTheta(season_length=season))
    if season <= 12:
        models.append(AutoARIMA(season_length=season))
    else:
        # A seasonal ARIMA search over a 24-hour season takes minutes; an ARIMA on
        # the deseasonalized series (MSTL) is the same idea in under a second.
        models.append(
            MSTL(
                season_length=_cycles(season),
                trend_forecaster=AutoARIMA(season_length=1, max_p=2, max_q=2),
                alias="MSTL-ARIMA",
            )
        )
    if season == 24:
        # hourly demand has a daily and a weekly cycle
        models.append(
            MSTL(
                season_length=_cycles(season),
                trend_forecaster=AutoETS(model="ZZN"),
                alias="MSTL-ETS",
            )
        )
    return models


def _cycles(season: int) -> list[int]:
    return [24, 168] if season == 24 else [season]


def _frame(y: np.ndarray) -> pd.DataFrame:
    # Integer time stamps keep statsforecast away from calendar rules; the series'
    # own axis turns positions back into times.
    return pd.DataFrame({"unique_id": "s", "ds": np.arange(len(y)), "y": y.astype(float)})


def mase(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray, season: int) -> float:
    """Mean absolute scaled error against the in-sample seasonal naive forecast."""
    lag = season if len(history) > season else 1
    scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
    error = float(np.mean(np.abs(actual - predicted)))
    if scale == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / scale


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric mean absolute percentage error, in percent."""
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(
        2.0 * np.abs(actual - predicted),
        denominator,
        out=np.zeros_like(denominator, dtype=float),
        where=denominator > 0,
    )
    return float(100.0 * np.mean(ratio))


def backtest(
    y: np.ndarray, *, horizon: int, season: int, windows: int = BACKTEST_WINDOWS
) -> dict[str, dict[str, float]]:
    """Rolling-origin backtest of every candidate: mean MASE and sMAPE per model."""
    from statsforecast import StatsForecast

    needed = max(2 * season, 10) + horizon * windows
    if len(y) < needed:
        raise L2gpuError(
            f"the series has {len(y)} points; a backtest of {windows} windows of "
            f"{horizon} steps with season {season} needs at least {needed}",
            "give a longer series, a shorter --horizon or a smaller --season",
        )
    full = y
    offset = max(0, len(y) - (MAX_TRAIN + horizon * windows))
    y = y[offset:]
    if not np.all(np.isfinite(y)):
        raise L2gpuError(
            "the series has missing or infinite values", "fill or drop them before forecasting"
        )
    engine = StatsForecast(models=candidate_models(season), freq=1, n_jobs=1)
    with warnings.catch_warnings():
        # statsmodels warns about every non-converged candidate; the backtest judges them
        warnings.simplefilter("ignore")
        result = engine.cross_validation(
            df=_frame(y), h=horizon, n_windows=windows, step_size=horizon
        )
    names = [c for c in result.columns if c not in ("unique_id", "ds", "cutoff", "y")]
    scores: dict[str, dict[str, list[float]]] = {n: {"mase": [], "smape": []} for n in names}
    for cutoff, window in result.groupby("cutoff"):
        # the scale uses all history up to the origin, as M4's MASE does
        history = full[: offset + int(cutoff) + 1]
        actual = window["y"].to_numpy(float)
        for name in names:
            predicted = window[name].to_numpy(float)
            scores[name]["mase"].append(mase(actual, predicted, history, season))
            scores[name]["smape"].append(smape(actual, predicted))
    return {
        name: {"mase": float(np.mean(s["mase"])), "smape": float(np.mean(s["smape"]))}
        for name, s in scores.items()
    }


@dataclass(frozen=True)
class ForecastResult:
    """The chosen model, its forecast with a band, and every model's backtest."""

    model: str
    times: list[str]
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    backtest: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, object]:
        """The stable output shape of ``l2gpu forecast --json`` (issue #7)."""
        rows = [
            {"time": t, "mean": float(m), "lo": float(lo), "hi": float(hi)}
            for t, m, lo, hi in zip(self.times, self.mean, self.lo, self.hi, strict=True)
        ]
        return {"model": self.model, "forecast": rows, "backtest": self.backtest}


def regular_values(series: Series) -> np.ndarray:
    """Values on every step of the series' axis; a missing step is interpolated.

    Fails when the times do not fall on a regular grid (then --freq resamples).
    """
    positions = series.t
    if not np.allclose(positions, np.round(positions), atol=1e-6):
        raise L2gpuError(
            f"series '{series.name}' is not regularly spaced",
            "pass --freq (for example --freq h or --freq D) to resample it",
        )
    index = np.round(positions).astype(int)
    grid = np.arange(index[0], index[-1] + 1)
    return np.interp(grid, index, series.y)


def forecast_series(series: Series, *, horizon: int, season: int | None = None) -> ForecastResult:
    """Backtest every candidate, pick the lowest MASE, forecast ``horizon`` steps."""
    from statsforecast import StatsForecast
    from statsforecast.utils import ConformalIntervals

    if horizon < 1:
        raise L2gpuError(f"horizon {horizon} is not positive", "pass --horizon 1 or more")
    y = regular_values(series)
    season = season or season_for(series.axis.pandas_freq)
    scores = backtest(y, horizon=horizon, season=season)
    best = min(scores, key=lambda name: (scores[name]["mase"], name))
    model = next(
        m for m in candidate_models(season) if repr(m) == best or getattr(m, "alias", None) == best
    )
    engine = StatsForecast(models=[model], freq=1, n_jobs=1)
    train = y[-MAX_TRAIN:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Conformal intervals from the model's own backtest errors: every model gets
        # one, including the window averages that have no error model of their own.
        predicted = engine.forecast(
            df=_frame(train),
            h=horizon,
            level=[LEVEL],
            prediction_intervals=ConformalIntervals(h=horizon, n_windows=3),
        )
    first = float(np.round(series.t[-1]))
    times = [series.axis.label(first + step) for step in range(1, horizon + 1)]
    return ForecastResult(
        model=best,
        times=times,
        mean=predicted[best].to_numpy(float),
        lo=predicted[f"{best}-lo-{LEVEL}"].to_numpy(float),
        hi=predicted[f"{best}-hi-{LEVEL}"].to_numpy(float),
        backtest=scores,
    )
