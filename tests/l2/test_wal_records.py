"""The write-ahead log's record decoders name damage instead of crashing on it."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.transactions import Deposit, ForcedWithdraw, Transfer
from l2gpu.core.types import Address, Wei
from l2gpu.node.wal import (
    DamagedRecord,
    decode_envelope,
    decode_l1_op,
    encode_envelope,
    encode_l1_op,
)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_named_damaged(data: bytes) -> None:
    for decode in (decode_envelope, decode_l1_op):
        with contextlib.suppress(DamagedRecord):
            decode(data)


def test_records_round_trip() -> None:
    envelope = Envelope(Transfer(1, 2, Wei(10**15), Wei(10**12)), 7, b"\x01" * 65)
    assert decode_envelope(encode_envelope(envelope)) == envelope
    deposit = Deposit(3, Address(b"\x02" * 20), Wei(10**18), b"\x03" * 96, b"\x04" * 48)
    forced = ForcedWithdraw(4, Address(b"\x05" * 20), Wei(10**17))
    for op in (deposit, forced):
        assert decode_l1_op(encode_l1_op(op)) == op
    with pytest.raises(DamagedRecord, match="does not decode"):
        decode_l1_op(encode_l1_op(deposit) + b"\x00")


@pytest.mark.parametrize(
    ("key", "proof"),
    [(b"", b""), (b"", b"\x07" * 10), (b"\x03" * 96, b"\x04" * 48), (b"", b"\x04" * 48)],
)
def test_a_deposit_queued_with_any_key_and_proof_round_trips(key: bytes, proof: bytes) -> None:
    # Rollup.deposit takes an empty key (then any proof up to 48 bytes) and the shards'
    # bridge deposits with none: a node that logged such a deposit in a fixed-size record
    # could not read its own log after a restart.
    deposit = Deposit(9, Address(b"\x02" * 20), Wei(10**18), key, proof)
    assert decode_l1_op(encode_l1_op(deposit)) == deposit


def test_a_deposit_record_an_earlier_node_wrote_still_decodes() -> None:
    head = (5).to_bytes(8, "big") + b"\x02" * 20 + (10**18).to_bytes(32, "big")
    legacy = b"\x01" + head + b"\x03" * 96 + b"\x04" * 48  # fixed sizes, no lengths
    assert decode_l1_op(legacy) == Deposit(5, Address(b"\x02" * 20), Wei(10**18),
                                           b"\x03" * 96, b"\x04" * 48)  # fmt: skip
