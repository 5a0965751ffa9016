"""A provider's price from the market's recent prices and the acceptance curve, backtested.

    revenue_usd_per_gpu_h   what an offer at a price earns per offered GPU-hour:
                            ``price * a(price / market median)``
    choose_markup           the markup over the last observed median that earned most
                            on the training windows (the suggestion's rule)
    choose_fixed            the one price that earned most on the same windows
    backtest_prices         rolling origins over dated medians: choose on the windows
                            before the origin, score the origin's window
    suggest_price           today's suggestion for one model
    price_report            what ``l2gpu provider price`` prints (reads the data sets)
    revenue_gains           the backtest for every model with dated prices (the bench)

Each window is one dated market median ``m_t``. The suggestion prices window ``t``
at ``markup * m_(t-1)``: the last median seen is the forecast of the next one (the
dated medians change too rarely for a fitted model to beat it). The rivals are
the best fixed price on the same training windows, and the last median itself.
The chooser functions receive the training windows only, so a scoring window
cannot leak into a choice. Prices are USD per GPU-hour (floats: analytics, not
settlement).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from l2gpu.analytics.price_acceptance import AcceptanceCurve
from l2gpu.core.errors import L2gpuError

GRID = 401  # candidate prices searched per choice
MIN_TRAIN = 4  # windows seen before the first scored origin


def revenue_usd_per_gpu_h(
    curve: AcceptanceCurve, price: np.ndarray | float, median: np.ndarray | float
) -> np.ndarray:
    """Expected USD per offered GPU-hour of an offer at ``price`` in a market at ``median``."""
    price = np.asarray(price, dtype=float)
    return price * curve.accept(price / np.asarray(median, dtype=float))


def choose_markup(curve: AcceptanceCurve, medians: np.ndarray) -> float:
    """The markup over the previous window's median that earned most over ``medians``
    (training windows only: each window is priced from the one before it)."""
    medians = np.asarray(medians, dtype=float)
    if len(medians) < 2:
        return best_markup(curve)
    recent, realized = medians[:-1], medians[1:]
    markups = np.linspace(curve.r_lo, curve.r_hi, GRID)
    # one row per candidate markup, one column per training window
    earned = revenue_usd_per_gpu_h(curve, markups[:, None] * recent, realized).sum(axis=1)
    return float(markups[int(np.argmax(earned))])


def best_markup(curve: AcceptanceCurve) -> float:
    """The markup that earns most when the median is known (no forecast error)."""
    markups = np.linspace(curve.r_lo, curve.r_hi, GRID)
    return float(markups[int(np.argmax(markups * curve.accept(markups)))])


def choose_fixed(curve: AcceptanceCurve, medians: np.ndarray) -> float:
    """The single price (USD/GPU-h) that earned most over the training ``medians``."""
    medians = np.asarray(medians, dtype=float)
    prices = np.linspace(medians.min() * curve.r_lo, medians.max() * curve.r_hi, GRID)
    earned = revenue_usd_per_gpu_h(curve, prices[:, None], medians).sum(axis=1)
    return float(prices[int(np.argmax(earned))])


@dataclass(frozen=True)
class PriceBacktest:
    """Per scored origin: the prices of each rule and what they earned on that window."""

    gpu: str
    dates: tuple[str, ...]
    markup: np.ndarray
    suggested: np.ndarray
    fixed: np.ndarray
    median: np.ndarray
    revenue: dict[str, np.ndarray]

    def gain(self, rival: str) -> float:
        """Total revenue of the suggestion over ``rival``'s, minus 1 (0.05 = 5 % more)."""
        return float(self.revenue["suggested"].sum() / self.revenue[rival].sum() - 1.0)

    def to_json(self) -> dict[str, object]:
        """Totals, gains and the per-origin rows (USD per offered GPU-hour)."""
        rows = [
            {
                "date": d,
                "markup": round(float(self.markup[i]), 4),
                "suggested_usd_per_gpu_h": round(float(self.suggested[i]), 4),
                "fixed_usd_per_gpu_h": round(float(self.fixed[i]), 4),
                "median_usd_per_gpu_h": round(float(self.median[i]), 4),
                **{f"revenue_{k}": round(float(v[i]), 4) for k, v in self.revenue.items()},
            }
            for i, d in enumerate(self.dates)
        ]
        return {
            "gpu": self.gpu,
            "scored_windows": len(self.dates),
            "revenue_total": {k: round(float(v.sum()), 4) for k, v in self.revenue.items()},
            "gain_vs_fixed": round(self.gain("fixed"), 4),
            "gain_vs_median": round(self.gain("median"), 4),
            "windows": rows,
        }


