"""A user's zk key from their L1 account (the derivation is ``core/zk/keys.py``)."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.zk import keys
from l2gpu.core.zk.keys import KEY_MESSAGE, zk_public_key

__all__ = ["KEY_MESSAGE", "zk_private_key", "zk_public_key"]


def zk_private_key(account: LocalAccount) -> bytes:
    """The 32-byte EdDSA-Poseidon private key of ``account``."""
    return keys.zk_private_key(PrivateKey(bytes(account.key)))
