"""Drafting one commitment: take same-kind transactions from the queue and apply them.

A draft is applied to the state (under the caller's checkpoint) so that the next
draft of the same round chains on its post-state root; the co-signers are asked
for every draft of a round at once (:mod:`l2gpu.node.sequencer`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from l2gpu.core.l2.codec import MAX_CLOSES, Commitment, kind_of
from l2gpu.core.l2.commitment import MAX_SIGNERS, signing_message
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import L2Error, signers, state_transition
from l2gpu.core.l2.transactions import BlockContext, CooperativeClose, UserTx
from l2gpu.node.cosigning import Ask

BENCHED = "a required signer is not answering co-signature requests"


@dataclass
class Pending:
    """An accepted envelope and its sequence number (its write-ahead-log record)."""

    envelope: Envelope
    sequence: int


@dataclass
class Draft:
    """A commitment applied but not yet signed, and whom to ask."""

    block: BlockContext
    items: list[Pending]
    signers_of: list[tuple[int, ...]]
    needs: dict[int, list[UserTx]]
    commitment: Commitment
    message: bytes
    post_root: bytes
    asks: list[Ask]

    def apply(self, state: L2State) -> None:
        """Apply the draft's transactions again; the root must come out the same."""
        for item in self.items:
            state_transition(state, item.envelope.tx, self.block)
        if state.root() != self.post_root:
            raise RuntimeError("a draft re-applied to a different root: the sequencer has a bug")

    def sealed(self, signature: bytes) -> Commitment:
        """The commitment with its aggregate signature and post-state root."""
        return replace(self.commitment, signature=signature, post_root=self.post_root)


def draft_one(
    state: L2State,
    mempool: deque[Pending],
    block: BlockContext,
    max_per_commitment: int,
    benched: Callable[[int], bool],
) -> tuple[Draft | None, list[tuple[Pending, str]]]:
    """Take the next run of same-kind transactions from ``mempool`` and apply them.

    Returns the draft (None when every one was dropped) and the dropped items with
    their reasons. Transactions past the signer or close limits go back to the
    front of the queue for the next draft.
    """
    kind = kind_of(mempool[0].envelope.tx)
    chosen: list[Pending] = []
    while mempool and len(chosen) < max_per_commitment:
        if kind_of(mempool[0].envelope.tx) != kind:
            break
        chosen.append(mempool.popleft())
    pre_root = state.root()
    dropped: list[tuple[Pending, str]] = []
    items: list[Pending] = []
    signers_of: list[tuple[int, ...]] = []
    signer_set: list[int] = []
    needs: dict[int, list[UserTx]] = {}
    closes = 0
    for position, item in enumerate(chosen):
        tx = item.envelope.tx
        tx_signers = signers(state, tx)
        too_many_closes = isinstance(tx, CooperativeClose) and closes >= MAX_CLOSES
        if too_many_closes or len(set(signer_set).union(tx_signers)) > MAX_SIGNERS:
            # The rest waits for the next commitment (commitment.MAX_SIGNERS,
            # codec.MAX_CLOSES).
            mempool.extendleft(reversed(chosen[position:]))
            break
        if any(benched(index) for index in tx_signers):
            dropped.append((item, BENCHED))
            continue
        try:
            state_transition(state, tx, block)
        except L2Error as exc:
            dropped.append((item, exc.reason))
            continue
        closes += isinstance(tx, CooperativeClose)
        items.append(item)
        signers_of.append(tx_signers)
        signer_set.extend(i for i in tx_signers if i not in signer_set)
        for i in tx_signers:
            needs.setdefault(i, []).append(tx)
    if not items:
        return None, dropped
    commitment = Commitment(kind, block.timestamp, tuple(i.envelope.tx for i in items))
    message = signing_message(state, pre_root, commitment)
    asks = [Ask(index, state.accounts[index].bls_key, message, commitment, tuple(needs[index]))
            for index in signer_set]  # fmt: skip
    draft = Draft(block, items, signers_of, needs, commitment, message, state.root(), asks)
    return draft, dropped