def backtest_prices(
    curve: AcceptanceCurve,
    medians: np.ndarray,
    dates: tuple[str, ...] | None = None,
    *,
    min_train: int = MIN_TRAIN,
    max_origins: int | None = None,
) -> PriceBacktest:
    """Rolling origins over dated medians: at origin ``k`` the rules see ``medians[:k]``
    only, price window ``k``, and earn ``revenue_usd_per_gpu_h`` at ``medians[k]``.

    ``max_origins`` keeps the last origins only (a bound on the work).
    """
    medians = np.asarray(medians, dtype=float)
    if len(medians) < min_train + 1:
        raise L2gpuError(
            f"{len(medians)} dated prices of {curve.gpu}: too few to backtest "
            f"(need {min_train + 1})",
            "choose a model with a longer price history (V100, A100, H100, RTX_A6000)",
        )
    dates = dates or tuple(str(i) for i in range(len(medians)))
    origins = list(range(min_train, len(medians)))
    if max_origins is not None:
        origins = origins[-max_origins:]
    markup, suggested, fixed, median = [], [], [], []
    for k in origins:
        seen = medians[:k]  # the only values any rule is shown at this origin
        markup.append(choose_markup(curve, seen))
        suggested.append(markup[-1] * seen[-1])
        fixed.append(choose_fixed(curve, seen))
        median.append(seen[-1])
    realized = medians[origins]
    prices = {"suggested": suggested, "fixed": fixed, "median": median}
    return PriceBacktest(
        gpu=curve.gpu,
        dates=tuple(dates[k] for k in origins),
        markup=np.array(markup),
        suggested=np.array(suggested),
        fixed=np.array(fixed),
        median=np.array(median),
        revenue={k: revenue_usd_per_gpu_h(curve, np.array(v), realized) for k, v in prices.items()},
    )


def suggest_price(curve: AcceptanceCurve, history: np.ndarray | None = None) -> dict[str, float]:
    """Today's price: the markup (chosen on the dated ``history`` where there is one,
    else the best under the curve) times the market's current median."""
    if history is not None and len(history) >= 2:
        markup = choose_markup(curve, history)
    else:
        markup = best_markup(curve)
    median = curve.median_usd_per_gpu_h
    price = markup * median
    return {
        "suggested_usd_per_gpu_h": round(price, 4),
        "markup": round(markup, 4),
        "market_median_usd_per_gpu_h": round(median, 4),
        "acceptance_at_suggested": round(float(curve.accept(markup)), 4),
        "acceptance_at_median": round(float(curve.accept(1.0)), 4),
        "revenue_at_suggested_usd_per_gpu_h": round(
            float(revenue_usd_per_gpu_h(curve, price, median)), 4
        ),
        "revenue_at_median_usd_per_gpu_h": round(
            float(revenue_usd_per_gpu_h(curve, median, median)), 4
        ),
    }


# --- the reports: these read the data sets --------------------------------------------

MAX_ORIGINS = 24  # the newest scored windows of a backtest (bounds the work)
CAVEAT = (
    "acceptance comes from one vast.ai snapshot (2025-12-07): the share of rentals made "
    "at or above each price, scaled to the model's utilisation; it assumes a renter who "
    "paid q would take any price up to q. Offers priced higher were rented no less often "
    "across the snapshot (cross_section_slope > 0: quality, not price), so the data "
    "cannot identify a causal price response. The backtest uses FSDL's dated cloud "
    "prices as the market's median over time."
)


