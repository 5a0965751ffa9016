"""How likely an offer at a given price is rented: the acceptance curve, from the market data.

The only rentals in the shared data are vast.ai's snapshot of 2025-12-07: per GPU
model, how many offers were ``rented`` and how many ``available``, each with the
10th, 50th and 90th percentile of their prices (USD per GPU-hour). Prices are read
relative to the model's median over all offers, ``r = price / median``.

The model (willingness to pay): a renter who paid ``q`` would have taken any price
up to ``q`` and none above, so the share of renters who accept ``r`` is the share
of rentals made at ``r`` or more, ``S(r)`` (from the rented percentiles). An offer
at ``r`` is rented with probability ``a(r) = min(1, u * S(r) / S(1))``: at the
median it is the model's utilisation ``u = rented / all``, and it rises as the
offer undercuts. Paid prices are a lower bound on what renters would pay, so the
curve is pessimistic about prices above the median.

What the data cannot identify: a causal response to price. Across offers of one
model, the higher-priced were rented *no less* often (``cross_section_slope``,
the shared slope of a logistic fit of rented-vs-available on ``ln r``, comes out
positive: hosts that charge more offer better machines), so a naive reading would
say "raise the price without limit". Nor does one snapshot show how demand moves
over time, or how long a rental lasts; ``a(r)`` is read as the share of time an
offer at ``r`` is rented, and only inside the rented prices' range.

Dated prices (to backtest a price over time) come from FSDL's cloud tables:
:func:`median_price_history` gives the median per-GPU price per snapshot date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.gpus import GPU_CATALOG, catalog_name, known_models

# A percentile band's outer 10 % is spread over a quarter of the neighbouring band:
# the snapshot gives no minimum or maximum price, so the tails are a stated guess.
TAIL_SHARE = 0.25
NEWTON_STEPS = 50


@dataclass(frozen=True)
class AcceptanceCurve:
    """The acceptance of offers of one catalog model, at prices relative to its median."""

    gpu: str
    median_usd_per_gpu_h: float
    utilisation: float
    # relative prices of rented offers at cumulative shares 0, .1, .5, .9, 1
    rented_knots: tuple[float, ...]
    cross_section_slope: float

    def survival(self, relative: np.ndarray | float) -> np.ndarray:
        """Share of rentals made at ``relative`` x the median or more."""
        cdf = np.interp(np.asarray(relative, dtype=float), self.rented_knots, _SHARES)
        return 1.0 - cdf

    def accept(self, relative: np.ndarray | float) -> np.ndarray:
        """Probability that an offer at ``relative`` x the market median is rented."""
        scale = self.utilisation / max(float(self.survival(1.0)), 1e-9)
        return np.minimum(1.0, scale * self.survival(relative))

    @property
    def r_lo(self) -> float:
        """The lowest relative price the curve is read at (the rented prices' bottom)."""
        return self.rented_knots[0]

    @property
    def r_hi(self) -> float:
        """The highest relative price with any rental (above it nobody accepts)."""
        return self.rented_knots[-1]


_SHARES = np.array([0.0, 0.1, 0.5, 0.9, 1.0])


def vast_model_to_catalog(name: str) -> str | None:
    """The catalog model of a vast.ai (or FSDL) GPU name: ``H100 SXM`` -> ``H100``."""
    # FSDL writes the memory in brackets ("V100 (16 GB)") and the form factor as HGX.
    text = re.sub(r"\s*\(.*\)\s*", " ", name).replace(" HGX", "").strip()
    found = catalog_name(text)
    if found is None and f"RTX_{text.upper()}" in GPU_CATALOG:
        found = f"RTX_{text.upper()}"  # FSDL's "A6000" is the catalog's RTX_A6000
    return found


def _cdf_points(p10: float, p50: float, p90: float) -> tuple[np.ndarray, np.ndarray]:
    lo = max(p10 - TAIL_SHARE * (p50 - p10), 0.0)
    hi = p90 + TAIL_SHARE * (p90 - p50)
    return np.array([lo, p10, p50, p90, hi]), np.array([0.0, 0.1, 0.5, 0.9, 1.0])


def binned_counts(variant: pd.DataFrame) -> pd.DataFrame:
    """Rented and available offers of one vast.ai model in price bins:
    ``relative`` (bin middle over the model's median), ``rented``, ``available``."""
    rows = variant.set_index("state")
    median = float(rows.loc["all", "p50"])
    groups = {}
    for state in ("rented", "available"):
        p10, p50, p90 = (float(rows.loc[state, c]) for c in ("p10", "p50", "p90"))
        groups[state] = (_cdf_points(p10, p50, p90), float(rows.loc[state, "count"]))
    knots = np.unique(np.concatenate([pts for (pts, _), _ in groups.values()]))
    counts = {
        state: np.diff(np.interp(knots, pts, cdf)) * n for state, ((pts, cdf), n) in groups.items()
    }
    middle = (knots[:-1] + knots[1:]) / 2.0
    return pd.DataFrame(
        {"relative": middle / median, "rented": counts["rented"], "available": counts["available"]}
    )


def fit_pooled(bins: dict[str, pd.DataFrame]) -> tuple[dict[str, float], float]:
    """Binomial logistic fit, one intercept per model and one shared slope on ``ln r``.

    Newton's method on the log-likelihood of the binned counts; returns the
    intercepts by model and the slope.
    """
    names = list(bins)
    frame = pd.concat([bins[n].assign(model=i) for i, n in enumerate(names)], ignore_index=True)
    frame = frame[(frame["rented"] + frame["available"]) > 1e-9]
    x = np.log(frame["relative"].to_numpy())
    model = frame["model"].to_numpy()
    rented = frame["rented"].to_numpy()
    total = rented + frame["available"].to_numpy()
    design = np.zeros((len(frame), len(names) + 1))
    design[np.arange(len(frame)), model] = 1.0
    design[:, -1] = x
    theta = np.zeros(len(names) + 1)
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-design @ theta))
        gradient = design.T @ (rented - total * p)
        # a tiny ridge keeps a model whose offers are all rented (or none) finite
        hessian = design.T @ (design * (total * p * (1 - p))[:, None]) + 1e-6 * np.eye(len(theta))
        update = np.linalg.solve(hessian, gradient)
        theta += update
        if np.max(np.abs(update)) < 1e-10:
            break
    return {n: float(theta[i]) for i, n in enumerate(names)}, float(theta[-1])


