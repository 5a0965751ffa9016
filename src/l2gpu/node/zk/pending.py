"""The zk node's pending operations, checked on snapshots of the ledger's tree.

The sequencer (``sequencer.py``) admits an operation against the state the sealed
batches and the pending operations before it leave, and simulates a batch before
applying it to the ledger. Both run ``core/zk``'s rules on ``core/zk``'s persistent
:class:`ZkState` (the ledger's tree, a snapshot that costs nothing to keep): the
same rules as ``core/l2``'s under the zk scheme, in the same order (tested against
each other in ``tests/l2/``), without copying the ledger per pending operation. No
I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from l2gpu.core.zk.batch import credit_fees
from l2gpu.core.zk.channel import (
    OpenChannelTx,
    ReclaimTx,
    close_steps,
    open_steps,
    reclaim_steps,
)
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.core.zk.transfer import TransferTx, transfer_steps
from l2gpu.core.zk.withdrawal import WithdrawalTx, apply_withdrawal
from l2gpu.node.zk.records import SignedTx

TRANSFERS, WITHDRAWALS, OPENS, CLOSES = 1, 2, 3, 4
"""The sections of the signed operations, in the batch's order (deposits are 0,
reclaims 5)."""


def section_of(signed: SignedTx) -> int:
    """The batch section ``signed`` goes in."""
    tx = signed.tx
    if isinstance(tx, TransferTx):
        return TRANSFERS
    if isinstance(tx, WithdrawalTx):
        return WITHDRAWALS
    if isinstance(tx, OpenChannelTx):
        return OPENS
    return CLOSES


def apply_signed(state: ZkState, signed: SignedTx, timestamp: int) -> ZkState:
    """The state after one signed operation at the batch time ``timestamp`` (which
    only an open reads); raises :class:`ZkError`."""
    tx = signed.tx
    if isinstance(tx, TransferTx):
        return transfer_steps(state, tx, signed.owner_signature).after
    if isinstance(tx, WithdrawalTx):
        return apply_withdrawal(state, tx, signed.owner_signature).after
    if isinstance(tx, OpenChannelTx):
        return open_steps(state, tx, signed.owner_signature, timestamp).after
    return close_steps(state, tx).after


def leaves_of(state: ZkState, signed: SignedTx) -> frozenset[int]:
    """The leaves ``signed`` reads or writes, read against ``state`` (the one it is
    admitted on: a close's renter and provider are its channel's)."""
    tx = signed.tx
    if isinstance(tx, TransferTx):
        return frozenset((tx.from_index, tx.to_index))
    if isinstance(tx, WithdrawalTx):
        return frozenset((tx.from_index,))
    if isinstance(tx, OpenChannelTx):
        return frozenset((tx.renter, tx.channel_index))
    leaves = {tx.channel_index}
    channel = state.channel(tx.channel_index) if state.in_range(tx.channel_index) else None
    if channel is not None:
        leaves |= {channel.renter, channel.provider}
    return frozenset(leaves)


@dataclass(frozen=True, slots=True)
class Pending:
    """An accepted operation not sealed yet, by its position in the log, with the
    leaves it touches."""

    position: int
    signed: SignedTx
    leaves: frozenset[int] = frozenset()


def batch_order(chosen: Sequence[Pending]) -> list[Pending]:
    """The batch's sections in order, each in arrival order (a stable sort)."""
    return sorted(chosen, key=lambda p: section_of(p.signed))


def first_failure(
    state: ZkState,
    chosen: Sequence[Pending],
    reclaims: Sequence[ReclaimTx],
    timestamp: int,
    fee_account: int,
) -> tuple[int, str] | ReclaimTx | None:
    """The first operation that fails in batch order: a pending one's position and
    reason, or a reclaim. Last comes the batch's fee credit: a fee account that
    cannot hold the fees (2^128 wei) fails the last transfer that pays one."""
    for p in batch_order(chosen):
        try:
            state = apply_signed(state, p.signed, timestamp)
        except ZkError as exc:
            return p.position, exc.reason
    for reclaim in reclaims:
        try:
            state = reclaim_steps(state, reclaim, timestamp).after
        except ZkError:
            return reclaim
    fees = [(p.position, p.signed.tx.fee) for p in batch_order(chosen)
            if isinstance(p.signed.tx, TransferTx) and p.signed.tx.fee]  # fmt: skip
    try:
        credit_fees(state, fee_account, sum(fee for _, fee in fees))
    except ZkError as exc:
        if fees:
            return fees[-1][0], f"{exc.reason} (the fee account cannot hold the fees)"
    return None


def recheck(
    state: ZkState, rest: Sequence[Pending], dropped: list[tuple[int, str]], timestamp: int
) -> tuple[list[Pending], ZkState]:
    """The pending operations that still apply in order over ``state``; the others
    are added to ``dropped``."""
    kept: list[Pending] = []
    for p in rest:
        try:
            after = apply_signed(state, p.signed, timestamp)
        except ZkError as exc:
            dropped.append((p.position, exc.reason))
            continue
        kept.append(replace(p, leaves=leaves_of(state, p.signed)))
        state = after
    return kept, state
