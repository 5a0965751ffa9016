"""The zk rollup's public data: the bytes a batch puts on L1, and the one public input
that binds them to the batch's proof.

A batch is proven by one circuit of fixed shape (``Batch(deposits, transfers,
withdrawals, opens, closes, reclaims, forced_exits, depth)``): a section of slots per kind of
operation, each slot a real operation or a no-op of all zero bytes. L1 never
parses the transfers: it hashes the whole public data with SHA-256 (a precompile on
L1, about 29k constraints per 64-byte block in the circuit) and gives the proof the
digest reduced into the scalar field as its single public input, as Hermez does. So
the data on L1 is exactly the data the proof is about; change one byte and the proof
no longer verifies.

Layout (all integers big-endian)::

    header       old_root (32) | new_root (32) | fee_account (3) | timestamp (4)
    deposits     D x [ index (3) | ax (32) | ay (32) | eth_address (20) | amount (16) ]
    transfers    T x [ from (3) | to (3) | amount (5, float40) | fee_code (1) ]
    withdrawals  W x [ from (3) | eth_address (20) | amount (16) ]
    opens        O x [ channel (3) | renter (3) | provider (3) | deposit (16) | expiry (4) ]
    closes       C x [ channel (3) | amount (16) ]
    reclaims     R x [ channel (3) ]
    forced exits F x [ index (3) | paid (16) ]

- Index 0 is never an account: a slot whose index (``from`` for transfers and
  withdrawals, ``index`` for deposits) is 0 is a no-op, and must be all zeros.
- Deposits are written by L1, not by the operator: the contract keeps the queue of
  deposits (each with the leaf index L1 assigned to its key and address) and builds
  this section itself from storage, so the operator cannot invent or skip one.
- A transfer is 12 bytes (the issue's bound): 3-byte indices (a depth-24 tree),
  the amount as a decimal float (35-bit mantissa, 5-bit exponent: ``m * 10**e``; an
  amount with no such form is refused) and a one-byte fee code, the fee being
  ``fee_code * FEE_UNIT_WEI``.
- A withdrawal names the L1 address from the sender's leaf and the exact amount in
  wei, which L1 credits to that address once the batch's proof is verified.
- A forced exit is a full exit (zkSync's), its index written by L1 too, from its
  queue of exits that accounts asked for on L1 without the operator
  (``ZkRollup.force_exit``); ``paid`` is the operator's, and the circuit proves it
  is the account's whole balance (``core/zk/forced_exit.py``). L1 pays it to the
  owner it stored with the request, so the address need not be in the slot: 19
  bytes, where an address and a requested amount would make 55 and cost the tests'
  circuit a SHA-256 block and a doubled proving domain (docs/zk.md).
- The timestamp (unix seconds) is the batch's time, the clock channel expiries are
  read against (``core/zk/channel.py``); L1 accepts a batch only if its timestamp
  is not before the previous batch's nor after the L1 block's.
- A lease's channel costs an open (29 bytes) and a close (19) or a reclaim (3):
  amounts are exact (16 bytes) because a lease's price times its seconds rarely has
  a float40 form; who is paid is in the channel's leaf, known from its open.
  Channel slots are no-ops when their channel index is 0 (never a channel: the
  channels' half of the tree starts at ``2^(depth-1)``).

Validium (data off L1). A validium batch is proven by the same circuit built with
``validium = 1``, whose public input hashes in two levels (:func:`validium_public_input`):
``sha256(header | deposits | withdrawals | forced exits | sha256(transfers | opens |
closes | reclaims))``. L1 needs the deposits and forced exits (it checks them against
its queues) and the withdrawals and forced exits (it pays them), so those stay on L1;
the sections only the L2 reads become one 32-byte digest, and the node serves their
bytes. The cost, which the rollup form does not
have: whoever lacks those bytes cannot rebuild the state, so an operator that
withholds them can freeze every account (it still cannot take a wei: every batch is
proven).

Hand-written: this is the ledger's own wire format, shared by the spec, the circuit's
inputs and the contract's tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from l2gpu.core.crypto.poseidon import FIELD_MODULUS
from l2gpu.core.zk.state import ZkError

INDEX_BYTES = 3
ROOT_BYTES = 32
ADDRESS_BYTES = 20
AMOUNT_BYTES = 16
FLOAT40_BYTES = 5
MANTISSA_BITS = 35
EXPONENT_BITS = 5
MAX_MANTISSA: int = 2**MANTISSA_BITS - 1
MAX_EXPONENT: int = 2**EXPONENT_BITS - 1
FEE_UNIT_WEI = 10**12
"""One fee code step: 10^12 wei (a millionth of an ether); codes 0 to 255."""

TIMESTAMP_BYTES = 4
HEADER_BYTES = 2 * ROOT_BYTES + INDEX_BYTES + TIMESTAMP_BYTES
DEPOSIT_BYTES = INDEX_BYTES + 2 * 32 + ADDRESS_BYTES + AMOUNT_BYTES
TRANSFER_BYTES = 2 * INDEX_BYTES + FLOAT40_BYTES + 1
WITHDRAWAL_BYTES = INDEX_BYTES + ADDRESS_BYTES + AMOUNT_BYTES
OPEN_BYTES = 3 * INDEX_BYTES + AMOUNT_BYTES + TIMESTAMP_BYTES
CLOSE_BYTES = INDEX_BYTES + AMOUNT_BYTES
RECLAIM_BYTES = INDEX_BYTES
FORCED_EXIT_BYTES = INDEX_BYTES + AMOUNT_BYTES


@dataclass(frozen=True, slots=True)
class DepositSlot:
    """A deposit as L1 queued it: credit ``amount`` to leaf ``index``, which holds (or
    is created for) the key ``(ax, ay)`` and the L1 address ``eth_address``."""

    index: int
    ax: int
    ay: int
    eth_address: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class TransferSlot:
    """A transfer as published: ``amount`` must have a float40 form."""

    from_index: int
    to_index: int
    amount: int
    fee_code: int


@dataclass(frozen=True, slots=True)
class WithdrawalSlot:
    """A withdrawal as published: ``amount`` wei to ``eth_address`` on L1."""

    from_index: int
    eth_address: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class OpenSlot:
    """A channel's open as published: ``renter`` locks ``deposit`` for ``provider``
    in the leaf ``channel`` until ``expiry``."""

    channel: int
    renter: int
    provider: int
    deposit: int
    expiry: int


@dataclass(frozen=True, slots=True)
class CloseSlot:
    """A channel's close as published: ``amount`` to its provider, the rest back."""

    channel: int
    amount: int


