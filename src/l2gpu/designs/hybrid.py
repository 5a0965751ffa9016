"""``hybrid``: a payment channel per lease inside the rollup (the default).

Opening and closing are two small L2 transactions (OpenChannel, and a co-signed
CooperativeClose); each second is paid with a voucher off chain. The L1 cost is the
lease's share of the batches that carry those two transactions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import Step
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.types import Address, Wei
from l2gpu.designs.lease_rails import checked_voucher
from l2gpu.designs.rollup_common import InsideTheRollup
from l2gpu.designs.world import DesignWorld
from l2gpu.payments.rollup_rail import RollupChannelRail


@dataclass
class RollupLease:
    """A lease's channel inside the rollup, both parties' rails, the best voucher."""

    renter: Address
    provider: Address
    deposit: Wei
    description: ChannelDescription
    renter_rail: RollupChannelRail
    provider_rail: RollupChannelRail
    renter_key: PrivateKey
    best: Voucher | None = None
    agreed: list[str] = field(default_factory=list)


class HybridDesign(InsideTheRollup):
    """Channels inside the rollup (see the module's docstring)."""

    name = "hybrid"

    def __init__(self, world: DesignWorld) -> None:
        super().__init__(world)

    def open_lease(self, renter: Any, provider: Any, deposit: Wei, *, lifetime: int
                   ) -> tuple[RollupLease, Step]:  # fmt: skip
        """The renter's OpenChannel, soft-confirmed; co-signed until a batch holds it."""
        renter_rail = RollupChannelRail(self.world.l2(renter))
        provider_rail = RollupChannelRail(self.world.l2(provider))
        opened = renter_rail.open(Address.from_hex(provider.address), deposit, lifetime=lifetime)
        lease = RollupLease(Address.from_hex(renter.address), Address.from_hex(provider.address),
                            opened.deposit, opened.description, renter_rail, provider_rail,
                            PrivateKey(bytes(renter.key)))  # fmt: skip
        return lease, Step(l2_bytes=opened.tx_bytes)

    def pay(self, lease: RollupLease, cumulative: Wei) -> Step:
        """A voucher for ``cumulative`` wei under the Rollup's domain, checked as it arrives."""
        lease.best = checked_voucher(lease.renter_key, lease.description, cumulative,
                                     lease.renter)  # fmt: skip
        return Step(messages=1)

    def close(self, lease: RollupLease, paid: Wei) -> Step:
        """The provider's CooperativeClose, co-signed by the renter for at most ``paid``
        (the provider's CloseByProvider with the best voucher if the renter refuses)."""
        if lease.best is None:
            self.pay(lease, Wei(0))
        assert lease.best is not None
        renter_side = threading.Thread(
            target=lambda: lease.agreed.append(
                lease.renter_rail.cosign_close(lease.description, paid)),
            daemon=True,
        )  # fmt: skip
        renter_side.start()
        closed = lease.provider_rail.close(lease.description, lease.best)
        renter_side.join(timeout=lease.renter_rail.wait)
        return Step(l2_bytes=closed.tx_bytes)
