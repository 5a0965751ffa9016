"""A user's zk key from their L1 account (the derivation is ``core/zk/keys.py``)."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address
from l2gpu.core.zk import keys
from l2gpu.core.zk.keys import KEY_MESSAGE, key_message, zk_public_key

__all__ = ["KEY_MESSAGE", "key_message", "zk_private_key", "zk_public_key"]


def zk_private_key(account: LocalAccount, chain_id: int, rollup: Address) -> bytes:
    """The 32-byte EdDSA-Poseidon private key of ``account`` on the ZkRollup at
    ``rollup`` of chain ``chain_id``."""
    return keys.zk_private_key(PrivateKey(bytes(account.key)), chain_id, rollup)
