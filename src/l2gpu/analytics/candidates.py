"""The models a backtest compares, each with central intervals at the asked levels.

Baselines (numpy, with the textbook Gaussian intervals of Hyndman & Athanasopoulos,
*Forecasting: Principles and Practice*, section 5.5), which every other model must beat:

    Naive           the last value; sigma sqrt(h)
    SeasonalNaive   the same point one season back; sigma sqrt(number of seasons ahead)
    Drift           the line through the first and last values; sigma sqrt(h (1 + h / T))
    TrailingMean    the mean of the last w points (28 days, a week of hours); sd sqrt(1 + 1/w)

statsforecast models (their own intervals): AutoETS, AutoTheta, AutoCES, AutoARIMA
(seasons up to 12), MSTL with an ARIMA or ETS trend (daily and weekly cycles of hourly
data), and LightGBM on lag features for hourly series (:mod:`l2gpu.analytics.gbm`).
Adoption series add the S-curves of :mod:`l2gpu.analytics.adoption` three ways:
as fitted (``SCurve``), and anchored at the recent level with the curve's growth
damped (``SCurve-damped``) or capped at the highest level seen (``SCurve-capped``).

Every model sees only the values before its origin. The heavy fits look back at most
``max_train`` points (a year of days, four weeks of hours); the S-curves see the whole
history, since saturation is a property of all of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from l2gpu.analytics.backtest import Candidate, Forecast

if TYPE_CHECKING:
    from l2gpu.analytics.adoption.fit import CurveFit

WEEK_OF_HOURS = 168


def _z(level: int) -> float:
    return NormalDist().inv_cdf(0.5 + level / 200.0)


def _gaussian(mean: np.ndarray, sd: np.ndarray, levels: tuple[int, ...]) -> Forecast:
    return Forecast(mean, {lv: (mean - _z(lv) * sd, mean + _z(lv) * sd) for lv in levels})


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2))) if len(values) else 0.0


def _need(y: np.ndarray, points: int, model: str) -> None:
    if len(y) < points:
        raise ValueError(f"{model} needs {points} points, has {len(y)}")


# -- baselines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Naive:
    """Tomorrow is today: the last value repeated."""

    name: str = "Naive"

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """The last value; a random walk's interval, widening with sqrt(h)."""
        _need(y, 2, self.name)
        steps = np.arange(1, horizon + 1, dtype=float)
        return _gaussian(np.full(horizon, y[-1]), _rms(np.diff(y)) * np.sqrt(steps), levels)


@dataclass(frozen=True)
class SeasonalNaive:
    """The value one season back, season after season."""

    season: int
    name: str = "SeasonalNaive"

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """The last season repeated; the interval widens with each season ahead."""
        _need(y, self.season + 1, self.name)
        last = y[-self.season :]
        steps = np.arange(horizon)
        sigma = _rms(y[self.season :] - y[: -self.season])
        seasons_ahead = steps // self.season + 1
        return _gaussian(last[steps % self.season], sigma * np.sqrt(seasons_ahead), levels)


@dataclass(frozen=True)
class Drift:
    """The line through the first and the last value, extended."""

    name: str = "Drift"

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """The last value plus the average change per step so far, h times."""
        _need(y, 3, self.name)
        length = len(y)
        slope = (y[-1] - y[0]) / (length - 1)
        steps = np.arange(1, horizon + 1, dtype=float)
        residuals = np.diff(y) - slope
        sigma = float(np.sqrt(np.sum(residuals**2) / (length - 2)))
        sd = sigma * np.sqrt(steps * (1.0 + steps / (length - 1)))
        return _gaussian(y[-1] + slope * steps, sd, levels)


@dataclass(frozen=True)
class TrailingMean:
    """The mean of the last ``window`` values (all of them while there are fewer), flat."""

    window: int
    name: str = "TrailingMean"

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """The recent mean; the interval of the mean method (spread of the window)."""
        _need(y, 2, self.name)
        recent = y[-self.window :]
        sd = float(np.std(recent, ddof=1)) * np.sqrt(1.0 + 1.0 / len(recent))
        return _gaussian(np.full(horizon, float(np.mean(recent))), np.full(horizon, sd), levels)


def trailing_window(season: int) -> int:
    """The trailing mean's window: four weeks of days, one week of hours, else 4 seasons."""
    return {7: 28, 24: WEEK_OF_HOURS}.get(season, max(4 * season, 4))


def baselines(season: int) -> list[Candidate]:
    """The four baselines for a series with this season."""
    return [Naive(), SeasonalNaive(season), Drift(), TrailingMean(trailing_window(season))]


BASELINE_NAMES = ("Naive", "SeasonalNaive", "Drift", "TrailingMean")


# -- statsforecast ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsModel:
    """A statsforecast model, built fresh for every fit, on at most ``max_train`` points."""

    name: str
    build: Callable[[], object]
    max_train: int

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """Fit on the recent values and forecast with the model's own intervals."""
        model = self.build()
        with warnings.catch_warnings():
            # statsmodels and statsforecast warn on every hard window; the backtest judges
            warnings.simplefilter("ignore")
            out = model.forecast(  # type: ignore[attr-defined]
                y=np.ascontiguousarray(y[-self.max_train :], dtype=float),
                h=horizon,
                level=list(levels),
            )
        mean = np.asarray(out["mean"], dtype=float)
        bands = {
            lv: (np.asarray(out[f"lo-{lv}"], float), np.asarray(out[f"hi-{lv}"], float))
            for lv in levels
        }
        return Forecast(mean, bands)


def max_train_for(season: int) -> int:
    """How far back the statsforecast models look: four weeks of hours, else a year of days."""
    return 4 * WEEK_OF_HOURS if season == 24 else 364


