"""What ``l2gpu provider price`` prints: the suggestion, the curve behind it, its backtest.

Kept apart from :mod:`price_suggest` (pure rules) because it reads the data sets.
"""

from __future__ import annotations

from typing import Any

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
    from l2gpu.analytics.price_suggest import MIN_TRAIN, backtest_prices, suggest_price

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
    from l2gpu.analytics.price_suggest import MIN_TRAIN, backtest_prices

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
