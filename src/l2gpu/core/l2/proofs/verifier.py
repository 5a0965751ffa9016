"""Re-execute a transfer commitment from its bytes and a witness: the fraud verifier's rules.

:func:`verify_transfer_commitment` returns the post-state root the commitment
must claim, or the name of the fault that makes it invalid. It reads nothing but
its arguments, so the same steps can run on L1. A test checks it against
:func:`l2gpu.core.l2.commitment.apply_commitment` on random commitments,
honest and tampered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.crypto.bls import verify_aggregate_same_message
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.merkle import EMPTY_LEAF, verify_proof
from l2gpu.core.l2.proofs.witness import CommitmentWitness
from l2gpu.core.l2.state import NO_BLS_KEY, RootParts, root_of
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Address, ChainId, Wei

MAX_BALANCE = 2**128 - 1


@dataclass(frozen=True, slots=True)
class Verdict:
    """Either the root the commitment must claim, or the fault that invalidates it."""

    post_root: bytes | None
    fault: str | None = None


def _root_from(leaf: bytes, index: int, proof: tuple[bytes, ...]) -> bytes:
    node = leaf
    for sibling in proof:
        node = keccak256(sibling + node) if index & 1 else keccak256(node + sibling)
        index >>= 1
    return node


def verify_transfer_commitment(
    chain_id: ChainId,
    rollup: Address,
    commitment: Commitment,
    fee_recipient: int,
    witness: CommitmentWitness,
) -> Verdict:
    """The post-state root of an honest execution, or the fault."""
    parts = witness.pre_parts
    pre_root = root_of(parts)
    for touch in witness.signer_keys:
        if not verify_proof(parts.accounts_root, touch.account.index, touch.account.leaf(),
                            touch.proof):  # fmt: skip
            return Verdict(None, "witness: bad signer proof")
    keys = {t.account.index: t.account.bls_key for t in witness.signer_keys}
    accounts_root = parts.accounts_root
    touches = iter(witness.touches)
    signer_order: list[int] = []
    for tx in commitment.txs:
        if not isinstance(tx, Transfer):
            return Verdict(None, "witness: not a transfer commitment")
        if tx.sender not in signer_order:
            signer_order.append(tx.sender)
        for index, delta, role in (
            (tx.sender, -(tx.amount + tx.fee), "sender"),
            (tx.to, tx.amount, "recipient"),
            (fee_recipient, tx.fee, "fee recipient"),
        ):
            step = next(touches, None)
            if step is None or step.account.index != index:
                return Verdict(None, "witness: missing account touch")
            leaf = step.account.leaf()
            if not verify_proof(accounts_root, index, leaf, step.proof):
                if verify_proof(accounts_root, index, EMPTY_LEAF, step.proof):
                    return Verdict(None, f"l2: unknown {role}")
                return Verdict(None, "witness: bad account proof")
            account = step.account
            if role == "sender" and account.bls_key == NO_BLS_KEY:
                return Verdict(None, "l2: sender has no BLS key")
            if role == "sender" and tx.amount == 0:
                return Verdict(None, "l2: zero amount")
            balance = account.balance + delta
            if balance < 0:
                return Verdict(None, "l2: insufficient balance")
            if balance > MAX_BALANCE:
                return Verdict(None, "l2: balance overflow")
            nonce = account.nonce + (1 if role == "sender" else 0)
            updated = replace(account, balance=Wei(balance), nonce=nonce)
            accounts_root = _root_from(updated.leaf(), index, step.proof)
    message = keccak256(
        b"l2gpu-commitment-v1" + chain_id.to_bytes(32, "big") + rollup + pre_root
        + commitment.header_and_body()
    )  # fmt: skip
    signer_keys = [keys.get(i, NO_BLS_KEY) for i in signer_order]
    if not verify_aggregate_same_message(signer_keys, message, commitment.signature):
        return Verdict(None, "l2: bad aggregate signature")
    post = RootParts(accounts_root, parts.channels_root, parts.exits_root,
                     parts.deposits_processed, parts.exit_count)  # fmt: skip
    return Verdict(root_of(post))
