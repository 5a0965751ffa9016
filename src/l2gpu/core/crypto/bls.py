"""BLS signatures on BLS12-381 (blst through pyblst), for co-signed rollup commitments.

Signatures are in G1 (48 bytes compressed), public keys in G2 (96 bytes): the
"minimal-signature-size" variant, because signatures go to L1 with every batch
while public keys sit in the L2 state. Every sender in a rollup commitment signs
the *same* message (the commitment's hash), so one aggregate signature checks with
two pairings however many senders there are:

    e(aggregate_signature, G2) == e(H(message), sum of public keys)

Same-message aggregation is open to rogue-key attacks unless every key proves
possession of its secret when it is registered: :func:`prove_possession` signs the
public key itself under a separate domain tag, and :func:`verify_possession` checks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import lru_cache

from pyblst import BlstP1Element, BlstP2Element, final_verify, miller_loop

from l2gpu.core.errors import SignatureError

# Order of the BLS12-381 groups.
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
SIGNATURE_DST = b"L2GPU_ROLLUP_BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
POP_DST = b"L2GPU_ROLLUP_BLS_POP_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_"
_G2_GENERATOR = BlstP2Element().uncompress(
    bytes.fromhex(
        "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5"
        "ac7d055d042b7e024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac"
        "0326a805bbefd48056c8c121bdb8"
    )
)
PUBLIC_KEY_SIZE = 96
SIGNATURE_SIZE = 48


class BlsSecretKey:
    """A BLS secret scalar. Its ``repr`` never shows the secret."""

    __slots__ = ("_public", "_scalar")

    def __init__(self, scalar: int) -> None:
        """Wrap a scalar in [1, r)."""
        if not 0 < scalar < CURVE_ORDER:
            raise SignatureError("a BLS secret key must lie in [1, r)")
        self._scalar = scalar
        self._public = _G2_GENERATOR.scalar_mul(scalar).compress()

    @classmethod
    def from_seed(cls, seed: bytes) -> BlsSecretKey:
        """Derive a key from at least 32 bytes of secret seed (e.g. from the account's key)."""
        if len(seed) < 32:
            raise SignatureError("a BLS key seed needs at least 32 bytes")
        digest = hashlib.sha512(b"l2gpu-bls-keygen" + seed).digest()
        return cls(int.from_bytes(digest, "big") % (CURVE_ORDER - 1) + 1)

    @property
    def public_key(self) -> bytes:
        """The 96-byte compressed G2 public key."""
        return bytes(self._public)

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``; return a 48-byte compressed G1 signature."""
        point = BlstP1Element().hash_to_group(message, SIGNATURE_DST)
        return bytes(point.scalar_mul(self._scalar).compress())

    def prove_possession(self) -> bytes:
        """A proof that the holder of :attr:`public_key` knows this secret."""
        point = BlstP1Element().hash_to_group(self.public_key, POP_DST)
        return bytes(point.scalar_mul(self._scalar).compress())

    def __repr__(self) -> str:
        return f"BlsSecretKey(public={self.public_key[:6].hex()}...)"


def aggregate(signatures: Iterable[bytes]) -> bytes:
    """Add signatures into one 48-byte aggregate."""
    total = None
    for signature in signatures:
        point = _signature_point(signature)
        total = point if total is None else total + point
    if total is None:
        raise SignatureError("nothing to aggregate")
    return bytes(total.compress())


def verify_aggregate_same_message(
    public_keys: Sequence[bytes], message: bytes, signature: bytes
) -> bool:
    """True if ``signature`` aggregates signatures of every key in ``public_keys`` on ``message``.

    Malformed keys or signatures give False (an invalid commitment), never an exception.
    """
    if not public_keys:
        return False
    try:
        apk = _public_key_point(bytes(public_keys[0]))
        for key in public_keys[1:]:
            apk = apk + _public_key_point(bytes(key))
        point = _signature_point(signature)
    except SignatureError:
        return False
    hashed = BlstP1Element().hash_to_group(message, SIGNATURE_DST)
    return bool(final_verify(miller_loop(point, _G2_GENERATOR), miller_loop(hashed, apk)))


def is_signature(data: bytes) -> bool:
    """True if ``data`` is a compressed G1 point (a signature's shape; not whose)."""
    try:
        _signature_point(bytes(data))
    except SignatureError:
        return False
    return True


def verify_possession(public_key: bytes, proof: bytes) -> bool:
    """True if ``proof`` shows possession of the secret behind ``public_key``."""
    try:
        key = _public_key_point(bytes(public_key))
        point = _signature_point(proof)
    except SignatureError:
        return False
    hashed = BlstP1Element().hash_to_group(bytes(public_key), POP_DST)
    return bool(final_verify(miller_loop(point, _G2_GENERATOR), miller_loop(hashed, key)))


_IDENTITY_PREFIX = 0xC0  # compressed encoding of the point at infinity: 0xc0 then zeros


def _is_identity(data: bytes) -> bool:
    return data[0] == _IDENTITY_PREFIX and not any(data[1:])


@lru_cache(maxsize=65_536)
def _public_key_point(data: bytes) -> BlstP2Element:
    # Cached: a sequencer checks the same senders' keys commitment after commitment,
    # and decompressing a G2 point costs more than adding it.
    if len(data) != PUBLIC_KEY_SIZE:
        raise SignatureError(f"a BLS public key is {PUBLIC_KEY_SIZE} bytes, got {len(data)}")
    if _is_identity(data):
        # The identity key would verify the identity signature on every message.
        raise SignatureError("the BLS public key is the point at infinity")
    try:
        return BlstP2Element().uncompress(bytes(data))
    except Exception as exc:  # pyblst raises plain exceptions for bad encodings
        raise SignatureError("the BLS public key is not a valid G2 point") from exc


def _signature_point(data: bytes) -> BlstP1Element:
    if len(data) != SIGNATURE_SIZE:
        raise SignatureError(f"a BLS signature is {SIGNATURE_SIZE} bytes, got {len(data)}")
    if _is_identity(data):
        raise SignatureError("the BLS signature is the point at infinity")
    try:
        return BlstP1Element().uncompress(bytes(data))
    except Exception as exc:  # pyblst raises plain exceptions for bad encodings
        raise SignatureError("the BLS signature is not a valid G1 point") from exc
