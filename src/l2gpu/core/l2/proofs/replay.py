"""Replaying posted batches honestly, and finding where a proposer went wrong.

The watcher holds the L2 state as of the last batch it accepted. For a new batch
it replays segment by segment (segment 0: the L1 operations; then one segment per
commitment), each transaction through the specification, and compares the roots
the proposer claimed. The first segment that does not hold is the one to
challenge. When the proposer then reveals its root after every transaction of
that segment, :func:`find_fault` names the single step (or the co-signature) to
prove on L1, with its witness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from l2gpu.core.crypto.bls import verify_aggregate_same_message
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.commitment import MAX_SIGNERS, message_for
from l2gpu.core.l2.proofs.signature import CloseParties, SignatureWitness, SignerKey
from l2gpu.core.l2.proofs.step import NO_ACCOUNT, StepWitness
from l2gpu.core.l2.proofs.witness import l1_account_index, step_witness
from l2gpu.core.l2.state import L2State, RootParts
from l2gpu.core.l2.stf import L2Error, signers, state_transition
from l2gpu.core.l2.transactions import BlockContext, CooperativeClose, L2Tx


@dataclass(frozen=True, slots=True)
class SegmentRun:
    """An honest run of one segment from its (honest) pre-state."""

    roots: tuple[bytes, ...]
    """The state root after each transaction that applied."""
    fault_position: int | None
    """The first transaction that breaks a rule, if any."""
    signature_valid: bool
    """The co-signature holds (always True for the L1-operations segment)."""

    def post_root(self) -> bytes | None:
        """The honest root after the segment, or None if the segment is invalid."""
        if self.fault_position is not None or not self.signature_valid:
            return None
        return self.roots[-1] if self.roots else None


def run_segment(
    state: L2State, txs: Sequence[L2Tx], block: BlockContext, commitment: Commitment | None
) -> SegmentRun:
    """Apply ``txs`` to ``state`` honestly (stopping at the first fault) and report.

    The state keeps what applied; callers checkpoint when they need to undo.
    """
    pre_root = state.root()
    roots: list[bytes] = []
    signer_set: list[int] = []
    for position, tx in enumerate(txs):
        if commitment is not None:
            signer_set.extend(i for i in signers(state, tx) if i not in signer_set)  # type: ignore[arg-type]
        try:
            state_transition(state, tx, block)
        except L2Error:
            return SegmentRun(tuple(roots), position, True)
        roots.append(state.root())
    valid = True
    if commitment is not None:
        keys = [state.accounts[i].bls_key for i in signer_set if i < len(state.accounts)]
        message = message_for(state.chain_id, state.rollup, pre_root, commitment)
        valid = len(signer_set) <= MAX_SIGNERS and verify_aggregate_same_message(
            keys, message, commitment.signature
        )
    return SegmentRun(tuple(roots), None, valid)


@dataclass(frozen=True, slots=True)
class StepFault:
    """Prove step ``position``: from ``pre_parts`` the transaction breaks a rule or
    leads elsewhere than the proposer's root."""

    position: int
    tx: L2Tx
    pre_parts: RootParts
    witness: StepWitness
    l1_account_index: int


@dataclass(frozen=True, slots=True)
class SignatureFault:
    """Every step holds, but the co-signature does not."""

    witness: SignatureWitness


def find_fault(
    state: L2State,
    txs: Sequence[L2Tx],
    block: BlockContext,
    commitment: Commitment | None,
    claimed: Sequence[bytes],
) -> StepFault | SignatureFault | None:
    """The step to prove against the proposer's revealed roots ``claimed`` (the root
    after each transaction), starting from the honest pre-state ``state``, which is
    left unchanged. None: the proposer's roots and co-signature are all right."""
    outer = state.recording
    mark = state.checkpoint()
    try:
        for position, tx in enumerate(txs):
            index = NO_ACCOUNT
            if commitment is None:
                index = l1_account_index(state, tx)  # type: ignore[arg-type]
            fault = StepFault(position, tx, state.parts(), step_witness(state, tx, block), index)
            try:
                state_transition(state, tx, block)
            except L2Error:
                return fault
            if position >= len(claimed) or state.root() != claimed[position]:
                return fault
    finally:
        state.rollback(mark)
        if not outer:
            state.commit()
    if commitment is None:
        return None
    witness, valid = signature_witness(state, commitment, block)
    return None if valid else SignatureFault(witness)


def signature_witness(
    state: L2State, commitment: Commitment, block: BlockContext
) -> tuple[SignatureWitness, bool]:
    """The witness of a commitment's co-signature, and whether it is valid.

    ``state`` is the commitment's pre-state, left unchanged; the commitment's
    transactions must all apply (a faulty step is proven by a step proof instead).
    """
    outer = state.recording
    mark = state.checkpoint()
    closes: list[CloseParties] = []
    signer_ids: list[int] = []
    try:
        pre_parts = state.parts()
        for position, tx in enumerate(commitment.txs):
            signer_ids.extend(i for i in signers(state, tx) if i not in signer_ids)
            if isinstance(tx, CooperativeClose):
                path = tuple(state.channel_tree.proof(tx.channel))
                channel = state.channel_at(tx.channel)
                closes.append(CloseParties(position, state.parts(), channel, path))
            state_transition(state, tx, block)
        # Keys are proven against the commitment's pre-state: go back to it.
        state.rollback(mark)
        keys = tuple(
            SignerKey(state.accounts[i], tuple(state.account_tree.proof(i)))
            for i in sorted(signer_ids)
        )
        message = message_for(state.chain_id, state.rollup, state.root(), commitment)
        too_many = len(signer_ids) > MAX_SIGNERS
        valid = not too_many and verify_aggregate_same_message(
            [k.account.bls_key for k in keys], message, commitment.signature
        )
        return SignatureWitness(pre_parts, () if too_many else keys, tuple(closes)), valid
    finally:
        state.rollback(mark)
        if not outer:
            state.commit()
