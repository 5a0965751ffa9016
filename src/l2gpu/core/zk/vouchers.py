"""Vouchers of a lease's channel in the zk ledger: what the renter signs every second.

A voucher is the renter's EdDSA-Poseidon signature of ``channel.voucher_message(renter,
open_nonce, amount)``, the very message the ledger's CLOSE checks, so the provider
can close with the best voucher it holds without asking the renter. The market's
vouchers travel as :class:`~l2gpu.core.channel.vouchers.Voucher` (channel id, amount,
signature bytes) whatever the design; here the signature is the 64-byte packed
EdDSA signature, and :class:`ZkVoucherDomain` plays the part an EIP-712 domain plays
for the other designs: ``Voucher.signer(domain)`` and ``sign_voucher(key, domain, ...)``
reach it through :meth:`ZkVoucherDomain.signer_of` and :meth:`ZkVoucherDomain.sign`.

A zk voucher cannot be recovered to an address as an ECDSA one can: it verifies
against the renter's public key, which the channel's description carries and the
provider's rail checks against the ledger (the key of the account the channel
names, whose leaf binds the renter's L1 address). So :meth:`signer_of` answers "the
renter", or None.

A voucher above the channel's deposit is refused too (``deposit``, from the
description, which the provider's check holds to the ledger's): the ledger's CLOSE
refuses it, and a payee that took it as its best would refuse every smaller one after
it, so that nothing it holds could close the channel before the renter's RECLAIM
takes the whole deposit back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from l2gpu.core.crypto import babyjubjub as bjj
from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.errors import InvalidValue, SignatureError
from l2gpu.core.types import Address, ChainId, Hash32, Wei
from l2gpu.core.zk.channel import voucher_message
from l2gpu.core.zk.keys import zk_private_key
from l2gpu.core.zk.state import ZkError

if TYPE_CHECKING:
    from l2gpu.core.channel.vouchers import Voucher
    from l2gpu.core.crypto.secp256k1 import PrivateKey


@dataclass(frozen=True, slots=True)
class ZkVoucherDomain:
    """Where one zk channel's vouchers verify: the rollup (chain and contract), the
    renter's L1 address, and the channel's name in the ledger (the renter's account
    index and open nonce) with the renter's public key."""

    chain_id: ChainId
    rollup: Address
    renter: Address
    renter_index: int
    open_nonce: int
    ax: int
    ay: int
    deposit: int | None = None
    """The channel's deposit: a voucher above it has no signer (None: not checked)."""

    def signer_of(self, voucher: Voucher) -> Address | None:
        """The renter, if it signed ``voucher``'s amount on this channel; None for any
        malformed or foreign signature, or an amount above the deposit (never raises:
        vouchers come from peers)."""
        if self.deposit is not None and int(voucher.amount) > self.deposit:
            return None
        try:
            signature = eddsa.unpack_signature(voucher.signature)
            digest = voucher_message(self.renter_index, self.open_nonce, int(voucher.amount))
            ok = eddsa.verify(digest, signature, bjj.Point(self.ax, self.ay))
        except (ZkError, SignatureError, InvalidValue, ValueError):
            return None
        return self.renter if ok else None

    def sign(self, key: PrivateKey, channel_id: Hash32, amount: Wei) -> Voucher:
        """The renter's voucher for ``amount`` in all, with the zk key of its L1 ``key``."""
        from l2gpu.core.channel.vouchers import Voucher

        digest = voucher_message(self.renter_index, self.open_nonce, int(amount))
        signature = eddsa.sign(zk_private_key(key, self.chain_id, self.rollup), digest)
        return Voucher(channel_id, amount, eddsa.pack_signature(signature))
