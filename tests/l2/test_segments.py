"""Segments of a batch and their Merkle tree (the contract's side: test_rollup_framing.py)."""

from __future__ import annotations

import pytest

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.l2 import amounts
from l2gpu.core.l2.codec import (
    MAX_COMMITMENT_TXS,
    Batch,
    CodecError,
    Commitment,
    decode_batch,
)
from l2gpu.core.l2.segments import (
    Segment,
    segment_leaf,
    segment_proof,
    segments,
    segments_of_data,
    segments_root,
    verify_segment,
)
from l2gpu.core.l2.transactions import Transfer, Withdraw
from l2gpu.core.types import Timestamp, Wei

from .helpers import T0

R = [bytes([i]) * 32 for i in range(8)]


def _commitment(kind: int, post_root: bytes, txs: int = 1) -> Commitment:
    tx = Transfer(1, 2, Wei(10**12), Wei(0)) if kind == 1 else Withdraw(1, Wei(10**12), Wei(0))
    return Commitment(kind, Timestamp(T0), (tx,) * txs, bytes(48), post_root)


def test_segment_zero_is_the_l1_operations_and_commitments_follow() -> None:
    c1, c2 = _commitment(1, R[2]), _commitment(2, R[3])
    with_deposits = segments(Batch(7, 2, (c1, c2), R[1]), R[0])
    assert with_deposits == (
        Segment(R[0], R[1], bytes(32)),
        Segment(R[1], R[2], keccak256(c1.encode())),
        Segment(R[2], R[3], keccak256(c2.encode())),
    )
    # Without deposits, segment 0 is still there and changes nothing.
    assert segments(Batch(7, 0, (c1,)), R[0])[:2] == (
        Segment(R[0], R[0], bytes(32)),
        Segment(R[0], R[2], keccak256(c1.encode())),
    )
    assert segment_leaf(with_deposits[1]) == keccak256(R[1] + R[2] + keccak256(c1.encode()))


def test_the_root_pads_with_zero_leaves_to_a_power_of_two() -> None:
    items = [Segment(R[i], R[i + 1], R[7]) for i in range(3)]
    leaves = [segment_leaf(s) for s in items]
    assert segments_root(items[:1]) == leaves[0]  # one leaf is its own root
    assert segments_root(items[:2]) == keccak256(leaves[0] + leaves[1])
    left, right = keccak256(leaves[0] + leaves[1]), keccak256(leaves[2] + bytes(32))
    assert segments_root(items) == keccak256(left + right)
    with pytest.raises(ValueError, match="at least one segment"):
        segments_root([])


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 9])
def test_every_segment_proves_against_the_root(count: int) -> None:
    items = [Segment(R[i % 8], R[(i + 1) % 8], keccak256(bytes([i]))) for i in range(count)]
    root = segments_root(items)
    for j, item in enumerate(items):
        proof = segment_proof(items, j)
        assert len(proof) == (count - 1).bit_length()
        assert verify_segment(root, j, segment_leaf(item), proof)
        assert not verify_segment(root, j, keccak256(b"other"), proof)
        assert not verify_segment(root, j + (1 << len(proof)), segment_leaf(item), proof)
        if proof:
            bent = (keccak256(proof[0]), *proof[1:])
            assert not verify_segment(root, j, segment_leaf(item), bent)
    with pytest.raises(IndexError):
        segment_proof(items, count)


def test_segments_of_posted_bytes_hash_them_as_posted() -> None:
    batch = Batch(0, 1, (_commitment(1, R[2], txs=3),), R[1])
    data = batch.encode()
    assert segments_of_data(data, R[0]) == segments(batch, R[0])
    # 10**12 has a second encoding (mantissa 10 * 10**11): the same transaction, other
    # bytes. L1 hashes the bytes it got, and so must a prover.
    canonical = amounts.encode(10**12)
    other = ((10 << 0) | (11 << amounts.AMOUNT.mantissa_bits)).to_bytes(3, "big")
    assert amounts.decode(other) == 10**12
    assert other != canonical
    start = 8 + 32 + 10 + 6  # header, deposits root, commitment header, from and to
    assert data[start : start + 3] == canonical
    altered = data[:start] + other + data[start + 3 :]
    assert decode_batch(altered) == batch
    raw = segments_of_data(altered, R[0])
    commitment_bytes = altered[8 + 32 :]
    assert raw[1].data_hash == keccak256(commitment_bytes) != segments(batch, R[0])[1].data_hash


def test_a_commitment_holds_at_most_32_transactions() -> None:
    assert MAX_COMMITMENT_TXS == 32
    full = _commitment(1, R[1], txs=MAX_COMMITMENT_TXS)
    assert decode_batch(Batch(0, 0, (full,)).encode()).commitments == (full,)
    with pytest.raises(CodecError, match="1 to 32 transactions"):
        _commitment(1, R[1], txs=33).encode()
    too_many = bytearray(Batch(0, 0, (full,)).encode())
    too_many[9] = 33  # the count byte of the first commitment
    with pytest.raises(CodecError, match="at most 32 transactions"):
        decode_batch(bytes(too_many))
