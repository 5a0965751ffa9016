"""``zk``: a lease's channel in the zk rollup's ledger, proven valid with Groth16.

Opening and closing are two operations of the zk ledger (an OPEN of 29 bytes and a
CLOSE of 19 in a batch's public data; ``core/zk/channel.py``); each second is paid
with the renter's EdDSA voucher off chain. The L1 cost is the lease's share of the
batches (their proofs and public data) that carry the two operations. A provider's
money is final once the proof of the batch with its CLOSE is verified on L1: no
challenge window.

``validium`` is the same ledger and circuit with the transfer and channel sections
off L1 (``l2gpu up --design validium``): L1 gets their SHA-256 instead, and the node
serves their bytes. It costs less L1 data, and adds an operator power the rollup
form does not have: withholding those bytes freezes every balance for good, since
nobody else can rebuild the state to exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import Clocks, OperatorPower, OperatorPowers, Step
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.types import Address, Wei
from l2gpu.core.zk.keys import zk_private_key, zk_public_key
from l2gpu.core.zk.pubdata import WITHDRAWAL_BYTES
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.designs.lease_rails import checked_voucher
from l2gpu.designs.world import DesignWorld
from l2gpu.payments.zk_rail import ZkChannelRail


@dataclass
class ZkLease:
    """A lease's channel in the zk ledger, both parties' rails, the best voucher."""

    renter: Address
    provider: Address
    deposit: Wei
    description: ChannelDescription
    provider_rail: ZkChannelRail
    renter_key: PrivateKey
    best: Voucher | None = None


class ZkDesign:
    """Channels in the zk ledger (see the module's docstring). ``world.zk`` is the
    zk rollup's L1 client and ``world.zk_node_url`` its node; with ``validium``,
    ``world.validium`` and ``world.validium_node_url``."""

    def __init__(self, world: DesignWorld, *, validium: bool = False) -> None:
        self.name = "validium" if validium else "zk"
        self.validium = validium
        rollup, url = (world.validium, world.validium_node_url) if validium else (
            world.zk, world.zk_node_url)  # fmt: skip
        if rollup is None or url is None:
            raise L2gpuError(f"this design needs a zk {'validium' if validium else 'rollup'} "
                             "and its node", f"start 'l2gpu up --design {self.name}'")  # fmt: skip
        self.world = world
        self.l1 = rollup
        self.node_url = str(url)
        self.force_delay = int(rollup.contract.call("FORCE_DELAY"))
        self._rails: dict[bytes, ZkChannelRail] = {}

    def rail(self, party: Any) -> ZkChannelRail:
        """The party's rail (one per party, reused)."""
        from l2gpu.node.zk.client import ZkNodeClient

        key = bytes(party.key)
        if key not in self._rails:
            self._rails[key] = ZkChannelRail(ZkNodeClient(self.node_url), PrivateKey(key))
        return self._rails[key]

    def fund(self, party: Any, amount: Wei) -> Step:
        """An L1 deposit into the ZkRollup under the party's zk key."""
        zk_key = zk_private_key(PrivateKey(bytes(party.key)), self.l1.chain.chain_id,
                                self.l1.address)  # fmt: skip
        receipt = self.l1.deposit(party, zk_public_key(zk_key), int(amount))
        return Step(l1_txs=(bytes(receipt.tx_hash),))

    def open_lease(self, renter: Any, provider: Any, deposit: Wei, *, lifetime: int
                   ) -> tuple[ZkLease, Step]:  # fmt: skip
        """The renter's OPEN, soft-confirmed by the node's log."""
        opened = self.rail(renter).open(Address.from_hex(provider.address), deposit,
                                        lifetime=lifetime)  # fmt: skip
        lease = ZkLease(Address.from_hex(renter.address), Address.from_hex(provider.address),
                        opened.deposit, opened.description, self.rail(provider),
                        PrivateKey(bytes(renter.key)))  # fmt: skip
        return lease, Step(l2_bytes=opened.tx_bytes)

    def pay(self, lease: ZkLease, cumulative: Wei) -> Step:
        """The renter's EdDSA voucher for ``cumulative`` wei, checked as it arrives."""
        lease.best = checked_voucher(lease.renter_key, lease.description, cumulative,
                                     lease.renter)  # fmt: skip
        return Step(messages=1)

    def close(self, lease: ZkLease, paid: Wei) -> Step:
        """The provider's CLOSE with the best voucher."""
        if lease.best is None:
            self.pay(lease, Wei(0))
        assert lease.best is not None
        closed = lease.provider_rail.close(lease.description, lease.best)
        return Step(l2_bytes=closed.tx_bytes)

    def withdraw(self, party: Any) -> Step:
        """A zk WITHDRAWAL of the party's whole balance, credited on L1 with its batch."""
        rail = self.rail(party)
        index = rail.index_of(Address.from_hex(party.address), "the party", "deposit first")
        account = rail.client.account(index)
        if account is None or int(account["balance"]) == 0:
            return Step()
        zk_key = zk_private_key(PrivateKey(bytes(party.key)), rail.chain_id, rail.rollup)
        tx = WithdrawalTx(index, int(account["balance"]), int(account["next_nonce"]))
        rail.client.withdraw(zk_key, tx)
        return Step(l2_bytes=WITHDRAWAL_BYTES)

    def clocks(self) -> Clocks:
        """Soft at the node's acknowledgement; final and withdrawable once the proof of
        the batch is verified on L1 and that L1 block is final: the node's last
        proving time, as it reports it, plus the L1's finality."""
        from l2gpu.node.zk.client import ZkNodeClient

        proving = ZkNodeClient(self.node_url).status()["last_proof_seconds"]
        final = float(proving or 0.0) + float(self.world.l1_finality_s)
        return Clocks(soft_s=0.0, final_s=final, withdrawable_s=final)

    def powers(self) -> OperatorPowers:
        """The operator can leave a user's operations out until the user forces an exit
        through L1 (``force_exit``: the next batches must pay it within FORCE_DELAY) or
        a queued deposit is overdue (then anyone freezes the rollup and every account
        exits); it can take nothing: L1 accepts only proven batches. At a freeze, the
        earnings in open channels go back to their renters (exit_channel pays the
        renter). A validium's operator can also withhold the off-L1 data: then nobody
        can build the exit proofs, and the freeze has no end."""
        powers = [
            OperatorPower(
                "freeze",
                "zk balances and channels, by leaving operations out",
                self.force_delay,
                "force_exit on L1 ('l2gpu zk force-exit'): a batch must pay it within "
                "FORCE_DELAY, or anyone freezes the ZkRollup; accounts exit with "
                "exit_account, channels return to their renters with exit_channel",
            ),
        ]
        if self.validium:
            powers.append(OperatorPower(
                "freeze", "every validium balance and channel, by withholding the "
                "transfer and channel data that L1 holds only as a digest", None,
                "none without that data: exits need the state, which only the node's "
                "/zk/batches (or a copy a user kept) can rebuild (core/zk/replay.py)",
            ))  # fmt: skip
        return OperatorPowers(tuple(powers))