def price_report(gpu: str) -> dict[str, Any]:
    """The suggestion for catalog model ``gpu`` and, where FSDL dates its prices, the
    backtest of the rule against the best fixed price and the market median."""
    from l2gpu.analytics.price_acceptance import acceptance_curve, median_price_history

    curve = acceptance_curve(gpu)
    history = median_price_history(curve.gpu)
    report: dict[str, Any] = {
        "gpu": curve.gpu,
        **suggest_price(curve, history.to_numpy() if len(history) else None),
        "utilisation": round(curve.utilisation, 4),
        "rented_price_range_usd_per_gpu_h": [
            round(curve.r_lo * curve.median_usd_per_gpu_h, 4),
            round(curve.r_hi * curve.median_usd_per_gpu_h, 4),
        ],
        "cross_section_slope": round(curve.cross_section_slope, 4),
        "caveat": CAVEAT,
    }
    if len(history) > MIN_TRAIN:
        dates = tuple(str(d.date()) for d in history.index)
        tested = backtest_prices(curve, history.to_numpy(), dates, max_origins=MAX_ORIGINS)
        report["backtest"] = tested.to_json()
    else:
        report["backtest"] = None
        report["not_backtested"] = (
            f"FSDL lists {len(history)} dated prices for {curve.gpu}; "
            f"a backtest needs {MIN_TRAIN + 1}"
        )
    return report


def price_text(report: dict[str, Any]) -> str:
    """The report for people: a few lines, USD per GPU-hour."""
    r = report
    lines = [
        f"{r['gpu']}: suggest ${r['suggested_usd_per_gpu_h']:.4f}/GPU-h "
        f"({r['markup']:.2f} x the market median ${r['market_median_usd_per_gpu_h']:.4f})",
        f"  rented share: {report['acceptance_at_suggested']:.0%} at the suggestion, "
        f"{report['acceptance_at_median']:.0%} at the median",
        f"  expected revenue per offered GPU-hour: ${r['revenue_at_suggested_usd_per_gpu_h']:.4f}"
        f" (median price: ${r['revenue_at_median_usd_per_gpu_h']:.4f})",
    ]
    tested = report["backtest"]
    if tested:
        lines.append(
            f"  backtest on {tested['scored_windows']} later windows: revenue "
            f"{tested['gain_vs_fixed']:+.1%} vs the best fixed price, "
            f"{tested['gain_vs_median']:+.1%} vs the market median"
        )
    else:
        lines.append(f"  not backtested: {report['not_backtested']}")
    lines.append(f"  note: {report['caveat']}")
    return "\n".join(lines)


def revenue_gains() -> dict[str, dict[str, Any]]:
    """The backtest's gains for every catalog model with a curve and dated prices."""
    from l2gpu.analytics.datasets import load_cloud_price_history, load_vastai
    from l2gpu.analytics.price_acceptance import (
        acceptance_curve,
        median_price_history,
        usable_variants,
        vast_model_to_catalog,
    )

    vast, history = load_vastai(), load_cloud_price_history()
    models = sorted({c for n in usable_variants(vast) if (c := vast_model_to_catalog(n))})
    gains: dict[str, dict[str, Any]] = {}
    for gpu in models:
        dated = median_price_history(gpu, history)
        if len(dated) <= MIN_TRAIN:
            continue  # consumer cards: FSDL never dated their prices
        curve = acceptance_curve(gpu, vast)
        tested = backtest_prices(curve, dated.to_numpy(), max_origins=MAX_ORIGINS).to_json()
        gains[gpu] = {k: tested[k] for k in ("gain_vs_fixed", "gain_vs_median", "scored_windows")}
    return gains
