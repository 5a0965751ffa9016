"""The batch format on L1: compact, typed commitments with one aggregate signature each.

    batch      = version u8 | fee_recipient u24 | deposits u32 | [deposits_root 32] | commitments...

``deposits`` counts the L1 queue operations (deposits, forced withdrawals) the
batch processes before its commitments; ``deposits_root`` (present only when
there are some) is the state root right after them.
    commitment = kind u8 | count u8 | timestamp u64 | body | aggregate_sig 48 | post_root 32

Bodies, per transaction (accounts and channels by 3-byte index, amounts as
3-byte decimal floats, fees as 2-byte floats; see ``amounts.py``):

    transfer (kind 1)    from u24 | to u24 | amount f24 | fee f16          11 bytes
    withdraw (kind 2)    from u24 | amount f24 | fee f16                     8 bytes
    channel  (kind 3)    op u8 | fields of the op (below)

    open (1)               sender u24 | provider u24 | amount f24 | expires u40 | period u24
    top_up (2)             sender u24 | channel u24 | amount f24 | expires u40
    cooperative_close (3)  sender u24 | channel u24 | amount f24
    close_by_renter (4)    sender u24 | channel u24 | amount f24
    submit_voucher (5)     sender u24 | channel u24 | amount u128 | signature 65
    close_by_provider (6)  sender u24 | channel u24 | amount u128 | signature 65
    settle (7)             sender u24 | channel u24
    open_virtual (8)       the fields of open | signer address | virtual id 32 | fee_ppm u24

An op is named after the ChannelManager function whose rules it runs.

Voucher amounts are exact (the renter signed that exact number); everything else
must be representable, and wallets round down before signing. Decoding rejects
malformed bytes with a named :class:`CodecError` and never crashes.

A commitment holds 1 to :data:`MAX_COMMITMENT_TXS` transactions: the L1 contract
checks every batch's framing at submission (``Rollup.submit_batch``) with the same
bound, and a fraud proof re-executes one commitment, whose cost grows with it. A
batch consumes at most :data:`MAX_L1_OPS` queue operations and holds at most
``MAX_SEGMENTS - 1`` commitments, as on L1: bytes that L1 refuses never decode.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.errors import RuleViolation
from l2gpu.core.l2 import amounts
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

VERSION = 1
KIND_TRANSFER, KIND_WITHDRAW, KIND_CHANNEL = 1, 2, 3
MAX_COMMITMENT_TXS = 32
MAX_CLOSES = 16
"""At most this many cooperative closes per commitment (Rollup.MAX_CLOSES): each adds a
channel read to the proof of a bad co-signature, which must stay under 3,000,000 gas."""
MAX_SEGMENTS = 1024
"""Rollup.MAX_SEGMENTS: segment 0 (the L1 operations) and at most 1,023 commitments."""
MAX_L1_OPS = 64
"""Rollup.MAX_L1_OPS: a dispute's reply carries one root per operation of segment 0."""
SIGNATURE_SIZE, ROOT_SIZE = 48, 32
OP_OPEN = 1
OP_TOP_UP = 2
OP_COOPERATIVE_CLOSE = 3
OP_CLOSE_BY_RENTER = 4
OP_SUBMIT_VOUCHER = 5
OP_CLOSE_BY_PROVIDER = 6
OP_SETTLE = 7
OP_OPEN_VIRTUAL = 8


class CodecError(RuleViolation):
    """Batch bytes that do not follow the format; ``reason`` names the fault."""


@dataclass(frozen=True, slots=True)
class Commitment:
    """A group of same-kind transactions co-signed by all their senders."""

    kind: int
    timestamp: Timestamp
    txs: tuple[UserTx, ...]
    signature: bytes = bytes(SIGNATURE_SIZE)
    post_root: bytes = bytes(ROOT_SIZE)

    def header_and_body(self) -> bytes:
        """Everything the co-signers sign (with the pre-state root): not sig, not root."""
        if not 1 <= len(self.txs) <= MAX_COMMITMENT_TXS:
            raise CodecError(f"codec: a commitment holds 1 to {MAX_COMMITMENT_TXS} transactions")
        if sum(isinstance(tx, CooperativeClose) for tx in self.txs) > MAX_CLOSES:
            raise CodecError(f"codec: more than {MAX_CLOSES} cooperative closes in a commitment")
        return (
            bytes((self.kind, len(self.txs)))
            + self.timestamp.to_bytes(8, "big")
            + b"".join(encode_tx(self.kind, tx) for tx in self.txs)
        )

    def encode(self) -> bytes:
        """The commitment's bytes on L1."""
        return self.header_and_body() + self.signature + self.post_root


