"""Fuzzing the batch codec: batches, commitments, transactions per kind, amounts,
segments and blobs. The named error is CodecError (BlobError for blobs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.errors import InvalidValue
from l2gpu.core.l2 import amounts
from l2gpu.core.l2.blob import BLOB_SIZE, MAX_DATA, BlobError, from_blob, to_blob
from l2gpu.core.l2.codec import (
    KIND_CHANNEL,
    KIND_TRANSFER,
    KIND_WITHDRAW,
    MAX_CLOSES,
    MAX_COMMITMENT_TXS,
    MAX_L1_OPS,
    MAX_SEGMENTS,
    ROOT_SIZE,
    SIGNATURE_SIZE,
    Batch,
    CodecError,
    Commitment,
    decode_batch,
    decode_tx,
    encode_tx,
    kind_of,
    split_batch,
)
from l2gpu.core.l2.segments import segments, segments_of_data
from l2gpu.core.l2.transactions import (
    CloseByProvider,
    CloseByRenter,
    CooperativeClose,
    OpenChannel,
    SettleChannel,
    SubmitVoucher,
    TopUpChannel,
    Transfer,
    UserTx,
    Withdraw,
)
from l2gpu.core.types import Address, Hash32, Seconds, Timestamp, Wei
from tests.fuzz.support import edges, fuzz, mutated, outcome, unsigned

# -- valid values ---------------------------------------------------------------------

index = unsigned(24)
amount = st.builds(
    lambda m, e: Wei(m * 10**e), unsigned(amounts.AMOUNT.mantissa_bits), st.integers(0, 31)
)
fee = st.builds(
    lambda m, e: Wei(m * 10**e), unsigned(amounts.FEE.mantissa_bits), st.integers(0, 31)
)
voucher_signature = st.binary(min_size=65, max_size=65)

TRANSFERS = st.builds(Transfer, index, index, amount, fee)
WITHDRAWS = st.builds(Withdraw, index, amount, fee)
CHANNEL_TXS: st.SearchStrategy[UserTx] = st.one_of(
    st.builds(
        OpenChannel, index, index, amount, unsigned(40).map(Timestamp), unsigned(24).map(Seconds)
    ),
    st.builds(
        OpenChannel,
        index,
        index,
        amount,
        unsigned(40).map(Timestamp),
        unsigned(24).map(Seconds),
        st.builds(
            VirtualTerms,
            st.binary(min_size=20, max_size=20).map(Address),
            st.binary(min_size=32, max_size=32).map(Hash32),
            unsigned(24),
        ),
    ),  # one end of a virtual channel (its terms are checked by the rules, not the codec)
    st.builds(TopUpChannel, index, index, amount, unsigned(40).map(Timestamp)),
    st.builds(CooperativeClose, index, index, amount),
    st.builds(CloseByRenter, index, index, amount),
    st.builds(SubmitVoucher, index, index, unsigned(128).map(Wei), voucher_signature),
    st.builds(CloseByProvider, index, index, unsigned(128).map(Wei), voucher_signature),
    st.builds(SettleChannel, index, index),
)
TXS_OF_KIND = {KIND_TRANSFER: TRANSFERS, KIND_WITHDRAW: WITHDRAWS, KIND_CHANNEL: CHANNEL_TXS}
ANY_TX = st.one_of(TRANSFERS, WITHDRAWS, CHANNEL_TXS)


@st.composite
def commitments(draw: st.DrawFn, max_txs: int = 3) -> Commitment:
    kind = draw(st.sampled_from(sorted(TXS_OF_KIND)))
    txs = draw(st.lists(TXS_OF_KIND[kind], min_size=1, max_size=max_txs))
    closes = [i for i, tx in enumerate(txs) if isinstance(tx, CooperativeClose)]
    for i in closes[MAX_CLOSES:]:  # a valid commitment holds at most 16 closes
        txs[i] = SettleChannel(0, 0)
    return Commitment(
        kind,
        Timestamp(draw(unsigned(64))),
        tuple(txs),
        draw(st.binary(min_size=SIGNATURE_SIZE, max_size=SIGNATURE_SIZE)),
        draw(st.binary(min_size=ROOT_SIZE, max_size=ROOT_SIZE)),
    )


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    deposits = draw(st.one_of(st.just(0), st.integers(1, MAX_L1_OPS)))
    root = draw(st.binary(min_size=ROOT_SIZE, max_size=ROOT_SIZE)) if deposits else b""
    items = draw(st.lists(commitments(), min_size=0 if deposits else 1, max_size=2))
    return Batch(draw(unsigned(24)), deposits, tuple(items), root)


def header(deposits: int = 0) -> bytes:
    """A valid batch header (version 1, fee recipient 0)."""
    return b"\x01" + bytes(3) + deposits.to_bytes(4, "big") + (bytes(32) if deposits else b"")


# -- what must hold of every batch the decoder accepts -----------------------------------


def check_accepted(data: bytes) -> None:
    """Decode ``data``; if it is accepted, its parts re-encode to bytes of the same shape."""
    result = outcome(CodecError, split_batch, data)
    if isinstance(result, CodecError):
        assert result.reason.startswith("codec: ")
        return
    batch, raw = result
    assert decode_batch(data) == batch
    assert len(batch.commitments) == len(raw) <= MAX_SEGMENTS - 1
    assert batch.deposits <= MAX_L1_OPS
    head = 8 + (ROOT_SIZE if batch.deposits else 0)
    assert b"".join(raw) == data[head:]
    # Amounts have more than one encoding: re-encoding gives canonical bytes of the
    # same length, which decode to the same batch.
    again = batch.encode()
    assert len(again) == len(data)
    assert decode_batch(again) == batch
    for commitment, posted in zip(batch.commitments, raw, strict=True):
        assert len(commitment.encode()) == len(posted)
    assert len(segments_of_data(data, bytes(32))) == len(raw) + 1


# -- batches ---------------------------------------------------------------------------


@fuzz(1000)
@given(st.binary(max_size=400))
def test_decode_batch_of_arbitrary_bytes(data: bytes) -> None:
    check_accepted(data)


@fuzz(600)
@given(st.sampled_from([header(), header(1), header(MAX_L1_OPS)]), st.binary(max_size=400))
def test_decode_batch_of_a_valid_header_and_arbitrary_bytes(head: bytes, tail: bytes) -> None:
    check_accepted(head + tail)


@fuzz(400)
@given(batches().flatmap(lambda b: mutated(b.encode())))
def test_decode_batch_of_mutated_batches(data: bytes) -> None:
    check_accepted(data)


@fuzz(200)
@given(batches())
def test_batches_round_trip(batch: Batch) -> None:
    data = batch.encode()
    decoded, raw = split_batch(data)
    assert decoded == batch
    assert decoded.encode() == data
    assert raw == tuple(c.encode() for c in batch.commitments)
    assert segments_of_data(data, bytes(32)) == segments(batch, bytes(32))


@fuzz(50)
@given(
    st.sampled_from(sorted(TXS_OF_KIND)).flatmap(
        lambda kind: st.lists(
            TXS_OF_KIND[kind], min_size=MAX_COMMITMENT_TXS, max_size=MAX_COMMITMENT_TXS
        )
    ),
    st.data(),
)
def test_full_commitments_round_trip_and_survive_mutation(
    txs: list[UserTx], data: st.DataObject
) -> None:
    closes = [i for i, tx in enumerate(txs) if isinstance(tx, CooperativeClose)]
    for i in closes[MAX_CLOSES:]:
        txs[i] = SettleChannel(0, 0)
    batch = Batch(0, 0, (Commitment(kind_of(txs[0]), Timestamp(1), tuple(txs)),))
    assert decode_batch(batch.encode()) == batch
    check_accepted(data.draw(mutated(batch.encode())))


@fuzz(100)
@given(
    st.sampled_from([0, 1, MAX_L1_OPS, MAX_L1_OPS + 1, 2**31, 2**32 - 1]),
    st.binary(min_size=32, max_size=32),
)
def test_the_deposit_count_is_bounded_as_on_l1(deposits: int, root: bytes) -> None:
    data = b"\x01" + bytes(3) + deposits.to_bytes(4, "big") + (root if deposits else b"")
    if deposits <= MAX_L1_OPS:
        assert decode_batch(data).deposits == deposits
    else:
        error = outcome(CodecError, decode_batch, data)
        assert isinstance(error, CodecError)
        assert "L1 operations" in error.reason


def test_the_commitment_count_is_bounded_as_on_l1() -> None:
    one = Commitment(KIND_CHANNEL, Timestamp(1), (SettleChannel(0, 0),)).encode()
    full = header() + one * (MAX_SEGMENTS - 1)
    assert len(decode_batch(full).commitments) == MAX_SEGMENTS - 1
    with pytest.raises(CodecError, match="too many commitments"):
        decode_batch(full + one)


# -- transactions, per kind ------------------------------------------------------------

KINDS = st.one_of(
    st.sampled_from([KIND_TRANSFER, KIND_WITHDRAW, KIND_CHANNEL]), edges(8), st.integers()
)


@fuzz(1000)
@given(KINDS, st.binary(max_size=120))
def test_decode_tx_of_arbitrary_kind_and_body(kind: int, body: bytes) -> None:
    tx = outcome(CodecError, decode_tx, kind, body)
    if isinstance(tx, CodecError):
        assert tx.reason.startswith("codec: ")
        return
    assert kind in (KIND_TRANSFER, KIND_WITHDRAW, KIND_CHANNEL)
    assert kind_of(tx) == kind
    again = encode_tx(kind, tx)
    assert len(again) == len(body)
    assert decode_tx(kind, again) == tx


@fuzz(400)
@given(ANY_TX)
def test_transactions_round_trip(tx: UserTx) -> None:
    kind = kind_of(tx)
    body = encode_tx(kind, tx)
    assert decode_tx(kind, body) == tx
    assert encode_tx(kind, decode_tx(kind, body)) == body


@fuzz(300)
@given(
    ANY_TX.flatmap(lambda tx: st.tuples(st.just(kind_of(tx)), mutated(encode_tx(kind_of(tx), tx))))
)
def test_decode_tx_of_mutated_bodies(kind_and_body: tuple[int, bytes]) -> None:
    kind, body = kind_and_body
    tx = outcome(CodecError, decode_tx, kind, body)
    if isinstance(tx, CodecError):
        return
    assert decode_tx(kind, encode_tx(kind, tx)) == tx


# -- amounts ---------------------------------------------------------------------------


@fuzz(400)
@given(st.sampled_from([amounts.AMOUNT, amounts.FEE]), st.data())
def test_every_packed_amount_decodes_and_re_encodes(
    fmt: amounts.FloatFormat, data: st.DataObject
) -> None:
    packed = data.draw(st.binary(min_size=fmt.size, max_size=fmt.size))
    value = amounts.decode(packed, fmt)
    assert 0 <= value <= fmt.max_mantissa * 10**fmt.max_exponent
    canonical = amounts.encode(value, fmt)
    assert amounts.decode(canonical, fmt) == value
    assert amounts.round_down(value, fmt) == value


@fuzz(200)
@given(st.sampled_from([amounts.AMOUNT, amounts.FEE]), st.binary(max_size=64))
def test_packed_amounts_of_any_length(fmt: amounts.FloatFormat, data: bytes) -> None:
    """Only ``fmt.size`` bytes decode: longer bytes once made an exponent of any size."""
    value = outcome(InvalidValue, amounts.decode, data, fmt)
    assert isinstance(value, InvalidValue) == (len(data) != fmt.size)


# -- blobs -----------------------------------------------------------------------------


@fuzz(200)
@given(st.binary(max_size=2000))
def test_blobs_round_trip(data: bytes) -> None:
    assert from_blob(to_blob(data)) == data


@fuzz(200)
@given(
    st.binary(max_size=300),
    st.lists(st.tuples(st.integers(0, BLOB_SIZE - 1), st.integers(0, 255)), max_size=4),
)
def test_from_blob_of_altered_blobs(data: bytes, changes: list[tuple[int, int]]) -> None:
    blob = bytearray(to_blob(data))
    for position, value in changes:
        blob[position] = value
    out = outcome(BlobError, from_blob, bytes(blob))
    assert isinstance(out, BlobError) or len(out) <= MAX_DATA


@fuzz(200)
@given(st.one_of(st.binary(max_size=64), st.integers(0, 4).map(lambda d: bytes(BLOB_SIZE + d - 2))))
def test_from_blob_of_arbitrary_bytes(blob: bytes) -> None:
    out = outcome(BlobError, from_blob, blob)
    assert isinstance(out, BlobError) or len(out) <= MAX_DATA
