"""WITHDRAWAL in the zk ledger: the executable spec that ``circuits/withdrawal.circom``
matches.

A withdrawal takes ``amount`` wei out of account ``from_index`` to the L1 address in
its leaf, which L1 pays once the batch's proof verifies. The account signs::

    Poseidon([WITHDRAWAL_TAG, from_index, amount, nonce])

with ``WITHDRAWAL_TAG`` = 2, so that neither a transfer's signature (tag 1) nor a
withdrawal's can pass for the other. It pays no fee (the L1 side pays its own gas).
The published slot (``pubdata.WithdrawalSlot``) names the leaf's own ``eth_address``:
the account cannot send its ether anywhere else, and a stolen key can only withdraw
to the owner's address.

The rules, in the order :func:`apply_withdrawal` makes them, each refusal a
:class:`ZkError` whose ``reason`` names it:

1. the index is a leaf (``zk: index out of range``) and not 0
   (``zk: index 0 is not an account``); amount below 2^128 (``zk: amount out of
   range``), nonce below 2^32 (``zk: nonce out of range``);
2. the amount is not zero (``zk: zero amount``);
3. the slot holds an account (``zk: unknown sender``) whose key signed the message
   (``zk: bad signature``) with its nonce (``zk: wrong nonce``);
4. ``amount <= balance`` (``zk: insufficient balance``) and the nonce can grow
   (``zk: nonce overflow``).

The transition is one leaf update: ``balance -= amount; nonce += 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.zk.pubdata import WithdrawalSlot
from l2gpu.core.zk.state import MAX_BALANCE, MAX_NONCE, ZkState, require, signed_by_account

WITHDRAWAL_TAG = 2


@dataclass(frozen=True, slots=True)
class WithdrawalTx:
    """A withdrawal as signed: unchecked integers, checked by :func:`apply_withdrawal`."""

    from_index: int
    amount: int
    nonce: int


def message(tx: WithdrawalTx) -> int:
    """The field element the account signs. Raises :class:`ZkError` for fields out of
    range."""
    require(0 <= tx.amount <= MAX_BALANCE, "zk: amount out of range", "amount below 2^128")
    require(0 <= tx.nonce <= MAX_NONCE, "zk: nonce out of range", "nonce below 2^32")
    require(
        0 <= tx.from_index < poseidon.FIELD_MODULUS,
        "zk: index out of range",
        "from_index must be a leaf of the tree",
    )
    return poseidon.hash([WITHDRAWAL_TAG, tx.from_index, tx.amount, tx.nonce])


def sign_withdrawal(private_key: bytes, tx: WithdrawalTx) -> eddsa.Signature:
    """The account's signature of ``tx`` with its 32-byte EdDSA-Poseidon key."""
    return eddsa.sign(private_key, message(tx))


@dataclass(frozen=True, slots=True)
class WithdrawalStep:
    """One withdrawal's effect: the state after it and its public data slot."""

    after: ZkState
    slot: WithdrawalSlot


def apply_withdrawal(
    state: ZkState, tx: WithdrawalTx, signature: eddsa.Signature
) -> WithdrawalStep:
    """Check every rule and debit the account; raises :class:`ZkError` on the first
    rule broken, in the order of the module's docstring."""
    require(
        state.in_range(tx.from_index),
        "zk: index out of range",
        f"from_index must be in [0, {state.capacity}) (got {tx.from_index})",
    )
    require(tx.from_index != 0, "zk: index 0 is not an account", "index 0 marks a no-op slot")
    digest = message(tx)
    require(tx.amount > 0, "zk: zero amount", "withdraw at least 1 wei")
    account = signed_by_account(state, tx.from_index, digest, signature, tx.nonce, "withdrawal")
    require(
        tx.amount <= account.balance,
        "zk: insufficient balance",
        f"amount is {tx.amount}, the balance {account.balance}",
    )
    require(account.nonce < MAX_NONCE, "zk: nonce overflow", "the account's nonces are used up")
    paid = replace(account, balance=account.balance - tx.amount, nonce=account.nonce + 1)
    address = account.eth_address.to_bytes(20, "big")
    slot = WithdrawalSlot(tx.from_index, address, tx.amount)
    return WithdrawalStep(state.with_account(tx.from_index, paid), slot)
