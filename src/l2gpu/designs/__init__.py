"""The settlement designs, each behind :class:`l2gpu.core.designs.SettlementDesign`.

Adding a design means adding one module here and one line in :data:`DESIGNS`: how
to make the whole design on a deployment (``l2gpu bench designs`` then runs it
through the same workload as the others) and, for a design market leases can pay
over, how to make one party's lease rail (the market's parties reach it through
:func:`lease_rail`). ``docs/architecture.md`` has the design table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from l2gpu.core.designs import ChannelRail, SettlementDesign
from l2gpu.core.errors import L2gpuError
from l2gpu.designs import lease_rails
from l2gpu.designs.lease_rails import RailParts
from l2gpu.designs.world import DesignWorld


def _channel_l1(world: DesignWorld) -> SettlementDesign[Any]:
    from l2gpu.designs.channel_l1 import ChannelL1Design

    return ChannelL1Design(world)


def _rollup(world: DesignWorld) -> SettlementDesign[Any]:
    from l2gpu.designs.rollup_transfers import RollupTransfersDesign

    return RollupTransfersDesign(world)


def _hybrid(world: DesignWorld) -> SettlementDesign[Any]:
    from l2gpu.designs.hybrid import HybridDesign

    return HybridDesign(world)


def _zk(world: DesignWorld) -> SettlementDesign[Any]:
    from l2gpu.designs.zk import ZkDesign

    return ZkDesign(world)


def _validium(world: DesignWorld) -> SettlementDesign[Any]:
    from l2gpu.designs.zk import ZkDesign

    return ZkDesign(world, validium=True)


def _plasma(world: DesignWorld) -> SettlementDesign[Any]:
    from l2gpu.designs.plasma import PlasmaDesign

    return PlasmaDesign(world)


def _sharded(world: DesignWorld) -> SettlementDesign[Any]:
    from l2gpu.designs.sharded import ShardedDesign

    return ShardedDesign(world)


@dataclass(frozen=True)
class Design:
    """One design's two faces: ``make`` builds it whole on a deployment (the benchmark);
    ``lease_rail`` (None for a design without a channel) builds one party's rail."""

    make: Callable[[DesignWorld], SettlementDesign[Any]]
    lease_rail: Callable[[RailParts], ChannelRail] | None = None


DESIGNS: dict[str, Design] = {
    "channel-l1": Design(_channel_l1, lease_rails.channel_l1_rail),
    "rollup": Design(_rollup),
    "hybrid": Design(_hybrid, lease_rails.hybrid_rail),
    "zk": Design(_zk, lease_rails.zk_rail),
    # A validium's node speaks the zk node's API: market leases reach it as "zk".
    "validium": Design(_validium),
    "plasma": Design(_plasma, lease_rails.plasma_rail),
    # A routed lease's provider is paid on a hybrid channel of its shard: the market's
    # parties take the hybrid rail on their shard and, for a renter, the routed rail.
    "sharded": Design(_sharded),
}
"""Every design by its ``settlement`` name."""

LEASE_RAILS: tuple[str, ...] = tuple(n for n, d in DESIGNS.items() if d.lease_rail is not None)
"""The designs market leases can pay over (those with a channel)."""


def lease_rail(settlement: str, parts: RailParts) -> ChannelRail:
    """The rail of design ``settlement`` for the party described by ``parts``."""
    design = DESIGNS.get(settlement)
    if design is None or design.lease_rail is None:
        raise L2gpuError(
            f"the market cannot pay leases over '{settlement}'",
            f"market leases pay over a channel: set settlement to one of "
            f"{', '.join(LEASE_RAILS)} ('rollup' is compared by 'l2gpu bench designs' only; "
            "for a validium's node use 'zk'; a sharded market's renter takes "
            "l2gpu.payments.routed_rail, its provider the hybrid rail of its shard)",
        )
    return design.lease_rail(parts)


def make_design(name: str, world: DesignWorld) -> SettlementDesign[Any]:
    """The design called ``name`` on ``world``'s deployment."""
    if name not in DESIGNS:
        raise L2gpuError(f"unknown settlement design '{name}'",
                         f"use one of: {', '.join(DESIGNS)}")  # fmt: skip
    return DESIGNS[name].make(world)


__all__ = [
    "DESIGNS",
    "LEASE_RAILS",
    "Design",
    "DesignWorld",
    "RailParts",
    "lease_rail",
    "make_design",
]