@dataclass(frozen=True, slots=True)
class Batch:
    """Commitments posted to L1 together, plus how many L1 deposits they consume."""

    fee_recipient: int
    deposits: int
    commitments: tuple[Commitment, ...]
    deposits_root: bytes = b""

    def encode(self) -> bytes:
        """The batch's bytes on L1 (before compression)."""
        return (
            bytes((VERSION,))
            + self.fee_recipient.to_bytes(3, "big")
            + self.deposits.to_bytes(4, "big")
            + (self.deposits_root if self.deposits else b"")
            + b"".join(c.encode() for c in self.commitments)
        )

    @property
    def post_root(self) -> bytes:
        """The state root after the whole batch."""
        if self.commitments:
            return self.commitments[-1].post_root
        return self.deposits_root


def kind_of(tx: UserTx) -> int:
    """The commitment kind that carries ``tx``."""
    if isinstance(tx, Transfer):
        return KIND_TRANSFER
    if isinstance(tx, Withdraw):
        return KIND_WITHDRAW
    return KIND_CHANNEL


def encode_tx(kind: int, tx: UserTx) -> bytes:
    """One transaction's body bytes inside a commitment of ``kind``."""
    if kind != kind_of(tx):
        raise CodecError("codec: transaction does not match its commitment kind")
    if isinstance(tx, Transfer):
        return _u24(tx.sender) + _u24(tx.to) + amounts.encode(tx.amount) + _fee(tx.fee)
    if isinstance(tx, Withdraw):
        return _u24(tx.sender) + amounts.encode(tx.amount) + _fee(tx.fee)
    if isinstance(tx, OpenChannel):
        v = tx.virtual
        return (
            bytes((OP_OPEN if v is None else OP_OPEN_VIRTUAL,))
            + _u24(tx.sender)
            + _u24(tx.provider)
            + amounts.encode(tx.amount)
            + tx.expires_at.to_bytes(5, "big")
            + tx.challenge_period.to_bytes(3, "big")
            + (b"" if v is None else v.signer + v.virtual_id + _fee_ppm(v.fee_ppm))
        )
    head = _u24(tx.sender) + _u24(tx.channel)
    if isinstance(tx, TopUpChannel):
        return (bytes((OP_TOP_UP,)) + head + amounts.encode(tx.amount)
                + tx.expires_at.to_bytes(5, "big"))  # fmt: skip
    if isinstance(tx, CooperativeClose):
        return bytes((OP_COOPERATIVE_CLOSE,)) + head + amounts.encode(tx.amount)
    if isinstance(tx, CloseByRenter):
        return bytes((OP_CLOSE_BY_RENTER,)) + head + amounts.encode(tx.amount)
    if isinstance(tx, SubmitVoucher):
        return bytes((OP_SUBMIT_VOUCHER,)) + head + _u128(tx.amount) + _sig65(tx.signature)
    if isinstance(tx, CloseByProvider):
        return bytes((OP_CLOSE_BY_PROVIDER,)) + head + _u128(tx.amount) + _sig65(tx.signature)
    return bytes((OP_SETTLE,)) + head


def decode_tx(kind: int, body: bytes) -> UserTx:
    """One transaction from its body bytes (the inverse of :func:`encode_tx`)."""
    if kind not in (KIND_TRANSFER, KIND_WITHDRAW, KIND_CHANNEL):
        raise CodecError(f"codec: unknown commitment kind {kind}")
    reader = _Reader(body)
    tx = _decode_tx(reader, kind)
    if not reader.done:
        raise CodecError("codec: bytes left after the transaction")
    return tx


def decode_batch(data: bytes) -> Batch:
    """Parse batch bytes; raise CodecError naming the first fault."""
    return split_batch(data)[0]


def split_batch(data: bytes) -> tuple[Batch, tuple[bytes, ...]]:
    """Parse batch bytes, and return each commitment's bytes as posted, too.

    L1 hashes the posted bytes, which re-encoding the parsed batch does not always
    give back (an amount has more than one encoding: ``10 * 10**0`` or ``1 * 10**1``).
    """
    reader = _Reader(data)
    if reader.take(1, "version")[0] != VERSION:
        raise CodecError("codec: unknown batch version")
    fee_recipient = reader.uint(3, "fee recipient")
    deposits = reader.uint(4, "deposit count")
    if deposits > MAX_L1_OPS:
        raise CodecError(f"codec: too many L1 operations in one batch ({deposits} > {MAX_L1_OPS})")
    deposits_root = reader.take(ROOT_SIZE, "deposits root") if deposits else b""
    commitments: list[Commitment] = []
    raw: list[bytes] = []
    while not reader.done:
        if len(commitments) == MAX_SEGMENTS - 1:
            raise CodecError(f"codec: too many commitments (a batch holds {MAX_SEGMENTS - 1})")
        start = reader.position
        commitments.append(_decode_commitment(reader))
        raw.append(data[start : reader.position])
    return Batch(fee_recipient, deposits, tuple(commitments), deposits_root), tuple(raw)


