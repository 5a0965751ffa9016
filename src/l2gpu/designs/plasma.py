"""``plasma``: a lease paid in coins of a Plasma child chain, which posts one 32-byte
root per block to L1.

Funding is an L1 deposit into the Plasma contract: the party's wei become coins.
Opening a lease, the renter sets aside ``deposit`` of its coins and locks them for
the provider with the operator (a signed ``PlasmaLock``, nothing on L1). Each second
the renter signs a transfer of the first ``cumulative`` of those coins to the
provider: the voucher *is* a child-chain transaction, checked as it arrives. The
provider closes by sending the best one to the operator, which puts it in its next
block; the rest of the coins stay the renter's. The lease costs L1 nothing of its
own: its share of the blocks' roots.

What the operator could do: withhold a block, after which everyone exits with the
history before it (their coins wait out the exit period), and, colluding with a
renter, let the renter spend a lease's locked coins elsewhere before the provider's
transfer lands (the lock is the operator's promise, not L1's): the provider then
loses what the lease earned since its last settled transfer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import Clocks, OperatorPower, OperatorPowers, Step
from l2gpu.core.errors import L2gpuError
from l2gpu.core.plasma.transactions import (
    ENCODED_SIZE,
    Lock,
    SignedTransfer,
    Transfer,
    sign_claim,
    sign_lock,
    sign_transfer,
)
from l2gpu.core.types import Address, Wei
from l2gpu.designs.world import DesignWorld

TRANSFER_BYTES = ENCODED_SIZE + 65  # what one transfer adds to the operator's blocks


@dataclass
class PlasmaLease:
    """A lease's coins ``[start, start + deposit)``, received in block ``received``,
    and the provider's best voucher (a signed transfer of a prefix of them)."""

    renter: Address
    provider: Address
    deposit: Wei
    start: int
    received: int
    renter_key: PrivateKey
    provider_key: PrivateKey
    best: SignedTransfer | None = None


class PlasmaDesign:
    """Leases in a Plasma child chain; ``world.plasma`` is the contract's L1 client
    and ``world.plasma_node_url`` its operator's API."""

    name = "plasma"

    def __init__(self, world: DesignWorld) -> None:
        from l2gpu.node.plasma.client import PlasmaNodeClient

        if world.plasma is None or world.plasma_node_url is None:
            raise L2gpuError(
                "this design needs a Plasma contract and its operator",
                "start 'l2gpu up --design plasma'",
            )
        self.world = world
        self.l1 = world.plasma
        self.node = PlasmaNodeClient(str(world.plasma_node_url))
        self.domain = self.l1.domain
        self.rules = self.l1.rules()
        self._reserved: dict[Address, int] = {}  # the next coin each renter may set aside
        self._lock = threading.Lock()

    def fund(self, party: Any, amount: Wei) -> Step:
        """An L1 deposit into the Plasma contract: ``amount`` new coins."""
        receipt = self.l1.contract.transact("deposit", sender=party, value=int(amount))
        return Step(l1_txs=(bytes(receipt.tx_hash),))

    def balance(self, party: Any) -> int:
        """The coins the party holds on the child chain, as the operator reports them."""
        return sum(e - s for s, e, _ in self.node.coins(Address.from_hex(party.address)))

    def open_lease(
        self, renter: Any, provider: Any, deposit: Wei, *, lifetime: int
    ) -> tuple[PlasmaLease, Step]:
        """Set aside ``deposit`` of the renter's coins and lock them for the provider."""
        who = Address.from_hex(renter.address)
        with self._lock:
            start, received = self._set_aside(who, int(deposit))
        key = PrivateKey(bytes(renter.key))
        until = int(self.node.status()["time"]) + lifetime
        payee = Address.from_hex(provider.address)
        self.node.lock(sign_lock(key, self.domain, Lock(start, start + int(deposit), payee, until)))
        return PlasmaLease(
            who, payee, deposit, start, received, key, PrivateKey(bytes(provider.key))
        ), Step(messages=1)

    def _set_aside(self, renter: Address, amount: int) -> tuple[int, int]:
        """The first ``amount`` coins of one of the renter's ranges not yet set aside."""
        floor = self._reserved.get(renter, 0)
        for start, end, received in self.node.coins(renter, free=True):
            first = max(start, floor)
            if end - first >= amount:
                self._reserved[renter] = first + amount
                return first, received
        raise L2gpuError(
            f"{renter} holds no {amount} coins in one range on the child chain",
            "deposit more into the Plasma contract",
        )

    def pay(self, lease: PlasmaLease, cumulative: Wei) -> Step:
        """The renter's transfer of the lease's first ``cumulative`` coins to the
        provider, checked as the provider checks it on arrival."""
        transfer = Transfer(
            lease.start, lease.start + int(cumulative), lease.provider, lease.received
        )
        signed = sign_transfer(lease.renter_key, self.domain, transfer)
        if signed.signer(self.domain) != lease.renter or int(cumulative) > lease.deposit:
            raise L2gpuError("a lease's transfer did not verify", "this is a bug in l2gpu")
        lease.best = signed
        return Step(messages=1)

    def close(self, lease: PlasmaLease, paid: Wei) -> Step:
        """The provider sends the best transfer to the operator for its next block."""
        if lease.best is None or int(paid) == 0:
            return Step()
        self.node.submit(lease.best, sign_claim(lease.provider_key, self.domain, lease.best))
        return Step(l2_bytes=TRANSFER_BYTES)

    def withdraw(self, party: Any) -> Step:
        """Start an exit of every coin range the party's history shows it holds
        (each pays out after the exit period, unless someone proves it invalid)."""
        from l2gpu.core.plasma.provenance import exit_call

        who = Address.from_hex(party.address)
        view = self.node.view(self.domain, root_of=self.l1.root)
        hashes = []
        for holding in view.of(who):
            exit_ = exit_call(holding, 0, self.rules.exit_bond)
            hashes.append(bytes(self.l1.apply(exit_, party).tx_hash))
        return Step(l1_txs=tuple(hashes))

    def clocks(self) -> Clocks:
        """Soft at the operator's acceptance; final once the block's root is on L1 and
        that L1 block is final (a payee holding the coins' history can then always
        exit them); withdrawable after the exit period."""
        final = float(self.world.l1_finality_s)
        return Clocks(soft_s=0.0, final_s=final, withdrawable_s=final + self.rules.exit_period)

    def powers(self) -> OperatorPowers:
        """Withholding a block freezes coins for an exit period; a broken lease lock
        (with the renter) takes a lease's unsettled earnings."""
        period = self.rules.exit_period + self.rules.response_period
        return OperatorPowers(
            (
                OperatorPower(
                    "freeze",
                    "every coin, by withholding a block's data",
                    period,
                    "every owner exits with its history up to the block before (the "
                    "watcher does it); the coins pay out after the exit period",
                ),
                OperatorPower(
                    "take",
                    "a lease's earnings not yet in a block, by letting the "
                    "renter spend its locked coins elsewhere first",
                    None,
                    "none on L1: the lock is the operator's promise; the provider's "
                    "agent bounds it by sending its best transfer early",
                ),
            )
        )
