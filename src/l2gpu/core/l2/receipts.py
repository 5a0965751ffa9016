"""Sequencer receipts: the node's signed promise of a transaction's place in line.

A node acknowledges a transaction as soon as it is in its write-ahead log, and signs
that acknowledgement with the proposer's key (the key whose L1 bond backs the
rollup's batches). The receipt names the transaction by the hash of its signed
envelope, its position in the node's log, the sender's nonce and the node's time
of receipt. Anyone holding it can show, to the sender's counterparties or on L1,
that the sequencer promised to include that transaction at that position: a
renter's channel is usable by its provider before a batch seals it (soft
confirmation), and a sequencer that breaks the promise has signed the evidence.

EIP-712 typed data under the rollup's domain, like the envelopes themselves, so a
wallet can show what was signed and a contract can recover the signer cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError, SignatureError
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.types import Address

RECEIPT = TypedDataSchema(
    {
        "SequencerReceipt": [
            ("txHash", "bytes32"),
            ("position", "uint64"),
            ("nonce", "uint64"),
            ("receivedAt", "uint64"),
        ]
    },
    "SequencerReceipt",
)


class BadReceipt(L2gpuError):
    """A receipt that does not hold: wrong signer, wrong transaction, or malformed."""


def envelope_hash(envelope: Envelope) -> bytes:
    """The transaction a receipt names: Keccak-256 of the envelope's kind, body, nonce
    and signature (the signature is included, so two signings of one body differ)."""
    kind = kind_of(envelope.tx)
    body = encode_tx(kind, envelope.tx)
    return keccak256(bytes([kind]) + body + envelope.nonce.to_bytes(8, "big") + envelope.signature)


@dataclass(frozen=True, slots=True)
class SequencerReceipt:
    """What the sequencer promised for one transaction, and its signature."""

    tx_hash: bytes
    position: int
    nonce: int
    received_at: int
    signature: bytes

    def message(self) -> dict[str, Any]:
        """The EIP-712 message that was signed."""
        return {
            "txHash": self.tx_hash,
            "position": self.position,
            "nonce": self.nonce,
            "receivedAt": self.received_at,
        }

    def signer(self, domain: Eip712Domain) -> Address | None:
        """Who signed it; None for a malformed signature."""
        try:
            return RECEIPT.recover(domain, self.message(), self.signature)
        except SignatureError:
            return None

    def to_json(self) -> dict[str, Any]:
        """The receipt as the node's API answers it."""
        return {
            "tx_hash": "0x" + self.tx_hash.hex(),
            "position": self.position,
            "nonce": self.nonce,
            "received_at": self.received_at,
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> SequencerReceipt:
        """Parse a receipt from the node's answer; :class:`BadReceipt` if malformed."""
        try:
            tx_hash = bytes.fromhex(str(data["tx_hash"]).removeprefix("0x"))
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            numbers = [int(data[k]) for k in ("position", "nonce", "received_at")]
        except (KeyError, TypeError, ValueError) as exc:
            raise BadReceipt(
                f"the node's receipt is malformed: {exc}", "check that --node is a l2gpu node"
            ) from exc
        if len(tx_hash) != 32 or len(signature) != 65 or min(numbers) < 0:
            raise BadReceipt("the node's receipt is malformed", "check that --node is a l2gpu node")
        return cls(tx_hash, numbers[0], numbers[1], numbers[2], signature)


def sign_receipt(
    key: PrivateKey, domain: Eip712Domain, envelope: Envelope, position: int, received_at: int
) -> SequencerReceipt:
    """The sequencer's receipt for ``envelope`` logged at ``position``."""
    tx_hash = envelope_hash(envelope)
    digest = receipt_digest(domain, tx_hash, position, envelope.nonce, received_at)
    return SequencerReceipt(tx_hash, position, envelope.nonce, received_at, key.sign_digest(digest))


_RECEIPT_TYPE_HASH = RECEIPT.type_hash("SequencerReceipt")
_U64 = 1 << 64


def receipt_digest(
    domain: Eip712Domain, tx_hash: bytes, position: int, nonce: int, received_at: int
) -> bytes:
    """The EIP-712 digest of a receipt, its four words encoded directly (the same
    bytes as ``RECEIPT.digest``, which the tests compare): a node signs one receipt
    per transaction, and the generic encoder's per-field work was 4% of a loaded
    node's interpreter time."""
    if len(tx_hash) != 32 or not all(0 <= v < _U64 for v in (position, nonce, received_at)):
        raise SignatureError("a receipt names a 32-byte hash and three uint64 values")
    struct = keccak256(
        _RECEIPT_TYPE_HASH + tx_hash + position.to_bytes(32, "big") + nonce.to_bytes(32, "big")
        + received_at.to_bytes(32, "big")
    )  # fmt: skip
    return keccak256(b"\x19\x01" + domain.separator + struct)


def check_receipt(
    receipt: SequencerReceipt, domain: Eip712Domain, envelope: Envelope, sequencer: Address
) -> None:
    """Raise :class:`BadReceipt` unless ``sequencer`` signed ``receipt`` for ``envelope``."""
    if receipt.tx_hash != envelope_hash(envelope) or receipt.nonce != envelope.nonce:
        raise BadReceipt(
            "the node's receipt names another transaction than the one sent",
            "do not rely on this node: it answered for something you did not send",
        )
    signer = receipt.signer(domain)
    if signer != sequencer:
        raise BadReceipt(
            f"the receipt is signed by {signer}, not by the rollup's proposer {sequencer}",
            "check that --node serves the rollup you meant",
        )
