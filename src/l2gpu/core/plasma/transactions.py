"""What moves coins on the Plasma child chain: deposits from L1 and signed transfers.

Coins are wei numbered in deposit order (see ``sumtree``). A transfer moves one coin
range ``[start, end)`` from its signer to ``recipient``; ``prev_block`` names where
the signer got those coins: the block whose transfer paid them, or, for coins never
moved, the block height their deposit was recorded at. That link is what the exit
games follow: an exit names a transfer and its parent, and a challenge shows a
transfer that spends the same coins with the same ``prev_block``.

A transfer is EIP-712 typed data under the Plasma contract's domain, so a wallet can
show what is signed and the contract can recover the signer with ``ecrecover``.
The leaf a block commits to is ``keccak256(encoding || signature)``: the signature
is bound, so the operator cannot swap in another signing of the same transfer.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue, SignatureError
from l2gpu.core.plasma.sumtree import COIN_SPACE
from l2gpu.core.types import Address, ChainId

PLASMA_TRANSFER = TypedDataSchema(
    {
        "PlasmaTransfer": [
            ("start", "uint256"),
            ("end", "uint256"),
            ("recipient", "address"),
            ("prevBlock", "uint64"),
        ]
    },
    "PlasmaTransfer",
)
PLASMA_LOCK = TypedDataSchema(
    {
        "PlasmaLock": [
            ("start", "uint256"),
            ("end", "uint256"),
            ("provider", "address"),
            ("until", "uint64"),
        ]
    },
    "PlasmaLock",
)
PLASMA_CLAIM = TypedDataSchema({"PlasmaClaim": [("leaf", "bytes32")]}, "PlasmaClaim")
"""A lease's provider asks the operator to include the transfer with this leaf: locked
coins move only when their provider sends the renter's transfer (a renter sending
its own smallest voucher would otherwise end the lease at that price)."""
ENCODED_SIZE = 32 + 32 + 20 + 8  # the transfer's bytes, before the 65-byte signature


def plasma_domain(chain_id: ChainId, plasma: Address) -> Eip712Domain:
    """The EIP-712 domain of one Plasma contract."""
    return Eip712Domain("l2gpu plasma", "1", chain_id, plasma)


@dataclass(frozen=True)
class Deposit:
    """Coins ``[start, end)`` that ``owner`` deposited on L1, recorded after child
    block ``block`` (their first spend names ``prev_block = block``)."""

    start: int
    end: int
    owner: Address
    block: int


@dataclass(frozen=True)
class Transfer:
    """Move coins ``[start, end)``, received in block ``prev_block``, to ``recipient``."""

    start: int
    end: int
    recipient: Address
    prev_block: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= COIN_SPACE:
            raise InvalidValue(
                "coin range", (self.start, self.end), "it is empty or outside the coin space",
                "transfer coins [start, end) with start < end",
            )  # fmt: skip
        if not 0 <= self.prev_block < 2**64:
            raise InvalidValue("prev_block", self.prev_block, "it is not a block number",
                               "name the block the coins were received in")  # fmt: skip

    def message(self) -> dict[str, object]:
        """The EIP-712 message."""
        return {"start": self.start, "end": self.end, "recipient": self.recipient,
                "prevBlock": self.prev_block}  # fmt: skip

    def encode(self) -> bytes:
        """Fixed-width bytes: start 32, end 32, recipient 20, prev_block 8."""
        return (self.start.to_bytes(32, "big") + self.end.to_bytes(32, "big")
                + bytes(self.recipient) + self.prev_block.to_bytes(8, "big"))  # fmt: skip


@dataclass(frozen=True)
class SignedTransfer:
    """A transfer and its signer's 65-byte signature."""

    transfer: Transfer
    signature: bytes

    @property
    def leaf(self) -> bytes:
        """What a block commits to for this transfer (its hash, signature bound)."""
        return keccak256(self.transfer.encode() + self.signature)

    def signer(self, domain: Eip712Domain) -> Address | None:
        """Who signed it; None for a malformed signature."""
        try:
            return PLASMA_TRANSFER.recover(domain, self.transfer.message(), self.signature)
        except SignatureError:
            return None

    def encode(self) -> bytes:
        """The transfer's bytes then the signature (what the operator serves)."""
        return self.transfer.encode() + self.signature

    @classmethod
    def decode(cls, data: bytes) -> SignedTransfer:
        """Inverse of :meth:`encode`; :class:`InvalidValue` if it is not one."""
        if len(data) != ENCODED_SIZE + 65:
            raise InvalidValue(
                "Plasma transfer",
                data,
                f"it is {len(data)} bytes, not {ENCODED_SIZE + 65}",
                "send the bytes the operator served",
            )
        start, end = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")
        recipient, prev = Address(data[64:84]), int.from_bytes(data[84:92], "big")
        return cls(Transfer(start, end, recipient, prev), data[92:])


def sign_transfer(key: PrivateKey, domain: Eip712Domain, transfer: Transfer) -> SignedTransfer:
    """Sign ``transfer`` as the owner of its coins."""
    return SignedTransfer(transfer, PLASMA_TRANSFER.sign(key, domain, transfer.message()))


@dataclass(frozen=True)
class Lock:
    """A renter's promise for a lease: until ``until`` (unix seconds), coins
    ``[start, end)`` move only to ``provider``, from ``start`` up (the lease's vouchers
    are transfers of a prefix of them). The operator enforces it; L1 never sees it."""

    start: int
    end: int
    provider: Address
    until: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= COIN_SPACE or not 0 <= self.until < 2**64:
            raise InvalidValue("lock", (self.start, self.end, self.until),
                               "its coin range is empty or its expiry is not a time",
                               "lock coins [start, end) until a unix time")  # fmt: skip

    def message(self) -> dict[str, object]:
        """The EIP-712 message."""
        return {"start": self.start, "end": self.end, "provider": self.provider,
                "until": self.until}  # fmt: skip


@dataclass(frozen=True)
class SignedLock:
    """A lock and its owner's signature."""

    lock: Lock
    signature: bytes

    def signer(self, domain: Eip712Domain) -> Address | None:
        """Who signed it; None for a malformed signature."""
        try:
            return PLASMA_LOCK.recover(domain, self.lock.message(), self.signature)
        except SignatureError:
            return None


def sign_lock(key: PrivateKey, domain: Eip712Domain, lock: Lock) -> SignedLock:
    """Sign ``lock`` as the owner of its coins."""
    return SignedLock(lock, PLASMA_LOCK.sign(key, domain, lock.message()))


def sign_claim(key: PrivateKey, domain: Eip712Domain, signed: SignedTransfer) -> bytes:
    """The provider's claim of a lease's transfer (see :data:`PLASMA_CLAIM`)."""
    return PLASMA_CLAIM.sign(key, domain, {"leaf": signed.leaf})


def claim_signer(domain: Eip712Domain, signed: SignedTransfer, claim: bytes) -> Address | None:
    """Who claimed the transfer; None for no claim or a malformed one."""
    if not claim:
        return None
    try:
        return PLASMA_CLAIM.recover(domain, {"leaf": signed.leaf}, claim)
    except SignatureError:
        return None
