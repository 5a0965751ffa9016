"""Adoption curves as cumulative levels N(t), and what a fit needs of each.

Every model is a 3-parameter S-curve whose scale is the saturation level ``m``:

* ``bass``: N = m F(t + 1) with the Bass F; the launch is one period before the
  first observation, so the first observed period already holds adopters.
* ``logistic``: N = m / (1 + exp(-k (t - t_mid))), symmetric around ``t_mid``.
* ``gompertz``: N = m exp(-b exp(-c t)), fast early growth and a long tail.

``t`` is in periods since the first observation. Per-period data are matched to
N(t) - N(t - 1); level (cumulative) data to N(t).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.adoption.bass import bass_cumulative

Level = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _bass(t: np.ndarray, theta: np.ndarray) -> np.ndarray:
    p, q, m = theta
    return bass_cumulative(t + 1.0, p, q, m)


def _logistic(t: np.ndarray, theta: np.ndarray) -> np.ndarray:
    m, k, t_mid = theta
    # Clipping keeps exp() finite far from the midpoint without changing the value.
    return m / (1.0 + np.exp(np.clip(-k * (t - t_mid), -700.0, 700.0)))


def _gompertz(t: np.ndarray, theta: np.ndarray) -> np.ndarray:
    m, b, c = theta
    return m * np.exp(-b * np.exp(np.clip(-c * t, -700.0, 700.0)))


@dataclass(frozen=True)
class CurveModel:
    """One model: its level function, parameter names, and where a fit starts."""

    name: str
    params: tuple[str, ...]
    level: Level
    # index of the saturation level among the parameters (scaled with the data)
    scale_index: int

    def starts(self, n: int, total: float) -> list[np.ndarray]:
        """Initial guesses for a series of ``n`` points reaching ``total`` so far."""
        guesses: list[np.ndarray] = []
        for grow in (1.2, 2.0, 5.0):
            m = total * grow
            if self.name == "bass":
                guesses += [
                    np.array([p, q, m]) for p, q in ((0.01, 0.3), (0.003, 0.1), (0.03, 0.6))
                ]
            elif self.name == "logistic":
                guesses += [np.array([m, k, mid]) for k, mid in ((8.0 / n, n / 2), (4.0 / n, n))]
            else:
                guesses += [np.array([m, b, c]) for b, c in ((5.0, 3.0 / n), (2.0, 1.0 / n))]
        return guesses

    def bounds(self, n: int, total: float) -> tuple[np.ndarray, np.ndarray]:
        """Box bounds that keep the parameters meaningful (positive, saturation above zero)."""
        low_m, high_m = total * 0.3, total * 1000.0
        if self.name == "bass":
            return np.array([1e-7, 0.0, low_m]), np.array([1.0, 5.0, high_m])
        if self.name == "logistic":
            return np.array([low_m, 1e-5, -10.0 * n]), np.array([high_m, 10.0, 20.0 * n])
        return np.array([low_m, 1e-4, 1e-5]), np.array([high_m, 1e6, 10.0])


MODELS: dict[str, CurveModel] = {
    "bass": CurveModel("bass", ("p", "q", "m"), _bass, 2),
    "logistic": CurveModel("logistic", ("m", "k", "t_mid"), _logistic, 0),
    "gompertz": CurveModel("gompertz", ("m", "b", "c"), _gompertz, 0),
}


def predict(model: CurveModel, theta: np.ndarray, t: np.ndarray, *, cumulative: bool) -> np.ndarray:
    """The model's values at positions ``t``: levels, or per-period increments."""
    level = model.level(t, theta)
    if cumulative:
        return level
    return level - model.level(t - 1.0, theta)


def fraction(model: CurveModel, theta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """N(t) / m: the share of eventual adopters reached by time t."""
    return model.level(t, theta) / theta[model.scale_index]
