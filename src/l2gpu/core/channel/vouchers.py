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
VIRTUAL_DOMAIN_NAME = "l2gpu virtual channels"
VIRTUAL_VOUCHER = TypedDataSchema(
    {"VirtualVoucher": [("virtualId", "bytes32"), ("amount", "uint256")]}, "VirtualVoucher"
)
"""A virtual channel's voucher: it names the virtual id, not a channel, and its domain
names no contract, so the same voucher counts on both ends (``state.VirtualTerms``)."""
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


def virtual_domain(chain_id: int) -> Eip712Domain:
    """The domain of virtual vouchers on chain ``chain_id``: every shard on that L1."""
    return Eip712Domain(VIRTUAL_DOMAIN_NAME, DOMAIN_VERSION, chain_id)


@dataclass(frozen=True, slots=True)
class VirtualVoucherDomain:
    """The voucher domain of one end of a virtual channel: a :class:`Voucher` names the
    channel it is shown on, but its signature is over ``(virtual_id, amount)`` under
    :func:`virtual_domain`, so the same signature is good on the other end too."""

    chain_id: int
    virtual_id: Hash32

    def signer_of(self, voucher: Voucher) -> Address | None:
        """Who signed ``voucher``'s amount for this virtual id (None: malformed)."""
        return virtual_voucher_signer(self.chain_id, self.virtual_id, voucher.amount,
                                      voucher.signature)  # fmt: skip

    def sign(self, key: PrivateKey, channel_id: Hash32, amount: Wei) -> Voucher:
        """``key``'s voucher for ``amount`` on this virtual id, shown on ``channel_id``."""
        message = {"virtualId": self.virtual_id, "amount": amount}
        signature = VIRTUAL_VOUCHER.sign(key, virtual_domain(self.chain_id), message)
        return Voucher(channel_id, amount, signature)


def virtual_voucher_signer(
    chain_id: int, virtual_id: Hash32, amount: int, signature: bytes
) -> Address | None:
    """Who signed ``amount`` on ``virtual_id``; None if any part is malformed."""
    try:
        return VIRTUAL_VOUCHER.recover(virtual_domain(chain_id),
                                       {"virtualId": virtual_id, "amount": amount},
                                       signature)  # fmt: skip
    except _MALFORMED:
        return None


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
