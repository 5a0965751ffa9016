"""The input signals of ``circuits/batch.circom``: every slot's fields and witnesses,
assembled from the states a batch passes through.

:func:`batch_signals` takes the trace :func:`batch.apply_batch` records (one
:class:`SlotTrace` per real slot, in order) and fills the rest of each section with
no-ops. A no-op slot's signals are all zero except its Merkle paths, which open leaf
0 (empty forever) under the root at that point, so the circuit reads and writes 0
there and the root does not move. Pure: integers in, integers out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.zk.channel import ChannelSteps, CloseChannelTx, OpenChannelTx, ReclaimTx
from l2gpu.core.zk.pubdata import (
    BatchShape,
    DepositSlot,
    ForcedExitSlot,
    WithdrawalSlot,
    encode_float40,
)
from l2gpu.core.zk.state import Account, Channel, ZkState
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx

Signals = dict[str, int | list[int]]
"""One slot's signals by short name: field elements, and Merkle paths."""
BatchInput = dict[str, int | list[int] | list[list[int]]]
"""The batch circuit's input signals by name: a section's signals are arrays."""


@dataclass(frozen=True, slots=True)
class SlotTrace:
    """One real slot of a batch: the state before and after it, and what it was (one
    of ``deposit``, ``transfer`` (with the intermediate state), ``withdrawal``, or a
    channel's ``open``, ``close``, ``reclaim`` (with their :class:`ChannelSteps`), or
    a ``forced_exit``)."""

    before: ZkState
    after: ZkState
    deposit: DepositSlot | None = None
    transfer: tuple[TransferTx, eddsa.Signature, ZkState] | None = None
    withdrawal: tuple[WithdrawalTx, eddsa.Signature, WithdrawalSlot] | None = None
    open: tuple[OpenChannelTx, eddsa.Signature, ChannelSteps] | None = None
    close: tuple[CloseChannelTx, ChannelSteps] | None = None
    reclaim: tuple[ReclaimTx, ChannelSteps] | None = None
    forced_exit: ForcedExitSlot | None = None


def deposit_signals(before: ZkState, slot: DepositSlot | None) -> Signals:
    """One deposit slot's signals (None: a no-op) against the state ``before`` it."""
    if slot is None:
        return {
            "index": 0, "ax_hi": 0, "ax_lo": 0, "ay_hi": 0, "ay_lo": 0,
            "eth_address": 0, "amount": 0, "is_empty": 1, **_account("account", None),
            "path": list(before.proof(0).siblings),
        }  # fmt: skip
    account = before.account(slot.index)
    return {
        "index": slot.index,
        "ax_hi": slot.ax >> 128,
        "ax_lo": slot.ax & (2**128 - 1),
        "ay_hi": slot.ay >> 128,
        "ay_lo": slot.ay & (2**128 - 1),
        "eth_address": int.from_bytes(slot.eth_address, "big"),
        "amount": slot.amount,
        "is_empty": 1 if account is None else 0,
        **_account("account", account),
        "path": list(before.proof(slot.index).siblings),
    }


def transfer_signals(
    before: ZkState, transfer: tuple[TransferTx, eddsa.Signature, ZkState] | None
) -> Signals:
    """One transfer slot's signals (None: a no-op): the sender's path under ``before``,
    the receiver's under the intermediate state."""
    if transfer is None:
        path = list(before.proof(0).siblings)
        return {
            "from": 0, "to": 0, "amount_code": 0, "fee_code": 0, "nonce": 0,
            "R8x": 0, "R8y": 0, "S": 0,
            **_account("sender", None), "sender_path": path,
            **_account("receiver", None), "receiver_path": path,
        }  # fmt: skip
    tx, signature, middle = transfer
    return {
        "from": tx.from_index,
        "to": tx.to_index,
        "amount_code": encode_float40(tx.amount),
        "fee_code": tx.fee_code,
        "nonce": tx.nonce,
        **_signature(signature),
        **_account("sender", before.account(tx.from_index)),
        "sender_path": list(before.proof(tx.from_index).siblings),
        **_account("receiver", middle.account(tx.to_index)),
        "receiver_path": list(middle.proof(tx.to_index).siblings),
    }


