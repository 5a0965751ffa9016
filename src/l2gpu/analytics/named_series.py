"""The built-in series that ``l2gpu forecast backtest NAME`` and the docs table judge.

Demand (GPU requests and busy nodes of real clusters, :func:`usage.demand_series`):
hourly series at 24 and 168 hours ahead, Helios Earth's daily GPU assignment at 7
and 28 days. Adoption (growthepie's daily L2 activity, one series per chain and
measure, named ``l2_txcount:arbitrum``): 28 and 90 days ahead (7 and 28 for the
chains launched in 2023), with the S-curves
among the candidates. An L2 series starts at the chain's first non-zero day (after
its last missing day, where days are missing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.judge import Setup
from l2gpu.analytics.series import Series
from l2gpu.core.errors import L2gpuError

DEMAND = {
    "venus_gpus_submitted": (24, 168),
    "philly_active_nodes": (24, 168),
    "philly_gpus_submitted": (24, 168),
    "alibaba_gpus_submitted": (24, 168),
    "earth_gpus_assigned": (7, 28),
}
L2_MEASURES = ("txcount", "daa")
L2_CHAINS = ("arbitrum", "optimism", "imx", "zksync_era", "polygon_zkevm")
ADOPTION_HORIZONS = (28, 90)
# Chains launched in 2023 have 99 and 137 days: too few for 8 origins 28 days apart
# and a choice made on windows that had ended, so they are judged a week and four ahead.
YOUNG_CHAINS = ("zksync_era", "polygon_zkevm")
YOUNG_HORIZONS = (7, 28)


@dataclass(frozen=True)
class NamedSeries:
    """A built-in series, the horizons it is judged at and how."""

    name: str
    series: Series
    horizons: tuple[int, ...]
    setup: Setup


def builtin_names() -> tuple[str, ...]:
    """Every built-in name, demand first (no data is read)."""
    adoption = tuple(f"l2_{m}:{c}" for m in L2_MEASURES for c in L2_CHAINS)
    return tuple(DEMAND) + adoption


def load_named(name: str) -> NamedSeries:
    """Read one built-in series from the shared data."""
    if name not in builtin_names():
        raise L2gpuError(
            f"file '{name}' not found, and no built-in series has that name",
            f"give a CSV file or one of: {', '.join(builtin_names())}",
        )
    if name in DEMAND:
        from l2gpu.analytics.usage import demand_series

        (found,) = [d for d in demand_series() if d.name == name]
        return NamedSeries(name, found.series, DEMAND[name], Setup(season=found.season))
    return _l2(name)


def _l2(name: str) -> NamedSeries:
    from l2gpu.analytics import datasets
    from l2gpu.analytics.series import read_series

    measure, chain = name.removeprefix("l2_").split(":")
    groups = read_series(
        datasets.data_file("l2_growthepie_2023", "l2_daily_metrics.csv"),
        "date",
        measure,
        group_col="chain",
        skipped=[],
    )
    whole = groups[chain]
    start = int(np.argmax(whole.y > 0))
    # A day missing from the file breaks the daily grid: the series then starts after
    # the last missing day (imx misses a few days in its first weeks).
    gaps = np.nonzero(np.diff(np.round(whole.t).astype(int)) != 1)[0]
    if len(gaps):
        start = max(start, int(gaps[-1]) + 1)
    series = Series(name, whole.axis, whole.t[start:], whole.y[start:])
    horizons = YOUNG_HORIZONS if chain in YOUNG_CHAINS else ADOPTION_HORIZONS
    return NamedSeries(name, series, horizons, Setup(season=7, adoption=True, cumulative=True))
