"""A tier's Merkle tree of commitments, hashed as ``circuits/merkle.circom`` hashes.

A binary tree of fixed depth whose parent is ``Poseidon([left, right])`` and whose
empty leaves are 0. The operator builds one per reward tier from the registered
commitments, sorted, and publishes the root on L1 and every leaf off chain: the
leaves are the tier's anonymity set, and a claimer needs all of them to build its own
path (asking the operator for "my path" would tell it which leaf is the claimer's).

Building costs one hash per node on the leaves' side of the tree plus one per level
above them; the empty subtrees' roots are computed once per depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from l2gpu.core.airdrop.identity import check_commitment
from l2gpu.core.crypto import poseidon
from l2gpu.core.errors import L2gpuError

DEPTH = 20
"""The claim circuit's depth: up to 2^20 (about a million) claimers per tier."""


class NotInTree(L2gpuError):
    """The commitment is not a leaf of the tier's tree."""


@cache
def empty_roots(depth: int) -> tuple[int, ...]:
    """``empty_roots(d)[h]``: the root of an empty subtree of height ``h``."""
    roots = [0]
    for _ in range(depth):
        roots.append(poseidon.hash([roots[-1], roots[-1]]))
    return tuple(roots)


@dataclass(frozen=True, slots=True)
class MerklePath:
    """A leaf's position and its siblings from the leaf up, as the circuit takes them."""

    index: int
    siblings: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CommitmentTree:
    """Every level of a tier's tree, leaves first; ``levels[-1]`` is ``(root,)``."""

    depth: int
    levels: tuple[tuple[int, ...], ...]

    @classmethod
    def build(cls, leaves: Sequence[int], depth: int = DEPTH) -> CommitmentTree:
        """The tree of ``leaves`` in the given order. Each leaf must be a nonzero field
        element, each at most once, and they must fit the depth."""
        if len(leaves) > 2**depth:
            raise L2gpuError(
                f"{len(leaves)} commitments do not fit a tree of depth {depth}",
                "split the tier, or compile the claim circuit deeper",
            )
        if len(set(leaves)) != len(leaves):
            raise L2gpuError(
                "a commitment appears twice in the tier",
                "each commitment is registered once: drop the duplicate",
            )
        for leaf in leaves:
            check_commitment(leaf)
        zeros = empty_roots(depth)
        levels = [tuple(leaves)]
        for height in range(depth):
            below = levels[-1]
            padded = (*below, zeros[height]) if len(below) % 2 else below
            levels.append(
                tuple(poseidon.hash([padded[i], padded[i + 1]]) for i in range(0, len(padded), 2))
            )
        if not levels[-1]:
            levels[-1] = (zeros[depth],)
        return cls(depth, tuple(levels))

    @property
    def root(self) -> int:
        """The tier's root, as published on L1."""
        return self.levels[-1][0]

    @property
    def leaves(self) -> tuple[int, ...]:
        """The commitments, in tree order."""
        return self.levels[0]

    def path(self, commitment: int) -> MerklePath:
        """The path of ``commitment``'s leaf; :class:`NotInTree` if it is not one."""
        try:
            index = self.leaves.index(commitment)
        except ValueError:
            raise NotInTree(
                "your commitment is not in this tier's published tree",
                "check the tier and the secrets file; 'l2gpu airdrop eligible' lists the tiers",
            ) from None
        zeros = empty_roots(self.depth)
        siblings = []
        position = index
        for height in range(self.depth):
            level = self.levels[height]
            sibling = position ^ 1
            siblings.append(level[sibling] if sibling < len(level) else zeros[height])
            position //= 2
        return MerklePath(index, tuple(siblings))


def root_of(leaf: int, path: MerklePath) -> int:
    """The root that ``leaf`` hashes up to along ``path``: what the circuit checks."""
    node = leaf
    for height, sibling in enumerate(path.siblings):
        if (path.index >> height) & 1:
            node = poseidon.hash([sibling, node])
        else:
            node = poseidon.hash([node, sibling])
    return node
