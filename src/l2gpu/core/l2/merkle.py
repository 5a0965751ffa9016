"""An indexed (dense) binary Merkle tree of fixed depth, keyed by leaf index.

Why indexed and not sparse: accounts and channels get consecutive indices when
they are created, so a tree of depth 24 (16.7 million leaves) suffices. A proof
is 24 sibling hashes (768 bytes) instead of 256 for a sparse tree keyed by a
256-bit hash, and an update costs 24 Keccak-256 calls instead of 256. Indices
also let the L1 data name an account in 3 bytes.

Empty leaves are 32 zero bytes; an empty subtree of height h hashes to
``ZERO[h]``. Only non-empty nodes are stored. Updates are lazy: ``set_leaf``
marks the path dirty and ``root`` rehashes each dirty node once, so a block that
touches many leaves shares the work of their common ancestors.
"""

from __future__ import annotations

from collections.abc import Sequence

from l2gpu.core.crypto.keccak import keccak256

EMPTY_LEAF = bytes(32)


def _zero_hashes(depth: int) -> list[bytes]:
    zeros = [EMPTY_LEAF]
    for _ in range(depth):
        zeros.append(keccak256(zeros[-1] + zeros[-1]))
    return zeros


class IndexedMerkleTree:
    """Leaves 0 .. 2**depth - 1; parent = keccak256(left || right)."""

    def __init__(self, depth: int = 24) -> None:
        """An empty tree of ``depth`` levels."""
        self.depth = depth
        self.zeros = _zero_hashes(depth)
        # nodes[h][i]: the node at height h (0 = leaves), position i.
        self.nodes: list[dict[int, bytes]] = [{} for _ in range(depth + 1)]
        self._dirty: set[int] = set()

    @property
    def capacity(self) -> int:
        """How many leaves fit."""
        return 1 << self.depth

    def leaf(self, index: int) -> bytes:
        """The leaf at ``index`` (``EMPTY_LEAF`` if never set)."""
        return self.nodes[0].get(index, EMPTY_LEAF)

    def set_leaf(self, index: int, value: bytes) -> None:
        """Set a leaf; the root is recomputed lazily."""
        if not 0 <= index < self.capacity:
            raise IndexError(f"leaf {index} is outside a tree of depth {self.depth}")
        self.nodes[0][index] = value
        self._dirty.add(index)

    @property
    def root(self) -> bytes:
        """The root, after rehashing every dirty path once."""
        if self._dirty:
            self._rehash()
        return self.nodes[self.depth].get(0, self.zeros[self.depth])

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from the leaf up to (not including) the root."""
        if self._dirty:
            self._rehash()
        siblings = []
        position = index
        for height in range(self.depth):
            siblings.append(self.nodes[height].get(position ^ 1, self.zeros[height]))
            position >>= 1
        return siblings

    def _rehash(self) -> None:
        level = self._dirty
        for height in range(self.depth):
            nodes, above, zero = self.nodes[height], self.nodes[height + 1], self.zeros[height]
            parents = {i >> 1 for i in level}
            for parent in parents:
                left = nodes.get(parent << 1, zero)
                right = nodes.get((parent << 1) | 1, zero)
                above[parent] = keccak256(left + right)
            level = parents
        self._dirty = set()


def path_root(leaf: bytes, index: int, siblings: Sequence[bytes]) -> bytes:
    """The root above ``leaf`` at ``index`` along its sibling hashes (no check)."""
    node = leaf
    for sibling in siblings:
        node = keccak256(sibling + node) if index & 1 else keccak256(node + sibling)
        index >>= 1
    return node


def verify_proof(root: bytes, index: int, leaf: bytes, siblings: Sequence[bytes]) -> bool:
    """True if ``leaf`` sits at ``index`` under ``root`` given its sibling hashes."""
    return index >> len(siblings) == 0 and path_root(leaf, index, siblings) == root
