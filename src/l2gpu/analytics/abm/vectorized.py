"""The adoption model over whole arrays of agents (numpy), fast enough for a million.

Agents are stored sorted by segment, so that a segment is a contiguous slice and
each day's per-segment numbers apply to slices without any gather. One uniform
draw (32 random bits) per agent per day serves both decisions, because they concern disjoint
agents: a non-adopter adopts if the draw is below its hazard; an adopter
reconsiders if the draw is below the switching rate. Only the (few) agents that
act that day draw a design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.abm.model import AbmParams, day, l1_fee_path, segment_sizes, thresholds

_TWO32 = float(2**32)


@dataclass(frozen=True)
class AbmRun:
    """Share of agents on each design (L1 first) at the end of every day."""

    designs: tuple[str, ...]
    shares: np.ndarray  # (days, designs)
    n_agents: int

    @property
    def l2_share(self) -> np.ndarray:
        """Share of agents on any L2, per day."""
        return 1.0 - self.shares[:, 0]


def simulate(
    n_agents: int,
    days: int,
    params: AbmParams | None = None,
    *,
    l1_fee_usd: np.ndarray | float | None = None,
    seed: int = 0,
) -> AbmRun:
    """Run the model for ``days`` days; return the shares per design per day."""
    params = params or AbmParams()
    rng = np.random.default_rng(seed)
    sizes = segment_sizes(n_agents)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    theta = thresholds(params, sizes, rng)
    design = np.zeros(n_agents, dtype=np.int8)  # 0 = L1
    counts = np.zeros(len(params.designs), dtype=np.int64)
    counts[0] = n_agents
    fee_path = l1_fee_path(days, l1_fee_usd)
    shares = np.empty((days, len(params.designs)))
    words = (n_agents + 1) // 2
    for t in range(days):
        today = day(params, float(fee_path[t]), counts / n_agents)
        # 32 random bits per agent (two per 64-bit word): the cheapest uniform draw
        draw = rng.bit_generator.random_raw(words).view(np.uint32)[:n_agents]
        for s in range(len(sizes)):
            lo, hi = int(bounds[s]), int(bounds[s + 1])
            hazard = float(today.hazard[s])
            limit = int(max(hazard, params.switch_rate) * _TWO32)
            if hi == lo or limit == 0:
                continue
            # Only agents whose draw is under the larger of the two rates can act;
            # they are few, so the exact tests run on them alone.
            index = np.flatnonzero(draw[lo:hi] < limit) + lo
            u = draw[index] / _TWO32
            on_l1 = design[index] == 0
            adopt = on_l1 & (u < hazard) & (theta[index] <= today.advantage[s])
            reconsider = ~on_l1 & (u < params.switch_rate)
            index = index[adopt | reconsider]
            if len(index) == 0:
                continue
            cumulative = np.cumsum(today.choice[s])
            picks = (
                np.searchsorted(
                    cumulative, rng.random(len(index)) * cumulative[-1], side="right"
                ).astype(np.int8)
                + 1
            )
            counts -= np.bincount(design[index], minlength=len(counts))
            design[index] = picks
            counts += np.bincount(picks, minlength=len(counts))
        shares[t] = counts / n_agents
    return AbmRun(tuple(d.name for d in params.designs), shares, n_agents)
