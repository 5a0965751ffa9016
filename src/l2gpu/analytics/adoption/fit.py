"""Fitting adoption curves: least squares, model choice, bootstrap intervals, forecasts.

    fit_curve      one model, nonlinear least squares from several starts (scipy)
    choose_model   every model, the lowest AIC (BIC reported beside it)
    bootstrap      moving-block residual bootstrap of the chosen fit
    fit_adoption   the whole pipeline behind ``l2gpu adoption fit``

The data are scaled by their largest value before fitting, so that series of
fractions and series of millions converge alike; parameters are scaled back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from l2gpu.analytics.adoption.curves import MODELS, CurveModel, fraction, predict
from l2gpu.analytics.adoption.segments import SEGMENTS, segments_from_curve
from l2gpu.analytics.series import Series, TimeAxis
from l2gpu.core.errors import L2gpuError

MIN_POINTS = 5  # three parameters need a few more points than that to mean anything
LEVEL = 0.95  # confidence level of parameter intervals and forecast bands


@dataclass(frozen=True)
class CurveFit:
    """A fitted model on one series."""

    model: CurveModel
    theta: np.ndarray
    cumulative: bool
    n: int
    sse: float

    @property
    def rmse(self) -> float:
        """Root-mean-square error in the units of the data."""
        return float(np.sqrt(self.sse / self.n))

    @property
    def aic(self) -> float:
        """Akaike information criterion under Gaussian errors."""
        return _information(self.sse, self.n) + 2.0 * len(self.theta)

    @property
    def bic(self) -> float:
        """Bayesian information criterion under Gaussian errors."""
        return _information(self.sse, self.n) + len(self.theta) * float(np.log(self.n))

    def predict(self, t: np.ndarray) -> np.ndarray:
        """Fitted values at positions ``t``, in the data's units."""
        return predict(self.model, self.theta, t, cumulative=self.cumulative)


def _information(sse: float, n: int) -> float:
    # A perfect fit would make log(0); the floor keeps the criterion finite.
    return n * float(np.log(max(sse, 1e-300) / n))


def _data_total(y: np.ndarray, cumulative: bool) -> float:
    return float(np.max(y) if cumulative else np.sum(y))


def fit_curve(
    model: CurveModel,
    t: np.ndarray,
    y: np.ndarray,
    *,
    cumulative: bool,
    start: np.ndarray | None = None,
    max_evaluations: int = 2000,
) -> CurveFit:
    """Least-squares fit of ``model`` to (t, y); ``start`` skips the multi-start search."""
    scale = float(np.max(np.abs(y))) or 1.0
    ys = y / scale
    n = len(t)
    total = max(_data_total(ys, cumulative), 1e-9)
    low, high = model.bounds(n, total)
    starts = [start / _scale_vector(model, scale)] if start is not None else model.starts(n, total)

    def residuals(theta: np.ndarray) -> np.ndarray:
        return predict(model, theta, t, cumulative=cumulative) - ys

    best = None
    for guess in starts:
        guess = np.clip(guess, low + 1e-12, high - 1e-12)
        result = least_squares(
            residuals, guess, bounds=(low, high), method="trf", max_nfev=max_evaluations
        )
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    theta = best.x * _scale_vector(model, scale)
    sse = float(np.sum((predict(model, theta, t, cumulative=cumulative) - y) ** 2))
    return CurveFit(model, theta, cumulative, n, sse)


def _scale_vector(model: CurveModel, scale: float) -> np.ndarray:
    vector = np.ones(len(model.params))
    vector[model.scale_index] = scale
    return vector


def choose_model(
    t: np.ndarray, y: np.ndarray, *, cumulative: bool, models: tuple[str, ...] = tuple(MODELS)
) -> tuple[CurveFit, dict[str, CurveFit]]:
    """Fit every model; return the one with the lowest AIC and all fits by name."""
    fits = {name: fit_curve(MODELS[name], t, y, cumulative=cumulative) for name in models}
    best = min(fits.values(), key=lambda f: (f.aic, f.model.name))
    return best, fits


