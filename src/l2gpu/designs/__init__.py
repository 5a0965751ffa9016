"""The settlement designs, each behind :class:`l2gpu.core.designs.SettlementDesign`.

Adding a design means adding one module here and one line in :data:`DESIGNS`; the
benchmark (``l2gpu bench designs``) then runs it through the same workload as the
others. A channel design that market leases can pay over adds one line in
:data:`~l2gpu.designs.lease_rails.LEASE_RAILS` too: the market's parties reach it
through :func:`lease_rail`. ``docs/architecture.md`` has the design table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from l2gpu.core.designs import SettlementDesign
from l2gpu.designs.lease_rails import LEASE_RAILS, RailParts, lease_rail
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


DESIGNS: dict[str, Callable[[DesignWorld], SettlementDesign[Any]]] = {
    "channel-l1": _channel_l1,
    "rollup": _rollup,
    "hybrid": _hybrid,
}
"""Every design by its ``settlement`` name."""


def make_design(name: str, world: DesignWorld) -> SettlementDesign[Any]:
    """The design called ``name`` on ``world``'s deployment."""
    from l2gpu.core.errors import L2gpuError

    if name not in DESIGNS:
        raise L2gpuError(f"unknown settlement design '{name}'",
                         f"use one of: {', '.join(DESIGNS)}")  # fmt: skip
    return DESIGNS[name](world)


__all__ = ["DESIGNS", "LEASE_RAILS", "DesignWorld", "RailParts", "lease_rail", "make_design"]