@dataclass(frozen=True, slots=True)
class ReclaimSlot:
    """An expired channel's whole deposit back to its renter."""

    channel: int


@dataclass(frozen=True, slots=True)
class ForcedExitSlot:
    """A forced exit as published: L1 queued a full exit of account ``index``; the
    batch paid its whole balance, ``paid``, to the owner L1 stored with the request."""

    index: int
    paid: int


def encode_float40(amount: int) -> int:
    """The 40-bit code ``exponent << 35 | mantissa`` of ``amount = mantissa * 10**exponent``,
    with the smallest exponent that fits; :class:`ZkError` if there is none."""
    if amount < 0:
        raise ZkError("zk: amount out of range")
    mantissa, exponent = amount, 0
    while mantissa > MAX_MANTISSA:
        mantissa, rest = divmod(mantissa, 10)
        exponent += 1
        if rest or exponent > MAX_EXPONENT:
            raise ZkError("zk: amount not representable")
    return exponent << MANTISSA_BITS | mantissa


def decode_float40(code: int) -> int:
    """The amount a 40-bit float code stands for (every code is valid)."""
    if not 0 <= code < 2 ** (MANTISSA_BITS + EXPONENT_BITS):
        raise ZkError("zk: amount out of range")
    return int((code & MAX_MANTISSA) * 10 ** (code >> MANTISSA_BITS))


