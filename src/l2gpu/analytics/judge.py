"""A series judged by a nested backtest, and the forecast the judgement allows.

    backtest_series        plan the origins, run every candidate, add the ensembles
    forecast_with_choice   the chosen model's forecast as quantiles (the API for callers
                           such as pricing and allocation: ``result.quantiles[0.9]``)
    backtest_json          the report of ``l2gpu forecast backtest --json``

The shown forecast always comes from :func:`l2gpu.analytics.selection.final_choice`:
the model the nested rule names at the end of the series, or the best baseline when
that rule did not beat every baseline on the scored windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.backtest import (
    LEVELS,
    MIN_ORIGINS,
    Backtest,
    Candidate,
    Forecast,
    ensemble_members,
    median_forecast,
    plan_origins,
    run_backtest,
)
from l2gpu.analytics.candidates import BASELINE_NAMES, candidates_for
from l2gpu.analytics.selection import (
    Choice,
    final_choice,
    hindsight_best,
    metrics,
    nested_choice,
    relative_mae,
)
from l2gpu.analytics.series import Series
from l2gpu.core.errors import L2gpuError
from l2gpu.core.progress import OnProgress, no_progress


@dataclass(frozen=True)
class Setup:
    """How a series is judged: its season, the origins, and which models compete."""

    season: int
    origins: int = MIN_ORIGINS
    step: int | None = None
    adoption: bool = False
    cumulative: bool = True
    ensembles: tuple[int, ...] = (3,)


def gapless_values(series: Series) -> np.ndarray:
    """The values of a series with one point per step, or an error naming the first gap."""
    positions = series.t
    if not np.allclose(positions, np.round(positions), atol=1e-6):
        raise L2gpuError(
            f"series '{series.name}' is not regularly spaced",
            "pass --freq (for example --freq h or --freq D) to resample it",
        )
    steps = np.diff(np.round(positions).astype(int))
    if np.any(steps != 1):
        first = int(np.argmax(steps != 1))
        missing = int(np.sum(steps[steps > 1] - 1))
        raise L2gpuError(
            f"series '{series.name}' misses {missing} steps, the first after "
            f"{series.axis.label(float(positions[first]))}",
            "fill the gaps, or pass --freq to resample (--agg mean interpolates them)",
        )
    if not np.all(np.isfinite(series.y)):
        raise L2gpuError(f"series '{series.name}' has non-finite values", "fix or drop them")
    return np.asarray(series.y, dtype=float)


def backtest_series(
    y: np.ndarray,
    horizon: int,
    setup: Setup,
    *,
    name: str = "the series",
    candidates: Sequence[Candidate] | None = None,
    on_progress: OnProgress = no_progress,
) -> tuple[Backtest, list[Candidate]]:
    """Nested rolling-origin backtest of every candidate (default: :func:`candidates_for`);
    ``on_progress`` hears of each forecast made (:func:`run_backtest`)."""
    y = np.asarray(y, dtype=float)
    plan = plan_origins(
        len(y), horizon, season=setup.season, origins=setup.origins, step=setup.step, name=name
    )
    if candidates is None:
        candidates = candidates_for(
            setup.season, plan.origins[0], adoption=setup.adoption, cumulative=setup.cumulative
        )
    floor = 0.0 if np.all(y >= 0) else None
    baselines = [c.name for c in candidates if c.name in BASELINE_NAMES]
    tested = run_backtest(
        y,
        candidates,
        plan,
        baselines=baselines,
        ensembles=setup.ensembles,
        floor=floor,
        on_progress=on_progress,
        label=f"backtest {name}, horizon {horizon}",
    )
    return tested, list(candidates)


@dataclass(frozen=True)
class ChosenForecast:
    """The shown forecast: its model, the verdict, quantile paths and the backtest."""

    choice: Choice
    forecast: Forecast
    members: tuple[str, ...]
    times: tuple[str, ...]
    backtest: Backtest

    @property
    def model(self) -> str:
        """The model whose forecast this is."""
        return self.choice.model

    @property
    def quantiles(self) -> dict[float, np.ndarray]:
        """Quantile level -> path (0.5 is the mean; 0.1/0.9 the 80 %, 0.025/0.975 the 95 %)."""
        return self.forecast.quantiles()


def refit(
    y: np.ndarray,
    tested: Backtest,
    candidates: Sequence[Candidate],
    model: str,
    levels: tuple[int, ...],
) -> tuple[Forecast, tuple[str, ...]]:
    """``model``'s forecast from the end of ``y`` (an ensemble: its members', ranked on
    every selection origin); returns it and the models it is made of."""
    by_name = {c.name: c for c in candidates}
    horizon = tested.plan.horizon
    if model in tested.ensembles:
        members = tuple(ensemble_members(tested, model, tested.plan.final_selection_origins()))
        made = median_forecast([by_name[m].forecast(y, horizon, levels) for m in members])
    else:
        members = (model,)
        made = by_name[model].forecast(y, horizon, levels)
    return (made.floored(0.0) if np.all(y >= 0) else made), members


def forecast_with_choice(
    series: Series,
    horizon: int,
    levels: tuple[int, ...] = LEVELS,
    *,
    setup: Setup | None = None,
    on_progress: OnProgress = no_progress,
) -> ChosenForecast:
    """Judge every candidate on ``series`` and forecast ``horizon`` steps with the winner.

    ``setup`` defaults to the series' natural season (24 for hours, 7 for days);
    ``on_progress`` hears of the backtest's forecasts (:func:`run_backtest`).
    """
    from l2gpu.analytics.series import season_for

    y = gapless_values(series)
    setup = setup or Setup(season=season_for(series.axis.pandas_freq))
    tested, candidates = backtest_series(
        y, horizon, setup, name=f"series '{series.name}'", on_progress=on_progress
    )
    choice = final_choice(tested)
    made, members = refit(y, tested, candidates, choice.model, levels)
    last = float(np.round(series.t[-1]))
    times = tuple(series.axis.label(last + step) for step in range(1, horizon + 1))
    return ChosenForecast(choice, made, members, times, tested)


def backtest_json(tested: Backtest, choice: Choice | None = None) -> dict[str, object]:
    """Every candidate's figures, the nested choice's, and the final choice with its verdict.

    Per candidate: metrics on every origin where it forecast (``all``) and on the
    scored origins (``scored``, the windows the nested choice is judged on), with its
    MAE over each baseline's there. ``nested``: each scored origin's pick and the
    picks' metrics. ``hindsight_best``: the best mean MASE over all origins, which a
    plain backtest would name (optimistic: chosen on the windows it is scored on).
    """
    choice = choice or final_choice(tested)
    plan = tested.plan
    scored = plan.scored()
    everything = range(len(plan.origins))
    candidates = {}
    for name in tested.names:
        here = [k for k in scored if tested.forecasts[name][k] is not None]
        candidates[name] = {
            "all": metrics(tested, name, everything).to_json(),
            "scored": metrics(tested, name, scored).to_json(),
            "relative_mae": _rounded(relative_mae(tested, [(k, name) for k in here])),
            **({"failures": list(tested.failures[name])} if name in tested.failures else {}),
        }
    picks = nested_choice(tested)
    return {
        "horizon": plan.horizon,
        "season": plan.season,
        "origins": list(plan.origins),
        "step": plan.step,
        "scored_origins": [plan.origins[k] for k in scored],
        "baselines": list(tested.baselines),
        "candidates": candidates,
        "nested": {
            "picks": [{"origin": plan.origins[k], "model": m} for k, m in picks],
            **choice.nested.to_json(),
            "relative_mae": _rounded(choice.nested_relative_mae),
        },
        "hindsight_best": hindsight_best(tested),
        "choice": {
            "model": choice.model,
            "picked": choice.picked,
            "earned": choice.earned,
            "lost_to": _rounded(choice.lost_to),
            "verdict": choice.verdict(),
        },
    }


def _rounded(values: dict[str, float]) -> dict[str, float | None]:
    return {k: (round(v, 4) if np.isfinite(v) else None) for k, v in values.items()}
