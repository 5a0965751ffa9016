"""Rolling-origin evaluation: the judge that every forecast of l2gpu must pass.

    Forecast       one model's mean path from one origin, with central intervals
    Candidate      what a model offers the judge: a forecast from the values so far
    plan_origins   where the origins fall: an expanding training window, a fixed horizon
    run_backtest   every candidate at every origin, then the median ensembles
    Backtest       the per-origin record; metrics, nested choice and the final choice
                   live in :mod:`l2gpu.analytics.selection`

An origin is a count of observed points: the candidates see ``y[:origin]`` and
forecast ``y[origin:origin + horizon]``. Nothing here knows a model library, reads a
clock or draws a random number: the same values and candidates give the same record.

A candidate that fails at an origin (a fit that does not converge, a series its
model cannot take) is recorded with its reason; it then takes no part in a choice
that needs that origin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from l2gpu.core.errors import L2gpuError
from l2gpu.core.progress import OnProgress, no_progress

MIN_ORIGINS = 8
LEVELS = (80, 95)
# A choice made on fewer earlier windows than this is not a choice worth scoring.
MIN_SELECTION = 2
# Fewer scored origins than this cannot tell a forecaster from luck.
MIN_SCORED = 3


@dataclass(frozen=True)
class Forecast:
    """A mean path and, per level in percent, the central interval ``(lo, hi)``."""

    mean: np.ndarray
    bands: Mapping[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def quantiles(self) -> dict[float, np.ndarray]:
        """The path as quantiles: 0.5 is the mean, level L gives (1 - L/100) / 2 and its mirror."""
        result = {0.5: self.mean}
        for level, (lo, hi) in self.bands.items():
            tail = round((1.0 - level / 100.0) / 2.0, 6)
            result[tail] = lo
            result[round(1.0 - tail, 6)] = hi
        return dict(sorted(result.items()))

    def floored(self, floor: float) -> Forecast:
        """The same forecast with every value below ``floor`` raised to it."""
        return Forecast(
            np.maximum(self.mean, floor),
            {
                lv: (np.maximum(lo, floor), np.maximum(hi, floor))
                for lv, (lo, hi) in self.bands.items()
            },
        )


def median_forecast(members: Sequence[Forecast]) -> Forecast:
    """The step-by-step median of several forecasts: of the means and of each bound.

    A median keeps the order of its inputs, so lo <= mean <= hi still holds.
    """
    levels = set.intersection(*(set(f.bands) for f in members))
    return Forecast(
        np.median(np.vstack([f.mean for f in members]), axis=0),
        {
            level: (
                np.median(np.vstack([f.bands[level][0] for f in members]), axis=0),
                np.median(np.vstack([f.bands[level][1] for f in members]), axis=0),
            )
            for level in sorted(levels)
        },
    )


class Candidate(Protocol):
    """A forecasting model as the backtest sees it."""

    @property
    def name(self) -> str:
        """The model's name in every report."""
        ...

    def forecast(self, y: np.ndarray, horizon: int, levels: tuple[int, ...]) -> Forecast:
        """Forecast ``horizon`` steps after ``y`` with intervals at ``levels``."""
        ...


@dataclass(frozen=True)
class Plan:
    """Where a backtest's origins fall on a series of ``length`` points."""

    length: int
    horizon: int
    season: int
    origins: tuple[int, ...]

    @property
    def step(self) -> int:
        """Points between consecutive origins."""
        return self.origins[1] - self.origins[0]

    def completed_before(self, k: int) -> tuple[int, ...]:
        """Origins whose whole test window was observed by origin ``k``."""
        return tuple(j for j in range(k) if self.origins[j] + self.horizon <= self.origins[k])

    def selection_origins(self, k: int) -> tuple[int, ...]:
        """The origins a choice at origin ``k`` may look at.

        The completed ones, less those that had no completed origin before them: a
        ranked ensemble has no forecast there, and every candidate must be compared
        on the same windows.
        """
        return tuple(j for j in self.completed_before(k) if self.completed_before(j))

    def final_selection_origins(self) -> tuple[int, ...]:
        """What a choice at the end of the series looks at: every origin with a ranking."""
        return tuple(j for j in range(len(self.origins)) if self.completed_before(j))

    def scored(self) -> tuple[int, ...]:
        """Origins at which a nested choice is made and scored."""
        return tuple(
            k for k in range(len(self.origins)) if len(self.selection_origins(k)) >= MIN_SELECTION
        )


