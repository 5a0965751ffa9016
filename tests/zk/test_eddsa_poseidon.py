"""EdDSA-Poseidon: signatures made in Python against circomlib's EdDSAPoseidonVerifier.

A witness that computes means the circuit's constraints accept the signature; a
failed ``===`` makes the witness calculator refuse the input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import babyjubjub as bjj
from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.poseidon import FIELD_MODULUS
from l2gpu.core.errors import InvalidValue
from l2gpu.zk.toolchain import (
    CompiledCircuit,
    Toolchain,
    Witness,
    WitnessError,
    calculate_witnesses,
)

Build = Callable[[str, str, str], CompiledCircuit]
KEYS = st.binary(min_size=32, max_size=32)
MESSAGES = st.integers(min_value=0, max_value=FIELD_MODULUS - 1)

# circomlibjs's test/eddsa.js ("Sign (using Poseidon) a single 10 bytes from 0 to 9"),
# also go-iden3-crypto's TestSignVerifyPoseidon.
KNOWN_KEY = bytes.fromhex("0001020304050607080900010203040506070809000102030405060708090001")
KNOWN_MESSAGE = int.from_bytes(bytes.fromhex("000102030405060708090000"), "little")
KNOWN_PUBLIC = bjj.Point(
    13277427435165878497778222415993513565335242147425444199013288855685581939618,
    13622229784656158136036771217484571176836296686641868549125388198837476602820,
)
KNOWN_SIGNATURE = eddsa.Signature(
    r8=bjj.Point(
        11384336176656855268977457483345535180380036354188103142384839473266348197733,
        15383486972088797283337779941324724402501462225528836549661220478783371668959,
    ),
    s=1672775540645840396591609181675628451599263765380031905495115170613215233181,
)
KNOWN_PACKED = bytes.fromhex(
    "dfedb4315d3f2eb4de2d3c510d7a987dcab67089c8ace06308827bf5bcbe02a2"
    "9d043ece562a8f82bfc0adb640c0107a7d3a27c1c7c1a6179a0da73de5c1b203"
)


def verifier(build: Build) -> CompiledCircuit:
    return build("eddsa_poseidon", "eddsaposeidon.circom", "EdDSAPoseidonVerifier()")


def circuit_input(message: int, signature: eddsa.Signature, public: bjj.Point) -> Mapping[str, int]:
    return {
        "enabled": 1,
        "Ax": public.x,
        "Ay": public.y,
        "S": signature.s,
        "R8x": signature.r8.x,
        "R8y": signature.r8.y,
        "M": message,
    }


def accepted(result: Witness | WitnessError) -> bool:
    """True for a witness; False for a failed constraint (any other refusal, such as a
    misnamed input, fails the test)."""
    if isinstance(result, Witness):
        return True
    assert "Assert Failed" in str(result), result
    return False


def test_circomlibjs_vector() -> None:
    assert eddsa.public_key(KNOWN_KEY) == KNOWN_PUBLIC
    signature = eddsa.sign(KNOWN_KEY, KNOWN_MESSAGE)
    assert signature == KNOWN_SIGNATURE
    assert eddsa.pack_signature(signature) == KNOWN_PACKED
    assert eddsa.unpack_signature(KNOWN_PACKED) == signature
    assert eddsa.verify(KNOWN_MESSAGE, signature, KNOWN_PUBLIC)


def test_circuit_accepts_python_signatures_and_refuses_tampered_ones(
    circomlib_circuit: Build, toolchain: Toolchain
) -> None:
    circuit = verifier(circomlib_circuit)

    @settings(max_examples=5, deadline=None)
    @given(KEYS, KEYS, MESSAGES)
    def check(key: bytes, other_key: bytes, message: int) -> None:
        public = eddsa.public_key(key)
        signature = eddsa.sign(key, message)
        other_message = (message + 1) % FIELD_MODULUS
        cases = [
            (True, message, signature, public),
            (False, other_message, signature, public),
            (False, message, replace(signature, s=(signature.s + 1) % bjj.SUBGROUP_ORDER), public),
            (False, message, replace(signature, r8=bjj.add(signature.r8, bjj.BASE8)), public),
            # the same equation holds for S + l, which the circuit's range check refuses
            (False, message, replace(signature, s=signature.s + bjj.SUBGROUP_ORDER), public),
        ]
        if other_key != key:
            cases.append((False, message, signature, eddsa.public_key(other_key)))
        results = calculate_witnesses(
            circuit, [circuit_input(m, sig, a) for _, m, sig, a in cases], toolchain=toolchain
        )
        for (valid, m, sig, a), result in zip(cases, results, strict=True):
            assert eddsa.verify(m, sig, a) is valid
            assert accepted(result) is valid, result

    check()


def test_small_order_public_keys_are_refused_by_both(
    circomlib_circuit: Build, toolchain: Toolchain
) -> None:
    """With A of order 2, S · Base8 = R8 + 8 k A holds for R8 = S · Base8 and any
    message: a forgery that both the circuit and Python must refuse."""
    public = bjj.Point(0, bjj.P - 1)
    signature = eddsa.Signature(r8=bjj.scalar_mul(bjj.BASE8, 5), s=5)
    assert bjj.scalar_mul(bjj.BASE8, 5) == bjj.add(
        signature.r8, bjj.scalar_mul(public, 8 * eddsa.challenge(signature.r8, public, 7))
    )
    assert not eddsa.verify(7, signature, public)
    (result,) = calculate_witnesses(
        verifier(circomlib_circuit), [circuit_input(7, signature, public)], toolchain=toolchain
    )
    assert isinstance(result, WitnessError)
    assert not accepted(result)


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33)])
def test_refuses_keys_that_are_not_32_bytes(key: bytes) -> None:
    with pytest.raises(InvalidValue):
        eddsa.sign(key, 1)


@pytest.mark.parametrize("message", [-1, FIELD_MODULUS])
def test_refuses_messages_outside_the_field(message: int) -> None:
    with pytest.raises(InvalidValue):
        eddsa.sign(KNOWN_KEY, message)
    assert not eddsa.verify(message, KNOWN_SIGNATURE, KNOWN_PUBLIC)
