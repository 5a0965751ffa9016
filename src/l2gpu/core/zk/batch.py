"""The zk ledger's batch: deposits, transfers, withdrawals, channel opens, closes and
reclaims, and the fee credit, as one transition that ``circuits/batch.circom`` proves
with one public input.

A batch has the fixed shape its circuit was compiled for (``pubdata.BatchShape``):
its real operations fill the first slots of each section, no-ops (index 0, all-zero
bytes) the rest. :func:`apply_batch` applies, in this order:

1. the **deposits**, in L1's queue order (``core/zk/deposit.py``): each applies or is
   skipped, never refusing the batch, since the operator cannot leave one out;
2. the **transfers** (``core/zk/transfer.py``), then the **withdrawals**
   (``core/zk/withdrawal.py``), then the channels' **opens**, **closes** and
   **reclaims** (``core/zk/channel.py``, read against the batch's ``timestamp``):
   any invalid one refuses the whole batch with its :class:`ZkError` (the operator
   leaves it out and builds the batch again);
3. the **forced exits**, in L1's queue order (``core/zk/forced_exit.py``): each pays
   the account's whole balance; one L1 could not have queued refuses the batch;
4. the **fee credit**: the sum of the transfers' fees to ``fee_account``, in one leaf
   update, which must hold an account (``zk: unknown fee account``) whose balance
   stays below 2^128 (``zk: balance overflow``).

It returns the new state, the public data (``pubdata.encode_batch``, the bytes L1
stores), the one public input (``pubdata.public_input`` of those bytes, or
``pubdata.validium_public_input`` for a validium) and the
circuit's input signals (``core/zk/batch_input.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.zk.batch_input import BatchInput, SlotTrace, batch_signals
from l2gpu.core.zk.channel import (
    CloseChannelTx,
    OpenChannelTx,
    ReclaimTx,
    close_steps,
    open_steps,
    reclaim_steps,
)
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.forced_exit import ForcedExitRequest, apply_forced_exit
from l2gpu.core.zk.pubdata import (
    BatchShape,
    DepositSlot,
    batch_public_input,
    check_sections,
    encode_batch,
)
from l2gpu.core.zk.state import MAX_BALANCE, ZkState, require
from l2gpu.core.zk.transfer import TransferTx, transfer_steps
from l2gpu.core.zk.withdrawal import WithdrawalTx, apply_withdrawal


class BatchResult(NamedTuple):
    """What :func:`apply_batch` makes: a 4-tuple, each part by name too."""

    new_state: ZkState
    pubdata: bytes
    public_input: int
    circuit_input: BatchInput


def apply_batch(
    state: ZkState,
    shape: BatchShape,
    fee_account: int,
    deposits: Sequence[DepositSlot],
    transfers: Sequence[TransferTx],
    withdrawals: Sequence[WithdrawalTx],
    signatures: Sequence[eddsa.Signature],
    *,
    opens: Sequence[tuple[OpenChannelTx, eddsa.Signature]] = (),
    closes: Sequence[CloseChannelTx] = (),
    reclaims: Sequence[ReclaimTx] = (),
    forced_exits: Sequence[ForcedExitRequest] = (),
    timestamp: int = 0,
    validium: bool = False,
) -> BatchResult:
    """Apply a batch to ``state`` (unchanged); ``signatures`` are the transfers' then
    the withdrawals', in order; each open comes with its renter's signature, each
    close carries its two; ``forced_exits`` are L1's queued exits, in order.
    ``validium`` picks the public input of a batch whose channel and transfer sections
    stay off L1 (``pubdata.validium_public_input``).
    Raises :class:`ZkError` for any invalid operation, a batch that does not fit
    ``shape``, or a bad fee account."""
    check_fit(shape, deposits, transfers, withdrawals, signatures, opens, closes, reclaims,
              forced_exits)  # fmt: skip
    require(
        0 < fee_account < state.capacity,
        "zk: unknown fee account",
        f"the fee account must be an account's index in [1, {state.capacity})",
    )
    traces: list[SlotTrace] = []
    current = state
    for slot in deposits:
        step = apply_deposit(current, slot)
        traces.append(SlotTrace(current, step.after, deposit=slot))
        current = step.after
    for tx, signature in zip(transfers, signatures[: len(transfers)], strict=True):
        steps = transfer_steps(current, tx, signature)
        traces.append(SlotTrace(current, steps.after, transfer=(tx, signature, steps.middle)))
        current = steps.after
    withdrawal_slots = []
    for wtx, signature in zip(withdrawals, signatures[len(transfers) :], strict=True):
        wstep = apply_withdrawal(current, wtx, signature)
        traces.append(SlotTrace(current, wstep.after, withdrawal=(wtx, signature, wstep.slot)))
        withdrawal_slots.append(wstep.slot)
        current = wstep.after
    for otx, signature in opens:
        csteps = open_steps(current, otx, signature, timestamp)
        traces.append(SlotTrace(current, csteps.after, open=(otx, signature, csteps)))
        current = csteps.after
    for ctx in closes:
        csteps = close_steps(current, ctx)
        traces.append(SlotTrace(current, csteps.after, close=(ctx, csteps)))
        current = csteps.after
    for rtx in reclaims:
        csteps = reclaim_steps(current, rtx, timestamp)
        traces.append(SlotTrace(current, csteps.after, reclaim=(rtx, csteps)))
        current = csteps.after
    exit_slots = []
    for request in forced_exits:
        fstep = apply_forced_exit(current, request)
        traces.append(SlotTrace(current, fstep.after, forced_exit=fstep.slot))
        exit_slots.append(fstep.slot)
        current = fstep.after
    before_fees = current  # the fee account's path is under this root
    current = credit_fees(current, fee_account, sum(tx.fee for tx in transfers))
    data = encode_batch(
        shape,
        state.root(),
        current.root(),
        fee_account,
        list(deposits),
        [tx.slot for tx in transfers],
        withdrawal_slots,
        [otx.slot for otx, _ in opens],
        [ctx.slot for ctx in closes],
        [rtx.slot for rtx in reclaims],
        timestamp,
        forced_exits=exit_slots,
    )
    digest = batch_public_input(shape, data, validium=validium)
    signals = batch_signals(shape, state, traces, before_fees, fee_account, current.root(), digest,
                            timestamp)  # fmt: skip
    return BatchResult(current, data, digest, signals)


def check_fit(
    shape: BatchShape,
    deposits: Sequence[object],
    transfers: Sequence[object],
    withdrawals: Sequence[object],
    signatures: Sequence[object],
    opens: Sequence[object],
    closes: Sequence[object],
    reclaims: Sequence[object],
    forced_exits: Sequence[object] = (),
) -> None:
    """Raise :class:`ZkError` unless each section fits ``shape`` and every transfer and
    withdrawal has its signature."""
    check_sections(shape, deposits, transfers, withdrawals, opens, closes, reclaims,
                   forced_exits)  # fmt: skip
    require(
        len(signatures) == len(transfers) + len(withdrawals),
        "zk: one signature per transaction",
        f"{len(transfers)} transfers and {len(withdrawals)} withdrawals, "
        f"{len(signatures)} signatures",
    )


def credit_fees(state: ZkState, fee_account: int, fees: int) -> ZkState:
    """``state`` with ``fees`` credited to ``fee_account``. Raises :class:`ZkError`."""
    account = state.account(fee_account)
    require(account is not None, "zk: unknown fee account", f"slot {fee_account} is empty")
    assert account is not None
    require(
        account.balance + fees <= MAX_BALANCE,
        "zk: balance overflow",
        f"the fee account {fee_account} would hold 2^128 wei or more",
    )
    return state.with_account(fee_account, replace(account, balance=account.balance + fees))
