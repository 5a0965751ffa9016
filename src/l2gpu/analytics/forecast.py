"""Demand forecasting with statsforecast, judged by rolling-origin backtests.

Each candidate model is refitted at several forecast origins near the end of the
series and scored on the ``horizon`` points after each origin:

* MASE: mean absolute error over the in-sample mean absolute error of the
  seasonal naive forecast (same season) up to that origin. Below 1 means better
  than repeating the last season, which is the bar a forecaster must clear.
* sMAPE: mean of 2|y - f| / (|y| + |f|), in percent (0 where both are 0).

The candidates are statsforecast models plus ``Ensemble``, the median of every
candidate but the seasonal naive benchmark, backtested like the others. The model
with the lowest mean MASE is refitted on the recent series and gives the forecast;
its 95 % interval is conformal, from its own errors at each step of the backtest
windows. A series that never goes negative gets forecasts clipped at 0 (in the
backtest too).
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


ENSEMBLE = "Ensemble"
BENCHMARK = "SeasonalNaive"
WEEK_OF_HOURS = 168


def candidate_models(season: int, length: int | None = None) -> list[object]:
    """The statsforecast models compared in every backtest (``Ensemble`` aside).

    ``length`` is the number of training points; weekly-cycle models of hourly
    data need three weeks of them.
    """
    from statsforecast.models import (
        MSTL,
        AutoARIMA,
        AutoCES,
        AutoETS,
        AutoTheta,
        SeasonalNaive,
        SeasonalWindowAverage,
        WindowAverage,
    )

    weekly = season == 24 and (length is None or length >= 3 * WEEK_OF_HOURS)
    models: list[object] = [SeasonalNaive(season_length=season)]
    # Averages of the last few seasons (or the last day) are robust to the bursts
    # of job-arrival counts that trip the fitted models.
    if season > 1:
        models.append(SeasonalWindowAverage(season_length=season, window_size=4))
    if weekly:
        # the same hour one and two weeks back: the weekly cycle of hourly demand
        models.append(
            SeasonalWindowAverage(
                season_length=WEEK_OF_HOURS, window_size=2, alias="WeeklyWindowAverage"
            )
        )
    models.append(WindowAverage(window_size=max(season, 7)))
    models.append(AutoETS(season_length=season if season <= 24 else 1))
    models.append(AutoTheta(season_length=season))
    models.append(AutoCES(season_length=season if season <= 24 else 1))
    if season <= 12:
        models.append(AutoARIMA(season_length=season))
    else:
        # A seasonal ARIMA search over a 24-hour season takes minutes; an ARIMA on
        # the deseasonalized series (MSTL) is the same idea in under a second.
        models.append(
            MSTL(
                season_length=_cycles(season, weekly),
                trend_forecaster=AutoARIMA(season_length=1, max_p=2, max_q=2),
                alias="MSTL-ARIMA",
            )
        )
    if weekly:
        # hourly demand has a daily and a weekly cycle
        models.append(
            MSTL(
                season_length=_cycles(season, weekly),
                trend_forecaster=AutoETS(model="ZZN"),
                alias="MSTL-ETS",
            )
        )
    return models


def model_name(model: object) -> str:
    """The column statsforecast gives a model's forecasts."""
    return str(getattr(model, "alias", None) or repr(model))


def _cycles(season: int, weekly: bool) -> list[int]:
    return [season, WEEK_OF_HOURS] if weekly else [season]


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


@dataclass(frozen=True)
class Backtest:
    """Every candidate's rolling-origin scores, and its errors for the intervals.

    ``scores``: mean MASE and sMAPE over the windows (the CLI's ``backtest``);
    ``mae_ratio``: the model's MAE over the seasonal naive MAE on the same windows;
    ``errors``: actual - forecast, one row per window, one column per step;
    ``selected``: the model picked on the earlier windows only, scored on the next
    one (mean MASE over windows 2..n): the choice's own score, free of the
    optimism of picking the best backtest among many;
    ``models``: the candidates (the forecast refits the chosen one from here).
    """

    scores: dict[str, dict[str, float]]
    mae_ratio: dict[str, float]
    errors: dict[str, np.ndarray]
    selected_mase: float
    models: list[object]

    @property
    def best(self) -> str:
        """The lowest mean MASE (ties by name)."""
        return min(self.scores, key=lambda name: (self.scores[name]["mase"], name))


