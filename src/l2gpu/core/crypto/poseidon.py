"""Poseidon over BN254's scalar field, exactly as circomlib's ``Poseidon(n)`` template.

The zk mode's hash: cheap inside a circuit (about 240 constraints for two inputs
against some 150 000 for Keccak), so state roots, transaction hashes and signed
messages use it there. ``hash(inputs)`` equals the output of circomlib's
``poseidon.circom`` (and circomlibjs's ``poseidon``) for 1 to 16 inputs: the state
is ``[0, *inputs]`` (width t = n + 1), permuted, and element 0 is the digest.

Why hand-written: no Python package on PyPI is a maintained implementation of
circomlib's Poseidon (the candidates are one-off uploads with few users, or use
other fields or constants); this one is short, derives its constants by the
published procedure (:mod:`l2gpu.core.crypto.poseidon_constants`) and is checked
against witnesses that circomlib's own circuit computes (``tests/zk``).

The permutation is the original one (circomlib's ``poseidon_old.circom``): per
round, add t round constants, apply x^5 to every element (8 full rounds, half at
each end) or to element 0 only (the partial rounds), then multiply by the MDS
matrix. circomlib's current circuit computes the same function with sparse
matrices; the tests compare against that circuit.
"""

from __future__ import annotations

from collections.abc import Sequence

from l2gpu.core.crypto.poseidon_constants import (
    FIELD_MODULUS,
    FULL_ROUNDS,
    MAX_WIDTH,
    MIN_WIDTH,
    PARTIAL_ROUNDS,
    constants,
)
from l2gpu.core.errors import InvalidValue

MAX_INPUTS = MAX_WIDTH - 1
"""circomlib's ``Poseidon`` takes 1 to 16 inputs."""


def permute(state: Sequence[int]) -> tuple[int, ...]:
    """The Poseidon permutation of ``state`` (2 to 17 field elements).

    Raises :class:`InvalidValue` for a width outside 2..17 or an element outside
    ``[0, FIELD_MODULUS)``.
    """
    t = len(state)
    if not MIN_WIDTH <= t <= MAX_WIDTH:
        raise InvalidValue(
            "Poseidon state width",
            t,
            f"circomlib's Poseidon has widths {MIN_WIDTH} to {MAX_WIDTH}",
            "pass 2 to 17 field elements",
        )
    for element in state:
        _require_field_element(element)
    round_constants, mds = constants(t)
    p = FIELD_MODULUS
    half_full = FULL_ROUNDS // 2
    partial = PARTIAL_ROUNDS[t - MIN_WIDTH]
    words = list(state)
    for r in range(FULL_ROUNDS + partial):
        offset = r * t
        words = [(w + round_constants[offset + i]) % p for i, w in enumerate(words)]
        if r < half_full or r >= half_full + partial:
            words = [pow(w, 5, p) for w in words]
        else:
            words[0] = pow(words[0], 5, p)
        words = [sum(m * w for m, w in zip(row, words, strict=True)) % p for row in mds]
    return tuple(words)


def hash(inputs: Sequence[int]) -> int:
    """Poseidon of 1 to 16 field elements, as circomlib's ``Poseidon(len(inputs))``.

    Raises :class:`InvalidValue` for no inputs, more than 16, or an input outside
    ``[0, FIELD_MODULUS)`` (the ledger hashes canonical values only, so a value the
    circuit would silently reduce is refused here).
    """
    if not 1 <= len(inputs) <= MAX_INPUTS:
        raise InvalidValue(
            "number of Poseidon inputs",
            len(inputs),
            f"circomlib's Poseidon takes 1 to {MAX_INPUTS}",
            f"hash longer data as a tree of hashes of at most {MAX_INPUTS} elements",
        )
    return permute([0, *inputs])[0]


def _require_field_element(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue("field element", value, "not an int", "pass an int")
    if not 0 <= value < FIELD_MODULUS:
        raise InvalidValue(
            "field element",
            value,
            "outside [0, p) for BN254's scalar field p",
            "reduce it mod p, or encode it in several elements",
        )


__all__ = ["FIELD_MODULUS", "MAX_INPUTS", "hash", "permute"]
