"""secp256k1 keys and recoverable signatures, as Ethereum uses them.

A signature is 65 bytes ``r || s || v`` with ``v`` in {27, 28}. Only low-``s``
signatures are accepted (EIP-2): otherwise every signature would have a second,
equally valid twin, and a signature could not serve as a unique identifier.

coincurve (bindings to bitcoin-core's libsecp256k1) does the curve arithmetic.
"""

from __future__ import annotations

import re

import coincurve

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import InvalidValue, SignatureError
from l2gpu.core.types import Address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class PrivateKey:
    """A secp256k1 private key. Its ``repr`` never shows the secret."""

    __slots__ = ("_address", "_key")

    def __init__(self, secret: bytes) -> None:
        """Wrap 32 secret bytes; the scalar must lie in [1, n)."""
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise InvalidValue(
                "private key", secret, "a key is 32 bytes", "pass 32 bytes", secret=True
            )
        scalar = int.from_bytes(secret, "big")
        if not 0 < scalar < SECP256K1_N:
            raise InvalidValue(
                "private key",
                secret,
                "it lies outside the curve order (0 < key < n)",
                "generate a fresh key with 'l2gpu config new-key'",
                secret=True,
            )
        self._key = coincurve.PrivateKey(secret)
        public = self._key.public_key.format(compressed=False)
        self._address = Address(keccak256(public[1:])[-20:])

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        """Parse 64 hex digits, with or without ``0x``."""
        if not isinstance(text, str) or not _HEX64.match(text.strip()):
            raise InvalidValue(
                "private key",
                text,
                "a private key is 64 hex digits (32 bytes), optionally after 0x",
                "check that the key was copied whole, or use an encrypted keystore file",
                secret=True,
            )
        digits = text.strip().removeprefix("0x")
        return cls(bytes.fromhex(digits))

    @property
    def address(self) -> Address:
        """The Ethereum address of this key."""
        return self._address

    @property
    def secret(self) -> bytes:
        """The 32 secret bytes (handle with care)."""
        return bytes(self._key.secret)

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest; return 65 bytes ``r || s || v`` (v = 27 or 28)."""
        if len(digest) != 32:
            raise SignatureError(f"a digest to sign is 32 bytes, got {len(digest)}")
        raw = self._key.sign_recoverable(digest, hasher=None)  # r || s || recid, low s
        return raw[:64] + bytes((raw[64] + 27,))

    def __repr__(self) -> str:
        return f"PrivateKey(address={self._address.checksum})"


def split_signature(signature: bytes) -> tuple[int, int, int]:
    """Return ``(v, r, s)`` of a 65-byte signature after checking its form."""
    if not isinstance(signature, bytes) or len(signature) != 65:
        size = len(signature) if isinstance(signature, bytes) else type(signature).__name__
        raise SignatureError(
            f"a signature is 65 bytes (r, s, v), got {size}",
            "pass the signature exactly as the signer produced it",
        )
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {v}")
    if not (0 < r < SECP256K1_N and 0 < s <= _HALF_N):
        raise SignatureError("signature r or s is out of range (s must be in the lower half)")
    return v, r, s


def recover_address(digest: bytes, signature: bytes) -> Address:
    """Return the address whose key signed the 32-byte ``digest``.

    Raises :class:`SignatureError` if the signature is malformed or recovers no key.
    """
    v, _, _ = split_signature(signature)
    if len(digest) != 32:
        raise SignatureError(f"a signed digest is 32 bytes, got {len(digest)}")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except Exception as exc:  # coincurve raises a bare Exception on failure
        raise SignatureError("the signature does not recover any public key") from exc
    return Address(keccak256(public.format(compressed=False)[1:])[-20:])
