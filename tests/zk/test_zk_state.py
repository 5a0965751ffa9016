"""The zk ledger's state tree: roots, proofs and pure updates (no circuit needed)."""

from __future__ import annotations

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.errors import InvalidValue
from l2gpu.core.zk.state import (
    MAX_BALANCE,
    MAX_NONCE,
    Account,
    ZkError,
    ZkState,
    hash_pair,
    zero_hashes,
)

KEY = eddsa.public_key(bytes(range(32)))


def account(balance: int, nonce: int = 0) -> Account:
    return Account(KEY.x, KEY.y, balance, nonce)


def test_the_empty_root_is_the_zero_hash_chain() -> None:
    zeros = zero_hashes(3)
    assert zeros[0] == 0
    assert zeros[1] == poseidon.hash([0, 0])
    assert ZkState.empty(3).root() == zeros[3] == hash_pair(zeros[2], zeros[2])


def test_the_leaf_is_poseidon_of_the_five_fields() -> None:
    assert account(5, 7).leaf == poseidon.hash([KEY.x, KEY.y, 5, 7, 0])
    owned = Account(KEY.x, KEY.y, 5, 7, eth_address=0xAB)
    assert owned.leaf == poseidon.hash([KEY.x, KEY.y, 5, 7, 0xAB])


def test_index_0_is_never_an_account() -> None:
    with pytest.raises(ZkError, match="index 0 is not an account"):
        ZkState.empty(4).with_account(0, account(1))


def test_every_proof_opens_to_the_root_and_updates_are_pure() -> None:
    empty = ZkState.empty(4)
    one = empty.with_account(9, account(100))
    two = one.with_account(2, account(1, 3)).with_account(9, account(50, 1))
    assert empty.account(9) is None  # older states stay as they were
    assert one.account(9) == account(100)
    assert two.account(9) == account(50, 1)
    assert two.account(3) is None
    assert two.leaf(3) == 0
    for state in (empty, one, two):
        for index in range(16):
            proof = state.proof(index)
            assert proof.leaf == state.leaf(index)
            proof.verify(state.root())
    # The root depends on the leaf's position, not only on the set of leaves.
    assert ZkState.empty(4).with_account(2, account(1)).root() != (
        ZkState.empty(4).with_account(3, account(1)).root()
    )


def test_the_tree_is_built_as_hash_pairs() -> None:
    """Leaf 1 of depth 1 is the right child: root = H(0, leaf)."""
    state = ZkState.empty(1).with_account(1, account(10))
    assert state.root() == hash_pair(0, account(10).leaf)
    two = ZkState.empty(2).with_account(2, account(10))
    assert two.root() == hash_pair(zero_hashes(1)[1], hash_pair(account(10).leaf, 0))


def test_a_proof_for_another_root_is_refused() -> None:
    state = ZkState.empty(4).with_account(5, account(1))
    proof = state.proof(5)
    with pytest.raises(ZkError, match="proof does not match the root"):
        proof.verify(ZkState.empty(4).root())


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(InvalidValue, match="balance"):
        account(MAX_BALANCE + 1)
    with pytest.raises(InvalidValue, match="nonce"):
        account(0, MAX_NONCE + 1)
    with pytest.raises(InvalidValue, match="L1 address"):
        Account(KEY.x, KEY.y, 0, 0, 2**160)
    with pytest.raises(InvalidValue, match="Baby Jubjub"):
        Account(1, 2, 0)
    with pytest.raises(InvalidValue, match="outside a tree of depth 4"):
        ZkState.empty(4).with_account(16, account(1))
    with pytest.raises(InvalidValue, match="depth"):
        ZkState.empty(0)
