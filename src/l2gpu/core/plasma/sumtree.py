"""The Merkle sum tree of a Plasma block: which coin ranges each transaction moves.

A Plasma Cash child chain with coin ranges (the Plasma Cashflow design) numbers every
deposited wei: a deposit of ``a`` wei becomes the coin range ``[n, n + a)``. A block
commits to the transactions that move ranges in it with one 32-byte root, and a
coin's owner must be able to show, for every block, either the transaction that
moved the coin (inclusion) or that no transaction touched it (exclusion). A plain
Merkle tree keyed by coin cannot do this for ranges of any length; a *sum* tree can:

- The leaves tile the whole coin space ``[0, COIN_SPACE)`` in order. A transaction's
  leaf covers exactly the range it moves; the gaps between transactions are empty
  leaves whose content is ``EMPTY``.
- Every node commits to its two children's hashes *and* their sizes (the number of
  coins under each), so a path from a leaf to the root fixes the leaf's offset (the
  sizes of the subtrees to its left) and its size. Committing both children's
  sizes, not only their sum, is what stops an operator from making two leaves
  claim the same coin.
- The root is the top node's hash; its size must be ``COIN_SPACE``, which the
  verifier recomputes from the path (it is never taken from the proof).

Hand-written (about a hundred lines): no maintained Python library builds sum trees
whose proofs a Vyper contract can check with plain ``keccak256`` over 32-byte words,
which is the encoding here: ``leaf = keccak256(0x00 || content)``, ``node =
keccak256(0x01 || left_hash || left_size || right_hash || right_size)`` with sizes as
32-byte big-endian words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import InvalidValue

COIN_SPACE = 1 << 128  # coins are wei, numbered in deposit order; more than ever exists
MAX_STEPS = 48  # the longest path L1 checks (2^48 leaves a block): a longer one never holds
EMPTY = bytes(32)  # the content of a gap: no transaction moves these coins here
_LEAF, _NODE = b"\x00", b"\x01"


@dataclass(frozen=True)
class Moved:
    """One transaction's claim in a block: it moves coins ``[start, end)``; ``content``
    is the transaction's hash."""

    start: int
    end: int
    content: bytes


@dataclass(frozen=True)
class ProofStep:
    """A sibling on the path to the root: its hash, its size, and which side it is on."""

    hash: bytes
    size: int
    left: bool


@dataclass(frozen=True)
class SumProof:
    """The path from one leaf to the root, leaf's sibling first."""

    steps: tuple[ProofStep, ...]


def leaf_hash(content: bytes) -> bytes:
    """The hash of a leaf with ``content`` (a transaction hash, or ``EMPTY``)."""
    return keccak256(_LEAF + content)


def node_hash(left: bytes, left_size: int, right: bytes, right_size: int) -> bytes:
    """The hash of a node over two children and their sizes."""
    return keccak256(
        _NODE + left + left_size.to_bytes(32, "big") + right + right_size.to_bytes(32, "big")
    )


class SumTree:
    """The sum tree over one block's moves (see the module's docstring)."""

    def __init__(self, moves: Sequence[Moved]) -> None:
        """Tile the coin space with ``moves`` (disjoint, non-empty, any order) and gaps."""
        self.leaves = _tile(moves)
        level = [(leaf_hash(m.content), m.end - m.start) for m in self.leaves]
        while len(level) & (len(level) - 1):  # pad to a power of two: zero-size gaps
            level.append((leaf_hash(EMPTY), 0))
        self._levels = [level]
        while len(level) > 1:
            level = [
                (node_hash(lh, ls, rh, rs), ls + rs)
                for (lh, ls), (rh, rs) in zip(level[0::2], level[1::2], strict=True)
            ]
            self._levels.append(level)
        self.root = level[0][0]

    def index_of(self, coin: int) -> int:
        """The leaf that covers ``coin`` (a move or a gap)."""
        if not 0 <= coin < COIN_SPACE:
            raise InvalidValue(
                "coin", coin, "it lies outside the coin space", "pass 0 <= coin < 2**128"
            )
        low, high = 0, len(self.leaves) - 1
        while low < high:  # the leaves tile the space in order: bisect on their ends
            middle = (low + high) // 2
            if self.leaves[middle].end <= coin:
                low = middle + 1
            else:
                high = middle
        return low

    def proof(self, index: int) -> SumProof:
        """The path of leaf ``index`` to the root."""
        steps = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            hash_, size = level[sibling]
            steps.append(ProofStep(hash_, size, left=sibling < index))
            index //= 2
        return SumProof(tuple(steps))


def verify(root: bytes, content: bytes, proof: SumProof) -> tuple[int, int] | None:
    """The range ``[start, end)`` that a leaf with ``content`` covers in the block
    with ``root``, if ``proof`` shows it there; None if it does not.

    The leaf's size is whatever makes the path's sizes add up to ``COIN_SPACE``; a
    path whose left siblings already reach past the space, or that leaves nothing
    for the leaf, does not hold.
    """
    # Only what a contract with bytes32 hashes and uint256 sizes could check: a path
    # through a sibling "hash" of another length would hold here and not on L1.
    if len(proof.steps) > MAX_STEPS:
        return None
    if not isinstance(content, bytes) or len(content) != 32 or not all(
        isinstance(step.hash, bytes) and len(step.hash) == 32 and type(step.left) is bool
        and type(step.size) is int and 0 <= step.size < COIN_SPACE
        for step in proof.steps
    ):  # fmt: skip
        return None
    offset = sum(step.size for step in proof.steps if step.left)
    size = COIN_SPACE - sum(step.size for step in proof.steps)
    if size < 0:
        return None
    hash_, total = leaf_hash(content), size
    for step in proof.steps:
        if step.left:
            hash_ = node_hash(step.hash, step.size, hash_, total)
        else:
            hash_ = node_hash(hash_, total, step.hash, step.size)
        total += step.size
    if hash_ != root:
        return None
    return offset, offset + size


def _tile(moves: Sequence[Moved]) -> list[Moved]:
    ordered = sorted(moves, key=lambda m: m.start)
    leaves: list[Moved] = []
    at = 0
    for move in ordered:
        if not 0 <= move.start < move.end <= COIN_SPACE:
            raise InvalidValue(
                "coin range",
                (move.start, move.end),
                "it is empty or outside the coin space",
                "move coins [start, end) with start < end",
            )
        if move.start < at:
            raise InvalidValue(
                "coin range",
                (move.start, move.end),
                "two transactions of one block move the same coins",
                "put one of them in the next block",
            )
        if len(move.content) != 32 or move.content == EMPTY:
            raise InvalidValue(
                "transaction hash",
                move.content,
                "a move names its transaction by a 32-byte hash, not zero",
                "hash the transaction",
            )
        if move.start > at:
            leaves.append(Moved(at, move.start, EMPTY))
        leaves.append(move)
        at = move.end
    if at < COIN_SPACE:
        leaves.append(Moved(at, COIN_SPACE, EMPTY))
    return leaves
