"""Keccak-256, the hash of Ethereum.

Why not ``eth_hash`` directly: its default backend (pycryptodome) costs about 4 µs
per call, pysha3's C implementation about 0.7 µs, and voucher verification hashes
three times per voucher. Both give the same digest; the tests check it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

try:
    import sha3 as _sha3  # safe-pysha3

    def _keccak256(data: bytes) -> bytes:
        return cast(bytes, _sha3.keccak_256(data).digest())

except ImportError:  # pragma: no cover - only where the wheel is missing
    from eth_hash.auto import keccak as _eth_keccak

    def _keccak256(data: bytes) -> bytes:
        return _eth_keccak(data)


keccak256: Callable[[bytes], bytes] = _keccak256
"""Return the 32-byte Keccak-256 digest of ``data``."""

__all__ = ["keccak256"]
