"""The market's face of each channel design: the rail one party uses for a lease.

Each design's line in ``l2gpu.designs.DESIGNS`` names how to make it whole for the
benchmark and, here, how to make the piece the market's parties hold: the renter's
client opens and co-signs closes through it, the provider's agent checks and closes
through it. The CLI, the scenarios and the benchmarks ask
``l2gpu.designs.lease_rail`` for the design the ``settlement`` setting names, never
for a rail class.

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

    from l2gpu.core.channel.vouchers import Voucher
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.market.channel_description import ChannelDescription
    from l2gpu.core.types import Address, Wei
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient


def checked_voucher(
    key: PrivateKey, description: ChannelDescription, cumulative: Wei, renter: Address
) -> Voucher:
    """The renter's voucher for ``cumulative`` wei on the described channel, checked as
    its provider checks it on arrival (``voucher_domain``: EIP-712 or a zk channel's
    EdDSA key); the benchmark's designs pay each second with it."""
    from l2gpu.core.channel.vouchers import sign_voucher
    from l2gpu.core.market.channel_description import voucher_domain

    domain = voucher_domain(description)
    voucher = sign_voucher(key, domain, description.channel_id, cumulative)
    if voucher.signer(domain) != renter:
        raise L2gpuError("a voucher did not verify", "this is a bug in l2gpu")
    return voucher


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


def channel_l1_rail(parts: RailParts) -> ChannelRail:
    """A party's rail for channels in the ChannelManager on L1."""
    from l2gpu.payments.rails import L1ChannelRail

    if parts.manager is None or parts.account is None:
        raise L2gpuError("a channel on L1 needs the ChannelManager and an L1 account",
                         "pass --l1-rpc URL and --manager ADDRESS, and a signing key")  # fmt: skip
    return L1ChannelRail(parts.manager, parts.account, **dict(parts.options))


def hybrid_rail(parts: RailParts) -> ChannelRail:
    """A party's rail for channels inside the rollup, through a node's API."""
    from l2gpu.node.client import L2Client
    from l2gpu.payments.rollup_rail import RollupChannelRail

    if parts.node_url is None or parts.key is None:
        raise L2gpuError(
            "a channel inside the rollup needs a rollup node and an L2 key",
            "pass --node URL of a rollup node ('l2gpu up'), and a signing key",
        )
    client = L2Client(parts.node_url, parts.key)
    return RollupChannelRail(client, clock=parts.clock, **dict(parts.options))


def zk_rail(parts: RailParts) -> ChannelRail:
    """A party's rail for channels in the zk ledger, through a zk node's API."""
    from l2gpu.node.zk.client import ZkNodeClient
    from l2gpu.payments.zk_rail import ZkChannelRail

    if parts.node_url is None or parts.key is None:
        raise L2gpuError(
            "a channel in the zk rollup needs a zk node and a signing key",
            "pass --node URL of a zk node ('l2gpu up --design zk'), and a signing key",
        )
    return ZkChannelRail(ZkNodeClient(parts.node_url), parts.key, clock=parts.clock,
                         **dict(parts.options))  # fmt: skip


def plasma_rail(parts: RailParts) -> ChannelRail:
    """A party's rail for leases paid in a Plasma child chain, through its operator."""
    from l2gpu.node.plasma.client import PlasmaNodeClient
    from l2gpu.payments.plasma_rail import PlasmaChannelRail

    if parts.node_url is None or parts.key is None:
        raise L2gpuError(
            "a lease on Plasma needs the operator's API and a signing key",
            "pass --node URL of a Plasma operator ('l2gpu up --design plasma'), and a key",
        )
    return PlasmaChannelRail(PlasmaNodeClient(parts.node_url), parts.key, clock=parts.clock,
                             **dict(parts.options))  # fmt: skip
