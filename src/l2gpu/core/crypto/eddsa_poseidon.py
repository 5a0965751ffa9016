"""EdDSA over Baby Jubjub with Poseidon, exactly as circomlib's ``EdDSAPoseidonVerifier``.

The zk mode's signature: a circuit verifies one in about 4 000 constraints, where
secp256k1 would cost hundreds of thousands. Signing follows circomlibjs's
``eddsa.signPoseidon`` step by step, so a signature made here is byte for byte the
one circomlibjs makes, and verifying follows the circuit:

- key: ``h = BLAKE-512(private_key)``; the scalar s is ``h[0:32]`` little endian
  after pruning (clear the low 3 bits and the top bit, set bit 254); the public key
  is ``A = (s >> 3) · Base8``.
- sign a field element m: ``r = BLAKE-512(h[32:64] ‖ m as 32 bytes little endian)``
  as a 512-bit little-endian integer mod l; ``R8 = r · Base8``;
  ``k = Poseidon(R8.x, R8.y, A.x, A.y, m)``; ``S = (r + k · s) mod l``.
- verify: ``S < l`` and ``S · Base8 = R8 + (8 · k) · A``.

The message is one field element; a longer message is first hashed with
:func:`l2gpu.core.crypto.poseidon.hash`.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.crypto import babyjubjub as bjj
from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.babyjubjub import BASE8, SUBGROUP_ORDER, Point
from l2gpu.core.crypto.blake512 import blake512
from l2gpu.core.errors import InvalidValue

PRIVATE_KEY_BYTES = 32


@dataclass(frozen=True)
class Signature:
    """An EdDSA-Poseidon signature: the nonce point ``r8`` and the scalar ``s``
    (the circuit's inputs ``R8x``, ``R8y`` and ``S``)."""

    r8: Point
    s: int


def secret_scalar(private_key: bytes) -> int:
    """The pruned scalar s of ``private_key`` (32 bytes), a multiple of 8 below 2^255."""
    return int.from_bytes(_pruned_digest(private_key)[:32], "little")


def public_key(private_key: bytes) -> Point:
    """The public key ``A = (s >> 3) · Base8`` of ``private_key`` (circomlibjs's
    ``prv2pub``). Raises :class:`InvalidValue` unless the key is 32 bytes."""
    return bjj.scalar_mul(BASE8, secret_scalar(private_key) >> 3)


def sign(private_key: bytes, message: int) -> Signature:
    """Sign the field element ``message`` (circomlibjs's ``signPoseidon``).

    Deterministic: the nonce comes from the key and the message. Raises
    :class:`InvalidValue` for a key that is not 32 bytes or a message outside
    ``[0, FIELD_MODULUS)``.
    """
    _require_message(message)
    digest = _pruned_digest(private_key)
    s = int.from_bytes(digest[:32], "little")
    a = bjj.scalar_mul(BASE8, s >> 3)
    nonce = blake512(digest[32:] + message.to_bytes(32, "little"))
    r = int.from_bytes(nonce, "little") % SUBGROUP_ORDER
    r8 = bjj.scalar_mul(BASE8, r)
    k = challenge(r8, a, message)
    return Signature(r8=r8, s=(r + k * s) % SUBGROUP_ORDER)


def challenge(r8: Point, public: Point, message: int) -> int:
    """``Poseidon(R8.x, R8.y, A.x, A.y, m)``, the hash both sides compute."""
    return poseidon.hash([r8.x, r8.y, public.x, public.y, message])


def verify(message: int, signature: Signature, public: Point) -> bool:
    """Whether ``signature`` signs ``message`` under ``public``.

    Makes the checks of circomlib's ``EdDSAPoseidonVerifier`` (enabled): ``S < l``,
    a public key not of small order (a check circomlibjs's ``verifyPoseidon``
    lacks), and the equation. It is stricter where the circuit takes whatever it is
    given: points off the curve and messages outside the field are refused here
    before any arithmetic (the circuit would reduce or mis-add them).
    """
    if not 0 <= message < poseidon.FIELD_MODULUS:
        return False
    if not (bjj.is_on_curve(signature.r8) and bjj.is_on_curve(public)):
        return False
    if not 0 <= signature.s < SUBGROUP_ORDER:
        return False
    if bjj.has_small_order(public):
        return False
    k = challenge(signature.r8, public, message)
    left = bjj.scalar_mul(BASE8, signature.s)
    right = bjj.add(signature.r8, bjj.scalar_mul(public, 8 * k))
    return left == right


def pack_signature(signature: Signature) -> bytes:
    """64 bytes: ``pack(R8)`` then S little endian (circomlibjs's ``packSignature``)."""
    return bjj.pack(signature.r8) + signature.s.to_bytes(32, "little")


def unpack_signature(packed: bytes) -> Signature:
    """The signature that :func:`pack_signature` gave ``packed``.

    Raises :class:`InvalidValue` when ``packed`` is not 64 bytes or R8 does not
    unpack. An S not below l unpacks; :func:`verify` refuses it.
    """
    if len(packed) != 64:
        raise InvalidValue(
            "packed signature", packed.hex(), "not 64 bytes", "pass pack_signature's bytes"
        )
    return Signature(r8=bjj.unpack(packed[:32]), s=int.from_bytes(packed[32:], "little"))


def _pruned_digest(private_key: bytes) -> bytes:
    if len(private_key) != PRIVATE_KEY_BYTES:
        raise InvalidValue(
            "EdDSA private key",
            private_key,
            f"{len(private_key)} bytes, not {PRIVATE_KEY_BYTES}",
            "pass 32 random bytes",
            secret=True,
        )
    digest = bytearray(blake512(private_key))
    digest[0] &= 0xF8
    digest[31] &= 0x7F
    digest[31] |= 0x40
    return bytes(digest)


def _require_message(message: int) -> None:
    if isinstance(message, bool) or not isinstance(message, int):
        raise InvalidValue("EdDSA message", message, "not an int", "pass a field element")
    if not 0 <= message < poseidon.FIELD_MODULUS:
        raise InvalidValue(
            "EdDSA message",
            message,
            "outside the field",
            "hash the message with poseidon.hash to one field element first",
        )


__all__ = [
    "Signature",
    "challenge",
    "pack_signature",
    "public_key",
    "secret_scalar",
    "sign",
    "unpack_signature",
    "verify",
]
