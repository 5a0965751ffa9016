"""Adoption curves: Bass, logistic and Gompertz fits, model choice, intervals, Rogers segments."""

from l2gpu.analytics.adoption.fit import AdoptionResult, CurveFit, choose_model, fit_adoption
from l2gpu.analytics.adoption.segments import SEGMENTS, segments_from_counts

__all__ = [
    "SEGMENTS",
    "AdoptionResult",
    "CurveFit",
    "choose_model",
    "fit_adoption",
    "segments_from_counts",
]
