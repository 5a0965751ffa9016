"""The Plasma operator's write-ahead log records: each input of the child chain as
bytes, and back. Fixed-width fields, big-endian: a record is read with the same
widths it was written with, and any other length is a damaged record."""

from __future__ import annotations

from l2gpu.core.plasma.chain import (
    Input,
    LockCoins,
    RecordDeposit,
    RecordExit,
    SealBlock,
    SubmitTransfer,
)
from l2gpu.core.plasma.transactions import ENCODED_SIZE, Lock, SignedLock, SignedTransfer
from l2gpu.core.types import Address
from l2gpu.node.wal import _RESTORE, DamagedRecord  # one remedy for every damaged log

DEPOSIT, TRANSFER, LOCK, SEAL, EXIT = (
    "plasma-deposit",
    "plasma-transfer",
    "plasma-lock",
    "plasma-seal",
    "plasma-exit",
)
EXIT_SEEN = "plasma-exit-seen"  # an L1 exit id the operator has recorded (not an input)


def _u(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


def encode(input_: Input) -> tuple[str, bytes]:
    """``input_`` as a log record: its kind and payload."""
    match input_:
        case RecordDeposit():
            block = 2**64 - 1 if input_.block is None else input_.block  # none: the height then
            return DEPOSIT, bytes(input_.owner) + _u(input_.amount, 32) + _u(block, 8)
        case SubmitTransfer():
            return TRANSFER, _u(input_.now, 8) + input_.signed.encode() + input_.claim
        case LockCoins():
            lock = input_.signed.lock
            return LOCK, (
                _u(input_.now, 8)
                + _u(lock.start, 32)
                + _u(lock.end, 32)
                + bytes(lock.provider)
                + _u(lock.until, 8)
                + input_.signed.signature
            )
        case SealBlock():
            return SEAL, b""
        case RecordExit():
            return EXIT, _u(input_.start, 32) + _u(input_.end, 32)
    raise TypeError(f"no record for {type(input_).__name__}")


def decode(kind: str, payload: bytes) -> Input:
    """The input a record holds; :class:`DamagedRecord` if it does not parse."""
    sizes = {DEPOSIT: 60, LOCK: 8 + 32 + 32 + 20 + 8 + 65, SEAL: 0, EXIT: 64}
    if kind in sizes and len(payload) != sizes[kind]:
        raise DamagedRecord(f"a {kind} record of {len(payload)} bytes, not {sizes[kind]}", _RESTORE)
    if kind == DEPOSIT:
        block = _int(payload[52:])
        return RecordDeposit(
            Address(payload[:20]), _int(payload[20:52]), None if block == 2**64 - 1 else block
        )
    if kind == TRANSFER:
        size = 8 + ENCODED_SIZE + 65
        if len(payload) not in (size, size + 65):
            raise DamagedRecord(f"a {kind} record of {len(payload)} bytes", _RESTORE)
        signed = SignedTransfer.decode(payload[8:size])
        return SubmitTransfer(signed, _int(payload[:8]), payload[size:])
    if kind == LOCK:
        lock = Lock(
            _int(payload[8:40]),
            _int(payload[40:72]),
            Address(payload[72:92]),
            _int(payload[92:100]),
        )
        return LockCoins(SignedLock(lock, payload[100:]), _int(payload[:8]))
    if kind == SEAL:
        return SealBlock()
    if kind == EXIT:
        return RecordExit(_int(payload[:32]), _int(payload[32:]))
    raise DamagedRecord(f"an unknown record kind {kind!r}", _RESTORE)


def encode_exit_seen(exit_id: int) -> bytes:
    """An L1 exit id, 8 bytes."""
    return _u(exit_id, 8)


def decode_exit_seen(payload: bytes) -> int:
    """Inverse of :func:`encode_exit_seen`."""
    if len(payload) != 8:
        raise DamagedRecord(f"an exit-seen record of {len(payload)} bytes, not 8", _RESTORE)
    return _int(payload)