def _decode_commitment(reader: _Reader) -> Commitment:
    kind = reader.uint(1, "commitment kind")
    if kind not in (KIND_TRANSFER, KIND_WITHDRAW, KIND_CHANNEL):
        raise CodecError(f"codec: unknown commitment kind {kind}")
    count = reader.uint(1, "transaction count")
    if count == 0:
        raise CodecError("codec: empty commitment")
    if count > MAX_COMMITMENT_TXS:
        raise CodecError(f"codec: a commitment holds at most {MAX_COMMITMENT_TXS} transactions")
    timestamp = Timestamp(reader.uint(8, "timestamp"))
    txs = tuple(_decode_tx(reader, kind) for _ in range(count))
    if sum(isinstance(tx, CooperativeClose) for tx in txs) > MAX_CLOSES:
        raise CodecError(f"codec: more than {MAX_CLOSES} cooperative closes in a commitment")
    signature = reader.take(SIGNATURE_SIZE, "aggregate signature")
    post_root = reader.take(ROOT_SIZE, "post-state root")
    return Commitment(kind, timestamp, txs, signature, post_root)


def _decode_tx(reader: _Reader, kind: int) -> UserTx:
    if kind == KIND_TRANSFER:
        return Transfer(reader.uint(3, "sender"), reader.uint(3, "recipient"),
                        reader.amount(), reader.fee())  # fmt: skip
    if kind == KIND_WITHDRAW:
        return Withdraw(reader.uint(3, "sender"), reader.amount(), reader.fee())
    op = reader.uint(1, "channel op")
    if op in (OP_OPEN, OP_OPEN_VIRTUAL):
        sender, provider, amount = (
            reader.uint(3, "sender"),
            reader.uint(3, "provider"),
            reader.amount(),
        )
        expires, period = Timestamp(reader.uint(5, "expiry")), Seconds(reader.uint(3, "period"))
        virtual = None
        if op == OP_OPEN_VIRTUAL:
            signer, virtual_id = Address(reader.take(20, "signer")), reader.take(32, "virtual id")
            virtual = VirtualTerms(signer, Hash32(virtual_id), reader.uint(3, "fee"))
        return OpenChannel(sender, provider, amount, expires, period, virtual)
    if op not in (
        OP_TOP_UP,
        OP_COOPERATIVE_CLOSE,
        OP_CLOSE_BY_RENTER,
        OP_SUBMIT_VOUCHER,
        OP_CLOSE_BY_PROVIDER,
        OP_SETTLE,
    ):
        raise CodecError(f"codec: unknown channel op {op}")
    sender, channel = reader.uint(3, "sender"), reader.uint(3, "channel")
    if op == OP_TOP_UP:
        return TopUpChannel(sender, channel, reader.amount(), Timestamp(reader.uint(5, "expiry")))
    if op == OP_COOPERATIVE_CLOSE:
        return CooperativeClose(sender, channel, reader.amount())
    if op == OP_CLOSE_BY_RENTER:
        return CloseByRenter(sender, channel, reader.amount())
    if op in (OP_SUBMIT_VOUCHER, OP_CLOSE_BY_PROVIDER):
        amount = Wei(reader.uint(16, "voucher amount"))
        signature = reader.take(65, "voucher signature")
        cls = SubmitVoucher if op == OP_SUBMIT_VOUCHER else CloseByProvider
        return cls(sender, channel, amount, signature)
    return SettleChannel(sender, channel)


class _Reader:
    """Bounds-checked reads over batch bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.data)

    def take(self, size: int, what: str) -> bytes:
        end = self.position + size
        if end > len(self.data):
            raise CodecError(f"codec: batch ends inside the {what}")
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def amount(self) -> Wei:
        return Wei(amounts.decode(self.take(amounts.AMOUNT.size, "amount")))

    def fee(self) -> Wei:
        return Wei(amounts.decode(self.take(amounts.FEE.size, "fee"), amounts.FEE))


def _u24(value: int) -> bytes:
    if not 0 <= value < 1 << 24:
        raise CodecError("codec: index does not fit in 3 bytes")
    return value.to_bytes(3, "big")


def _u128(value: int) -> bytes:
    if not 0 <= value < 1 << 128:
        raise CodecError("codec: a voucher amount does not fit in 16 bytes")
    return value.to_bytes(16, "big")


def _fee_ppm(value: int) -> bytes:
    if not 0 <= value < 1 << 24:
        raise CodecError("codec: a virtual channel's fee does not fit in 3 bytes (ppm)")
    return value.to_bytes(3, "big")


def _fee(value: int) -> bytes:
    return amounts.encode(value, amounts.FEE)


def _sig65(signature: bytes) -> bytes:
    # A voucher signature of the wrong size is still encoded (padded or cut) so that
    # the transaction fails by the channel rules ("bad voucher signature"), not here.
    return signature[:65].ljust(65, b"\x00")
