"""The agent-based model: both engines agree; the vectorized one is reproducible."""

from __future__ import annotations

import numpy as np

from l2gpu.analytics.abm.compare import compare_engines
from l2gpu.analytics.abm.model import SEGMENT_SHARES, segment_sizes
from l2gpu.analytics.abm.vectorized import simulate


def test_segment_sizes_follow_rogers_and_add_up():
    sizes = segment_sizes(1001)
    assert sizes.sum() == 1001
    assert np.all(np.abs(sizes / 1001 - SEGMENT_SHARES) < 1 / 1001)


def test_shares_are_a_distribution_and_adoption_grows():
    run = simulate(20_000, 200, seed=3)
    assert np.allclose(run.shares.sum(axis=1), 1.0)
    assert run.l2_share[-1] > run.l2_share[20] > 0
    again = simulate(20_000, 200, seed=3)
    assert np.array_equal(run.shares, again.shares)


def test_numpy_and_mesa_engines_give_the_same_curves():
    comparison = compare_engines(1_000, 150, seeds=6)
    assert comparison.max_z < 4.0
    assert comparison.numpy_mean[-1] > 0.01  # something happened to compare
