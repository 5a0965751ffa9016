"""The sequencer's write-ahead log, so that a ``kill -9`` loses nothing acknowledged.

Every input is written (and committed) before it is acknowledged or acted on:

    l1_op     an L1 queue operation the node saw (deposit, forced withdrawal)
    envelope  a user transaction the sequencer accepted
    batch     a sealed batch (its bytes and queue end), before it is posted
    posted    the L1 batch index a sealed batch got

On start, :meth:`RollupNode.recover` replays the log: sealed batches rebuild the
state, accepted envelopes not yet in a batch go back to the mempool, and a batch
sealed but not posted is posted (unless L1 already has it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from l2gpu.core.l2.codec import decode_tx, encode_tx, kind_of
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.transactions import Deposit, ForcedWithdraw, L1Operation
from l2gpu.core.types import Address, Wei
from l2gpu.db.models import RollupLog


class WriteAheadLog:
    """Append-only records in the ``rollup_log`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, kind: str, payload: bytes) -> int:
        """Write one record durably; return its sequence number."""
        with Session(self.engine) as session, session.begin():
            row = RollupLog(kind=kind, payload=payload, created_at=datetime.now(UTC))
            session.add(row)
            session.flush()
            return int(row.seq)

    def records(self) -> Iterator[tuple[int, str, bytes]]:
        """Every record in order."""
        with Session(self.engine) as session:
            rows = session.scalars(select(RollupLog).order_by(RollupLog.seq)).all()
        return iter([(row.seq, row.kind, bytes(row.payload)) for row in rows])


def encode_envelope(envelope: Envelope) -> bytes:
    """kind u8 | nonce u64 | signature 65 | body."""
    kind = kind_of(envelope.tx)
    signature = envelope.signature[:65].ljust(65, b"\0")
    return (
        bytes((kind,))
        + envelope.nonce.to_bytes(8, "big")
        + signature
        + encode_tx(kind, envelope.tx)
    )


def decode_envelope(data: bytes) -> Envelope:
    """Inverse of :func:`encode_envelope`."""
    kind, nonce, signature = data[0], int.from_bytes(data[1:9], "big"), data[9:74]
    return Envelope(decode_tx(kind, data[74:]), nonce, signature)


def encode_l1_op(op: L1Operation) -> bytes:
    """kind u8 | queue index u64 | address 20 | amount u256 | [key 96 | proof 48]."""
    head = op.queue_index.to_bytes(8, "big") + op.address + op.amount.to_bytes(32, "big")
    if isinstance(op, Deposit):
        return b"\x01" + head + op.bls_key + op.proof_of_possession
    return b"\x02" + head


def decode_l1_op(data: bytes) -> L1Operation:
    """Inverse of :func:`encode_l1_op`."""
    index, address = int.from_bytes(data[1:9], "big"), Address(data[9:29])
    amount = Wei(int.from_bytes(data[29:61], "big"))
    if data[0] == 1:
        return Deposit(index, address, amount, data[61:157], data[157:205])
    return ForcedWithdraw(index, address, amount)
