"""The scheme seam of core/l2: the zk scheme's own rules (those core/zk has no twin of,
so the differential test cannot reach them) and the optimistic scheme as the default."""

from __future__ import annotations

from functools import cache

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.l2.scheme import KECCAK_SECP256K1, Authorization
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import L2Error, state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    Deposit,
    OpenChannel,
    Transfer,
    UserTx,
    Withdraw,
)
from l2gpu.core.l2.zk_scheme import POSEIDON_EDDSA, PoseidonEddsa, key_bytes, sign, zk_index
from l2gpu.core.types import Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.core.zk.state import ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer

CHAIN, ROLLUP = ChainId(31337), Address(b"\x11" * 20)
BLOCK = BlockContext(Timestamp(1_800_000_000), 0)
ETHER = 10**18


@cache
def private_key(user: int) -> bytes:
    return bytes([user + 1]) * 32


def key(user: int) -> bytes:
    point = eddsa.public_key(private_key(user))
    return key_bytes(point.x, point.y)


def address(user: int) -> Address:
    return Address(bytes([0xA0 + user]) * 20)


def funded(users: int = 2, depth: int = 8) -> L2State:
    """A zk-scheme state where users 0 .. users-1 hold one ether each (at their index)."""
    state = L2State(CHAIN, ROLLUP, PoseidonEddsa(depth))
    for user in range(users):
        deposit(state, user, key(user))
    return state


def deposit(state: L2State, user: int, account_key: bytes) -> None:
    tx = Deposit(state.deposits_processed, address(user), Wei(ETHER), account_key, b"")
    state_transition(state, tx, BLOCK)


def signed(state: L2State, tx: UserTx, user: int = 0) -> Authorization:
    nonce = state.accounts[user].nonce
    return Authorization(nonce, sign(private_key(user), tx, nonce))


def refusal(state: L2State, tx: UserTx, auth: Authorization | None) -> str:
    root = state.root()
    with pytest.raises(L2Error) as refused:
        state_transition(state, tx, BLOCK, auth)
    assert state.root() == root
    return refused.value.reason


def test_a_state_is_optimistic_unless_told_otherwise() -> None:
    state = L2State(CHAIN, ROLLUP)
    assert state.scheme == KECCAK_SECP256K1
    assert state.scheme.name == "keccak-secp256k1"
    assert state.account_tree.depth == 24


@pytest.mark.parametrize("scheme", [PoseidonEddsa(8), POSEIDON_EDDSA])
def test_an_empty_zk_state_has_core_zk_s_empty_root(scheme: PoseidonEddsa) -> None:
    state = L2State(CHAIN, ROLLUP, scheme)
    assert scheme.name == "poseidon-eddsa"
    assert int.from_bytes(state.root(), "big") == ZkState.empty(scheme.depth).root()


def test_a_zk_state_has_no_keccak_trees() -> None:
    state = funded(1)
    with pytest.raises(L2Error, match="no Keccak trees"):
        state.parts()
    with pytest.raises(L2Error, match="no Keccak trees"):
        _ = state.account_tree


def test_the_zk_scheme_signs_core_zk_s_message() -> None:
    tx = Transfer(0, 1, Wei(5 * 10**15), Wei(2 * 10**12))
    zk_tx = TransferTx(zk_index(0), zk_index(1), 5 * 10**15, 2, 0)
    packed = eddsa.pack_signature(sign_transfer(private_key(0), zk_tx))
    assert sign(private_key(0), tx, 0) == packed
    state = funded()
    state_transition(state, tx, BLOCK, Authorization(0, packed))
    assert state.accounts[1].balance == ETHER + 5 * 10**15
    assert state.accounts[0].nonce == 1


@pytest.mark.parametrize(
    ("tx", "reason"),
    [
        (Transfer(0, 1, Wei(10**15), Wei(10**12 + 1)), "zk: fee not representable"),
        (Transfer(0, 1, Wei(10**15), Wei(256 * 10**12)), "zk: fee code out of range"),
        (Transfer(0, 1, Wei(2**40 + 1), Wei(0)), "zk: amount not representable"),
        (Withdraw(0, Wei(10**15), Wei(10**12)), "zk: a withdrawal pays no fee"),
        (
            OpenChannel(0, 1, Wei(10**15), Timestamp(2_000_000_000), Seconds(3600)),
            "zk: ChannelManager channels are not in the zk scheme",
        ),
    ],
)
def test_what_core_zk_cannot_sign_is_refused(tx: UserTx, reason: str) -> None:
    state = funded()
    assert refusal(state, tx, Authorization(0, bytes(64))) == reason


def test_a_user_transaction_needs_its_signature() -> None:
    state = funded()
    tx = Transfer(0, 1, Wei(10**15), Wei(0))
    assert refusal(state, tx, None) == "zk: unsigned transaction"
    assert refusal(state, tx, Authorization(0, b"\x01" * 63)) == "zk: bad signature"
    assert refusal(state, tx, Authorization(0, sign(private_key(1), tx, 0))) == "zk: bad signature"
    assert refusal(state, tx, Authorization(1, sign(private_key(0), tx, 1))) == "zk: wrong nonce"
    state_transition(state, tx, BLOCK, signed(state, tx))


def test_a_deposit_with_a_key_the_zk_scheme_cannot_use_is_skipped() -> None:
    state = funded(1)
    root = state.root()
    deposit(state, 1, b"\x05" * 64)  # not a Baby Jubjub point
    deposit(state, 0, key(1))  # another key for account 0
    assert state.root() == root
    assert state.deposits_processed == 3
    assert len(state.accounts) == 1
    assert state.accounts[0].balance == ETHER


def test_a_deposit_past_the_accounts_half_is_skipped() -> None:
    state = funded(2, depth=2)  # leaves 0 (no-op) and 1 (account 0); 2 and 3 are channels'
    assert len(state.accounts) == 1
    assert state.deposits_processed == 2


def test_a_rollback_restores_the_zk_root() -> None:
    state = funded(1)
    before = state.root()
    mark = state.checkpoint()
    deposit(state, 1, key(1))
    tx = Transfer(1, 0, Wei(10**15), Wei(10**12))
    state_transition(state, tx, BLOCK, signed(state, tx, 1))
    withdrawal = Withdraw(0, Wei(10**15), Wei(0))
    state_transition(state, withdrawal, BLOCK, signed(state, withdrawal))
    assert state.root() != before
    assert state.held_fees == 10**12  # the transfer's fee waits for the batch's end
    state.rollback(mark)
    state.commit()
    assert state.root() == before
    assert state.held_fees == 0
    assert len(state.accounts) == 1
    assert state.exits == []


def test_the_optimistic_scheme_asks_for_a_bls_key_not_a_signature() -> None:
    # Its authorization is the commitment's BLS co-signature, checked per commitment:
    # what the state transition asks is that the sender can co-sign, whatever
    # Authorization comes with the transaction.
    state = L2State(CHAIN, ROLLUP)
    bad_proof = Deposit(0, address(0), Wei(ETHER), b"\x01" * 96, b"\x02" * 192)
    state_transition(state, bad_proof, BLOCK)
    tx = Transfer(0, 0, Wei(1), Wei(0))
    assert refusal(state, tx, Authorization(0, b"")) == "l2: sender has no BLS key"