def usable_variants(vast: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """vast.ai models with a count and all three percentiles for rented, available and all."""
    found = {}
    for name, rows in vast.groupby("gpu_model", sort=False):
        states = set(rows["state"])
        complete = rows[["p10", "p50", "p90", "count"]].notna().all(axis=None)
        if {"rented", "available", "all"} <= states and complete and rows["count"].min() > 0:
            found[str(name)] = rows
    return found


def acceptance_curve(gpu: str, vast: pd.DataFrame | None = None) -> AcceptanceCurve:
    """The acceptance curve of catalog model ``gpu`` (``RTX_4090``; variants such as
    ``H100 SXM`` and ``H100 NVL`` are pooled, weighted by their offers)."""
    from l2gpu.analytics.datasets import load_vastai

    key = catalog_name(gpu)
    if key is None:
        raise L2gpuError(f"unknown GPU model '{gpu}'", f"choose one of: {known_models()}")
    vast = load_vastai() if vast is None else vast
    variants = usable_variants(vast)
    mine = {n: v for n, v in variants.items() if vast_model_to_catalog(n) == key}
    if not mine:
        covered = sorted({c for n in variants if (c := vast_model_to_catalog(n))})
        raise L2gpuError(
            f"the market snapshot has no rented/available prices for {key}",
            f"choose one of: {', '.join(covered)}",
        )
    _, slope = fit_pooled({n: binned_counts(v) for n, v in variants.items()})
    everyone = pd.concat([v[v["state"] == "all"] for v in mine.values()])
    weights = everyone["count"].to_numpy(float)
    knots = []
    for variant in mine.values():
        rows = variant.set_index("state")
        points, _ = _cdf_points(*(float(rows.loc["rented", c]) for c in ("p10", "p50", "p90")))
        knots.append(points / float(rows.loc["all", "p50"]))
    # Variants (SXM, NVL) are averaged knot by knot, weighted by their offers.
    rented = sum(float(v.loc[v["state"] == "rented", "count"].iloc[0]) for v in mine.values())
    return AcceptanceCurve(
        gpu=key,
        median_usd_per_gpu_h=float(np.average(everyone["p50"], weights=weights)),
        utilisation=rented / float(weights.sum()),
        rented_knots=tuple(float(k) for k in np.average(knots, axis=0, weights=weights)),
        cross_section_slope=slope,
    )


def median_price_history(gpu: str, history: pd.DataFrame | None = None) -> pd.Series:
    """FSDL's median per-GPU price (USD/h) of catalog model ``gpu`` per snapshot date.

    Empty when FSDL never listed the model (consumer cards such as the RTX 4090).
    """
    from l2gpu.analytics.datasets import load_cloud_price_history

    history = load_cloud_price_history() if history is None else history
    names = history["gpu_type"].drop_duplicates()
    mapping = {n: vast_model_to_catalog(n) for n in names}
    rows = history[history["gpu_type"].map(mapping) == catalog_name(gpu)]
    rows = rows.dropna(subset=["per_gpu"])
    rows = rows[rows["per_gpu"] > 0]
    return rows.groupby("snapshot_date")["per_gpu"].median().sort_index().rename(gpu)