def representable(amount: int) -> bool:
    """True if ``amount`` has a float40 form (a transfer may carry it)."""
    try:
        encode_float40(amount)
    except ZkError:
        return False
    return True


def fee_of(fee_code: int) -> int:
    """The fee in wei that a transfer's one-byte fee code stands for."""
    if not 0 <= fee_code <= 255:
        raise ZkError("zk: fee code out of range")
    return fee_code * FEE_UNIT_WEI


def _uint(value: int, size: int, what: str) -> bytes:
    if not 0 <= value < 2 ** (8 * size):
        raise ZkError(f"zk: {what} out of range")
    return value.to_bytes(size, "big")


def _address(value: bytes) -> bytes:
    if len(value) != ADDRESS_BYTES:
        raise ZkError("zk: an L1 address is 20 bytes")
    return bytes(value)


def encode_deposit(slot: DepositSlot | None) -> bytes:
    """A deposit slot's bytes (None: a no-op, all zeros)."""
    if slot is None:
        return bytes(DEPOSIT_BYTES)
    if slot.index == 0:
        raise ZkError("zk: index 0 is not an account")
    return (
        _uint(slot.index, INDEX_BYTES, "index")
        + _uint(slot.ax, 32, "key")
        + _uint(slot.ay, 32, "key")
        + _address(slot.eth_address)
        + _uint(slot.amount, AMOUNT_BYTES, "amount")
    )


def encode_transfer(slot: TransferSlot | None) -> bytes:
    """A transfer slot's 12 bytes (None: a no-op, all zeros)."""
    if slot is None:
        return bytes(TRANSFER_BYTES)
    if slot.from_index == 0 or slot.to_index == 0:
        raise ZkError("zk: index 0 is not an account")
    return (
        _uint(slot.from_index, INDEX_BYTES, "index")
        + _uint(slot.to_index, INDEX_BYTES, "index")
        + encode_float40(slot.amount).to_bytes(FLOAT40_BYTES, "big")
        + _uint(slot.fee_code, 1, "fee code")
    )


def encode_withdrawal(slot: WithdrawalSlot | None) -> bytes:
    """A withdrawal slot's bytes (None: a no-op, all zeros)."""
    if slot is None:
        return bytes(WITHDRAWAL_BYTES)
    if slot.from_index == 0:
        raise ZkError("zk: index 0 is not an account")
    return (
        _uint(slot.from_index, INDEX_BYTES, "index")
        + _address(slot.eth_address)
        + _uint(slot.amount, AMOUNT_BYTES, "amount")
    )


def decode_withdrawals(shape: BatchShape, data: bytes) -> list[WithdrawalSlot | None]:
    """The withdrawal slots of ``data`` (a batch of ``shape``), None for a no-op: what L1
    credits when the batch is accepted, slot ``i`` being the bridge's exit
    ``batch * shape.withdrawals + i`` (``core/shards/zk_exits.py``)."""
    section, slots = sections_of(shape, data)[2], list[WithdrawalSlot | None]()
    for at in range(0, len(section), WITHDRAWAL_BYTES):
        raw = section[at : at + WITHDRAWAL_BYTES]
        index = int.from_bytes(raw[:INDEX_BYTES], "big")
        owner = raw[INDEX_BYTES : INDEX_BYTES + ADDRESS_BYTES]
        amount = int.from_bytes(raw[INDEX_BYTES + ADDRESS_BYTES :], "big")
        slots.append(None if index == 0 else WithdrawalSlot(index, owner, amount))
    return slots


def encode_open(slot: OpenSlot | None) -> bytes:
    """An open slot's 29 bytes (None: a no-op, all zeros)."""
    if slot is None:
        return bytes(OPEN_BYTES)
    if slot.channel == 0:
        raise ZkError("zk: index 0 is not a channel")
    return (
        _uint(slot.channel, INDEX_BYTES, "index")
        + _uint(slot.renter, INDEX_BYTES, "index")
        + _uint(slot.provider, INDEX_BYTES, "index")
        + _uint(slot.deposit, AMOUNT_BYTES, "amount")
        + _uint(slot.expiry, TIMESTAMP_BYTES, "expiry")
    )


