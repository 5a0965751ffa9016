"""The sequencer's write-ahead log, so that a ``kill -9`` loses nothing acknowledged.

Every input is written (and committed) before it is acknowledged or acted on:

    l1_op     an L1 queue operation the node saw (deposit, forced withdrawal)
    envelope  a user transaction the sequencer accepted (its record number is its
              acknowledgement)
    sealed    a sealed batch: its queue end, the records of the envelopes it
              includes, and its bytes, before it is posted
    dropped   records of envelopes the sequencer dropped (refused by the rules, or
              not co-signed), logged with the seal that dropped them
    silenced  an account benched for not co-signing in time, and until when
    posted    the L1 batch index a sealed batch got
    batch     (older logs) a sealed batch without its envelope records

The records of one seal (dropped, silenced, sealed) are written in one database
transaction: a restart sees all of a seal or none of it. On start,
:func:`l2gpu.node.recovery.recover` replays the log: sealed batches rebuild the
state, accepted envelopes neither included nor dropped go back to the mempool
in their order, and a batch sealed but not posted is posted (unless L1 already
has it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import CodecError, decode_tx, encode_tx, kind_of
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.transactions import Deposit, ForcedWithdraw, L1Operation
from l2gpu.core.types import Address, Wei
from l2gpu.db.models import RollupLog
from l2gpu.node.cosigning import Silence

if TYPE_CHECKING:
    from l2gpu.node.sequencer import SealReport


_RESTORE = "restore the node's database from a backup, or start a new node database"


class DamagedRecord(L2gpuError):
    """A log record that does not decode: the log was damaged or written by another
    version."""


IN_DOUBT_LOOKUP = 1024
"""Records read past a write in doubt besides its own: other writers' records that
landed meanwhile (posts, L1 operations, other groups)."""


class WriteAheadLog:
    """Append-only records in the ``rollup_log`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        # How the dialect stores a record's time, for the SQLite group path.
        self._bind_time = RollupLog.__table__.c.created_at.type.dialect_impl(
            dialect
        ).bind_processor(dialect)

    def append(self, kind: str, payload: bytes) -> int:
        """Write one record durably; return its sequence number."""
        with Session(self.engine) as session, session.begin():
            row = RollupLog(kind=kind, payload=payload, created_at=datetime.now(UTC))
            session.add(row)
            session.flush()
            return int(row.seq)

    def append_many(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        """Write several records in one database transaction; return their numbers."""
        if not records:
            return []
        with Session(self.engine) as session, session.begin():
            now = datetime.now(UTC)
            rows = [RollupLog(kind=kind, payload=payload, created_at=now)
                    for kind, payload in records]  # fmt: skip
            session.add_all(rows)
            session.flush()
            return [int(row.seq) for row in rows]

    def append_envelopes(self, payloads: list[bytes]) -> list[int]:
        """Write envelope records in one transaction (a group commit); return their
        numbers, in order. Core inserts: the ORM costs more than the disk here."""
        if not payloads:
            return []
        now = datetime.now(UTC)
        if self.engine.dialect.name == "sqlite":
            return self._append_sqlite(payloads, now)
        rows = [{"kind": "envelope", "payload": p, "created_at": now} for p in payloads]
        statement = insert(RollupLog).returning(RollupLog.seq, sort_by_parameter_order=True)
        with self.engine.begin() as connection:
            return [int(n) for n in connection.execute(statement, rows).scalars().all()]

    def _append_sqlite(self, payloads: list[bytes], now: datetime) -> list[int]:
        # SQLite cannot keep RETURNING rows in parameter order for a multi-row insert,
        # so SQLAlchemy sends one statement per row, and binds every row's time anew:
        # a tenth of a loaded node's interpreter time. Here: the time bound once, one
        # executemany in the driver, and the numbers from the largest number before
        # and after. Our transactions begin IMMEDIATE (db/engine.py): the write lock
        # is held from the first read, each row gets the largest number plus one, so
        # the rows took exactly the numbers between the two, in the order they went in.
        stamp = self._bind_time(now) if self._bind_time is not None else now
        largest = select(func.max(RollupLog.seq))
        with self.engine.begin() as connection:
            before = connection.execute(largest).scalar() or 0
            connection.exec_driver_sql(
                "INSERT INTO rollup_log (kind, payload, created_at) VALUES (?, ?, ?)",
                [("envelope", payload, stamp) for payload in payloads],
            )
            after = connection.execute(largest).scalar() or 0
            if after - before != len(payloads):  # refuse rather than misnumber
                raise L2gpuError(
                    f"the log numbered {after - before} records for {len(payloads)} written",
                    "make sure only one node writes to this database",
                )
        return list(range(before + 1, after + 1))

    def last(self) -> int:
        """The number of the last record (0 for an empty log)."""
        with Session(self.engine) as session:
            return int(session.execute(select(func.max(RollupLog.seq))).scalar() or 0)

    def holds(self, after: int, writes: Sequence[tuple[str, bytes]]) -> bool:
        """Whether ``writes``, written in one transaction (all or none), are in the log
        past record ``after``, whatever other writers logged meanwhile (at most
        :data:`IN_DOUBT_LOOKUP` records). Raises when the log cannot be read."""
        found = self.records_after(after, len(writes) + IN_DOUBT_LOOKUP)
        return tuple(writes[-1]) in {(kind, payload) for _, kind, payload in found}

    def records_after(self, seq: int, limit: int) -> list[tuple[int, str, bytes]]:
        """At most ``limit`` records after number ``seq``, in order (what an in-doubt
        write left: the caller compares them with what it wrote)."""
        query = select(RollupLog).where(RollupLog.seq > seq).order_by(RollupLog.seq).limit(limit)
        with Session(self.engine) as session:
            rows = session.scalars(query).all()
        return [(row.seq, row.kind, bytes(row.payload)) for row in rows]

    def latest(self, limit: int) -> list[tuple[int, str, bytes]]:
        """The last ``limit`` records, in order (where an in-doubt write's would be)."""
        query = select(RollupLog).order_by(RollupLog.seq.desc()).limit(limit)
        with Session(self.engine) as session:
            rows = session.scalars(query).all()
        return [(row.seq, row.kind, bytes(row.payload)) for row in reversed(rows)]

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
    """Inverse of :func:`encode_envelope`; :class:`DamagedRecord` if it is not one."""
    if len(data) < 75:
        raise DamagedRecord(f"an envelope record of {len(data)} bytes is too short", _RESTORE)
    kind, nonce, signature = data[0], int.from_bytes(data[1:9], "big"), data[9:74]
    try:
        return Envelope(decode_tx(kind, data[74:]), nonce, signature)
    except CodecError as exc:
        raise DamagedRecord(f"an envelope record does not decode: {exc}", _RESTORE) from exc


def encode_l1_op(op: L1Operation) -> bytes:
    """kind u8 | queue index u64 | address 20 | amount u256, then for a deposit
    key length u8 | key | proof length u8 | proof.

    A deposit's key and proof are as L1 queued them: ``Rollup.deposit`` takes an empty
    key (and then any proof up to 48 bytes, unchecked), and the shards' bridge deposits
    with none, so their lengths are written (kind 3). Kind 1, a 96-byte key and a
    48-byte proof with no lengths, is what earlier nodes wrote; it still decodes.
    """
    head = op.queue_index.to_bytes(8, "big") + op.address + op.amount.to_bytes(32, "big")
    if isinstance(op, Deposit):
        key, proof = op.bls_key, op.proof_of_possession
        return b"\x03" + head + bytes((len(key),)) + key + bytes((len(proof),)) + proof
    return b"\x02" + head


def decode_l1_op(data: bytes) -> L1Operation:
    """Inverse of :func:`encode_l1_op`; :class:`DamagedRecord` if it is not one."""
    damaged = DamagedRecord(f"an L1 operation record of {len(data)} bytes does not decode",
                            _RESTORE)  # fmt: skip
    if len(data) < 61 or data[0] not in (1, 2, 3):
        raise damaged
    index, address = int.from_bytes(data[1:9], "big"), Address(data[9:29])
    amount = Wei(int.from_bytes(data[29:61], "big"))
    if data[0] == 2:
        if len(data) != 61:
            raise damaged
        return ForcedWithdraw(index, address, amount)
    if data[0] == 1:
        if len(data) != 205:
            raise damaged
        return Deposit(index, address, amount, data[61:157], data[157:205])
    key_end = 62 + data[61] if len(data) > 61 else 0
    if key_end == 0 or key_end >= len(data) or key_end + 1 + data[key_end] != len(data):
        raise damaged
    return Deposit(index, address, amount, data[62:key_end], data[key_end + 1 :])


def seal_records(report: SealReport, queue_end: int) -> list[tuple[str, bytes]]:
    """The records of one seal, to be written together."""
    out: list[tuple[str, bytes]] = []
    if report.dropped_sequences:
        out.append(("dropped", _u64s(report.dropped_sequences)))
    for account, silence in sorted(report.silenced.items()):
        out.append(("silenced", encode_silence(account, silence)))
    if report.batch is not None:
        included = report.included_sequences
        payload = (queue_end.to_bytes(8, "big") + len(included).to_bytes(4, "big")
                   + _u64s(included) + report.batch.encode())  # fmt: skip
        out.append(("sealed", payload))
    return out


def decode_sealed(payload: bytes) -> tuple[int, list[int], bytes]:
    """Inverse of the ``sealed`` record: queue end, included records, batch bytes."""
    queue_end, count = int.from_bytes(payload[:8], "big"), int.from_bytes(payload[8:12], "big")
    end = 12 + 8 * count
    return queue_end, decode_u64s(payload[12:end]), payload[end:]


def decode_u64s(data: bytes) -> list[int]:
    """Big-endian u64 numbers, back to back."""
    return [int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data), 8)]


def _u64s(numbers: Sequence[int]) -> bytes:
    return b"".join(n.to_bytes(8, "big") for n in numbers)


def encode_silence(account: int, silence: Silence) -> bytes:
    """account u32 | misses u16 | until u64 | since u64."""
    return (account.to_bytes(4, "big") + min(silence.misses, 65535).to_bytes(2, "big")
            + silence.until.to_bytes(8, "big") + silence.since.to_bytes(8, "big"))  # fmt: skip


def decode_silence(payload: bytes) -> tuple[int, Silence]:
    """Inverse of :func:`encode_silence`."""
    account, misses = int.from_bytes(payload[:4], "big"), int.from_bytes(payload[4:6], "big")
    until, since = int.from_bytes(payload[6:14], "big"), int.from_bytes(payload[14:22], "big")
    return account, Silence(misses, until, since)
