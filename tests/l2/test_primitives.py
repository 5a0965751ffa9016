"""L2 building blocks: the indexed Merkle tree, compact amounts, BLS co-signatures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.crypto.bls import (
    BlsSecretKey,
    aggregate,
    verify_aggregate_same_message,
    verify_possession,
)
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import InvalidValue, SignatureError
from l2gpu.core.l2 import amounts
from l2gpu.core.l2.merkle import EMPTY_LEAF, IndexedMerkleTree, verify_proof


def naive_root(leaves: dict[int, bytes], depth: int) -> bytes:
    level = [leaves.get(i, EMPTY_LEAF) for i in range(1 << depth)]
    for _ in range(depth):
        level = [keccak256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


@given(st.dictionaries(st.integers(0, 63), st.binary(min_size=32, max_size=32), max_size=20))
def test_tree_root_matches_a_naive_tree_and_proofs_verify(leaves: dict[int, bytes]) -> None:
    tree = IndexedMerkleTree(depth=6)
    for index, value in leaves.items():
        tree.set_leaf(index, value)
    assert tree.root == naive_root(leaves, 6)
    for index in list(leaves)[:5]:
        proof = tree.proof(index)
        assert verify_proof(tree.root, index, leaves[index], proof)
        sibling = leaves.get(index ^ 1, EMPTY_LEAF)
        moved = verify_proof(tree.root, index ^ 1, leaves[index], proof)
        assert not moved or sibling == leaves[index]


def test_tree_rejects_indices_outside_it() -> None:
    with pytest.raises(IndexError):
        IndexedMerkleTree(depth=4).set_leaf(16, EMPTY_LEAF)


@given(st.integers(0, 524_287), st.integers(0, 31))
def test_amounts_round_trip_exactly(mantissa: int, exponent: int) -> None:
    value = mantissa * 10**exponent
    assert amounts.decode(amounts.encode(value)) == value
    assert len(amounts.encode(value)) == 3


@given(st.integers(0, 10**40))
def test_round_down_never_rounds_up(value: int) -> None:
    rounded = amounts.round_down(value)
    assert rounded <= value
    assert amounts.is_representable(rounded)


@given(st.integers(0, 10**36))
def test_round_up_gives_the_smallest_representable_amount_not_below(value: int) -> None:
    rounded = amounts.round_up(value)
    assert rounded >= value
    assert amounts.is_representable(rounded)
    # nothing representable lies between: the next amount down is below the value
    assert rounded == value or amounts.round_down(rounded - 1) < value


def test_round_up_carries_into_the_next_exponent() -> None:
    assert amounts.round_up(5_242_871) == 5_242_900  # 524,288 x 10 does not fit: next is x 100
    assert amounts.round_up(524_288) == 524_290
    assert amounts.round_up(123_456_789) == 123_457_000


def test_unrepresentable_amounts_say_how_to_round() -> None:
    with pytest.raises(InvalidValue, match="round it down to 123456000"):
        amounts.encode(123_456_789)


def test_bls_same_message_aggregate() -> None:
    keys = [BlsSecretKey.from_seed(bytes([i]) * 32) for i in range(1, 6)]
    message = b"commitment"
    signature = aggregate(k.sign(message) for k in keys)
    publics = [k.public_key for k in keys]
    assert verify_aggregate_same_message(publics, message, signature)
    assert not verify_aggregate_same_message(publics[:-1], message, signature)
    assert not verify_aggregate_same_message(publics, b"other", signature)
    assert not verify_aggregate_same_message([b"\xc0" + bytes(95)], message, b"\xc0" + bytes(47))
    assert not verify_aggregate_same_message(publics, message, b"\x01" * 48)


def test_bls_proof_of_possession() -> None:
    alice, bob = BlsSecretKey.from_seed(b"a" * 32), BlsSecretKey.from_seed(b"b" * 32)
    assert verify_possession(alice.public_key, alice.prove_possession())
    assert not verify_possession(alice.public_key, bob.prove_possession())
    assert not verify_possession(alice.public_key, alice.sign(alice.public_key))  # wrong tag
    with pytest.raises(SignatureError):
        BlsSecretKey.from_seed(b"short")
