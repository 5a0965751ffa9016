"""``channel-l1``: a payment channel per lease in the ChannelManager on L1.

Opening and closing are L1 transactions; each second is paid with a voucher off
chain; the provider closes at once with the best voucher and both sides are paid in
that transaction. The operator (there is none on L1 beyond the chain itself) can
neither freeze nor take anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l2gpu.core.channel.vouchers import Voucher, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import Clocks, OperatorPowers, Step
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.types import ZERO_ADDRESS, Address, Wei
from l2gpu.designs.world import DesignWorld
from l2gpu.payments.rails import L1ChannelRail


@dataclass
class L1Lease:
    """A lease's channel on L1 and the best voucher the provider holds."""

    renter: Address
    provider: Address
    deposit: Wei
    description: ChannelDescription
    renter_key: PrivateKey
    provider_account: Any
    best: Voucher | None = None


def _address(party: Any) -> Address:
    return Address.from_hex(party.address)


class ChannelL1Design:
    """Channels on L1 (see the module's docstring)."""

    name = "channel-l1"

    def __init__(self, world: DesignWorld) -> None:
        if world.manager is None:
            raise L2gpuError("channel-l1 needs a ChannelManager", "deploy one first")
        self.world = world
        self.manager = world.manager

    def fund(self, party: Any, amount: Wei) -> Step:
        """Nothing to do: the renter pays the deposit from its L1 balance when it opens."""
        return Step()

    def open_lease(self, renter: Any, provider: Any, deposit: Wei, *, lifetime: int
                   ) -> tuple[L1Lease, Step]:  # fmt: skip
        """One L1 transaction (``open``) from the renter."""
        opened = L1ChannelRail(self.manager, renter).open(_address(provider), deposit,
                                                          lifetime=lifetime)  # fmt: skip
        lease = L1Lease(_address(renter), _address(provider), opened.deposit,
                        opened.description, PrivateKey(bytes(renter.key)), provider)  # fmt: skip
        return lease, Step(l1_txs=(opened.tx_hash,) if opened.tx_hash else ())

    def pay(self, lease: L1Lease, cumulative: Wei) -> Step:
        """A voucher for ``cumulative`` wei, checked by the provider as it arrives."""
        cid = self._cid(lease)
        voucher = sign_voucher(lease.renter_key, self.manager.domain, cid, cumulative)
        if voucher.signer(self.manager.domain) != lease.renter:
            raise L2gpuError("a voucher did not verify", "this is a bug in l2gpu")
        lease.best = voucher
        return Step(messages=1)

    def close(self, lease: L1Lease, paid: Wei) -> Step:
        """``closeByProvider`` with the best voucher: one L1 transaction, both paid."""
        if lease.best is None:
            lease.best = sign_voucher(lease.renter_key, self.manager.domain, self._cid(lease),
                                      Wei(0))  # fmt: skip
        closed = L1ChannelRail(self.manager, lease.provider_account).close(lease.description,
                                                                           lease.best)  # fmt: skip
        return Step(l1_txs=(closed.tx_hash,) if closed.tx_hash else ())

    def withdraw(self, party: Any) -> Step:
        """Payouts are pushed at the close; only a refused push leaves a credit to pull."""
        credit = int(self.manager.contract.call("credit", ZERO_ADDRESS.checksum, party.address))
        if credit == 0:
            return Step()
        receipt = self.manager.contract.transact("withdraw", ZERO_ADDRESS.checksum, sender=party)
        return Step(l1_txs=(receipt.tx_hash,))

    def clocks(self) -> Clocks:
        """Soft and withdrawable when the close is mined; final with L1's finality."""
        final = float(self.world.l1_finality_s)
        return Clocks(soft_s=0.0, final_s=final, withdrawable_s=0.0)

    def powers(self) -> OperatorPowers:
        """No operator: the ChannelManager has no owner and no pause."""
        return OperatorPowers(())

    def _cid(self, lease: L1Lease) -> Any:
        return lease.description.channel_id
