"""BlsVerifier.vy against the Python BLS core: the same answer on the same inputs.

The embedded py-evm chain runs Prague, whose EIP-2537 precompiles are written in
pure Python (py_ecc): a call that reaches the pairing takes about a second, so
the cases here are few and the Hypothesis run is short.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_ecc.bls.hash_to_curve import map_to_curve_G1, map_to_curve_G2
from py_ecc.bls.point_compression import compress_G1, compress_G2, decompress_G1
from py_ecc.bls.typing import G1Compressed
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.fields import optimized_bls12_381_FQ2 as FQ2
from py_ecc.optimized_bls12_381.optimized_curve import G2, add, curve_order, multiply, neg
from pyblst import BlstP1Element

from l2gpu.core.crypto import bls
from l2gpu.core.crypto.bls_points import g1_point, g2_point
from l2gpu.l1 import Chain, DeployedContract, compile_contract
from l2gpu.l1 import chain as l1_chain
from l2gpu.l1.errors import ContractRevert

MESSAGE = b"\x42" * 32
SCALARS = [1_000_003 * (i + 1) for i in range(32)]
SIGNERS = [bls.BlsSecretKey(scalar) for scalar in SCALARS]


@pytest.fixture(scope="module")
def verifier(module_chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> DeployedContract:
    """BlsVerifier deployed once per module: it has no state, so no snapshots needed."""
    compiled = compile_contract("rollup/BlsVerifier.vy", cache_dir=tmp_path_factory.mktemp("cache"))
    return module_chain.deploy(compiled, sender=module_chain.accounts[0])


@lru_cache(maxsize=256)
def key_point(key: bytes) -> bytes:
    """The honest prover's uncompressed key (cached: G2 square roots are slow in py_ecc)."""
    return g2_point(key)


def on_chain(
    verifier: DeployedContract,
    keys: Sequence[bytes],
    signature: bytes,
    message: bytes = MESSAGE,
    *,
    pop: bool = False,
    key_points: Sequence[bytes] | None = None,
    signature_point: bytes | None = None,
) -> bool:
    """verify_same_message, with honestly computed points unless others are given."""
    points = [key_point(k) for k in keys] if key_points is None else key_points
    sig_point = g1_point(signature) if signature_point is None else signature_point
    args = (message, pop, list(keys), list(points), signature, sig_point)
    return bool(verifier.call("verify_same_message", *args))


def aggregate_case(count: int, message: bytes = MESSAGE) -> tuple[list[bytes], bytes]:
    """Keys of the first ``count`` signers and their aggregate signature on ``message``."""
    signers = SIGNERS[:count]
    return [s.public_key for s in signers], bls.aggregate(s.sign(message) for s in signers)


def flip(data: bytes, index: int, mask: int) -> bytes:
    """``data`` with the bits of ``mask`` flipped in byte ``index``."""
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def g2_compressed(point: Any) -> bytes:
    """A py_ecc G2 point in the zcash compressed encoding."""
    high, low = compress_G2(point)
    return high.to_bytes(48, "big") + low.to_bytes(48, "big")


# -- hashing -----------------------------------------------------------------------


@pytest.mark.parametrize("message", [b"", b"abc", MESSAGE, bytes(range(96))])
@pytest.mark.parametrize("pop", [False, True])
def test_hash_to_g1_matches_blst(verifier: DeployedContract, message: bytes, pop: bool) -> None:
    # MAP_FP_TO_G1 clears the cofactor of each point; this pins that
    # map(u0) + map(u1) is blst's hash_to_group under both domain tags.
    dst = bls.POP_DST if pop else bls.SIGNATURE_DST
    expected = g1_point(bytes(BlstP1Element().hash_to_group(message, dst).compress()))
    assert verifier.call("hash_to_g1", message, pop) == expected


# -- valid signatures --------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 8, 32])
def test_aggregate_of_every_signer_verifies(verifier: DeployedContract, count: int) -> None:
    keys, signature = aggregate_case(count)
    assert bls.verify_aggregate_same_message(keys, MESSAGE, signature)
    assert on_chain(verifier, keys, signature)


def test_proof_of_possession(verifier: DeployedContract) -> None:
    holder, other = SIGNERS[0], SIGNERS[1]
    key, proof = holder.public_key, holder.prove_possession()
    assert on_chain(verifier, [key], proof, key, pop=True)
    # Another key's proof, and a signature of the key under the signature tag, fail.
    assert not on_chain(verifier, [key], other.prove_possession(), key, pop=True)
    assert not on_chain(verifier, [key], holder.sign(key), key, pop=True)
    # A proof only ever covers one key, and its message is that key.
    assert not on_chain(verifier, [key, other.public_key], proof, key, pop=True)
    assert not on_chain(verifier, [key], proof, other.public_key, pop=True)


# -- wrong signatures --------------------------------------------------------------


