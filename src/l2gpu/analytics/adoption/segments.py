"""Rogers' adopter segments, from a fitted curve or from observed first-use times.

Rogers splits the eventual adopters, in order of adoption time, into innovators
(2.5 %), early adopters (13.5 %), early majority (34 %), late majority (34 %) and
laggards (16 %). A segment starts when the cumulative share of adopters reaches
the sum of the segments before it: 0, 2.5, 16, 50 and 84 %.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq

# segment -> cumulative share of eventual adopters at which it starts
SEGMENTS: dict[str, float] = {
    "innovators": 0.0,
    "early_adopters": 0.025,
    "early_majority": 0.16,
    "late_majority": 0.50,
    "laggards": 0.84,
}
SHARES: dict[str, float] = {
    "innovators": 0.025,
    "early_adopters": 0.135,
    "early_majority": 0.34,
    "late_majority": 0.34,
    "laggards": 0.16,
}
# A curve never reaches exactly 0 % (logistic, Gompertz), so innovators start when
# one adopter in a thousand has come.
FIRST_ADOPTER_SHARE = 0.001


def segments_from_curve(
    share: Callable[[np.ndarray], np.ndarray], span: tuple[float, float]
) -> dict[str, float | None]:
    """Positions at which the fitted share of adopters crosses each segment's start.

    The search runs far beyond the data (segments often start after the last
    observation); a crossing that does not happen within 50 spans is None.
    """
    first, last = float(span[0]), float(span[1])
    width = max(last - first, 1.0)
    low, high = first - 10.0 * width, last + 20.0 * width
    grid = np.linspace(low, high, 20001)
    values = share(grid)
    result: dict[str, float | None] = {}
    for name, level in SEGMENTS.items():
        target = max(level, FIRST_ADOPTER_SHARE)
        above = np.nonzero(values >= target)[0]
        if len(above) == 0:
            result[name] = None
            continue
        i = int(above[0])
        if i == 0:
            result[name] = float(grid[0])
            continue
        a, b = float(grid[i - 1]), float(grid[i])
        result[name] = float(
            brentq(lambda x, target=target: float(share(np.array([x]))[0]) - target, a, b)
        )
    return result


def segments_from_first_use(first_use: np.ndarray) -> dict[str, float]:
    """Segment starts from the first-use time of each adopter (empirical quantiles)."""
    times = np.sort(np.asarray(first_use, dtype=float))
    if len(times) == 0:
        raise ValueError("no adopters")
    return {name: float(np.quantile(times, level)) for name, level in SEGMENTS.items()}


def segments_from_counts(t: np.ndarray, new_adopters: np.ndarray) -> dict[str, float]:
    """Segment starts from adopters per period, as if each adopter's first use were known.

    Each period's adopters count as first uses at that period; the share crossing
    is read off the cumulative count (it presumes the series reached saturation).
    """
    counts = np.clip(np.asarray(new_adopters, dtype=float), 0.0, None)
    cumulative = np.cumsum(counts)
    total = cumulative[-1]
    if total <= 0:
        raise ValueError("no adopters")
    result = {}
    for name, level in SEGMENTS.items():
        index = int(np.searchsorted(cumulative, level * total, side="right" if level else "left"))
        # the first period with any adopters starts the innovators
        if level == 0.0:
            index = int(np.nonzero(counts > 0)[0][0])
        result[name] = float(t[min(index, len(t) - 1)])
    return result
