"""Rebuild the zk ledger's state from batches' public data alone: no signatures, no
node, no trust in whoever served the bytes.

Why it exists: the escape hatch (``ZkRollup.exit_account`` and ``exit_channel``)
needs a Merkle proof against the last proven root, and a user whose operator has
stopped must build it without the operator. For the rollup form every byte needed is
in the calldata of L1's ``submit_batch`` transactions; for a validium the transfer
and channel sections are only on L1 as a digest, and must come from the node's
``/zk/batches/{n}`` (or a copy someone kept), which is the validium's trust cost.

Each batch is checked as it is replayed: its header's old root must be the state's
root, and the state after its slots and fee credit must have its header's new root.
So public data that was tampered with, reordered or is missing a batch is refused,
and a state rebuilt without error is the one L1's proofs attest to (pair it with
L1's ``state_root``, or each batch's ``public_input``, to know the bytes are L1's).

The effects replayed are the spec's (``core/zk``), read from the slots: a deposit as
:func:`~l2gpu.core.zk.deposit.apply_deposit`; a transfer debits amount and fee and
moves the sender's nonce; a withdrawal debits and moves the nonce; an open moves the
deposit into the channel's leaf, named by the renter's nonce before it; a close pays
the provider and refunds the rest; a reclaim refunds the whole deposit; a forced exit
debits what it paid (the nonce stays); the fees go to the fee account last.
Signatures are not checked: the proofs did that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.state import Account, Channel, ZkError, ZkState, require


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A batch's public data read back into its header and its real (non no-op) slots."""

    old_root: int
    new_root: int
    fee_account: int
    timestamp: int
    deposits: tuple[pd.DepositSlot, ...]
    transfers: tuple[pd.TransferSlot, ...]
    withdrawals: tuple[pd.WithdrawalSlot, ...]
    opens: tuple[pd.OpenSlot, ...]
    closes: tuple[pd.CloseSlot, ...]
    reclaims: tuple[pd.ReclaimSlot, ...]
    forced_exits: tuple[pd.ForcedExitSlot, ...] = ()