def test_wrong_message_fails(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(2)
    assert not on_chain(verifier, keys, signature, b"another message")


def test_one_wrong_key_fails(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(3)
    keys[1] = SIGNERS[5].public_key
    assert not bls.verify_aggregate_same_message(keys, MESSAGE, signature)
    assert not on_chain(verifier, keys, signature)


# -- points that do not match their compressed form ---------------------------------


def test_y_sign_must_match_the_flag(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(1)
    flipped_key, flipped_sig = flip(keys[0], 0, 0x20), flip(signature, 0, 0x20)
    # The same point under the other sign flag: a prover's mismatch, which reverts
    # (answering False would let anyone "prove" a valid signature invalid).
    with pytest.raises(ContractRevert, match="bls: witness"):
        on_chain(verifier, [flipped_key], signature, key_points=[key_point(keys[0])])
    with pytest.raises(ContractRevert, match="bls: witness"):
        on_chain(verifier, keys, flipped_sig, signature_point=g1_point(signature))
    # The negated point, honestly decompressed, does not verify.
    assert not bls.verify_aggregate_same_message([flipped_key], MESSAGE, signature)
    assert not on_chain(verifier, [flipped_key], signature)


def test_a_point_off_the_curve_is_the_provers_error(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(1)
    bad_key_point = flip(key_point(keys[0]), 255, 0x01)
    bad_signature_point = flip(g1_point(signature), 127, 0x01)
    with pytest.raises(ContractRevert, match="bls: witness"):
        on_chain(verifier, keys, signature, key_points=[bad_key_point])
    with pytest.raises(ContractRevert, match="bls: witness"):
        on_chain(verifier, keys, signature, signature_point=bad_signature_point)


def test_a_point_with_another_x_is_the_provers_error(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(2)
    with pytest.raises(ContractRevert, match="bls: witness"):
        on_chain(verifier, keys, signature, key_points=[key_point(keys[1])] * 2)
    other_signature = SIGNERS[7].sign(MESSAGE)
    with pytest.raises(ContractRevert, match="bls: witness"):
        on_chain(verifier, keys, signature, signature_point=g1_point(other_signature))


def test_signature_bytes_with_no_curve_point_are_invalid(verifier: DeployedContract) -> None:
    # An x for which x^3 + 4 is not a square mod p: no point, so False whatever the
    # witness (Euler's criterion on chain).
    keys, _ = aggregate_case(1)
    for x in range(1, 50):
        candidate = bytes([0x80 | (x >> 376)]) + x.to_bytes(48, "big")[1:]
        if g1_point(candidate) == bytes(128):
            break
    assert not bls.verify_aggregate_same_message(keys, MESSAGE, candidate)
    assert not on_chain(verifier, keys, candidate, signature_point=bytes(128))


def test_keys_for_deposits_must_be_curve_points(verifier: DeployedContract) -> None:
    keys, _ = aggregate_case(1)
    assert verifier.call("key_is_curve_point", keys[0], key_point(keys[0]))
    assert not verifier.call("key_is_curve_point", keys[0], flip(key_point(keys[0]), 255, 1))
    assert not verifier.call("key_is_curve_point", bytes([0x80]) + bytes(95), bytes(256))


@pytest.mark.parametrize("part", ["key", "signature"])
def test_points_outside_the_subgroup_fail(verifier: DeployedContract, part: str) -> None:
    # Two keys whose torsion parts cancel add up to a valid key: G2ADD would accept
    # the sum, blst refuses each key, and so must the contract (it sums with G2MSM).
    keys = [SIGNERS[0].public_key, SIGNERS[1].public_key]
    signature = bls.aggregate(s.sign(MESSAGE) for s in SIGNERS[:2])
    if part == "key":
        torsion = multiply(map_to_curve_G2(FQ2([3, 4])), curve_order)
        keys = [
            g2_compressed(add(multiply(G2, SCALARS[0]), torsion)),
            g2_compressed(add(multiply(G2, SCALARS[1]), neg(torsion))),
        ]
    else:
        torsion = multiply(map_to_curve_G1(FQ(5)), curve_order)
        point = decompress_G1(G1Compressed(int.from_bytes(signature, "big")))
        signature = compress_G1(add(point, torsion)).to_bytes(48, "big")
    assert not bls.verify_aggregate_same_message(keys, MESSAGE, signature)
    assert not on_chain(verifier, keys, signature)


# -- keys and signatures that are no point at all ------------------------------------


def test_infinity_fails(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(1)
    key_infinity, sig_infinity = bytes([0xC0]) + bytes(95), bytes([0xC0]) + bytes(47)
    assert not bls.verify_aggregate_same_message([key_infinity], MESSAGE, sig_infinity)
    assert not on_chain(verifier, [key_infinity], sig_infinity)
    assert not on_chain(verifier, [key_infinity], signature)
    assert not on_chain(verifier, keys, sig_infinity)
    # The EIP-2537 infinity behind a compressed key of x = 0 (no curve point) is
    # refused too: added to a valid key it would change nothing in the sum.
    zero_x = bytes([0x80]) + bytes(95)
    with_zero_x = [keys[0], zero_x]
    assert not bls.verify_aggregate_same_message(with_zero_x, MESSAGE, signature)
    # No point has that key: no witness exists, and Rollup.deposit refuses such keys.
    with pytest.raises(ContractRevert, match="bls: witness"):
        on_chain(verifier, with_zero_x, signature, key_points=[key_point(keys[0]), bytes(256)])


def test_all_zero_key_fails(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(2)
    keys[1] = bytes(96)
    assert not bls.verify_aggregate_same_message(keys, MESSAGE, signature)
    assert not on_chain(verifier, keys, signature)


def test_list_lengths_must_match(verifier: DeployedContract) -> None:
    keys, signature = aggregate_case(2)
    points = [key_point(k) for k in keys]
    assert not on_chain(verifier, keys, signature, key_points=points[:1])
    assert not on_chain(verifier, keys[:1], signature, key_points=points)
    assert not on_chain(verifier, [], signature, key_points=[])


def test_too_little_gas_reverts_instead_of_failing(verifier: DeployedContract) -> None:
    # Starved precompiles would fail like bad points; a False would then read as
    # "invalid signature", so the contract reverts instead.
    keys, signature = aggregate_case(1)
    args = (MESSAGE, False, keys, [key_point(k) for k in keys], signature, g1_point(signature))
    function = verifier.function("verify_same_message", *args)
    with pytest.raises(l1_chain.REVERT_ERRORS, match="bls: out of gas"):
        function.call({"gas": 120_000})


# -- differential ------------------------------------------------------------------

TAMPERINGS = [
    "none",
    "key bit",
    "key bit, stale point",
    "signature bit",
    "signature bit, stale point",
    "key point byte",
    "signature point byte",
    "other message",
]


@st.composite
def verifier_inputs(draw: st.DrawFn) -> tuple[bytes, bool, list[bytes], list[bytes], bytes, bytes]:
    """A valid aggregate or proof of possession, then at most one tampering."""
    pop = draw(st.booleans())
    count = 1 if pop else draw(st.integers(1, 3))
    signers = draw(st.lists(st.sampled_from(SIGNERS), min_size=count, max_size=count))
    keys = [s.public_key for s in signers]
    if pop:
        message, signature = keys[0], signers[0].prove_possession()
    else:
        message = draw(st.binary(max_size=96))
        signature = bls.aggregate(s.sign(message) for s in signers)
    points = [key_point(k) for k in keys]
    signature_point = g1_point(signature)
    tampering = draw(st.sampled_from(TAMPERINGS))
    which = draw(st.integers(0, count - 1))
    mask = 1 << draw(st.integers(0, 7))
    if tampering.startswith("key bit"):
        keys[which] = flip(keys[which], draw(st.integers(0, 95)), mask)
        if "stale" not in tampering:
            points[which] = key_point(keys[which])
    elif tampering.startswith("signature bit"):
        signature = flip(signature, draw(st.integers(0, 47)), mask)
        if "stale" not in tampering:
            signature_point = g1_point(signature)
    elif tampering == "key point byte":
        points[which] = flip(points[which], draw(st.integers(0, 255)), mask)
    elif tampering == "signature point byte":
        signature_point = flip(signature_point, draw(st.integers(0, 127)), mask)
    elif tampering == "other message" and not pop:
        message = draw(st.binary(max_size=96).filter(lambda m: m != message))
    return message, pop, keys, points, signature, signature_point


def python_verdict(message: bytes, pop: bool, keys: list[bytes], signature: bytes) -> bool:
    """What the Python core says."""
    if pop:
        return bls.verify_possession(keys[0], signature)
    return bls.verify_aggregate_same_message(keys, message, signature)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(inputs=verifier_inputs())
def test_contract_agrees_with_python(
    verifier: DeployedContract,
    inputs: tuple[bytes, bool, list[bytes], list[bytes], bytes, bytes],
) -> None:
    message, pop, keys, points, signature, point = inputs
    honest = points == [key_point(k) for k in keys] and point == g1_point(signature)
    reverted: str | None = None
    try:
        answer = verifier.call("verify_same_message", *inputs)
    except ContractRevert as exc:
        reverted = str(exc)
    if reverted is None:
        assert answer == python_verdict(message, pop, keys, signature)
        return
    # Only a prover's wrong point reverts, or a key with no curve point at all, which
    # Rollup.deposit never lets into the L2.
    assert "bls: witness" in reverted
    assert not honest or any(key_point(k) == bytes(256) for k in keys)
