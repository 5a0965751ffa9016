"""A user's zk key (EdDSA-Poseidon over Baby Jubjub), derived from their L1 key.

The key is ``keccak256`` of the L1 key's EIP-191 signature of :data:`KEY_MESSAGE`,
as zkSync derives its L2 signing key from an L1 signature. Why derive rather than
keep a second key file: a user keeps one secret (the keystore or hardware wallet
they already back up), any wallet that signs personal messages can rebuild the key
(secp256k1 signatures are deterministic, RFC 6979), and nothing new lies on disk.
The cost: whoever makes the user sign this exact text gets their zk key; the text
says so. The key is the same on every chain and rollup; each account's leaf also
binds the L1 address its withdrawals pay, so the key alone cannot redirect them.
"""

from __future__ import annotations

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.keccak import keccak256

KEY_MESSAGE = (
    "l2gpu zk rollup key, version 1.\n"
    "Signing this text gives its reader your l2gpu zk rollup key: "
    "sign it only in l2gpu itself."
)


def zk_private_key(account: LocalAccount) -> bytes:
    """The 32-byte EdDSA-Poseidon private key of ``account``."""
    signed = account.sign_message(encode_defunct(text=KEY_MESSAGE))
    return keccak256(bytes(signed.signature))


def zk_public_key(private_key: bytes) -> tuple[int, int]:
    """The key's public point (ax, ay), as ``ZkRollup.deposit`` takes it."""
    point = eddsa.public_key(private_key)
    return point.x, point.y
