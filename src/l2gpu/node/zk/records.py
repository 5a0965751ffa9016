"""The zk node's write-ahead log records, kept in the optimistic node's ``rollup_log``
table (:class:`l2gpu.node.wal.WriteAheadLog`) under kinds of their own.

    zk_tx       a transfer, withdrawal, channel open or close the node accepted, with
                its signatures (an open with the channel index the node gave it); the
                record's number is the transaction's position (its acknowledgement)
    zk_sealed   a sealed batch: its number, the positions it includes (in batch
                order: transfers, withdrawals, opens, closes), how many queued
                deposits it takes, its timestamp, the channels it reclaims (the
                node's own operations, signed by nobody) and its public data,
                written before it is proven
    zk_dropped  a position dropped at seal time and the rule it broke, written in
                the same database transaction as the seal that dropped it
    zk_posted   a batch L1 accepted, with its L1 transaction

A transaction is a fixed binary layout (it is the bulk of the log); the other
records are small JSON objects. A record that does not decode is a
:class:`~l2gpu.node.wal.DamagedRecord`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.errors import L2gpuError
from l2gpu.core.zk.channel import CloseChannelTx, OpenChannelTx
from l2gpu.core.zk.forced_exit import ForcedExitRequest
from l2gpu.core.zk.pubdata import (
    DEPOSIT_BYTES,
    FORCED_EXIT_BYTES,
    HEADER_BYTES,
    BatchShape,
    DepositSlot,
    sections_of,
)
from l2gpu.core.zk.state import ZkError
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.node.wal import DamagedRecord

TX, SEALED, DROPPED, POSTED = "zk_tx", "zk_sealed", "zk_dropped", "zk_posted"
KINDS = (TX, SEALED, DROPPED, POSTED)
_RESTORE = "restore the zk node's database from a backup, or start a new one"
_TRANSFER, _WITHDRAWAL, _OPEN, _CLOSE = 1, 2, 3, 4
_TRANSFER_BYTES = 1 + 4 + 4 + 16 + 1 + 4 + 64
_WITHDRAWAL_BYTES = 1 + 4 + 16 + 4 + 64
_OPEN_BYTES = 1 + 4 + 4 + 4 + 16 + 4 + 4 + 64
_CLOSE_BYTES = 1 + 4 + 16 + 64 + 64


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A signed operation as users send it: a transfer, a withdrawal or a channel's
    open with its signer's EdDSA-Poseidon ``signature``, or a channel's close, which
    carries its two signatures (the renter's voucher, the provider's close) itself
    and has ``signature`` None."""

    tx: TransferTx | WithdrawalTx | OpenChannelTx | CloseChannelTx
    signature: eddsa.Signature | None = None

    @property
    def sender(self) -> int | None:
        """The index of the account whose nonce it uses (a close uses none: None)."""
        if isinstance(self.tx, OpenChannelTx):
            return self.tx.renter
        if isinstance(self.tx, CloseChannelTx):
            return None
        return self.tx.from_index

    @property
    def owner_signature(self) -> eddsa.Signature:
        """The signature of a transfer, withdrawal or open (never of a close)."""
        if self.signature is None:
            raise ValueError("a close carries its signatures in its transaction")
        return self.signature


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """What a ``zk_sealed`` record holds."""

    number: int
    positions: tuple[int, ...]
    deposit_count: int
    pubdata: bytes
    timestamp: int = 0
    reclaims: tuple[int, ...] = ()
    """The channel indices the batch reclaims, in its order."""
    exit_count: int = 0
    """How many of L1's queued forced exits the batch takes."""


def encode_tx(signed: SignedTx) -> bytes:
    """An accepted transaction's record. Only admitted transactions are logged, so
    every field fits (indices below 2^32, amounts below 2^128, R8 on the curve)."""
    tx = signed.tx
    if isinstance(tx, CloseChannelTx):
        return (bytes((_CLOSE,)) + tx.channel_index.to_bytes(4, "big")
                + tx.amount.to_bytes(16, "big") + eddsa.pack_signature(tx.voucher)
                + eddsa.pack_signature(tx.provider_signature))  # fmt: skip
    sig = eddsa.pack_signature(signed.owner_signature)
    if isinstance(tx, OpenChannelTx):
        return (bytes((_OPEN,)) + tx.channel_index.to_bytes(4, "big")
                + tx.renter.to_bytes(4, "big") + tx.provider.to_bytes(4, "big")
                + tx.deposit.to_bytes(16, "big") + tx.expiry.to_bytes(4, "big")
                + tx.nonce.to_bytes(4, "big") + sig)  # fmt: skip
    if isinstance(tx, TransferTx):
        return (bytes((_TRANSFER,)) + tx.from_index.to_bytes(4, "big")
                + tx.to_index.to_bytes(4, "big") + tx.amount.to_bytes(16, "big")
                + bytes((tx.fee_code,)) + tx.nonce.to_bytes(4, "big") + sig)  # fmt: skip
    return (bytes((_WITHDRAWAL,)) + tx.from_index.to_bytes(4, "big")
            + tx.amount.to_bytes(16, "big") + tx.nonce.to_bytes(4, "big") + sig)  # fmt: skip