def statistical(season: int, shortest_train: int) -> list[Candidate]:
    """statsforecast's models for a season, given the shortest training window."""
    from statsforecast.models import MSTL, AutoARIMA, AutoCES, AutoETS, AutoTheta

    limit = max_train_for(season)
    # ETS and CES take seasons up to 24; longer ones go through MSTL.
    short = season if season <= 24 else 1
    weekly = season == 24 and min(shortest_train, limit) >= 3 * WEEK_OF_HOURS
    cycles = [season, WEEK_OF_HOURS] if weekly else [season]
    models: list[Candidate] = [
        StatsModel("AutoETS", lambda: AutoETS(season_length=short), limit),
        StatsModel("AutoTheta", lambda: AutoTheta(season_length=season), limit),
        StatsModel("AutoCES", lambda: AutoCES(season_length=short), limit),
        StatsModel(
            "MSTL-ETS",
            lambda: MSTL(season_length=cycles, trend_forecaster=AutoETS(model="ZZN")),
            limit,
        ),
    ]
    if season <= 12:
        # The exact likelihood in the order search took 8-11 s a fit on a year of days;
        # the approximation (CSS during the search, exact for the final fit) takes 1 s.
        models.append(
            StatsModel(
                "AutoARIMA", lambda: AutoARIMA(season_length=season, approximation=True), limit
            )
        )
    else:
        # A seasonal ARIMA search over a 24-hour season takes seconds per fit; an ARIMA
        # on the deseasonalized series (MSTL) is the same idea in a fraction of it.
        models.append(
            StatsModel(
                "MSTL-ARIMA",
                lambda: MSTL(
                    season_length=cycles,
                    trend_forecaster=AutoARIMA(season_length=1, max_p=2, max_q=2),
                ),
                limit,
            )
        )
    if weekly:
        models.append(SeasonalNaive(WEEK_OF_HOURS, name="WeeklyNaive"))
    if season < 2:
        # no cycle for MSTL to take out
        models = [m for m in models if not m.name.startswith("MSTL")]
    return models


# -- S-curves ------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _curve_fit(values: bytes, cumulative: bool) -> tuple[CurveFit, int]:
    # The three S-curve candidates of one origin share one fit (keyed by the values).
    from l2gpu.analytics.adoption.fit import MIN_POINTS, choose_model

    y = np.frombuffer(values, dtype=float)
    positive = np.nonzero(y > 0)[0]
    if len(positive) == 0:
        raise ValueError("no adoption yet (all values <= 0)")
    y = y[positive[0] :]
    if len(y) < MIN_POINTS:
        raise ValueError(f"{len(y)} points since the first adoption, fewer than {MIN_POINTS}")
    if not cumulative and np.any(y < 0):
        raise ValueError("negative per-period adoptions")
    best, _ = choose_model(np.arange(len(y), dtype=float), y, cumulative=cumulative)
    return best, len(y)


@dataclass(frozen=True)
class SCurve:
    """The AIC-chosen S-curve (Bass, logistic, Gompertz) of the history since launch.

    ``mode``: ``fitted`` extends the curve as it is; ``damped`` starts from the mean of
    the last season and adds the curve's growth step by step, multiplied by
    ``damping`` to the power of the step (a damped trend: about 1 / (1 - damping)
    steps of growth in all); ``capped`` adds the curve's growth but never goes above
    the highest value seen.
    """

    cumulative: bool
    season: int
    mode: str = "fitted"
    damping: float = 0.9

    @property
    def name(self) -> str:
        """``SCurve``, ``SCurve-damped`` or ``SCurve-capped``."""
        return "SCurve" if self.mode == "fitted" else f"SCurve-{self.mode}"

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """The curve's path after the history, in the mode's way."""
        y = np.ascontiguousarray(y, dtype=float)
        fit, fitted_points = _curve_fit(y.tobytes(), self.cumulative)
        since = len(y) - fitted_points  # position 0 of the fit is the first adoption
        positions = np.arange(len(y) - 1, len(y) + horizon, dtype=float) - since
        path = fit.predict(positions)
        recent = max(4 * self.season, horizon, 10)
        steps = np.arange(1, horizon + 1, dtype=float)
        if self.mode == "fitted":
            fitted = fit.predict(np.arange(float(fitted_points)))
            sigma = _rms((y[since:] - fitted)[-recent:])
            return _gaussian(path[1:], np.full(horizon, sigma), levels)
        anchor = float(np.mean(y[-max(self.season, 1) :]))
        growth = np.diff(path)
        if self.mode == "damped":
            mean = anchor + np.cumsum(growth * self.damping**steps)
        elif self.mode == "capped":
            mean = np.minimum(anchor + np.cumsum(growth), max(float(np.max(y)), anchor))
        else:
            raise ValueError(f"unknown S-curve mode '{self.mode}'")
        # anchored at the recent level, the error grows like a random walk's
        sigma = _rms(np.diff(y[-recent - 1 :]))
        return _gaussian(mean, sigma * np.sqrt(steps), levels)


def s_curves(cumulative: bool, season: int) -> list[Candidate]:
    """The three S-curve candidates of an adoption series."""
    return [SCurve(cumulative, season, mode) for mode in ("fitted", "damped", "capped")]


def candidates_for(
    season: int, shortest_train: int, *, adoption: bool = False, cumulative: bool = True
) -> list[Candidate]:
    """Baselines first (they win ties), then statsforecast, then S-curves for adoption."""
    found = baselines(season) + statistical(season, shortest_train)
    if season == 24:
        from l2gpu.analytics.gbm import GradientBoosting

        # LightGBM earned its place on hourly demand only (docs/forecasts.md)
        found.append(GradientBoosting(season, max_train_for(season)))
    if adoption:
        found += s_curves(cumulative, season)
    return found
