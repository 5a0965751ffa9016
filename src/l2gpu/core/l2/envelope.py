"""How a user hands a transaction to the sequencer: signed, with its nonce.

The envelope signature (EIP-712, the account's Ethereum key) proves to the
sequencer that the account wants the transaction, and stops anyone from filling
the mempool in another's name. It never goes to L1: there, the account's BLS
co-signature of the commitment is the authorization.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import SignatureError
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import UserTx
from l2gpu.core.types import Address, ChainId

ENVELOPE = TypedDataSchema(
    {"L2Transaction": [("kind", "uint8"), ("body", "bytes"), ("nonce", "uint64")]},
    "L2Transaction",
)


def rollup_domain(chain_id: ChainId, rollup: Address) -> Eip712Domain:
    """The EIP-712 domain of one rollup deployment."""
    return Eip712Domain("l2gpu rollup", "1", chain_id, rollup)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A user transaction, the sender's nonce for it, and the sender's signature."""

    tx: UserTx
    nonce: int
    signature: bytes

    def message(self) -> dict[str, object]:
        """The EIP-712 message that was signed."""
        kind = kind_of(self.tx)
        return {"kind": kind, "body": encode_tx(kind, self.tx), "nonce": self.nonce}

    def signer(self, domain: Eip712Domain) -> Address | None:
        """Who signed it; None for a malformed signature."""
        try:
            return ENVELOPE.recover(domain, self.message(), self.signature)
        except SignatureError:
            return None


def seal(key: PrivateKey, domain: Eip712Domain, tx: UserTx, nonce: int) -> Envelope:
    """Sign ``tx`` with ``nonce`` as the sender."""
    unsigned = Envelope(tx, nonce, b"")
    return Envelope(tx, nonce, ENVELOPE.sign(key, domain, unsigned.message()))
