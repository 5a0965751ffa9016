"""A batch's segments: the units a fraud proof disputes, and their Merkle root on L1.

Segment 0 is the batch's L1 operations (present even with none): its pre-state
root is the previous batch's root, its post root the deposits root (the pre root
itself when there are no deposits), and its data hash is zero. Segment ``k`` is
the batch's ``k``-th commitment: pre root the previous segment's post root, post
root the commitment's, data hash ``keccak256`` of the commitment's bytes (header
through post root).

    leaf = keccak256(pre_root || post_root || data_hash)     (= abi_encode of the three)
    root = binary Merkle root of the leaves, padded with zero leaves (32 zero bytes)
           to the next power of two; a single leaf is its own root

``Rollup.submit_batch`` computes the same root from the calldata and stores it
(``batch_segments_root``); this module mirrors it for provers and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.l2.codec import MAX_L1_OPS as MAX_L1_OPS
from l2gpu.core.l2.codec import MAX_SEGMENTS as MAX_SEGMENTS
from l2gpu.core.l2.codec import Batch, split_batch

# MAX_SEGMENTS (segment 0 and at most 1,023 commitments per batch) and MAX_L1_OPS live
# in the codec, which refuses batches beyond them; they are re-exported here.
ZERO_LEAF = bytes(32)


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: the roots around it and the hash of its bytes (zero for segment 0)."""

    pre_root: bytes
    post_root: bytes
    data_hash: bytes


def segments(batch: Batch, previous_root: bytes) -> tuple[Segment, ...]:
    """The segments of ``batch``, posted after a batch whose root is ``previous_root``.

    Commitments are hashed as :meth:`Commitment.encode` gives them; for bytes read
    from L1 use :func:`segments_of_data`, which hashes them as posted.
    """
    return _segments(batch, tuple(c.encode() for c in batch.commitments), previous_root)


def segments_of_data(data: bytes, previous_root: bytes) -> tuple[Segment, ...]:
    """The segments of the batch whose posted bytes are ``data`` (raises CodecError)."""
    batch, raw = split_batch(data)
    return _segments(batch, raw, previous_root)


def _segments(batch: Batch, raw: tuple[bytes, ...], previous_root: bytes) -> tuple[Segment, ...]:
    post = batch.deposits_root if batch.deposits else previous_root
    out = [Segment(previous_root, post, ZERO_LEAF)]
    for commitment, data in zip(batch.commitments, raw, strict=True):
        out.append(Segment(post, commitment.post_root, keccak256(data)))
        post = commitment.post_root
    return tuple(out)


def segment_leaf(segment: Segment) -> bytes:
    """The segment's Merkle leaf: ``keccak256(pre_root || post_root || data_hash)``."""
    return keccak256(segment.pre_root + segment.post_root + segment.data_hash)


def segments_root(items: Sequence[Segment]) -> bytes:
    """The Merkle root over the segments' leaves, as ``Rollup`` stores it."""
    level = _padded_leaves(items)
    while len(level) > 1:
        level = [keccak256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def segment_proof(items: Sequence[Segment], j: int) -> tuple[bytes, ...]:
    """The sibling path of segment ``j``, bottom up (the bits of ``j`` say left or right)."""
    level = _padded_leaves(items)
    if not 0 <= j < len(items):
        raise IndexError(f"no segment {j} in a batch of {len(items)}")
    proof = []
    position = j
    while len(level) > 1:
        proof.append(level[position ^ 1])
        level = [keccak256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        position >>= 1
    return tuple(proof)


def verify_segment(root: bytes, j: int, leaf: bytes, proof: tuple[bytes, ...]) -> bool:
    """Whether ``leaf`` is leaf ``j`` of the tree with ``root``, by ``proof``."""
    if not 0 <= j < 1 << len(proof):
        return False
    node = leaf
    for level, sibling in enumerate(proof):
        right = j >> level & 1  # this node is its parent's right child
        node = keccak256(sibling + node) if right else keccak256(node + sibling)
    return node == root


def _padded_leaves(items: Sequence[Segment]) -> list[bytes]:
    if not items:
        raise ValueError("a batch has at least one segment")
    leaves = [segment_leaf(s) for s in items]
    size = 1
    while size < len(leaves):
        size *= 2
    return leaves + [ZERO_LEAF] * (size - len(leaves))
