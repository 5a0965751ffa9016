"""The zk batch's spec (no circuit): deposits, withdrawals, the fee credit, the order
of sections and the public data apply_batch publishes."""

from __future__ import annotations

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.babyjubjub import GENERATOR
from l2gpu.core.crypto.poseidon import FIELD_MODULUS as P
from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.batch import apply_batch
from l2gpu.core.zk.deposit import DepositOutcome, apply_deposit
from l2gpu.core.zk.state import MAX_BALANCE, Account, ZkError, ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx, apply_withdrawal, sign_withdrawal

DEPTH = 8
KEYS = (bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34)))
PUBLIC = tuple(eddsa.public_key(key) for key in KEYS)
ADDRESS = (0xA1, 0xB2, 0xC3)
SHAPE = pd.BatchShape(deposits=2, transfers=2, withdrawals=1)
ETHER = 10**18


def owner(key: int, balance: int, nonce: int = 0) -> Account:
    return Account(PUBLIC[key].x, PUBLIC[key].y, balance, nonce, ADDRESS[key])


def deposit(index: int, key: int, amount: int, address: int | None = None) -> pd.DepositSlot:
    eth = (ADDRESS[key] if address is None else address).to_bytes(20, "big")
    return pd.DepositSlot(index, PUBLIC[key].x, PUBLIC[key].y, eth, amount)


STATE = ZkState.empty(DEPTH).with_account(1, owner(0, ETHER, 4)).with_account(9, owner(1, 0))


def test_a_deposit_creates_an_account_or_credits_its_owner() -> None:
    created = apply_deposit(STATE, deposit(5, 2, 10**15))
    assert created.outcome is DepositOutcome.CREATED
    assert created.after.account(5) == owner(2, 10**15)
    credited = apply_deposit(created.after, deposit(5, 2, 7))
    assert credited.outcome is DepositOutcome.CREDITED
    assert credited.after.account(5) == owner(2, 10**15 + 7)
    nonce_kept = apply_deposit(STATE, deposit(1, 0, 1)).after.account(1)
    assert nonce_kept == owner(0, ETHER + 1, 4)  # the nonce is the account's


@pytest.mark.parametrize(
    ("slot", "outcome"),
    [
        (deposit(1, 1, 5), DepositOutcome.SKIPPED_OTHER_OWNER),  # another key
        (deposit(1, 0, 5, address=0xEE), DepositOutcome.SKIPPED_OTHER_OWNER),  # another address
        (deposit(1, 0, MAX_BALANCE), DepositOutcome.SKIPPED_OVERFLOW),
        (pd.DepositSlot(5, 1, 2, bytes(20), 5), DepositOutcome.SKIPPED_BAD_KEY),  # off the curve
        (pd.DepositSlot(5, GENERATOR.x + P, GENERATOR.y, bytes(20), 5),
         DepositOutcome.SKIPPED_BAD_KEY),  # x + p: the same point mod p, not canonical
    ],
)  # fmt: skip
def test_a_deposit_that_cannot_apply_is_skipped(
    slot: pd.DepositSlot, outcome: DepositOutcome
) -> None:
    step = apply_deposit(STATE, slot)
    assert step.outcome is outcome
    assert not step.outcome.applied
    assert step.after.root() == STATE.root()


def test_deposits_l1_never_queues_are_refused() -> None:
    with pytest.raises(ZkError, match="index 0 is not an account"):
        apply_deposit(STATE, deposit(0, 0, 1))
    with pytest.raises(ZkError, match="index out of range"):
        apply_deposit(STATE, deposit(2**DEPTH, 0, 1))
    with pytest.raises(ZkError, match="amount out of range"):
        apply_deposit(STATE, deposit(3, 0, 2**128))


def test_a_withdrawal_pays_the_leafs_address() -> None:
    tx = WithdrawalTx(1, 3 * 10**17, 4)
    step = apply_withdrawal(STATE, tx, sign_withdrawal(KEYS[0], tx))
    assert step.after.account(1) == owner(0, ETHER - 3 * 10**17, 5)
    assert step.slot == pd.WithdrawalSlot(1, ADDRESS[0].to_bytes(20, "big"), 3 * 10**17)


@pytest.mark.parametrize(
    ("tx", "key", "reason"),
    [
        (WithdrawalTx(1, 5, 4), 1, "zk: bad signature"),
        (WithdrawalTx(1, 5, 3), 0, "zk: wrong nonce"),
        (WithdrawalTx(1, ETHER + 1, 4), 0, "zk: insufficient balance"),
        (WithdrawalTx(1, 0, 4), 0, "zk: zero amount"),
        (WithdrawalTx(2, 5, 0), 0, "zk: unknown sender"),
        (WithdrawalTx(0, 5, 0), 0, "zk: index 0 is not an account"),
        (WithdrawalTx(1, 2**128, 4), 0, "zk: amount out of range"),
    ],
)
def test_withdrawal_refusals(tx: WithdrawalTx, key: int, reason: str) -> None:
    signature = eddsa.sign(KEYS[key], 1)  # any signature: each refusal comes before or at it
    if reason != "zk: amount out of range":
        signature = sign_withdrawal(KEYS[key], tx)
    with pytest.raises(ZkError) as refused:
        apply_withdrawal(STATE, tx, signature)
    assert refused.value.reason == reason


