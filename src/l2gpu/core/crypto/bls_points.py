"""Uncompressed BLS12-381 points in the EIP-2537 encoding, for the on-chain verifier.

``contracts/rollup/BlsVerifier.vy`` takes every compressed key and signature
together with its uncompressed point, because a square root in Fp2 costs too
much gas on chain; it then checks that both name the same point. This module
computes those points off chain. Field elements are 64-byte big-endian with 16
zero bytes of padding; a G2 point is ``x.c0 || x.c1 || y.c0 || y.c1`` (the
compressed form puts ``x.c1`` first).

Bytes that are not a point on the curve get an all-zero placeholder (the
EIP-2537 point at infinity), which the contract refuses for any key or
signature, so a bad input makes the on-chain check False instead of raising
here. Points on the curve but outside the subgroup are returned as they are:
the precompiles refuse them on chain, as blst does in :mod:`l2gpu.core.crypto.bls`.
"""

from __future__ import annotations

from functools import lru_cache

from py_ecc.bls.point_compression import decompress_G1, decompress_G2
from py_ecc.bls.typing import G1Compressed, G2Compressed
from py_ecc.optimized_bls12_381.optimized_curve import is_inf, normalize

from l2gpu.core.crypto.bls import PUBLIC_KEY_SIZE, SIGNATURE_SIZE

G1_POINT_SIZE = 128
G2_POINT_SIZE = 256
_FIELD_ELEMENT_SIZE = 64


@lru_cache(maxsize=4096)
def g1_point(compressed: bytes) -> bytes:
    """The 128-byte EIP-2537 encoding of a 48-byte compressed G1 point (a signature).

    Returns 128 zero bytes when ``compressed`` is not a finite point on the curve.
    """
    if len(compressed) != SIGNATURE_SIZE:
        return bytes(G1_POINT_SIZE)
    try:
        point = decompress_G1(G1Compressed(int.from_bytes(compressed, "big")))
    except ValueError:  # py_ecc's only error for a bad encoding or an x off the curve
        return bytes(G1_POINT_SIZE)
    if is_inf(point):
        return bytes(G1_POINT_SIZE)
    x, y = normalize(point)
    return _field_elements(int(x), int(y))


# Cached: py_ecc decompresses in pure Python (milliseconds), and a watcher proves with
# the same few keys again and again.
@lru_cache(maxsize=65_536)
def g2_point(compressed: bytes) -> bytes:
    """The 256-byte EIP-2537 encoding of a 96-byte compressed G2 point (a public key).

    Returns 256 zero bytes when ``compressed`` is not a finite point on the curve.
    """
    if len(compressed) != PUBLIC_KEY_SIZE:
        return bytes(G2_POINT_SIZE)
    half = PUBLIC_KEY_SIZE // 2
    try:
        point = decompress_G2(
            G2Compressed(
                (
                    int.from_bytes(compressed[:half], "big"),
                    int.from_bytes(compressed[half:], "big"),
                )
            )
        )
    except ValueError:  # py_ecc's only error for a bad encoding or an x off the curve
        return bytes(G2_POINT_SIZE)
    if is_inf(point):
        return bytes(G2_POINT_SIZE)
    x, y = normalize(point)
    x_c0, x_c1 = x.coeffs
    y_c0, y_c1 = y.coeffs
    return _field_elements(int(x_c0), int(x_c1), int(y_c0), int(y_c1))


def _field_elements(*values: int) -> bytes:
    return b"".join(value.to_bytes(_FIELD_ELEMENT_SIZE, "big") for value in values)