class _Reader:
    """Big-endian fields off the front of the public data."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def uint(self, size: int) -> int:
        value = int.from_bytes(self.data[self.at : self.at + size], "big")
        self.at += size
        return value

    def raw(self, size: int) -> bytes:
        value = self.data[self.at : self.at + size]
        self.at += size
        return value


def decode_batch(shape: pd.BatchShape, data: bytes) -> DecodedBatch:
    """The header and real slots of ``data``, a batch of ``shape``. Raises
    :class:`ZkError` for data of the wrong length."""
    require(len(data) == shape.size, "zk: public data of the wrong length",
            f"a batch of {shape} has {shape.size} bytes, this one {len(data)}")  # fmt: skip
    r = _Reader(data)
    old_root, new_root = r.uint(pd.ROOT_BYTES), r.uint(pd.ROOT_BYTES)
    fee_account, timestamp = r.uint(pd.INDEX_BYTES), r.uint(pd.TIMESTAMP_BYTES)
    deposits = [
        pd.DepositSlot(r.uint(3), r.uint(32), r.uint(32), r.raw(20), r.uint(16))
        for _ in range(shape.deposits)
    ]
    transfers = [
        pd.TransferSlot(r.uint(3), r.uint(3), pd.decode_float40(r.uint(5)), r.uint(1))
        for _ in range(shape.transfers)
    ]
    withdrawals = [pd.WithdrawalSlot(r.uint(3), r.raw(20), r.uint(16))
                   for _ in range(shape.withdrawals)]  # fmt: skip
    opens = [pd.OpenSlot(r.uint(3), r.uint(3), r.uint(3), r.uint(16), r.uint(4))
             for _ in range(shape.opens)]  # fmt: skip
    closes = [pd.CloseSlot(r.uint(3), r.uint(16)) for _ in range(shape.closes)]
    reclaims = [pd.ReclaimSlot(r.uint(3)) for _ in range(shape.reclaims)]
    exits = [pd.ForcedExitSlot(r.uint(3), r.uint(16)) for _ in range(shape.forced_exits)]
    return DecodedBatch(
        old_root, new_root, fee_account, timestamp,
        tuple(d for d in deposits if d.index), tuple(t for t in transfers if t.from_index),
        tuple(w for w in withdrawals if w.from_index), tuple(o for o in opens if o.channel),
        tuple(c for c in closes if c.channel), tuple(x for x in reclaims if x.channel),
        tuple(f for f in exits if f.index),
    )  # fmt: skip


NOT_PROVEN = "the data is not a proven batch's: fetch it again from L1 or the node"


def _account(state: ZkState, index: int) -> Account:
    account = state.account(index)
    if account is None:
        raise ZkError("zk: the public data names an empty account",
                      f"slot {index} holds no account: {NOT_PROVEN}")  # fmt: skip
    return account


def _channel(state: ZkState, index: int) -> Channel:
    channel = state.channel(index) if state.is_channel_index(index) else None
    if channel is None:
        raise ZkError("zk: the public data names an empty channel",
                      f"slot {index} holds no channel: {NOT_PROVEN}")  # fmt: skip
    return channel


def _add(state: ZkState, index: int, amount: int, *, nonce_step: int = 0) -> ZkState:
    account = _account(state, index)
    balance = account.balance + amount
    require(balance >= 0, "zk: the public data overdraws an account",
            f"account {index} would go below zero: {NOT_PROVEN}")  # fmt: skip
    return state.with_account(index, replace(account, balance=balance,
                                             nonce=account.nonce + nonce_step))  # fmt: skip


def replay_batch(state: ZkState, shape: pd.BatchShape, data: bytes) -> ZkState:
    """``state`` after the batch whose public data is ``data``. Raises :class:`ZkError`
    when the data does not start from ``state``'s root or does not end at its own new
    root (tampered, out of order, or another ledger's)."""
    batch = decode_batch(shape, data)
    require(batch.old_root == state.root(), "zk: the batch does not follow this state",
            "replay every batch from the first, in order")  # fmt: skip
    for deposit in batch.deposits:
        state = apply_deposit(state, deposit).after
    fees = 0
    for t in batch.transfers:
        fee = pd.fee_of(t.fee_code)
        state = _add(state, t.from_index, -(t.amount + fee), nonce_step=1)
        state = _add(state, t.to_index, t.amount)
        fees += fee
    for w in batch.withdrawals:
        state = _add(state, w.from_index, -w.amount, nonce_step=1)
    for o in batch.opens:
        renter = _account(state, o.renter)
        state = _add(state, o.renter, -o.deposit, nonce_step=1)
        opened = Channel(o.renter, renter.nonce, o.provider, o.deposit, o.expiry)
        state = state.with_channel(o.channel, opened)
    for c in batch.closes:
        channel = _channel(state, c.channel)
        state = state.without_leaf(c.channel)
        state = _add(_add(state, channel.provider, c.amount), channel.renter,
                     channel.deposit - c.amount)  # fmt: skip
    for x in batch.reclaims:
        channel = _channel(state, x.channel)
        state = _add(state.without_leaf(x.channel), channel.renter, channel.deposit)
    for f in batch.forced_exits:
        state = _add(state, f.index, -f.paid)
    state = _add(state, batch.fee_account, fees)
    require(state.root() == batch.new_root, "zk: the replayed state is not the batch's",
            "the public data was altered, or a batch is missing before it")  # fmt: skip
    return state


def rebuild_state(depth: int, shape: pd.BatchShape, batches: Iterable[bytes]) -> ZkState:
    """The state after every batch in ``batches`` (each's public data, from the first),
    starting from the empty tree of ``depth``. Raises :class:`ZkError`."""
    state = ZkState.empty(depth)
    for data in batches:
        state = replay_batch(state, shape, data)
    return state
