"""The same adoption model written the Mesa way: one Python object per agent.

Mesa is the standard agent-based framework in Python; writing the model in it
is the reference the vectorized version is checked against (same curves,
statistically) and timed against. Each day the model computes the shared
per-segment numbers from the shares at the start of the day (as the vectorized
version does), then every agent steps.
"""

from __future__ import annotations

import mesa
import numpy as np

from l2gpu.analytics.abm.model import AbmParams, Day, day, l1_fee_path, segment_sizes, thresholds
from l2gpu.analytics.abm.vectorized import AbmRun


class Adopter(mesa.Agent):
    """One user: a Rogers segment, an adoption threshold, and the design it uses (0 = L1)."""

    def __init__(self, model: AdoptionModel, segment: int, threshold: float) -> None:
        super().__init__(model)
        self.segment = segment
        self.threshold = threshold
        self.design = 0

    def step(self) -> None:
        """Adopt (if on L1 and the advantage and the draw allow) or reconsider."""
        model: AdoptionModel = self.model  # type: ignore[assignment]
        today = model.today
        draw = self.random.random()
        if self.design == 0:
            if (
                draw < today.hazard[self.segment]
                and self.threshold <= today.advantage[self.segment]
            ):
                model.move(self, self._pick(today))
        elif draw < model.params.switch_rate:
            model.move(self, self._pick(today))

    def _pick(self, today: Day) -> int:
        weights = today.choice[self.segment]
        return int(self.random.choices(range(1, len(weights) + 1), weights=weights)[0])


class AdoptionModel(mesa.Model):
    """The Mesa model: agents per segment, shares per design, one step per day."""

    def __init__(self, n_agents: int, params: AbmParams, fee_path: np.ndarray, seed: int) -> None:
        super().__init__(seed=seed)
        self.params = params
        self.fee_path = fee_path
        self.counts = np.zeros(len(params.designs), dtype=np.int64)
        self.counts[0] = n_agents
        self.n_agents = n_agents
        sizes = segment_sizes(n_agents)
        theta = thresholds(params, sizes, np.random.default_rng(seed))
        segments = np.repeat(np.arange(len(sizes)), sizes)
        for segment, threshold in zip(segments, theta, strict=True):
            Adopter(self, int(segment), float(threshold))
        self.day_index = 0
        self.today = day(params, float(fee_path[0]), self.counts / n_agents)

    def move(self, agent: Adopter, design: int) -> None:
        """Record an agent's move between designs."""
        self.counts[agent.design] -= 1
        self.counts[design] += 1
        agent.design = design

    def step(self) -> None:
        """One day: fix today's numbers from the shares at dawn, then every agent acts."""
        shares = self.counts / self.n_agents
        self.today = day(self.params, float(self.fee_path[self.day_index]), shares)
        self.agents.do("step")
        self.day_index += 1


def simulate_mesa(
    n_agents: int,
    days: int,
    params: AbmParams | None = None,
    *,
    l1_fee_usd: np.ndarray | float | None = None,
    seed: int = 0,
) -> AbmRun:
    """Run the Mesa model; same inputs and output as :func:`vectorized.simulate`."""
    params = params or AbmParams()
    model = AdoptionModel(n_agents, params, l1_fee_path(days, l1_fee_usd), seed)
    shares = np.empty((days, len(params.designs)))
    for t in range(days):
        model.step()
        shares[t] = model.counts / n_agents
    return AbmRun(tuple(d.name for d in params.designs), shares, n_agents)