def withdrawal_signals(
    before: ZkState, withdrawal: tuple[WithdrawalTx, eddsa.Signature, WithdrawalSlot] | None
) -> Signals:
    """One withdrawal slot's signals (None: a no-op) against the state ``before`` it."""
    if withdrawal is None:
        return {
            "from": 0, "eth_address": 0, "amount": 0, "nonce": 0, "R8x": 0, "R8y": 0, "S": 0,
            **_account("account", None, address=False), "path": list(before.proof(0).siblings),
        }  # fmt: skip
    tx, signature, slot = withdrawal
    return {
        "from": tx.from_index,
        "eth_address": int.from_bytes(slot.eth_address, "big"),
        "amount": tx.amount,
        "nonce": tx.nonce,
        **_signature(signature),
        **_account("account", before.account(tx.from_index), address=False),
        "path": list(before.proof(tx.from_index).siblings),
    }


def open_signals(
    before: ZkState, opened: tuple[OpenChannelTx, eddsa.Signature, ChannelSteps] | None
) -> Signals:
    """One open slot's signals (None: a no-op): the renter's path under ``before``, the
    channel slot's under the intermediate state (after the renter's update)."""
    if opened is None:
        path = list(before.proof(0).siblings)
        return {
            "channel": 0, "renter": 0, "provider": 0, "deposit": 0, "expiry": 0, "nonce": 0,
            "R8x": 0, "R8y": 0, "S": 0, **_account("renter", None), "renter_path": path,
            "channel_path": path,
        }  # fmt: skip
    tx, signature, steps = opened
    middle = steps.states[1]
    return {
        "channel": tx.channel_index,
        "renter": tx.renter,
        "provider": tx.provider,
        "deposit": tx.deposit,
        "expiry": tx.expiry,
        "nonce": tx.nonce,
        **_signature(signature),
        **_account("renter", before.account(tx.renter)),
        "renter_path": list(before.proof(tx.renter).siblings),
        "channel_path": list(middle.proof(tx.channel_index).siblings),
    }


def close_signals(before: ZkState, closed: tuple[CloseChannelTx, ChannelSteps] | None) -> Signals:
    """One close slot's signals (None: a no-op): the channel's path under ``before``, the
    provider's under the emptied state, the renter's under the state after the provider's
    credit."""
    if closed is None:
        path = list(before.proof(0).siblings)
        return {
            "channel": 0, "amount": 0, **_channel(None), "channel_path": path,
            **_signature(None, "voucher_"), **_signature(None, "close_"),
            **_account("provider", None), "provider_path": path,
            **_account("renter", None), "renter_path": path,
        }  # fmt: skip
    tx, steps = closed
    _, emptied, paid, _ = steps.states
    channel = steps.channel
    return {
        "channel": tx.channel_index,
        "amount": tx.amount,
        **_channel(channel),
        "channel_path": list(before.proof(tx.channel_index).siblings),
        **_signature(tx.voucher, "voucher_"),
        **_signature(tx.provider_signature, "close_"),
        **_account("provider", emptied.account(channel.provider)),
        "provider_path": list(emptied.proof(channel.provider).siblings),
        **_account("renter", paid.account(channel.renter)),
        "renter_path": list(paid.proof(channel.renter).siblings),
    }


def reclaim_signals(before: ZkState, reclaimed: tuple[ReclaimTx, ChannelSteps] | None) -> Signals:
    """One reclaim slot's signals (None: a no-op): the channel's path under ``before``,
    the renter's under the emptied state."""
    if reclaimed is None:
        path = list(before.proof(0).siblings)
        return {
            "channel": 0, **_channel(None), "channel_path": path,
            **_account("renter", None), "renter_path": path,
        }  # fmt: skip
    tx, steps = reclaimed
    emptied = steps.states[1]
    channel = steps.channel
    return {
        "channel": tx.channel_index,
        **_channel(channel),
        "channel_path": list(before.proof(tx.channel_index).siblings),
        **_account("renter", emptied.account(channel.renter)),
        "renter_path": list(emptied.proof(channel.renter).siblings),
    }


