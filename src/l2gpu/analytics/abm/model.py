"""The adoption model shared by the vectorized simulator and its Mesa twin.

Agents start on L1. Each day every agent that has not adopted an L2 does so with
probability ``p_s + q_s * L2 share`` (Bass: innovation plus imitation, scaled by
its Rogers segment ``s``), but only if the best L2 design beats L1 by at least the
agent's own threshold (Granovetter): a laggard needs a large advantage.
An adopter picks a design by a logit choice over utilities; every day a small
share of adopters reconsiders and picks again (that is how a cheaper design that
arrives late wins users).

The utility of a design for segment ``s`` on day ``t`` is

    U = -w_fee[s] * log10(fee_usd(t)) - w_fin[s] * log10(finality_s)
        + w_sec[s] * security + w_net[s] * share_of_users(t)

where an L2's fee is the L1 fee times the L1 bytes its transaction costs, over
the bytes of a plain L1 transaction (plus a small L2 execution fee).

Everything the two implementations share (designs, segment parameters, the
per-day utilities and hazards) is computed here, once per day, on a handful of
numbers; the implementations differ only in how they apply it to agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from l2gpu.analytics.adoption.segments import SHARES

SEGMENT_NAMES = tuple(SHARES)
SEGMENT_SHARES = np.array([SHARES[name] for name in SEGMENT_NAMES])
L1_TX_BYTES = 110.0  # a plain transfer, the unit an L2's data cost is measured in


@dataclass(frozen=True)
class Design:
    """A settlement design: L1 bytes per transaction, time to finality, security score."""

    name: str
    l1_bytes_per_tx: float
    finality_s: float
    security: float
    exec_fee_usd: float = 0.002


DESIGNS: tuple[Design, ...] = (
    Design("l1", L1_TX_BYTES, 780.0, 1.0, 0.0),  # two epochs to finality
    Design("optimistic", 12.0, 7 * 86_400.0, 0.8),  # compressed calldata; 7-day challenge
    Design("zk", 6.0, 3_600.0, 0.95),  # state diffs; proof verified within the hour
    Design("hybrid", 0.6, 7 * 86_400.0, 0.85),  # channels inside a rollup: open/close only
    Design("plasma", 0.1, 7 * 86_400.0, 0.5),  # block roots only; exit games
)


@dataclass(frozen=True)
class AbmParams:
    """Parameters of the adoption model (defaults are the calibrated scale's starting point)."""

    p: float = 0.0004  # innovation per day, scaled by segment
    q: float = 0.02  # imitation per day per unit of L2 share, scaled by segment
    switch_rate: float = 0.002  # share of adopters reconsidering their design each day
    # per-segment multipliers, innovators .. laggards
    p_scale: tuple[float, ...] = (8.0, 2.0, 1.0, 0.5, 0.2)
    q_scale: tuple[float, ...] = (1.5, 1.2, 1.0, 0.8, 0.5)
    w_fee: tuple[float, ...] = (1.0, 1.5, 2.0, 2.0, 1.5)
    w_fin: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
    w_sec: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 4.0)
    w_net: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 4.0)
    # utility advantage thresholds: mean per segment (each agent draws around it)
    threshold_mean: tuple[float, ...] = (0.0, 0.3, 0.8, 1.5, 2.5)
    threshold_sd: float = 0.5
    designs: tuple[Design, ...] = field(default=DESIGNS)


def segment_sizes(n_agents: int) -> np.ndarray:
    """Agents per Rogers segment (largest-remainder rounding of the shares)."""
    raw = SEGMENT_SHARES * n_agents
    sizes = np.floor(raw).astype(np.int64)
    sizes[np.argsort(raw - sizes)[::-1][: n_agents - int(sizes.sum())]] += 1
    return sizes


def fees(params: AbmParams, l1_fee_usd: float) -> np.ndarray:
    """USD per transaction of every design at a given L1 fee."""
    return np.array(
        [l1_fee_usd * d.l1_bytes_per_tx / L1_TX_BYTES + d.exec_fee_usd for d in params.designs]
    )


@dataclass(frozen=True)
class Day:
    """What every agent of a segment faces on one day."""

    hazard: np.ndarray  # (segments,) probability of adopting today, if the gate is open
    advantage: np.ndarray  # (segments,) best L2 utility minus L1 utility
    choice: np.ndarray  # (segments, L2 designs) logit choice probabilities


def day(params: AbmParams, l1_fee_usd: float, shares: np.ndarray) -> Day:
    """Hazards, advantages and choice probabilities for one day.

    ``shares`` holds the share of all agents on each design (L1 first).
    """
    fee = np.log10(np.maximum(fees(params, l1_fee_usd), 1e-6))
    finality = np.log10(np.array([d.finality_s for d in params.designs]))
    security = np.array([d.security for d in params.designs])
    w = {
        name: np.array(getattr(params, name))[:, None]
        for name in ("w_fee", "w_fin", "w_sec", "w_net")
    }
    utility = (
        -w["w_fee"] * fee - w["w_fin"] * finality + w["w_sec"] * security + w["w_net"] * shares
    )
    layer2 = utility[:, 1:]
    advantage = layer2.max(axis=1) - utility[:, 0]
    weights = np.exp(layer2 - layer2.max(axis=1, keepdims=True))
    choice = weights / weights.sum(axis=1, keepdims=True)
    l2_share = 1.0 - shares[0]
    hazard = np.clip(
        params.p * np.array(params.p_scale) + params.q * np.array(params.q_scale) * l2_share,
        0.0,
        1.0,
    )
    return Day(hazard, advantage, choice)


def l1_fee_path(days: int, l1_fee_usd: np.ndarray | float | None) -> np.ndarray:
    """A fee for every simulated day (a constant $2 when none is given)."""
    if l1_fee_usd is None:
        return np.full(days, 2.0)
    path = np.broadcast_to(np.asarray(l1_fee_usd, dtype=float), (days,))
    return np.array(path)


def thresholds(params: AbmParams, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each agent's adoption threshold, agents ordered by segment."""
    means = np.repeat(np.array(params.threshold_mean), sizes)
    return (means + params.threshold_sd * rng.standard_normal(int(sizes.sum()))).astype(np.float32)
