"""Metrics of a backtest, the nested model choice and the final choice.

    metrics        MAE, RMSE, MASE, sMAPE and interval coverage of one model on some origins
    relative_mae   a model's MAE over each baseline's on the same windows
    nested_choice  at each scored origin, the model picked on earlier windows only
    final_choice   the model whose forecast is shown, and whether it earned that

Nested choice: at origin k the candidates are ranked by mean MASE on the windows
that had ended by origin k (:meth:`Plan.selection_origins`), and the best one's
forecast from origin k is scored. The score of those picks is the score of the
procedure itself, free of the optimism of naming the best of many backtests
after seeing them all (``hindsight_best`` below keeps that optimistic figure for
comparison).

The final choice applies the same rule at the end of the series. A choice whose
nested score does not beat every baseline (lower MAE on the scored windows) is not
shown as a forecast: the best baseline by the same rule is, and the verdict says
which baseline won and by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.backtest import Backtest, Forecast, rank

NESTED = "nested choice"


@dataclass(frozen=True)
class Metrics:
    """Errors of one forecaster over some origins (``windows`` of them)."""

    windows: int
    mae: float
    rmse: float
    mase: float
    coverage: dict[int, float]
    smape: float = float("nan")

    def to_json(self) -> dict[str, object]:
        """Rounded figures; a value that is not finite prints as null."""
        return {
            "windows": self.windows,
            "mae": _round(self.mae),
            "rmse": _round(self.rmse),
            "mase": _round(self.mase),
            "coverage": {str(lv): _round(c) for lv, c in self.coverage.items()},
            "smape": _round(self.smape),
        }


def _round(value: float, digits: int = 4) -> float | None:
    return round(float(value), digits) if np.isfinite(value) else None


def _paths(backtest: Backtest, picks: Sequence[tuple[int, str]]) -> list[tuple[int, Forecast]]:
    found = []
    for k, name in picks:
        forecast = backtest.forecasts[name][k]
        if forecast is None:
            raise ValueError(f"{name} has no forecast at origin {k}")
        found.append((k, forecast))
    return found


def metrics_of(backtest: Backtest, picks: Sequence[tuple[int, str]]) -> Metrics:
    """Metrics of the forecasts ``picks`` names: one (origin, model) pair per window."""
    paths = _paths(backtest, picks)
    if not paths:
        nan = float("nan")
        return Metrics(0, nan, nan, nan, {lv: nan for lv in backtest.levels})
    errors = np.concatenate([backtest.actual[k] - f.mean for k, f in paths])
    actual = np.concatenate([backtest.actual[k] for k, _ in paths])
    predicted = actual - errors
    coverage = {}
    for level in backtest.levels:
        inside = [
            (f.bands[level][0] <= backtest.actual[k]) & (backtest.actual[k] <= f.bands[level][1])
            for k, f in paths
        ]
        coverage[level] = float(np.mean(np.concatenate(inside)))
    return Metrics(
        windows=len(paths),
        mae=float(np.mean(np.abs(errors))),
        rmse=float(np.sqrt(np.mean(errors**2))),
        mase=float(np.mean([backtest.mase_at(name, k) for k, name in picks])),
        coverage=coverage,
        smape=smape(actual, predicted),
    )


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric mean absolute percentage error, in percent (0 where both are 0)."""
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(
        2.0 * np.abs(actual - predicted),
        denominator,
        out=np.zeros_like(denominator, dtype=float),
        where=denominator > 0,
    )
    return float(100.0 * np.mean(ratio))


def metrics(backtest: Backtest, name: str, origins: Sequence[int]) -> Metrics:
    """Metrics of one model over ``origins`` (those where it has a forecast)."""
    return metrics_of(
        backtest, [(k, name) for k in origins if backtest.forecasts[name][k] is not None]
    )