def decode_tx(data: bytes) -> SignedTx:
    """Inverse of :func:`encode_tx`."""

    def num(start: int, size: int) -> int:
        return int.from_bytes(data[start : start + size], "big")

    try:
        if data[:1] == bytes((_TRANSFER,)) and len(data) == _TRANSFER_BYTES:
            transfer = TransferTx(num(1, 4), num(5, 4), num(9, 16), data[25], num(26, 4))
            return SignedTx(transfer, eddsa.unpack_signature(data[30:]))
        if data[:1] == bytes((_WITHDRAWAL,)) and len(data) == _WITHDRAWAL_BYTES:
            withdrawal = WithdrawalTx(num(1, 4), num(5, 16), num(21, 4))
            return SignedTx(withdrawal, eddsa.unpack_signature(data[25:]))
        if data[:1] == bytes((_OPEN,)) and len(data) == _OPEN_BYTES:
            opened = OpenChannelTx(num(1, 4), num(5, 4), num(9, 4), num(13, 16), num(29, 4),
                                   num(33, 4))  # fmt: skip
            return SignedTx(opened, eddsa.unpack_signature(data[37:]))
        if data[:1] == bytes((_CLOSE,)) and len(data) == _CLOSE_BYTES:
            closed = CloseChannelTx(num(1, 4), num(5, 16), eddsa.unpack_signature(data[21:85]),
                                    eddsa.unpack_signature(data[85:]))  # fmt: skip
            return SignedTx(closed)
    except L2gpuError as exc:
        raise DamagedRecord(f"a zk transaction record does not decode: {exc}", _RESTORE) from exc
    raise DamagedRecord(f"a zk transaction record of {len(data)} bytes does not decode", _RESTORE)


def encode_sealed(record: SealedRecord) -> bytes:
    """A ``zk_sealed`` record."""
    return _json({"batch": record.number, "positions": list(record.positions),
                  "deposits": record.deposit_count, "timestamp": record.timestamp,
                  "reclaims": list(record.reclaims), "forced_exits": record.exit_count,
                  "pubdata": record.pubdata.hex()})  # fmt: skip


def decode_sealed(data: bytes) -> SealedRecord:
    """Inverse of :func:`encode_sealed`."""
    body = _load(data, SEALED)
    try:
        return SealedRecord(int(body["batch"]), tuple(int(p) for p in body["positions"]),
                            int(body["deposits"]), bytes.fromhex(body["pubdata"]),
                            int(body.get("timestamp", 0)),
                            tuple(int(c) for c in body.get("reclaims", ())),
                            int(body.get("forced_exits", 0)))  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedRecord(f"a zk_sealed record lacks a field: {exc}", _RESTORE) from exc


def encode_dropped(position: int, reason: str) -> bytes:
    """A ``zk_dropped`` record."""
    return _json({"position": position, "reason": reason})


def decode_dropped(data: bytes) -> tuple[int, str]:
    """Inverse of :func:`encode_dropped`."""
    body = _load(data, DROPPED)
    try:
        return int(body["position"]), str(body["reason"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedRecord(f"a zk_dropped record lacks a field: {exc}", _RESTORE) from exc


def encode_posted(number: int, tx_hash: str) -> bytes:
    """A ``zk_posted`` record."""
    return _json({"batch": number, "tx_hash": tx_hash})


def decode_posted(data: bytes) -> int:
    """The batch number of a ``zk_posted`` record."""
    body = _load(data, POSTED)
    try:
        return int(body["batch"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DamagedRecord(f"a zk_posted record lacks a field: {exc}", _RESTORE) from exc


def deposit_slots(pubdata: bytes, count: int) -> list[DepositSlot]:
    """The first ``count`` deposit slots of a batch's public data (how a restart gets
    back the deposits a sealed batch took, without asking L1)."""
    slots = []
    for k in range(count):
        raw = pubdata[HEADER_BYTES + k * DEPOSIT_BYTES : HEADER_BYTES + (k + 1) * DEPOSIT_BYTES]
        if len(raw) != DEPOSIT_BYTES:
            raise DamagedRecord("a zk_sealed record's public data is too short", _RESTORE)
        slots.append(DepositSlot(int.from_bytes(raw[0:3], "big"), int.from_bytes(raw[3:35], "big"),
                                 int.from_bytes(raw[35:67], "big"), raw[67:87],
                                 int.from_bytes(raw[87:103], "big")))  # fmt: skip
    return slots


def forced_exit_requests(shape: BatchShape, pubdata: bytes, count: int) -> list[ForcedExitRequest]:
    """The first ``count`` forced exits of a batch's public data, as L1 queued them (their
    account indices: how a restart gets back the forced exits a sealed batch took,
    without asking L1)."""
    try:
        section = sections_of(shape, pubdata)[6]
    except ZkError as exc:
        raise DamagedRecord(f"a zk_sealed record's public data does not fit: {exc}",
                            _RESTORE) from exc  # fmt: skip
    if not 0 <= count <= shape.forced_exits:
        raise DamagedRecord(f"a zk_sealed record takes {count} forced exits, not 0 to "
                            f"{shape.forced_exits}", _RESTORE)  # fmt: skip
    requests = []
    for k in range(count):
        raw = section[k * FORCED_EXIT_BYTES : (k + 1) * FORCED_EXIT_BYTES]
        requests.append(ForcedExitRequest(int.from_bytes(raw[0:3], "big")))
    return requests


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _load(data: bytes, kind: str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise DamagedRecord(f"a {kind} record is not JSON", _RESTORE) from exc
    if not isinstance(body, dict):
        raise DamagedRecord(f"a {kind} record is not a JSON object", _RESTORE)
    return body
