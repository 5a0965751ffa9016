"""Vouchers and cooperative-close approvals: EIP-712 messages bound to one channel.

A voucher is the renter's signature over ``(channelId, amount)`` where amount is
the *cumulative* sum paid so far; the newest (highest) voucher wins. The EIP-712
domain names the chain and the manager contract, and the message names the
channel, so a voucher never validates on another chain, contract or channel.

A channel in the zk ledger signs its vouchers with the renter's EdDSA key instead
(``core/zk/vouchers.py``): its "domain" is a :class:`VoucherDomain` that verifies and
signs them itself, so every party checks vouchers through the same two calls,
:meth:`Voucher.signer` and :func:`sign_voucher`, whatever the design.

Vouchers and approvals come from peers: recovering their signer never raises. A
malformed signature, a channel id that is not 32 bytes or an amount outside uint256
(no valid signature can exist over it) all give None, "signed by nobody".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataError, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue, SignatureError
from l2gpu.core.types import Address, ChainId, Hash32, Wei

DOMAIN_NAME = "l2gpu channels"
DOMAIN_VERSION = "1"

VOUCHER = TypedDataSchema({"Voucher": [("channelId", "bytes32"), ("amount", "uint256")]}, "Voucher")
COOPERATIVE_CLOSE = TypedDataSchema(
    {"CooperativeClose": [("channelId", "bytes32"), ("amount", "uint256")]}, "CooperativeClose"
)


_MALFORMED = (SignatureError, InvalidValue, TypedDataError)
"""What recovering the signer of a peer's message raises when any part of it is malformed."""
MALFORMED_SIGNATURE = _MALFORMED


class VoucherDomain(Protocol):
    """A voucher domain that is not an EIP-712 one (a zk channel's): it says who signed
    a voucher and signs one itself."""

    @property
    def chain_id(self) -> int | None:
        """The chain the channel lives on."""
        ...

    def signer_of(self, voucher: Voucher) -> Address | None:
        """Who signed ``voucher`` (None: nobody valid)."""
        ...

    def sign(self, key: PrivateKey, channel_id: Hash32, amount: Wei) -> Voucher:
        """``key``'s voucher for ``amount`` on ``channel_id``."""
        ...


def channel_domain(chain_id: ChainId, contract: Address) -> Eip712Domain:
    """The signing domain of the manager ``contract`` on chain ``chain_id``."""
    return Eip712Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, contract)


@dataclass(frozen=True, slots=True)
class Voucher:
    """A signed promise: the renter has paid ``amount`` in total on ``channel_id``."""

    channel_id: Hash32
    amount: Wei
    signature: bytes

    def signer(self, domain: Eip712Domain | VoucherDomain) -> Address | None:
        """Who signed it under ``domain``; None if the signature, the channel id or the
        amount is malformed."""
        if not isinstance(domain, Eip712Domain):
            return domain.signer_of(self)
        try:
            return VOUCHER.recover(
                domain, {"channelId": self.channel_id, "amount": self.amount}, self.signature
            )
        except _MALFORMED:
            return None

    def to_json(self) -> dict[str, str | int]:
        """A JSON-ready form (hex strings and an integer amount)."""
        return {
            "channel_id": str(self.channel_id),
            "amount": self.amount,
            "signature": "0x" + self.signature.hex(),
        }


def sign_voucher(
    key: PrivateKey, domain: Eip712Domain | VoucherDomain, cid: Hash32, amount: Wei
) -> Voucher:
    """The renter signs that ``amount`` has been paid in total on channel ``cid``."""
    if not isinstance(domain, Eip712Domain):
        return domain.sign(key, cid, amount)
    signature = VOUCHER.sign(key, domain, {"channelId": cid, "amount": amount})
    return Voucher(cid, amount, signature)


def sign_cooperative_close(
    key: PrivateKey, domain: Eip712Domain, cid: Hash32, amount: Wei
) -> bytes:
    """One party approves closing ``cid`` now with ``amount`` to the provider."""
    return COOPERATIVE_CLOSE.sign(key, domain, {"channelId": cid, "amount": amount})


def cooperative_close_signer(
    domain: Eip712Domain, cid: Hash32, amount: Wei, signature: bytes
) -> Address | None:
    """Who approved a cooperative close; None if the signature, the channel id or the
    amount is malformed."""
    try:
        return COOPERATIVE_CLOSE.recover(domain, {"channelId": cid, "amount": amount}, signature)
    except _MALFORMED:
        return None