def test_a_transfers_signature_is_no_withdrawals() -> None:
    """Same index, amount and nonce: the tags keep the two messages apart."""
    transfer = TransferTx(1, 1, 5, 0, 4)
    with pytest.raises(ZkError, match="bad signature"):
        apply_withdrawal(STATE, WithdrawalTx(1, 5, 4), sign_transfer(KEYS[0], transfer))


def test_transfer_amounts_need_a_float40_form() -> None:
    tx = TransferTx(1, 9, 2**35 * 10 + 1, 0, 4)
    with pytest.raises(ZkError, match="amount not representable"):
        apply_batch(STATE, SHAPE, 9, [], [tx], [], [eddsa.sign(KEYS[0], 1)])


def test_a_batch_applies_deposits_then_transfers_then_withdrawals_then_fees() -> None:
    # The deposit creates account 5, which pays a transfer in the same batch.
    t1 = TransferTx(1, 9, 10**17, 3, 4)
    t2 = TransferTx(5, 5, 10**14, 2, 0)  # to oneself: pays only the fee
    w1 = WithdrawalTx(9, 4 * 10**16, 0)
    signatures = [sign_transfer(KEYS[0], t1), sign_transfer(KEYS[2], t2)]
    signatures.append(sign_withdrawal(KEYS[1], w1))
    result = apply_batch(STATE, SHAPE, 9, [deposit(5, 2, 10**15)], [t1, t2], [w1], signatures)
    state = result.new_state
    fee = pd.FEE_UNIT_WEI
    assert state.account(1) == owner(0, ETHER - 10**17 - 3 * fee, 5)
    assert state.account(5) == owner(2, 10**15 - 2 * fee, 1)
    # The fee account (9) got the transfer, paid the withdrawal and got the fees last.
    assert state.account(9) == owner(1, 10**17 - 4 * 10**16 + 5 * fee, 1)
    slots = [t1.slot, t2.slot]
    withdrawal = pd.WithdrawalSlot(9, ADDRESS[1].to_bytes(20, "big"), 4 * 10**16)
    expected = pd.encode_batch(
        SHAPE, STATE.root(), state.root(), 9, [deposit(5, 2, 10**15)], slots, [withdrawal]
    )
    assert result.pubdata == expected
    assert result.public_input == pd.public_input(expected)
    assert result.circuit_input["input_hash"] == result.public_input
    assert result.circuit_input["new_root"] == state.root()
    new_state, data, digest, _ = result  # a 4-tuple
    assert (new_state, data, digest) == (state, expected, result.public_input)


def test_an_invalid_transaction_refuses_the_whole_batch() -> None:
    good = TransferTx(1, 9, 10**17, 0, 4)
    overdraft = WithdrawalTx(9, ETHER, 0)
    signatures = [sign_transfer(KEYS[0], good), sign_withdrawal(KEYS[1], overdraft)]
    with pytest.raises(ZkError, match="insufficient balance"):
        apply_batch(STATE, SHAPE, 9, [], [good], [overdraft], signatures)
    assert STATE.account(1) == owner(0, ETHER, 4)  # nothing changed


def test_batch_refusals() -> None:
    tx = TransferTx(1, 9, 10, 1, 4)
    signature = sign_transfer(KEYS[0], tx)
    with pytest.raises(ZkError, match="too many transfers"):
        apply_batch(STATE, SHAPE, 9, [], [tx] * 3, [], [signature] * 3)
    with pytest.raises(ZkError, match="one signature per transaction"):
        apply_batch(STATE, SHAPE, 9, [], [tx], [], [])
    for fee_account in (0, 2, 2**DEPTH):  # no-op marker, empty slot, outside the tree
        with pytest.raises(ZkError, match="unknown fee account"):
            apply_batch(STATE, SHAPE, fee_account, [], [tx], [], [signature])
    full = STATE.with_account(9, owner(1, MAX_BALANCE))
    with pytest.raises(ZkError, match="balance overflow"):
        apply_batch(full, SHAPE, 9, [], [tx], [], [signature])


def test_an_empty_batch_changes_nothing() -> None:
    result = apply_batch(STATE, SHAPE, 9, [], [], [], [])
    assert result.new_state.root() == STATE.root()
    assert result.pubdata[pd.HEADER_BYTES :] == bytes(SHAPE.size - pd.HEADER_BYTES)
