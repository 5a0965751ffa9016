"""Which shard an account lives on.

The rule is fixed and public, so that anyone (the market, a renter, the bridge on
L1) finds an account's shard from its address alone: the Keccak-256 hash of the
address as one ABI word (twelve zero bytes, then its twenty), read as a big-endian
integer, modulo the number of shards. Hashing spreads addresses evenly whatever
their form (vanity prefixes, sequential test keys), so the shards carry about
equal numbers of accounts.
"""

from __future__ import annotations

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

MAX_SHARDS = 64  # Bridge.vy's bound on its list of shards


def shard_of(address: Address, shard_count: int) -> int:
    """The shard ``address`` belongs to among ``shard_count`` (``Bridge.shard_of``)."""
    if not 1 <= shard_count <= MAX_SHARDS:
        raise L2gpuError(
            f"{shard_count} shards is outside 1..{MAX_SHARDS}",
            f"run between 1 and {MAX_SHARDS} shards",
        )
    return int.from_bytes(keccak256(bytes(12) + bytes(address)), "big") % shard_count
