"""A coin range's history, as its owner keeps it and a payee checks it.

Plasma's users protect themselves: the operator posts only block roots, so before a
payee takes coins it checks their whole history against those roots, and an owner
keeps that history to exit with it. For coins ``[start, end)`` the history is their
deposits (L1 recorded them) and, for every block since, the leaves of the block's
sum tree that cover the coins, each with its path: a transfer that moved some of
them, or a gap that shows no transfer did. :func:`check_history` follows it block by
block and answers who owns which of the coins now, or raises :class:`HistoryError`
naming the first block where it does not hold.

:func:`block_proof` is the operator's side: the leaves and paths of one block for a
range, from the block's transfers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.errors import L2gpuError
from l2gpu.core.plasma.chain import Segment, clip, reassign
from l2gpu.core.plasma.sumtree import EMPTY, Moved, SumProof, SumTree, verify
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer


class HistoryError(L2gpuError):
    """A coin history that does not hold at ``block``."""

    def __init__(self, block: int, reason: str) -> None:
        self.block = block
        self.reason = reason
        super().__init__(
            f"the coins' history does not hold at block {block}: {reason}",
            "refuse these coins; if they are yours, exit with the history up to the block before",
        )


@dataclass(frozen=True)
class BlockProof:
    """The leaves of block ``block`` that cover a range, in order: each a transfer (or
    None for a gap) with its path."""

    block: int
    leaves: tuple[tuple[SignedTransfer | None, SumProof], ...]

    @property
    def size(self) -> int:
        """Bytes a client keeps for it: each leaf's transfer and path (65 per step)."""
        return sum((len(t.encode()) if t else 0) + 65 * len(p.steps) for t, p in self.leaves)


def block_proof(number: int, transfers: Sequence[SignedTransfer], start: int, end: int
                ) -> BlockProof:  # fmt: skip
    """The operator's proof of what block ``number`` (holding ``transfers``) did to
    coins ``[start, end)``."""
    tree = SumTree([Moved(s.transfer.start, s.transfer.end, s.leaf) for s in transfers])
    by_leaf = {s.leaf: s for s in transfers}
    first, last = tree.index_of(start), tree.index_of(end - 1)
    leaves = tuple(
        (by_leaf.get(tree.leaves[i].content), tree.proof(i)) for i in range(first, last + 1)
    )
    return BlockProof(number, leaves)


def check_history(
    domain: Eip712Domain,
    roots: Sequence[bytes],
    deposits: Sequence[Deposit],
    start: int,
    end: int,
    proofs: Sequence[BlockProof],
) -> tuple[Segment, ...]:
    """Who owns which of coins ``[start, end)`` after block ``len(roots)``.

    ``roots[b - 1]`` is block ``b``'s root as L1 holds it; ``deposits`` are the L1
    deposits that made the coins (they must cover the range exactly); ``proofs`` one
    per block from the first block after the earliest deposit to the last, in order.
    """
    owned = _deposited(deposits, start, end)
    first = min(d.block for d in deposits) + 1
    expected = list(range(first, len(roots) + 1))
    if [p.block for p in proofs] != expected:
        raise HistoryError(first, f"a proof is needed for each of blocks {first} to "
                           f"{len(roots)}, in order")  # fmt: skip
    for proof in proofs:
        owned = _apply_block(domain, roots[proof.block - 1], proof, owned, start, end)
    return owned


def _deposited(deposits: Sequence[Deposit], start: int, end: int) -> tuple[Segment, ...]:
    if any(d.block < 0 or not 0 <= d.start < d.end for d in deposits):
        raise HistoryError(0, "a deposit has an empty range or a negative height")
    ordered = sorted(deposits, key=lambda d: d.start)
    if not ordered or ordered[0].start > start or ordered[-1].end < end or any(
        a.end != b.start for a, b in pairwise(ordered)
    ):  # fmt: skip
        raise HistoryError(0, "the deposits do not cover the coins without a gap")
    return clip(tuple(Segment(d.start, d.end, d.owner, d.block) for d in ordered), start, end)


def _apply_block(
    domain: Eip712Domain,
    root: bytes,
    proof: BlockProof,
    owned: tuple[Segment, ...],
    start: int,
    end: int,
) -> tuple[Segment, ...]:
    block, at = proof.block, None
    moves: list[SignedTransfer] = []
    for signed, path in proof.leaves:
        content = EMPTY if signed is None else signed.leaf
        found = verify(root, content, path)
        if found is None:
            raise HistoryError(block, "a leaf's path does not lead to the block's root")
        if at is not None and found[0] != at:
            raise HistoryError(block, "the leaves shown are not one after another")
        if at is None and found[0] > start:
            raise HistoryError(block, "the leaves shown do not start at the coins")
        at = found[1]
        if signed is not None:
            if (signed.transfer.start, signed.transfer.end) != found:
                raise HistoryError(block, "a transfer sits at other coins than it moves")
            moves.append(signed)
    if at is None or at < end:
        raise HistoryError(block, "the leaves shown do not cover the coins")
    for signed in moves:
        owned = _apply_transfer(domain, block, signed, owned)
    return owned


def _apply_transfer(
    domain: Eip712Domain,
    block: int,
    signed: SignedTransfer,
    owned: tuple[Segment, ...],
) -> tuple[Segment, ...]:
    t = signed.transfer
    # Only the coins that existed before this block (deposited at an earlier height)
    # are ours to follow; a transfer of coins not yet deposited moves nothing.
    held = tuple(s for s in clip(owned, t.start, t.end) if s.received < block)
    if not held:
        return owned
    if len(held) > 1:
        raise HistoryError(block, "a transfer moves coins of more than one parent")
    signer = signed.signer(domain)
    for segment in held:
        if signer != segment.owner:
            raise HistoryError(block, "a transfer moves coins its signer did not own")
        if segment.received != t.prev_block:
            raise HistoryError(block, f"a transfer names block {t.prev_block} for coins "
                               f"received in block {segment.received}")  # fmt: skip
    for segment in held:
        owned = reassign(owned, segment.start, segment.end, t.recipient, block)
    return owned
