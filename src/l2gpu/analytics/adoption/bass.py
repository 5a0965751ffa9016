"""The Bass diffusion model (Bass 1969).

Adopters at time t (periods since launch) follow

    F(t) = (1 - exp(-(p + q) t)) / (1 + (q / p) exp(-(p + q) t)),   N(t) = m F(t)

with p the coefficient of innovation (adoption from outside influence), q the
coefficient of imitation (adoption from word of mouth) and m the eventual number
of adopters. The hazard of adopting is p + q F(t): innovators move first, then
imitation takes over, which is what gives Rogers' bell of segments.
"""

from __future__ import annotations

import numpy as np


def bass_fraction(t: np.ndarray, p: float, q: float) -> np.ndarray:
    """F(t): the share of eventual adopters who adopted by time t (0 before launch)."""
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    decay = np.exp(-(p + q) * t)
    return (1.0 - decay) / (1.0 + (q / p) * decay)


def bass_cumulative(t: np.ndarray, p: float, q: float, m: float) -> np.ndarray:
    """N(t) = m F(t): cumulative adopters by time t."""
    return m * bass_fraction(t, p, q)


def bass_density(t: np.ndarray, p: float, q: float, m: float) -> np.ndarray:
    """dN/dt: adopters per unit time at time t."""
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    decay = np.exp(-(p + q) * t)
    return m * ((p + q) ** 2 / p) * decay / (1.0 + (q / p) * decay) ** 2


def bass_peak_time(p: float, q: float) -> float:
    """When adoptions per period peak: ln(q/p)/(p+q), or 0 when q <= p (no hump)."""
    return float(np.log(q / p) / (p + q)) if q > p else 0.0
