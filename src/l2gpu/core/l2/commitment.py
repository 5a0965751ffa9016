"""Co-signed commitments: the message every sender signs, and applying a commitment.

The message binds the chain, the rollup contract, the state root *before* the
commitment, and the commitment's header and body. Each signer is an account
that :func:`l2gpu.core.l2.stf.signers` names for some transaction in it; each
signs once. One aggregate BLS signature over that message proves them all
(``e(sig, G2) == e(H(m), sum of keys)``).

A commitment is valid when every transaction in it applies, the aggregate
signature verifies for its signers, and the posted root equals the state root
after it. :func:`apply_commitment` checks all three and, on any failure, rolls
the state back and raises :class:`InvalidCommitment` naming the fault: that is
what a watcher proves on L1.
"""

from __future__ import annotations

from l2gpu.core.crypto.bls import verify_aggregate_same_message
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import L2Error, signers, state_transition
from l2gpu.core.l2.transactions import BlockContext
from l2gpu.core.types import Address, ChainId

DOMAIN_TAG = b"l2gpu-commitment-v1"
MAX_SIGNERS = 32
"""At most this many distinct accounts co-sign one commitment: the fraud proof of a bad
signature carries each signer's key and Merkle path, and must fit in an L1 block."""


class InvalidCommitment(L2gpuError):
    """A commitment that must not stand; ``reason`` names the fault, ``position`` the tx."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        where = f" (transaction {position})" if position is not None else ""
        super().__init__(f"{reason}{where}")


def signing_message(state: L2State, pre_root: bytes, commitment: Commitment) -> bytes:
    """The 32 bytes that every signer of ``commitment`` signs."""
    return message_for(state.chain_id, state.rollup, pre_root, commitment)


def message_for(
    chain_id: ChainId, rollup: Address, pre_root: bytes, commitment: Commitment
) -> bytes:
    """keccak256(tag || chain id || rollup || pre-state root || header and body)."""
    return keccak256(
        DOMAIN_TAG + chain_id.to_bytes(32, "big") + rollup + pre_root
        + commitment.header_and_body()
    )  # fmt: skip


def apply_commitment(state: L2State, commitment: Commitment, fee_recipient: int) -> bytes:
    """Apply a posted commitment to ``state``; return the new root, or roll back and raise."""
    with state.atomic(InvalidCommitment):
        pre_root = state.root()
        block = BlockContext(commitment.timestamp, fee_recipient)
        signer_set: list[int] = []
        for position, tx in enumerate(commitment.txs):
            for index in signers(state, tx):
                if index not in signer_set:
                    signer_set.append(index)
            try:
                state_transition(state, tx, block)
            except L2Error as exc:
                raise InvalidCommitment(exc.reason, position) from exc
        if len(signer_set) > MAX_SIGNERS:
            raise InvalidCommitment("l2: too many signers")
        keys = [state.accounts[i].bls_key for i in signer_set]
        message = signing_message(state, pre_root, commitment)
        if not verify_aggregate_same_message(keys, message, commitment.signature):
            raise InvalidCommitment("l2: bad aggregate signature")
        root = state.root()
        if root != commitment.post_root:
            raise InvalidCommitment("l2: wrong post-state root")
    return root