def bootstrap(
    fit: CurveFit, t: np.ndarray, y: np.ndarray, *, rounds: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Refit on resampled data; return (parameter draws, residuals of the original fit).

    Residuals of adoption series are autocorrelated (a busy week follows a busy
    week), so they are resampled in moving blocks rather than one by one.
    """
    fitted = fit.predict(t)
    residuals = y - fitted
    n = len(y)
    block = max(1, round(n ** (1 / 3)))
    draws = []
    for _ in range(rounds):
        starts = rng.integers(0, n - block + 1, size=int(np.ceil(n / block)))
        sample = np.concatenate([residuals[s : s + block] for s in starts])[:n]
        refit = fit_curve(
            fit.model,
            t,
            fitted + sample,
            cumulative=fit.cumulative,
            start=fit.theta,
            max_evaluations=200,
        )
        draws.append(refit.theta)
    return np.array(draws), residuals


@dataclass
class AdoptionResult:
    """What ``l2gpu adoption fit`` reports for one group (see :meth:`to_json`)."""

    series: Series
    fit: CurveFit
    candidates: dict[str, CurveFit]
    intervals: dict[str, tuple[float, float]]
    segments: dict[str, float | None]
    forecast_t: np.ndarray
    forecast: np.ndarray
    forecast_lo: np.ndarray
    forecast_hi: np.ndarray
    fitted_until: int = field(default=0)
    # the points the curves were fitted to (after leading zeros, up to --until)
    fitted_t: np.ndarray = field(default_factory=lambda: np.array([]))
    fitted_y: np.ndarray = field(default_factory=lambda: np.array([]))
    # 95 % bootstrap interval of each segment's start (positions; None: not reached)
    segment_intervals: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # set by :func:`l2gpu.analytics.adoption.judged.judge_adoption`: whose forecast is
    # shown and the nested backtest that chose it
    forecast_model: str | None = None
    backtest: dict[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        """The stable output shape of one group (issue #7, "Output shapes")."""
        axis = self.series.axis
        params = {
            name: {
                "value": float(value),
                "lo": self.intervals[name][0],
                "hi": self.intervals[name][1],
            }
            for name, value in zip(self.fit.model.params, self.fit.theta, strict=True)
        }
        segments = {name: _label(axis, pos) for name, pos in self.segments.items()}
        segment_intervals = {
            name: {"lo": _label(axis, lo), "hi": _label(axis, hi)}
            for name, (lo, hi) in self.segment_intervals.items()
        }
        forecast = [
            {"time": axis.label(float(pos)), "value": float(v), "lo": float(lo), "hi": float(hi)}
            for pos, v, lo, hi in zip(
                self.forecast_t, self.forecast, self.forecast_lo, self.forecast_hi, strict=True
            )
        ]
        shown: dict[str, object] = {
            "model": self.fit.model.name,
            "params": params,
            "rmse": self.fit.rmse,
            "segments": segments,
            "segment_intervals": segment_intervals,
            "forecast": forecast,
        }
        if self.backtest is not None:
            shown["forecast_model"] = self.forecast_model
            shown["backtest"] = self.backtest
        return shown


def _label(axis: TimeAxis, position: float | None) -> str | None:
    # A segment far outside the calendar pandas can hold has no date to print.
    if position is None:
        return None
    try:
        return axis.label(position, date_only=True)
    except (OverflowError, pd.errors.OutOfBoundsDatetime, ValueError):
        return None


def fit_adoption(
    series: Series,
    *,
    cumulative: bool,
    horizon: int = 0,
    until: float | None = None,
    rounds: int = 200,
    seed: int = 0,
    models: tuple[str, ...] = tuple(MODELS),
) -> AdoptionResult:
    """Choose and fit a curve, bootstrap its intervals, segment it and forecast it.

    ``until`` is a position: later points are left out of the fit (to judge a
    forecast against them). The forecast covers ``horizon`` periods after the
    last fitted point, with a ``LEVEL`` band from bootstrap curves plus resampled
    residuals.
    """
    keep = series.t <= until if until is not None else np.ones(len(series.t), dtype=bool)
    # Zeros before the first adoption mean "not launched yet" (a product generation,
    # a chain before mainnet); the curve starts at the first adoption.
    positive = np.nonzero(series.y > 0)[0]
    if len(positive):
        keep &= np.arange(len(series.t)) >= positive[0]
    t, y = series.t[keep], series.y[keep]
    if len(t) < MIN_POINTS:
        raise L2gpuError(
            f"series '{series.name}' has {len(t)} points to fit, fewer than {MIN_POINTS}",
            "give more data or a later --until",
        )
    if _data_total(y, cumulative) <= 0:
        raise L2gpuError(
            f"series '{series.name}' has no adoption (all values <= 0)", "check the value column"
        )
    if not cumulative and np.any(y < 0):
        raise L2gpuError(
            f"series '{series.name}' has negative per-period adoptions",
            "pass --cumulative if the column is a running total or a level",
        )
    fit, candidates = choose_model(t, y, cumulative=cumulative, models=models)
    rng = np.random.default_rng(seed)
    draws, residuals = bootstrap(fit, t, y, rounds=rounds, rng=rng)
    tail = (1.0 - LEVEL) / 2.0
    intervals = {
        name: (float(np.quantile(draws[:, i], tail)), float(np.quantile(draws[:, i], 1 - tail)))
        for i, name in enumerate(fit.model.params)
    }
    last = float(t[-1])
    future = last + np.arange(1, horizon + 1, dtype=float)
    paths = np.array([predict(fit.model, theta, future, cumulative=cumulative) for theta in draws])
    if horizon:
        paths = paths + rng.choice(residuals, size=paths.shape)
    lo = np.quantile(paths, tail, axis=0) if horizon else np.array([])
    hi = np.quantile(paths, 1 - tail, axis=0) if horizon else np.array([])
    segments = segments_from_curve(lambda x: fraction(fit.model, fit.theta, x), span=(t[0], last))
    assert set(segments) == set(SEGMENTS)
    return AdoptionResult(
        series,
        fit,
        candidates,
        intervals,
        segments,
        future,
        fit.predict(future),
        lo,
        hi,
        len(t),
        fitted_t=t,
        fitted_y=y,
        segment_intervals=segment_intervals(fit.model, draws, (t[0], last)),
    )


def _share(model: CurveModel, theta: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: fraction(model, theta, x)


def segment_intervals(
    model: CurveModel, draws: np.ndarray, span: tuple[float, float]
) -> dict[str, tuple[float | None, float | None]]:
    """The ``LEVEL`` interval of each segment's start over the bootstrap curves.

    A draw whose curve never reaches a segment counts as reaching it later than any
    other draw: the upper end is then None (not reached within the search span).
    """
    starts = [segments_from_curve(_share(model, theta), span) for theta in draws]
    tail = (1.0 - LEVEL) / 2.0
    result: dict[str, tuple[float | None, float | None]] = {}
    for name in SEGMENTS:
        values = np.array([np.inf if s[name] is None else s[name] for s in starts], dtype=float)
        # order statistics, not interpolation: a draw that never gets there is +inf
        lo, hi = (float(np.quantile(values, q, method="inverted_cdf")) for q in (tail, 1 - tail))
        result[name] = (lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
    return result
