"""A Plasma lease's vouchers: each is the renter's signed transfer of the first
``amount`` of the lease's locked coins to the provider.

The lease's channel description names the coins (their first coin, and the block
the renter received them in); a voucher carries only the amount and the signature,
and :class:`PlasmaVoucherDomain` rebuilds the transfer to check or submit it. So
the provider's best voucher is a child-chain transaction it can send to the operator
at any time, without the renter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue
from l2gpu.core.plasma.transactions import SignedTransfer, Transfer, plasma_domain, sign_transfer
from l2gpu.core.types import Address, ChainId, Hash32, Wei

if TYPE_CHECKING:
    from l2gpu.core.channel.vouchers import Voucher


@dataclass(frozen=True, slots=True)
class PlasmaVoucherDomain:
    """Where one Plasma lease's vouchers verify: the contract (chain and address), the
    parties, and the lease's coins ``[start, start + deposit)`` received in block
    ``received``."""

    chain_id: ChainId
    plasma: Address
    renter: Address
    provider: Address
    start: int
    received: int
    deposit: int

    def transfer(self, amount: int) -> Transfer:
        """The transfer a voucher for ``amount`` signs."""
        return Transfer(self.start, self.start + amount, self.provider, self.received)

    def signed_transfer(self, voucher: Voucher) -> SignedTransfer:
        """The child-chain transaction a voucher is (to send to the operator)."""
        return SignedTransfer(self.transfer(int(voucher.amount)), voucher.signature)

    def signer_of(self, voucher: Voucher) -> Address | None:
        """Who signed ``voucher``; None for an amount of nothing or above the deposit,
        or a malformed signature (never raises: vouchers come from peers)."""
        if not 0 < int(voucher.amount) <= self.deposit:
            return None
        try:
            signed = self.signed_transfer(voucher)
        except InvalidValue:
            return None
        return signed.signer(plasma_domain(self.chain_id, self.plasma))

    def sign(self, key: PrivateKey, channel_id: Hash32, amount: Wei) -> Voucher:
        """The renter's voucher for ``amount`` in all: its transfer of that many coins."""
        from l2gpu.core.channel.vouchers import Voucher

        domain = plasma_domain(self.chain_id, self.plasma)
        signed = sign_transfer(key, domain, self.transfer(int(amount)))
        return Voucher(channel_id, amount, signed.signature)