def relative_mae(backtest: Backtest, picks: Sequence[tuple[int, str]]) -> dict[str, float]:
    """MAE of ``picks`` over each baseline's MAE on the same windows (below 1: better).

    A baseline without a forecast at one of the windows is left out.
    """
    mae = metrics_of(backtest, picks).mae
    result = {}
    for baseline in backtest.baselines:
        if not backtest.defined(baseline, [k for k, _ in picks]):
            continue
        other = metrics_of(backtest, [(k, baseline) for k, _ in picks]).mae
        result[baseline] = mae / other if other > 0 else (1.0 if mae == 0 else float("inf"))
    return result


def choose(backtest: Backtest, origins: Sequence[int], at: int | None = None) -> str | None:
    """The lowest mean MASE on ``origins`` among models defined there (and at ``at``)."""
    needed = [*origins, *([] if at is None else [at])]
    ranked = rank(backtest, origins, [n for n in backtest.names if backtest.defined(n, needed)])
    return ranked[0] if ranked else None


def nested_choice(backtest: Backtest) -> tuple[tuple[int, str], ...]:
    """(origin, model picked on the windows ended by then), at every scored origin."""
    picks = []
    for k in backtest.plan.scored():
        name = choose(backtest, backtest.plan.selection_origins(k), at=k)
        if name is not None:
            picks.append((k, name))
    return tuple(picks)


def hindsight_best(backtest: Backtest) -> str | None:
    """The best mean MASE over every origin: the optimistic choice of a plain backtest."""
    return choose(backtest, backtest.plan.final_selection_origins())


@dataclass(frozen=True)
class Choice:
    """The model whose forecast is shown, and the evidence for it.

    ``picked`` is what the selection rule names at the end of the series; ``model``
    is what is shown: ``picked``, or the best baseline when the nested choice did
    not beat every baseline on the scored windows (``lost_to``: baseline -> MAE of
    the nested choice over the baseline's, at least 1).
    """

    model: str
    picked: str
    nested: Metrics
    nested_relative_mae: dict[str, float]
    lost_to: dict[str, float]

    @property
    def earned(self) -> bool:
        """Whether the nested choice beat every baseline."""
        return not self.lost_to

    def verdict(self) -> str:
        """One sentence for people: what is shown and why."""
        if self.earned:
            rivals = {b: r for b, r in self.nested_relative_mae.items() if b != self.model}
            worst = max(rivals.values(), default=float("nan"))
            if self.model in self.nested_relative_mae:
                return (
                    f"{self.model} (a baseline) is shown: the nested choice beat the other "
                    f"baselines (MAE at most {worst:.3f} of theirs)"
                )
            return (
                f"{self.model}: the nested choice beat every baseline "
                f"(MAE at most {worst:.3f} of a baseline's)"
            )
        base, ratio = max(self.lost_to.items(), key=lambda kv: kv[1])
        # a ratio of exactly 1 is a tie (a fitted model that became the baseline itself)
        lost = (
            f"lost to {base} by {100 * (ratio - 1):.1f} % in MAE"
            if ratio > 1
            else (f"only matched {base} (same MAE)")
        )
        if self.picked == self.model:
            return f"{self.model} (a baseline) is shown: the nested choice {lost}"
        return (
            f"{self.model} (a baseline) is shown: the nested choice {lost}, "
            f"so {self.picked} is not shown as a forecast"
        )


def final_choice(backtest: Backtest) -> Choice:
    """Apply the selection rule at the end of the series, guarded by the nested score."""
    origins = backtest.plan.final_selection_origins()
    picked = choose(backtest, origins)
    if picked is None:
        raise ValueError("no candidate has a forecast at every selection origin")
    picks = nested_choice(backtest)
    relative = relative_mae(backtest, picks)
    # A baseline that was every pick is the choice itself, not a rival it must beat.
    rivals = {b: r for b, r in relative.items() if any(name != b for _, name in picks)}
    lost_to = {b: r for b, r in rivals.items() if r >= 1.0}
    model = picked
    if lost_to and picked not in backtest.baselines:
        usable = [b for b in backtest.baselines if backtest.defined(b, origins)]
        model = rank(backtest, origins, usable)[0]
    return Choice(model, picked, metrics_of(backtest, picks), relative, lost_to)