def run_backtest(
    y: np.ndarray, *, horizon: int, season: int, windows: int = BACKTEST_WINDOWS
) -> Backtest:
    """Rolling-origin backtest of every candidate and of their median ensemble."""
    from statsforecast import StatsForecast

    needed = max(2 * season, 10) + horizon * windows
    if len(y) < needed:
        raise L2gpuError(
            f"the series has {len(y)} points; a backtest of {windows} windows of "
            f"{horizon} steps with season {season} needs at least {needed}",
            "give a longer series, a shorter --horizon or a smaller --season",
        )
    if not np.all(np.isfinite(y)):
        raise L2gpuError(
            "the series has missing or infinite values", "fill or drop them before forecasting"
        )
    full = y
    offset = max(0, len(y) - (MAX_TRAIN + horizon * windows))
    y = y[offset:]
    models = candidate_models(season, len(y) - horizon * windows)
    engine = StatsForecast(models=models, freq=1, n_jobs=1)
    with warnings.catch_warnings():
        # statsmodels warns about every non-converged candidate; the backtest judges them
        warnings.simplefilter("ignore")
        result = engine.cross_validation(
            df=_frame(y), h=horizon, n_windows=windows, step_size=horizon
        )
    names = [model_name(m) for m in models]
    floor = 0.0 if np.all(full >= 0) else -np.inf
    mase_rows: dict[str, list[float]] = {n: [] for n in [*names, ENSEMBLE]}
    smape_rows: dict[str, list[float]] = {n: [] for n in mase_rows}
    mae_rows: dict[str, list[float]] = {n: [] for n in mase_rows}
    errors: dict[str, list[np.ndarray]] = {n: [] for n in mase_rows}
    for cutoff, window in result.sort_values(["cutoff", "ds"]).groupby("cutoff"):
        # the scale uses all history up to the origin, as M4's MASE does
        history = full[: offset + int(cutoff) + 1]
        actual = window["y"].to_numpy(float)
        predicted = {n: np.maximum(window[n].to_numpy(float), floor) for n in names}
        predicted[ENSEMBLE] = _ensemble(predicted)
        for name, values in predicted.items():
            mase_rows[name].append(mase(actual, values, history, season))
            smape_rows[name].append(smape(actual, values))
            mae_rows[name].append(float(np.mean(np.abs(actual - values))))
            errors[name].append(actual - values)
    benchmark = float(np.mean(mae_rows[BENCHMARK]))
    return Backtest(
        scores={
            n: {"mase": float(np.mean(mase_rows[n])), "smape": float(np.mean(smape_rows[n]))}
            for n in mase_rows
        },
        mae_ratio={
            n: float(np.mean(v)) / benchmark if benchmark > 0 else float("nan")
            for n, v in mae_rows.items()
        },
        errors={n: np.array(v) for n, v in errors.items()},
        selected_mase=_selected_mase(mase_rows),
        models=models,
    )


def _ensemble(predicted: dict[str, np.ndarray]) -> np.ndarray:
    members = [v for n, v in predicted.items() if n != BENCHMARK]
    return np.median(np.vstack(members), axis=0)


def _selected_mase(rows: dict[str, list[float]]) -> float:
    windows = len(next(iter(rows.values())))
    if windows < 2:
        return float("nan")
    picked = []
    for k in range(1, windows):
        name = min(rows, key=lambda n: (float(np.mean(rows[n][:k])), n))
        picked.append(rows[name][k])
    return float(np.mean(picked))


def backtest(
    y: np.ndarray, *, horizon: int, season: int, windows: int = BACKTEST_WINDOWS
) -> dict[str, dict[str, float]]:
    """Rolling-origin backtest of every candidate: mean MASE and sMAPE per model."""
    return run_backtest(y, horizon=horizon, season=season, windows=windows).scores


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

    if horizon < 1:
        raise L2gpuError(f"horizon {horizon} is not positive", "pass --horizon 1 or more")
    y = regular_values(series)
    season = season or season_for(series.axis.pandas_freq)
    tested = run_backtest(y, horizon=horizon, season=season)
    best = tested.best
    train = y[-MAX_TRAIN:]
    models = tested.models
    if best != ENSEMBLE:
        models = [m for m in models if model_name(m) == best]
    engine = StatsForecast(models=models, freq=1, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predicted = engine.forecast(df=_frame(train), h=horizon)
    floor = 0.0 if np.all(y >= 0) else -np.inf
    columns = {
        model_name(m): np.maximum(predicted[model_name(m)].to_numpy(float), floor) for m in models
    }
    mean = _ensemble(columns) if best == ENSEMBLE else columns[best]
    lo, hi = _conformal(mean, tested.errors[best])
    first = float(np.round(series.t[-1]))
    times = [series.axis.label(first + step) for step in range(1, horizon + 1)]
    return ForecastResult(
        model=best,
        times=times,
        mean=mean,
        lo=np.maximum(lo, floor),
        hi=hi,
        backtest=tested.scores,
    )


def _conformal(mean: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 95 % band from the backtest errors at each step (statsforecast's
    conformal_distribution: the quantiles of mean -/+ every past absolute error)."""
    spread = np.abs(errors)
    paths = np.vstack([mean - spread, mean + spread])
    alpha = (100 - LEVEL) / 200
    return np.quantile(paths, alpha, axis=0), np.quantile(paths, 1 - alpha, axis=0)