def encode_close(slot: CloseSlot | None) -> bytes:
    """A close slot's 19 bytes (None: a no-op, all zeros)."""
    if slot is None:
        return bytes(CLOSE_BYTES)
    if slot.channel == 0:
        raise ZkError("zk: index 0 is not a channel")
    return _uint(slot.channel, INDEX_BYTES, "index") + _uint(slot.amount, AMOUNT_BYTES, "amount")


def encode_reclaim(slot: ReclaimSlot | None) -> bytes:
    """A reclaim slot's 3 bytes (None: a no-op, all zeros)."""
    if slot is None:
        return bytes(RECLAIM_BYTES)
    if slot.channel == 0:
        raise ZkError("zk: index 0 is not a channel")
    return _uint(slot.channel, INDEX_BYTES, "index")


def encode_forced_exit(slot: ForcedExitSlot | None) -> bytes:
    """A forced exit slot's 19 bytes (None: a no-op, all zeros)."""
    if slot is None:
        return bytes(FORCED_EXIT_BYTES)
    if slot.index == 0:
        raise ZkError("zk: index 0 is not an account")
    return _uint(slot.index, INDEX_BYTES, "index") + _uint(slot.paid, AMOUNT_BYTES, "amount")


@dataclass(frozen=True, slots=True)
class BatchShape:
    """How many slots of each kind a batch circuit has (fixed when it is compiled).
    Every section has at least one slot (a circuit's array cannot be empty)."""

    deposits: int
    transfers: int
    withdrawals: int
    opens: int = 1
    closes: int = 1
    reclaims: int = 1
    forced_exits: int = 1

    def __post_init__(self) -> None:
        """Refuse a section without a slot."""
        if min(self.sections) < 1:
            raise ZkError("zk: every section of a batch needs at least one slot")

    @property
    def sections(self) -> tuple[int, int, int, int, int, int, int]:
        """The slot counts in the public data's order."""
        return (self.deposits, self.transfers, self.withdrawals, self.opens, self.closes,
                self.reclaims, self.forced_exits)  # fmt: skip

    @property
    def size(self) -> int:
        """The public data's length in bytes."""
        return (
            HEADER_BYTES
            + self.deposits * DEPOSIT_BYTES
            + self.transfers * TRANSFER_BYTES
            + self.withdrawals * WITHDRAWAL_BYTES
            + self.opens * OPEN_BYTES
            + self.closes * CLOSE_BYTES
            + self.reclaims * RECLAIM_BYTES
            + self.forced_exits * FORCED_EXIT_BYTES
        )


SECTION_NAMES = ("deposits", "transfers", "withdrawals", "opens", "closes", "reclaims",
                 "forced exits")  # fmt: skip


def check_sections(shape: BatchShape, *sections: Sequence[object]) -> None:
    """Raise :class:`ZkError` unless each section given (deposits, transfers,
    withdrawals, opens, closes, reclaims, forced exits, in that order; the last may
    be left out) fits ``shape``."""
    for section, room, what in zip(sections, shape.sections, SECTION_NAMES, strict=False):
        if len(section) > room:
            raise ZkError(f"zk: too many {what}",
                          f"{len(section)} {what} do not fit a batch of {room}")  # fmt: skip


