"""An adoption fit's forecast, judged by the nested backtest like any demand forecast.

The curve fit stays what it is good for, a description: parameters, saturation and
segment dates with their bootstrap intervals. What is shown as the forecast comes
from the model the nested backtest chooses (:mod:`l2gpu.analytics.judge`), with the
S-curves among the candidates; the report says how the S-curves did against each
baseline. A series too short for a nested backtest keeps the curve's forecast,
marked as not judged, with the reason.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from l2gpu.analytics.adoption.fit import LEVEL, AdoptionResult
from l2gpu.core.errors import L2gpuError

S_CURVES = ("SCurve", "SCurve-damped", "SCurve-capped")
PERCENT = round(100 * LEVEL)  # the band of the shown forecast, as the fit's


def _contiguous_tail(result: AdoptionResult) -> np.ndarray:
    # A missing step breaks the grid the backtest needs; the part after the last gap
    # still has one point per step.
    positions = np.round(result.fitted_t).astype(int)
    gaps = np.nonzero(np.diff(positions) != 1)[0]
    start = int(gaps[-1]) + 1 if len(gaps) else 0
    return np.asarray(result.fitted_y[start:], dtype=float)


def judge_adoption(
    result: AdoptionResult, horizon: int, *, origins: int | None = None
) -> AdoptionResult:
    """``result`` with its forecast from the nested backtest's choice, and the report.

    Needs ``horizon`` > 0 (the forecast has that many steps already).
    """
    from l2gpu.analytics.backtest import MIN_ORIGINS
    from l2gpu.analytics.judge import Setup, backtest_json, backtest_series, refit
    from l2gpu.analytics.selection import final_choice
    from l2gpu.analytics.series import season_for

    y = _contiguous_tail(result)
    setup = Setup(
        season=season_for(result.series.axis.pandas_freq),
        origins=origins or MIN_ORIGINS,
        adoption=True,
        cumulative=result.fit.cumulative,
    )
    try:
        tested, candidates = backtest_series(
            y, horizon, setup, name=f"series '{result.series.name}'"
        )
    except L2gpuError as exc:
        note = {"judged": False, "reason": str(exc), "points": len(y)}
        return replace(
            result, forecast_model=f"{result.fit.model.name} (not judged)", backtest=note
        )
    choice = final_choice(tested)
    made, members = refit(y, tested, candidates, choice.model, (PERCENT,))
    report = backtest_json(tested, choice)
    lo, hi = made.bands[PERCENT]
    summary: dict[str, object] = {
        "judged": True,
        "points": len(y),
        "horizon": horizon,
        "origins": len(tested.plan.origins),
        "scored_origins": len(tested.plan.scored()),
        "choice": report["choice"],
        "members": list(members),
        "nested": report["nested"],
        "s_curves": _s_curve_lines(report),
    }
    return replace(
        result,
        forecast=made.mean,
        forecast_lo=lo,
        forecast_hi=hi,
        forecast_model=choice.model,
        backtest=summary,
    )


def _s_curve_lines(report: dict[str, object]) -> dict[str, object]:
    """Per S-curve variant: its MASE and MAE ratio to each baseline on the scored
    windows, and a sentence saying whom it lost to and by how much."""
    candidates = report["candidates"]
    assert isinstance(candidates, dict)
    lines: dict[str, object] = {}
    for name in S_CURVES:
        if name not in candidates:
            continue
        relative = candidates[name]["relative_mae"]
        lost = {b: r for b, r in relative.items() if r is not None and r >= 1.0}
        if lost:
            base, ratio = max(lost.items(), key=lambda kv: kv[1])
            said = f"loses to {base} by {100 * (ratio - 1):.1f} % in MAE"
        elif relative:
            said = "beats every baseline"
        else:
            said = "no forecast on the scored windows"
        lines[name] = {
            "mase": candidates[name]["scored"]["mase"],
            "relative_mae": relative,
            "verdict": said,
        }
    return lines
