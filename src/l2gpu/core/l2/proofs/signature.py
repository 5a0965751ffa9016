"""The co-signature of a commitment, checked from Merkle witnesses alone.

A commitment is signed by every account that :func:`l2gpu.core.l2.stf.signers`
names for one of its transactions, evaluated on the state just before that
transaction: the sender, or for a cooperative close the channel's renter and
provider. One aggregate BLS signature covers them all (``commitment.py``).

On L1 the signers' keys come from account leaves proven against the
commitment's pre-state root (keys never change inside a commitment: only L1
deposits set them), and a cooperative close's parties from the channel leaf
proven against the intermediate root before that transaction, which the proposer
revealed in the dispute. At most :data:`MAX_SIGNERS` distinct accounts may sign
one commitment, so that the proof of a bad signature stays within an L1 block;
more is itself a fault, proven from indices alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from l2gpu.core.crypto.bls import verify_aggregate_same_message
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.commitment import MAX_SIGNERS, message_for
from l2gpu.core.l2.merkle import EMPTY_LEAF, verify_proof
from l2gpu.core.l2.proofs.step import WitnessError
from l2gpu.core.l2.state import Account, L2Channel, RootParts, root_of
from l2gpu.core.l2.transactions import CooperativeClose
from l2gpu.core.types import Address, ChainId


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A signer's account leaf and its path in the commitment's pre-state accounts tree."""

    account: Account
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class CloseParties:
    """For the cooperative close at ``position``: its channel leaf (None: empty) and path,
    against the root parts of the intermediate root before it."""

    position: int
    parts: RootParts
    channel: L2Channel | None
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class SignatureWitness:
    """What a signature dispute proves with, beyond the commitment and its roots."""

    pre_parts: RootParts
    signers: tuple[SignerKey, ...]
    closes: tuple[CloseParties, ...]


def required_signers(
    commitment: Commitment, roots: Sequence[bytes], witness: SignatureWitness
) -> list[int]:
    """The distinct signers in order of first appearance; raises WitnessError.

    ``roots[i]`` is the state root before transaction ``i`` (``roots[0]`` the
    commitment's pre-state root).
    """
    closes = iter(witness.closes)
    order: list[int] = []
    for position, tx in enumerate(commitment.txs):
        who: tuple[int, ...] = (tx.sender,)
        if isinstance(tx, CooperativeClose):
            close = next(closes, None)
            if close is None or close.position != position:
                raise WitnessError(f"witness: no channel read for the close at {position}")
            if root_of(close.parts) != roots[position]:
                raise WitnessError(f"witness: wrong root parts before transaction {position}")
            leaf = EMPTY_LEAF if close.channel is None else close.channel.leaf()
            index_ok = close.channel is None or close.channel.index == tx.channel
            if not index_ok or not verify_proof(close.parts.channels_root, tx.channel, leaf,
                                                close.proof):  # fmt: skip
                raise WitnessError(f"witness: bad channel proof for the close at {position}")
            if close.channel is not None:
                who = tuple(sorted({close.channel.renter, close.channel.provider}))
        order.extend(i for i in who if i not in order)
    if next(closes, None) is not None:
        raise WitnessError("witness: more channel reads than cooperative closes")
    return order


def signature_valid(
    chain_id: ChainId,
    rollup: Address,
    commitment: Commitment,
    roots: Sequence[bytes],
    witness: SignatureWitness,
) -> bool:
    """True if the commitment's aggregate signature is valid for its required signers."""
    pre_root = root_of(witness.pre_parts)
    if pre_root != roots[0]:
        raise WitnessError("witness: the pre-state parts do not match the pre-state root")
    required = required_signers(commitment, roots, witness)
    if len(required) > MAX_SIGNERS:
        return False
    listed = [s.account.index for s in witness.signers]
    if listed != sorted(set(listed)) or set(listed) != set(required):
        raise WitnessError("witness: the signer list must be the required signers, ascending")
    for signer in witness.signers:
        account = signer.account
        if not verify_proof(witness.pre_parts.accounts_root, account.index, account.leaf(),
                            signer.proof):  # fmt: skip
            raise WitnessError(f"witness: bad key proof for account {account.index}")
    keys = [s.account.bls_key for s in witness.signers]
    message = message_for(chain_id, rollup, pre_root, commitment)
    return verify_aggregate_same_message(keys, message, commitment.signature)
