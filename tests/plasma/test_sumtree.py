"""The Merkle sum tree of a Plasma block: every move is provable with exactly its
range, every coin is covered by exactly one leaf, and no altered proof holds."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.errors import InvalidValue
from l2gpu.core.plasma.sumtree import (
    COIN_SPACE,
    EMPTY,
    Moved,
    ProofStep,
    SumProof,
    SumTree,
    leaf_hash,
    node_hash,
    verify,
)


@st.composite
def blocks(draw: st.DrawFn) -> list[Moved]:
    """Disjoint moves with random gaps, shuffled (a block lists them in any order)."""
    cuts = sorted(draw(st.sets(st.integers(0, COIN_SPACE), min_size=0, max_size=24)))
    moves = []
    for k, (start, end) in enumerate(zip(cuts[0::2], cuts[1::2], strict=False)):
        if start < end:
            moves.append(Moved(start, end, (k + 1).to_bytes(32, "big")))
    return draw(st.permutations(moves))


@settings(max_examples=150, deadline=None)
@given(blocks())
def test_every_move_proves_exactly_its_range(moves: list[Moved]) -> None:
    tree = SumTree(moves)
    for move in moves:
        index = tree.index_of(move.start)
        assert tree.leaves[index] == move
        assert verify(tree.root, move.content, tree.proof(index)) == (move.start, move.end)
        assert tree.index_of(move.end - 1) == index


@settings(max_examples=150, deadline=None)
@given(blocks(), st.data())
def test_a_coin_no_move_touches_has_an_exclusion_proof(moves: list[Moved], data) -> None:
    tree = SumTree(moves)
    coin = data.draw(st.integers(0, COIN_SPACE - 1))
    leaf = tree.leaves[tree.index_of(coin)]
    found = verify(tree.root, leaf.content, tree.proof(tree.index_of(coin)))
    assert found is not None
    assert found[0] <= coin < found[1]
    touched = [m for m in moves if m.start <= coin < m.end]
    if touched:  # covered by a move: the leaf is that move
        assert leaf == touched[0]
    else:  # a gap: the proof shows that no transaction of the block moved the coin
        assert leaf.content == EMPTY
    # The leaves tile the space in order, without overlap.
    assert [leaf.start for leaf in tree.leaves[1:]] == [leaf.end for leaf in tree.leaves[:-1]]
    assert tree.leaves[0].start == 0
    assert tree.leaves[-1].end == COIN_SPACE


@settings(max_examples=100, deadline=None)
@given(blocks().filter(bool), st.data())
def test_no_altered_proof_holds(moves: list[Moved], data) -> None:
    tree = SumTree(moves)
    move = data.draw(st.sampled_from(moves))
    proof = tree.proof(tree.index_of(move.start))
    assert verify(tree.root, move.content, proof) is not None
    # Another transaction's hash, or a gap's, at this leaf.
    assert verify(tree.root, (12345).to_bytes(32, "big"), proof) is None
    assert verify(tree.root, EMPTY, proof) is None
    # Any step changed: its hash, its size (which would move the leaf's range), its side.
    k = data.draw(st.integers(0, len(proof.steps) - 1))
    step = proof.steps[k]
    delta = data.draw(st.integers(1, 2**64))
    for changed in (
        dataclasses.replace(step, hash=bytes(31) + b"\x01"),
        dataclasses.replace(step, size=step.size + delta),
        dataclasses.replace(step, size=max(0, step.size - delta)),
        dataclasses.replace(step, left=not step.left),
        dataclasses.replace(step, size=-1),
    ):
        if changed == step:
            continue
        steps = (*proof.steps[:k], changed, *proof.steps[k + 1 :])
        assert verify(tree.root, move.content, SumProof(steps)) is None
    # A path of the wrong length.
    assert verify(tree.root, move.content, SumProof(proof.steps[:-1])) is None
    extra = ProofStep(bytes(32), 0, left=False)
    assert verify(tree.root, move.content, SumProof((*proof.steps, extra))) is None


def test_one_block_cannot_move_the_same_coins_twice() -> None:
    a = Moved(10, 20, (1).to_bytes(32, "big"))
    with pytest.raises(InvalidValue, match="move the same coins"):
        SumTree([a, Moved(19, 30, (2).to_bytes(32, "big"))])
    with pytest.raises(InvalidValue, match="empty or outside"):
        SumTree([Moved(5, 5, (1).to_bytes(32, "big"))])
    with pytest.raises(InvalidValue, match="empty or outside"):
        SumTree([Moved(5, COIN_SPACE + 1, (1).to_bytes(32, "big"))])
    with pytest.raises(InvalidValue, match="32-byte hash"):
        SumTree([Moved(5, 6, EMPTY)])
    with pytest.raises(InvalidValue, match="outside the coin space"):
        SumTree([a]).index_of(COIN_SPACE)


def test_an_empty_block_is_one_gap() -> None:
    tree = SumTree([])
    assert tree.leaves == [Moved(0, COIN_SPACE, EMPTY)]
    assert verify(tree.root, EMPTY, tree.proof(0)) == (0, COIN_SPACE)


def test_a_path_l1_could_not_check_does_not_hold_here_either() -> None:
    # A dishonest operator's tree with a 64-byte "hash" beside a transfer: the
    # hashing works out in Python, but a contract reads bytes32 siblings only.
    content = (7).to_bytes(32, "big")
    odd = b"\xaa" * 64
    inner = node_hash(leaf_hash(content), 90, odd, COIN_SPACE - 100)
    root = node_hash(leaf_hash(EMPTY), 10, inner, COIN_SPACE - 10)
    steps = (ProofStep(odd, COIN_SPACE - 100, False), ProofStep(leaf_hash(EMPTY), 10, True))
    assert verify(root, content, SumProof(steps)) is None
    # The same shape with a 32-byte sibling holds: only the length was wrong.
    good = leaf_hash(EMPTY)
    inner = node_hash(leaf_hash(content), 90, good, COIN_SPACE - 100)
    root = node_hash(leaf_hash(EMPTY), 10, inner, COIN_SPACE - 10)
    steps = (ProofStep(good, COIN_SPACE - 100, False), ProofStep(leaf_hash(EMPTY), 10, True))
    assert verify(root, content, SumProof(steps)) == (10, 100)
    for bad in (ProofStep(good, 10.0, True), ProofStep(good, 10, 1)):  # type: ignore[arg-type]
        assert verify(root, content, SumProof((steps[0], bad))) is None
    assert verify(root, content[:31], SumProof(steps)) is None
