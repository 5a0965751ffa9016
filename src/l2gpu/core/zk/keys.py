"""A user's zk key (EdDSA-Poseidon over Baby Jubjub), derived from their L1 key.

The key is ``keccak256`` of the L1 key's EIP-191 signature of :data:`KEY_MESSAGE`,
as zkSync derives its L2 signing key from an L1 signature. Why derive rather than
keep a second key file: a user keeps one secret (the keystore or hardware wallet
they already back up), any wallet that signs personal messages can rebuild the key
(secp256k1 signatures are deterministic, RFC 6979), and nothing new lies on disk.
The cost: whoever makes the user sign this exact text gets their zk key; the text
says so. The key is the same on every chain and rollup; each account's leaf also
binds the L1 address its withdrawals pay, so the key alone cannot redirect them.

Pure: the renter's client signs zk vouchers with it every second, and the market's
core code checks them, so it lives in the core beside the ledger it signs for.
"""

from __future__ import annotations

from functools import lru_cache

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey

KEY_MESSAGE = (
    "l2gpu zk rollup key, version 1.\n"
    "Signing this text gives its reader your l2gpu zk rollup key: "
    "sign it only in l2gpu itself."
)


def personal_message_digest(text: str) -> bytes:
    """The EIP-191 (``personal_sign``) digest of ``text``."""
    body = text.encode()
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(body)).encode() + body)


@lru_cache(maxsize=64)
def _derive(secret: bytes) -> bytes:
    return keccak256(PrivateKey(secret).sign_digest(personal_message_digest(KEY_MESSAGE)))


def zk_private_key(key: PrivateKey) -> bytes:
    """The 32-byte EdDSA-Poseidon private key of the L1 key ``key`` (cached: a renter's
    client signs a voucher with it every second)."""
    return _derive(key.secret)


def zk_public_key(private_key: bytes) -> tuple[int, int]:
    """The key's public point (ax, ay), as ``ZkRollup.deposit`` takes it."""
    point = eddsa.public_key(private_key)
    return point.x, point.y