def plan_origins(
    length: int,
    horizon: int,
    *,
    season: int,
    origins: int = MIN_ORIGINS,
    step: int | None = None,
    min_train: int | None = None,
    name: str = "the series",
) -> Plan:
    """Place ``origins`` origins, ``step`` apart, with the last window ending at the end.

    Without ``step`` the windows tile the end of the series (step = horizon); a series
    too short for that gets overlapping windows, as far apart as it allows. Raises an
    :class:`L2gpuError` that names the shortfall when the series cannot give a nested
    backtest.
    """
    if horizon < 1:
        raise L2gpuError(f"horizon {horizon} is not positive", "pass --horizon 1 or more")
    if origins < MIN_ORIGINS:
        raise L2gpuError(
            f"{origins} origins are too few to judge a forecast",
            f"pass --origins {MIN_ORIGINS} or more",
        )
    if step is not None and step < 1:
        raise L2gpuError(f"step {step} is not positive", "pass --step 1 or more")
    min_train = min_train or max(2 * season, 10)
    room = length - min_train - horizon
    if step is None:
        step = min(horizon, room // (origins - 1)) if room > 0 else 0
    needed = min_train + (origins - 1) * max(step, 1) + horizon
    if step < 1 or length < needed:
        raise L2gpuError(
            f"{name} has {length} points; a backtest from {origins} origins, {horizon} "
            f"steps ahead, after {min_train} training points needs at least {needed}",
            "give a longer series or a shorter --horizon",
        )
    last = length - horizon
    plan = Plan(
        length, horizon, season, tuple(last - (origins - 1 - k) * step for k in range(origins))
    )
    if len(plan.scored()) < MIN_SCORED:
        apart = min_train + origins * horizon
        raise L2gpuError(
            f"{name} has {length} points: its {origins} test windows of {horizon} steps, "
            f"{step} apart, overlap so much that only {len(plan.scored())} origins can be "
            f"scored on a choice made before them (at least {MIN_SCORED} are needed); "
            f"a nested backtest with windows that do not overlap needs at least {apart} points",
            "give a longer series, a shorter --horizon or more --origins",
        )
    return plan


def mase_scale(history: np.ndarray, season: int) -> float:
    """The in-sample mean absolute error of the seasonal naive forecast (M4's MASE scale).

    A history no longer than one season falls back to the naive (lag 1) error.
    """
    lag = season if len(history) > season else 1
    if len(history) <= lag:
        return float("nan")
    return float(np.mean(np.abs(history[lag:] - history[:-lag])))


@dataclass(frozen=True)
class Backtest:
    """Every candidate's forecast at every origin, and what was actually observed.

    ``forecasts[name][k]`` is None where the candidate failed (``failures`` says why)
    or, for an ensemble, where no earlier window ranked its members. ``names`` keeps
    the candidates' order: ties in a choice go to the one named first.
    """

    plan: Plan
    names: tuple[str, ...]
    baselines: tuple[str, ...]
    ensembles: Mapping[str, int]
    actual: tuple[np.ndarray, ...]
    scales: tuple[float, ...]
    forecasts: Mapping[str, tuple[Forecast | None, ...]]
    failures: Mapping[str, tuple[str, ...]]
    levels: tuple[int, ...] = LEVELS

    def mase_at(self, name: str, k: int) -> float:
        """MAE of ``name`` at origin ``k`` over the MASE scale there (NaN if it has none)."""
        forecast = self.forecasts[name][k]
        if forecast is None:
            return float("nan")
        error = float(np.mean(np.abs(self.actual[k] - forecast.mean)))
        scale = self.scales[k]
        if scale == 0.0 or math.isnan(scale):
            return 0.0 if error == 0.0 else math.inf
        return error / scale

    def defined(self, name: str, origins: Sequence[int]) -> bool:
        """Whether ``name`` has a forecast at each of ``origins``."""
        return all(self.forecasts[name][k] is not None for k in origins)


def run_backtest(
    y: np.ndarray,
    candidates: Sequence[Candidate],
    plan: Plan,
    *,
    baselines: Sequence[str],
    ensembles: Sequence[int] = (3,),
    levels: tuple[int, ...] = LEVELS,
    floor: float | None = None,
    on_progress: OnProgress = no_progress,
    label: str = "backtest",
) -> Backtest:
    """Forecast from every origin with every candidate, then add ``Median-topK`` ensembles.

    ``floor`` (0 for a series that cannot go negative) is applied to every forecast
    alike. ``baselines`` name the candidates every other one is measured against.
    ``on_progress(done, total, label)`` hears of each forecast made, of origins ×
    candidates in all.
    """
    y = np.asarray(y, dtype=float)
    if len(y) != plan.length:
        raise ValueError(f"plan for {plan.length} points, series of {len(y)}")
    names = tuple(c.name for c in candidates)
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names repeat: {names}")
    missing = [b for b in baselines if b not in names]
    if missing:
        raise ValueError(f"baselines {missing} are not candidates")
    forecasts: dict[str, list[Forecast | None]] = {n: [] for n in names}
    failures: dict[str, list[str]] = {n: [] for n in names}
    total, done = len(plan.origins) * len(candidates), 0
    on_progress(0, total, label)
    for origin in plan.origins:
        train = y[:origin]
        for candidate in candidates:
            made, reason = _forecast_or_reason(candidate, train, plan.horizon, levels)
            if made is not None and floor is not None:
                made = made.floored(floor)
            forecasts[candidate.name].append(made)
            if reason:
                failures[candidate.name].append(f"origin {origin}: {reason}")
            done += 1
            on_progress(done, total, label)
    base = Backtest(
        plan=plan,
        names=names,
        baselines=tuple(baselines),
        ensembles={},
        actual=tuple(y[o : o + plan.horizon] for o in plan.origins),
        scales=tuple(mase_scale(y[:o], plan.season) for o in plan.origins),
        forecasts={n: tuple(v) for n, v in forecasts.items()},
        failures={n: tuple(v) for n, v in failures.items() if v},
        levels=levels,
    )
    return _with_ensembles(base, ensembles)


def _forecast_or_reason(
    candidate: Candidate, train: np.ndarray, horizon: int, levels: tuple[int, ...]
) -> tuple[Forecast | None, str]:
    try:
        made = candidate.forecast(train, horizon, levels)
    # A third-party fit can fail in many ways on one window; the failure is recorded
    # and reported, and the candidate sits out the choices that need that window.
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    paths = [made.mean, *(b for pair in made.bands.values() for b in pair)]
    if any(np.shape(p) != (horizon,) or not np.all(np.isfinite(p)) for p in paths):
        return None, "forecast of the wrong length or with non-finite values"
    if set(made.bands) != set(levels):
        return None, f"intervals at {sorted(made.bands)}, not at {list(levels)}"
    return made, ""


def rank(backtest: Backtest, origins: Sequence[int], names: Sequence[str]) -> list[str]:
    """``names`` defined at every one of ``origins``, by mean MASE there (ties: order)."""
    usable = [n for n in names if backtest.defined(n, origins)]
    if not origins:
        return usable

    def mean_mase(name: str) -> float:
        return float(np.mean([backtest.mase_at(name, k) for k in origins]))

    order = {n: i for i, n in enumerate(names)}
    return sorted(usable, key=lambda n: (mean_mase(n), order[n]))


def _with_ensembles(backtest: Backtest, sizes: Sequence[int]) -> Backtest:
    """Add ``Median-topK``: at each origin, the median of the K candidates ranked best
    on the windows completed before it (none where no window was)."""
    forecasts = dict(backtest.forecasts)
    ensembles: dict[str, int] = {}
    for size in sizes:
        if size < 2 or size > len(backtest.names):
            continue
        name = f"Median-top{size}"
        path: list[Forecast | None] = []
        for k in range(len(backtest.plan.origins)):
            before = backtest.plan.completed_before(k)
            ranked = [
                n for n in rank(backtest, before, backtest.names) if forecasts[n][k] is not None
            ]
            members = [forecasts[n][k] for n in ranked[:size]] if before else []
            present = [m for m in members if m is not None]
            path.append(median_forecast(present) if len(present) == size else None)
        forecasts[name] = tuple(path)
        ensembles[name] = size
    return Backtest(
        plan=backtest.plan,
        names=backtest.names + tuple(ensembles),
        baselines=backtest.baselines,
        ensembles=ensembles,
        actual=backtest.actual,
        scales=backtest.scales,
        forecasts=forecasts,
        failures=backtest.failures,
        levels=backtest.levels,
    )


def ensemble_members(backtest: Backtest, name: str, origins: Sequence[int]) -> list[str]:
    """The members an ensemble takes when ranked on ``origins`` (for the final forecast)."""
    size = backtest.ensembles[name]
    base = [n for n in backtest.names if n not in backtest.ensembles]
    return rank(backtest, origins, base)[:size]