def forced_exit_signals(before: ZkState, slot: ForcedExitSlot | None) -> Signals:
    """One forced exit slot's signals (None: a no-op) against the state ``before`` it.
    The old leaf's balance is ``paid`` (the circuit has no separate balance input)."""
    account = before.account(slot.index) if slot else None
    return {
        "index": slot.index if slot else 0,
        "paid": slot.paid if slot else 0,
        "account_ax": account.ax if account else 0,
        "account_ay": account.ay if account else 0,
        "account_nonce": account.nonce if account else 0,
        "account_address": account.eth_address if account else 0,
        "path": list(before.proof(slot.index if slot else 0).siblings),
    }


def batch_signals(
    shape: BatchShape,
    state: ZkState,
    traces: Sequence[SlotTrace],
    fee_before: ZkState,
    fee_account: int,
    new_root: int,
    input_hash: int,
    timestamp: int = 0,
) -> BatchInput:
    """The circuit's whole input: the header, each section's slots (real ones from
    ``traces``, then no-ops), the fee account under ``fee_before``."""
    signals: BatchInput = {
        "input_hash": input_hash,
        "old_root": state.root(),
        "new_root": new_root,
        "fee_account": fee_account,
        "timestamp": timestamp,
    }
    # Each section in the circuit's order: (prefix, slots, the trace's part, its signals).
    sections: tuple[tuple[str, int, str, Callable[[ZkState, Any], Signals]], ...] = (
        ("deposit_", shape.deposits, "deposit", deposit_signals),
        ("transfer_", shape.transfers, "transfer", transfer_signals),
        ("withdrawal_", shape.withdrawals, "withdrawal", withdrawal_signals),
        ("open_", shape.opens, "open", open_signals),
        ("close_", shape.closes, "close", close_signals),
        ("reclaim_", shape.reclaims, "reclaim", reclaim_signals),
        ("forced_exit_", shape.forced_exits, "forced_exit", forced_exit_signals),
    )
    current = state
    for prefix, slots, part, make in sections:
        real = [t for t in traces if getattr(t, part) is not None]
        rows: list[Signals] = []
        for k in range(slots):
            trace = real[k] if k < len(real) else None
            rows.append(make(current, getattr(trace, part) if trace else None))
            current = trace.after if trace else current
        _stack(signals, prefix, rows)
    fee = fee_before.account(fee_account)
    assert fee is not None  # apply_batch checked it
    signals |= _account("fee", fee)
    signals["fee_path"] = list(fee_before.proof(fee_account).siblings)
    return signals


def _account(prefix: str, account: Account | None, *, address: bool = True) -> Signals:
    """An account's fields as ``<prefix>_ax`` etc.; zeros for no account."""
    fields: Signals = {
        f"{prefix}_ax": account.ax if account else 0,
        f"{prefix}_ay": account.ay if account else 0,
        f"{prefix}_balance": account.balance if account else 0,
        f"{prefix}_nonce": account.nonce if account else 0,
    }
    if address:
        fields[f"{prefix}_address"] = account.eth_address if account else 0
    return fields


def _signature(signature: eddsa.Signature | None, prefix: str = "") -> Signals:
    """A signature as ``<prefix>R8x``, ``<prefix>R8y``, ``<prefix>S``; zeros for none."""
    if signature is None:
        return {f"{prefix}R8x": 0, f"{prefix}R8y": 0, f"{prefix}S": 0}
    return {f"{prefix}R8x": signature.r8.x, f"{prefix}R8y": signature.r8.y,
            f"{prefix}S": signature.s}  # fmt: skip


def _channel(channel: Channel | None) -> Signals:
    """A channel leaf's fields; zeros for none (a no-op's leaf 0)."""
    return {
        "renter": channel.renter if channel else 0,
        "open_nonce": channel.open_nonce if channel else 0,
        "provider": channel.provider if channel else 0,
        "deposit": channel.deposit if channel else 0,
        "expiry": channel.expiry if channel else 0,
    }


def _stack(signals: BatchInput, prefix: str, rows: Sequence[Signals]) -> None:
    """Section rows of scalars and paths as the circuit's arrays ``<prefix><name>``."""
    for name in rows[0]:
        column = [row[name] for row in rows]
        if all(isinstance(value, int) for value in column):
            signals[prefix + name] = [value for value in column if isinstance(value, int)]
        else:
            signals[prefix + name] = [value for value in column if isinstance(value, list)]
