"""The market's face of each channel design: the rail one party uses for a lease.

``l2gpu.designs.DESIGNS`` makes each design whole for the benchmark; this registry
makes the piece of it that the market's parties hold: the renter's client opens and
co-signs closes through it, the provider's agent checks and closes through it. The
CLI, the scenarios and the agent ask :func:`lease_rail` for the design that the
``settlement`` setting names, never for a rail class, so adding a channel design to
the market is one module and one line here.

The ``rollup`` design pays each second by an L2 transfer, with no channel: it has
no lease rail, and the market refuses it with a message that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from l2gpu.core.designs import ChannelRail
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient


@dataclass(frozen=True)
class RailParts:
    """What one party brings to a design's lease rail: its L1 account and the
    ChannelManager (``channel-l1``); the rollup node's URL and its L2 key (``hybrid``);
    optionally the clock that channel expiries count in, and ``options`` that the
    design's rail takes as keywords (a salt source, a wait, soft confirmation)."""

    account: LocalAccount | None = None
    manager: ChannelManagerClient | None = None
    node_url: str | None = None
    key: PrivateKey | None = None
    clock: Callable[[], int] | None = None
    options: tuple[tuple[str, Any], ...] = ()


def _channel_l1(parts: RailParts) -> ChannelRail:
    from l2gpu.payments.rails import L1ChannelRail

    if parts.manager is None or parts.account is None:
        raise L2gpuError("a channel on L1 needs the ChannelManager and an L1 account",
                         "pass --l1-rpc URL and --manager ADDRESS, and a signing key")  # fmt: skip
    return L1ChannelRail(parts.manager, parts.account, **dict(parts.options))


def _hybrid(parts: RailParts) -> ChannelRail:
    from l2gpu.node.client import L2Client
    from l2gpu.payments.rollup_rail import RollupChannelRail

    if parts.node_url is None or parts.key is None:
        raise L2gpuError(
            "a channel inside the rollup needs a rollup node and an L2 key",
            "pass --node URL of a rollup node ('l2gpu up'), and a signing key",
        )
    client = L2Client(parts.node_url, parts.key)
    return RollupChannelRail(client, clock=parts.clock, **dict(parts.options))


LEASE_RAILS: dict[str, Callable[[RailParts], ChannelRail]] = {
    "channel-l1": _channel_l1,
    "hybrid": _hybrid,
}
"""The lease rail of every channel design, by its ``settlement`` name."""


def lease_rail(settlement: str, parts: RailParts) -> ChannelRail:
    """The rail of design ``settlement`` for the party described by ``parts``."""
    if settlement not in LEASE_RAILS:
        raise L2gpuError(
            f"the market cannot pay leases over '{settlement}'",
            f"market leases pay over a channel: set settlement to one of "
            f"{', '.join(LEASE_RAILS)} ('rollup' is compared by 'l2gpu bench designs' only)",
        )
    return LEASE_RAILS[settlement](parts)