def encode_batch(
    shape: BatchShape,
    old_root: int,
    new_root: int,
    fee_account: int,
    deposits: list[DepositSlot],
    transfers: list[TransferSlot],
    withdrawals: list[WithdrawalSlot],
    opens: list[OpenSlot] | None = None,
    closes: list[CloseSlot] | None = None,
    reclaims: list[ReclaimSlot] | None = None,
    timestamp: int = 0,
    *,
    forced_exits: list[ForcedExitSlot] | None = None,
) -> bytes:
    """The batch's public data: the real slots first in each section, then no-ops."""
    opens, closes, reclaims = opens or [], closes or [], reclaims or []
    forced_exits = forced_exits or []
    check_sections(shape, deposits, transfers, withdrawals, opens, closes, reclaims,
                   forced_exits)  # fmt: skip
    data = bytearray()
    data += _uint(old_root, ROOT_BYTES, "root") + _uint(new_root, ROOT_BYTES, "root")
    data += _uint(fee_account, INDEX_BYTES, "index")
    data += _uint(timestamp, TIMESTAMP_BYTES, "timestamp")
    for i in range(shape.deposits):
        data += encode_deposit(deposits[i] if i < len(deposits) else None)
    for i in range(shape.transfers):
        data += encode_transfer(transfers[i] if i < len(transfers) else None)
    for i in range(shape.withdrawals):
        data += encode_withdrawal(withdrawals[i] if i < len(withdrawals) else None)
    for i in range(shape.opens):
        data += encode_open(opens[i] if i < len(opens) else None)
    for i in range(shape.closes):
        data += encode_close(closes[i] if i < len(closes) else None)
    for i in range(shape.reclaims):
        data += encode_reclaim(reclaims[i] if i < len(reclaims) else None)
    for i in range(shape.forced_exits):
        data += encode_forced_exit(forced_exits[i] if i < len(forced_exits) else None)
    return bytes(data)


def public_input(data: bytes) -> int:
    """The proof's one public input: SHA-256 of the public data, as an integer, reduced
    modulo the scalar field (what ``Bits2Num(256)`` of the digest's bits computes in
    the circuit, and ``uint256(sha256(data)) % FIELD`` on L1)."""
    return int.from_bytes(hashlib.sha256(data).digest(), "big") % FIELD_MODULUS


def section_sizes(shape: BatchShape) -> tuple[int, int, int, int, int, int, int]:
    """The byte length of each section of a batch of ``shape``, in order."""
    return (
        shape.deposits * DEPOSIT_BYTES,
        shape.transfers * TRANSFER_BYTES,
        shape.withdrawals * WITHDRAWAL_BYTES,
        shape.opens * OPEN_BYTES,
        shape.closes * CLOSE_BYTES,
        shape.reclaims * RECLAIM_BYTES,
        shape.forced_exits * FORCED_EXIT_BYTES,
    )


def sections_of(shape: BatchShape, data: bytes) -> list[bytes]:
    """The seven sections of ``data`` (a batch of ``shape``) after its header, in order;
    :class:`ZkError` for data of another length."""
    if len(data) != shape.size:
        raise ZkError(f"zk: public data of {len(data)} bytes, not {shape.size} for {shape}")
    parts, at = [], HEADER_BYTES
    for size in section_sizes(shape):
        parts.append(data[at : at + size])
        at += size
    return parts


def split_sections(shape: BatchShape, data: bytes) -> tuple[bytes, bytes]:
    """A batch's public data as a validium puts it: the part L1 holds (header,
    deposits, withdrawals, forced exits) and the part only the node serves (transfers,
    opens, closes, reclaims), each in the public data's order."""
    deposits, transfers, withdrawals, opens, closes, reclaims, exits = sections_of(shape, data)
    return (
        data[:HEADER_BYTES] + deposits + withdrawals + exits,
        transfers + opens + closes + reclaims,
    )


def offchain_digest(shape: BatchShape, data: bytes) -> bytes:
    """SHA-256 of the sections a validium keeps off L1 (the 32 bytes L1 gets instead)."""
    return hashlib.sha256(split_sections(shape, data)[1]).digest()


def validium_public_input(shape: BatchShape, data: bytes) -> int:
    """The one public input of a validium batch: SHA-256 of the on-L1 part and the
    off-L1 part's digest, reduced modulo the scalar field."""
    onchain, offchain = split_sections(shape, data)
    digest = hashlib.sha256(onchain + hashlib.sha256(offchain).digest()).digest()
    return int.from_bytes(digest, "big") % FIELD_MODULUS


def batch_public_input(shape: BatchShape, data: bytes, *, validium: bool = False) -> int:
    """The public input of a batch of ``shape`` in either data mode."""
    return validium_public_input(shape, data) if validium else public_input(data)
