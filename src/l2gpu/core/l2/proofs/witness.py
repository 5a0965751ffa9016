"""Witnesses for re-executing a transfer commitment without the L2 state.

A transfer touches three accounts in order: debit the sender, credit the
recipient, credit the fee recipient. Each touch is a read-modify-write of one
account leaf; the witness gives, for every touch in order, the account as it was
and its Merkle proof against the accounts root *at that moment*. The signers'
BLS keys come with proofs against the pre-commitment root. Everything else a
verifier needs (the commitment bytes, the other parts of the state root) is L1
data or part of the claimed roots.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.l2.codec import KIND_TRANSFER, Commitment
from l2gpu.core.l2.state import Account, L2State, RootParts
from l2gpu.core.l2.stf import signers
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Wei


@dataclass(frozen=True, slots=True)
class AccountTouch:
    """One account as it was when touched, and its proof against the root at that moment."""

    account: Account
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class CommitmentWitness:
    """Everything beyond L1 data that re-executing one transfer commitment needs."""

    pre_parts: RootParts
    signer_keys: tuple[AccountTouch, ...]
    touches: tuple[AccountTouch, ...]


def transfer_witness(
    state: L2State, commitment: Commitment, fee_recipient: int
) -> CommitmentWitness:
    """Record the witness while replaying ``commitment`` on a scratch copy of the touched
    leaves. ``state`` is the state *before* the commitment and is left unchanged."""
    if commitment.kind != KIND_TRANSFER:
        raise ValueError("only transfer commitments have witnesses so far")
    pre_parts = state.parts()
    signer_indices: list[int] = []
    for tx in commitment.txs:
        for index in signers(state, tx):
            if index not in signer_indices and state.account(index) is not None:
                signer_indices.append(index)
    keys = tuple(
        AccountTouch(state.accounts[i], tuple(state.account_tree.proof(i))) for i in signer_indices
    )
    mark = state.checkpoint()
    touches: list[AccountTouch] = []
    try:
        for tx in commitment.txs:
            assert isinstance(tx, Transfer)
            for index, delta in (
                (tx.sender, -(tx.amount + tx.fee)),
                (tx.to, tx.amount),
                (fee_recipient, tx.fee),
            ):
                account = state.account(index)
                if account is None:
                    # The verifier will find the proof of an empty leaf and call it fraud.
                    placeholder = Account(index, state.rollup)
                    touches.append(
                        AccountTouch(placeholder, tuple(state.account_tree.proof(index)))
                    )
                    return CommitmentWitness(pre_parts, keys, tuple(touches))
                touches.append(AccountTouch(account, tuple(state.account_tree.proof(index))))
                balance = account.balance + delta
                if balance < 0:
                    return CommitmentWitness(pre_parts, keys, tuple(touches))
                nonce = account.nonce + (1 if index == tx.sender and delta < 0 else 0)
                state.put_account(replace(account, balance=Wei(balance), nonce=nonce))
    finally:
        state.rollback(mark)
        state.commit()
    return CommitmentWitness(pre_parts, keys, tuple(touches))
