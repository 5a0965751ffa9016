"""A user's zk key (EdDSA-Poseidon over Baby Jubjub), derived from their L1 key.

The key is ``keccak256`` of the L1 key's EIP-191 signature of :func:`key_message`,
as zkSync derives its L2 signing key from an L1 signature. Why derive rather than
keep a second key file: a user keeps one secret (the keystore or hardware wallet
they already back up), any wallet that signs personal messages can rebuild the key
(secp256k1 signatures are deterministic, RFC 6979), and nothing new lies on disk.
The cost: whoever makes the user sign this exact text gets their zk key; the text
says so.

The text names the deployment (the chain id and the ZkRollup's address), so each
deployment gets its own key. Why: what the ledger checks (a transfer, an OPEN, a
voucher's ``Poseidon(renter index, open nonce, amount)``) names accounts by index and
nonce only, and the same user can hold the same index and nonce on two deployments
(a testnet and mainnet, a rollup and its validium). With one key for all, a voucher
or transfer signed for one would verify on the other; with a key per deployment it
verifies only where it was signed. Each account's leaf also binds the L1 address its
withdrawals pay, so the key alone cannot redirect them.

Pure: the renter's client signs zk vouchers with it every second, and the market's
core code checks them, so it lives in the core beside the ledger it signs for.
"""

from __future__ import annotations

from functools import lru_cache

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address

KEY_MESSAGE = (
    "l2gpu zk rollup key, version 2.\n"
    "Chain: {chain_id}\n"
    "Rollup: {rollup}\n"
    "Signing this text gives its reader your l2gpu zk rollup key: "
    "sign it only in l2gpu itself."
)
"""The text a user's L1 key signs, with :func:`key_message` filling in the deployment."""


def key_message(chain_id: int, rollup: Address) -> str:
    """The text whose signature is the user's zk key on ``rollup`` of chain ``chain_id``."""
    return KEY_MESSAGE.format(chain_id=int(chain_id), rollup=rollup.checksum)


def personal_message_digest(text: str) -> bytes:
    """The EIP-191 (``personal_sign``) digest of ``text``."""
    body = text.encode()
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(body)).encode() + body)


@lru_cache(maxsize=64)
def _derive(secret: bytes, message: str) -> bytes:
    return keccak256(PrivateKey(secret).sign_digest(personal_message_digest(message)))


def zk_private_key(key: PrivateKey, chain_id: int, rollup: Address) -> bytes:
    """The 32-byte EdDSA-Poseidon private key of the L1 key ``key`` on the ZkRollup at
    ``rollup`` of chain ``chain_id`` (cached: a renter's client signs a voucher with it
    every second)."""
    return _derive(key.secret, key_message(chain_id, rollup))


def zk_public_key(private_key: bytes) -> tuple[int, int]:
    """The key's public point (ax, ay), as ``ZkRollup.deposit`` takes it."""
    point = eddsa.public_key(private_key)
    return point.x, point.y
