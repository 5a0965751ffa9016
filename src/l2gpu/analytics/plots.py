"""PNG figures: adoption curves with segments, forecasts with bands, utilization.

matplotlib runs on its Agg backend (no display needed, in CI too).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from l2gpu.analytics.adoption.fit import AdoptionResult
from l2gpu.analytics.judge import ChosenForecast
from l2gpu.analytics.selection import metrics, nested_choice
from l2gpu.analytics.series import Series
from l2gpu.core.errors import L2gpuError


def _save(fig: Figure, out: Path) -> Path:
    out = Path(out)
    if not out.parent.exists():
        raise L2gpuError(f"folder '{out.parent}' does not exist", "create it or choose another -o")
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_adoption(results: dict[str, AdoptionResult], out: Path) -> Path:
    """Data, fitted curve, forecast band and segment boundaries, one panel per group."""
    fig, axes = plt.subplots(len(results), 1, figsize=(8, 3.2 * len(results)), squeeze=False)
    for ax, (name, result) in zip(axes[:, 0], results.items(), strict=True):
        series = result.series
        span = np.linspace(
            series.t[0], result.forecast_t[-1] if len(result.forecast_t) else series.t[-1], 400
        )
        ax.plot(series.t, series.y, ".", ms=3, color="0.3", label="data")
        ax.plot(span, result.fit.predict(span), color="C0", label=f"{result.fit.model.name} fit")
        if len(result.forecast_t):
            ax.fill_between(
                result.forecast_t,
                result.forecast_lo,
                result.forecast_hi,
                color="C0",
                alpha=0.25,
                label="95 % band",
            )
            shown = result.forecast_model or result.fit.model.name
            ax.plot(result.forecast_t, result.forecast, color="C2", label=f"forecast: {shown}")
        for segment, position in result.segments.items():
            if position is not None and span[0] <= position <= span[-1]:
                ax.axvline(position, color="C3", lw=0.8, ls="--")
                ax.text(
                    position,
                    ax.get_ylim()[1],
                    segment.replace("_", " "),
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=7,
                    color="C3",
                )
        ax.set_title(name)
        ax.set_xlabel(f"periods since {series.axis.label(0.0)}")
        ax.legend(fontsize=7, loc="upper left")
    return _save(fig, out)


def plot_forecast(
    series: Series,
    times: list[str],
    mean: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    out: Path,
    history: int = 24 * 7,
) -> Path:
    """The end of the history, the forecast and its band."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    tail = slice(max(0, len(series.t) - history), None)
    past = [series.axis.value_at(float(p)) for p in series.t[tail]]
    ax.plot(past, series.y[tail], color="0.3", lw=1, label="history")
    future = [pd.Timestamp(t) if series.axis.kind == "datetime" else float(t) for t in times]
    ax.plot(future, mean, color="C0", label="forecast")
    ax.fill_between(future, lo, hi, color="C0", alpha=0.25, label="95 % band")
    ax.legend(fontsize=8)
    ax.set_title(series.name)
    return _save(fig, out)


def plot_backtest(series: Series, chosen: list[ChosenForecast], out: Path) -> Path:
    """Per horizon: the series' end with the nested picks' forecasts from each scored
    origin, the shown forecast with its bands; beside it, every candidate's MASE on
    the scored windows (baselines grey, the shown model marked)."""
    fig, axes = plt.subplots(
        len(chosen), 2, figsize=(12, 3.6 * len(chosen)), width_ratios=[3, 1], squeeze=False
    )
    for (left, right), result in zip(axes, chosen, strict=True):
        tested = result.backtest
        plan = tested.plan
        start = max(0, plan.origins[0] - 2 * plan.horizon)
        when = [series.axis.value_at(float(p)) for p in series.t[start:]]
        left.plot(when, series.y[start:], color="0.3", lw=0.8, label="observed")
        for k, name in nested_choice(tested):
            made = tested.forecasts[name][k]
            assert made is not None
            span = [
                series.axis.value_at(float(p))
                for p in series.t[plan.origins[k] : plan.origins[k] + plan.horizon]
            ]
            first = k == plan.scored()[0]
            left.plot(span, made.mean, color="C0", lw=1.2, label="nested picks" if first else None)
            left.annotate(name, (span[0], made.mean[0]), fontsize=6, color="C0",
                          xytext=(0, 4), textcoords="offset points")  # fmt: skip
        future = [series.axis.value_at(float(series.t[-1]) + s) for s in range(1, plan.horizon + 1)]
        left.plot(future, result.forecast.mean, color="C3", lw=1.5, label=f"shown: {result.model}")
        for level, alpha in zip(
            sorted(result.forecast.bands, reverse=True), (0.15, 0.3), strict=False
        ):
            lo, hi = result.forecast.bands[level]
            left.fill_between(future, lo, hi, color="C3", alpha=alpha, label=f"{level} %")
        left.set_title(f"{series.name}: {plan.horizon} steps ahead", fontsize=9)
        left.legend(fontsize=7, loc="upper left")
        names = list(tested.names)
        scores = [metrics(tested, n, plan.scored()).mase for n in names]
        colors = [
            "C3" if n == result.model else ("0.6" if n in tested.baselines else "C0") for n in names
        ]
        right.barh(names, scores, color=colors)
        right.invert_yaxis()
        right.tick_params(labelsize=7)
        right.set_xlabel("MASE, scored windows", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def plot_utilization(usage: pd.Series, out: Path, title: str = "utilization") -> Path:
    """Utilization over time (a share in 0..1)."""
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.plot(usage.index, usage.to_numpy(), lw=0.8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("busy share")
    ax.set_title(title)
    return _save(fig, out)


def plot_credit_stress(grid: list[dict[str, object]], out: Path) -> Path:
    """Bad debt (ether) against the size of an instant price drop, one line per
    parameter set of the credit stress (``analytics/credit_stress.report``)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ltvs = sorted({int(row["ltv_bps"]) for row in grid})  # type: ignore[call-overload]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(ltvs)))
    for row in grid:
        shocks = row["shock_bad_debt_ether"]
        assert isinstance(shocks, dict)
        xs = [float(k.rstrip("%")) for k in shocks]
        label = (
            f"LTV {int(row['ltv_bps']) / 100:.0f} %, threshold "  # type: ignore[call-overload]
            f"{int(row['liquidation_threshold_bps']) / 100:.0f} %, bonus "  # type: ignore[call-overload]
            f"{int(row['liquidation_bonus_bps']) / 100:.0f} %"  # type: ignore[call-overload]
        )
        color = colors[ltvs.index(int(row["ltv_bps"]))]  # type: ignore[call-overload]
        dashed = int(row["liquidation_bonus_bps"]) > 500  # type: ignore[call-overload]
        ax.plot(xs, list(shocks.values()), marker="o", color=color,
                linestyle="--" if dashed else "-", label=label)  # fmt: skip
    ax.set_xlabel("instant drop of the collateral's GPU-hour price (%)")
    ax.set_ylabel("bad debt (ether, 1,000 supplied)")
    ax.set_title("lending pool: bad debt after a price shock, 20 borrowers, rational bots")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, out)
