"""The channel watcher's decisions, as a pure state machine.

A watcher holds the best vouchers that providers handed to it and follows the
manager's logs. When a channel is closing with an amount below a voucher it
holds, and the deadline has not passed, it answers with that voucher. It works
for a provider that is offline: the voucher is signed by the renter, so anyone
may submit it, and it can only raise the provider's payout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Hash32, Timestamp, Wei


@dataclass(frozen=True, slots=True)
class Closing:
    """A channel the renter started to close."""

    amount: Wei
    deadline: Timestamp
    answered: Wei = Wei(0)


@dataclass(frozen=True, slots=True)
class WatchState:
    """Vouchers held and channels closing."""

    vouchers: dict[Hash32, Voucher] = field(default_factory=dict)
    closing: dict[Hash32, Closing] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VoucherHeld:
    """A provider handed over (or the store holds) this voucher."""

    voucher: Voucher


@dataclass(frozen=True, slots=True)
class ClosingSeen:
    """The manager logged ChannelClosing."""

    channel_id: Hash32
    amount: Wei
    deadline: Timestamp


@dataclass(frozen=True, slots=True)
class BestRaised:
    """The manager logged VoucherAccepted: the chain's best is now ``amount``."""

    channel_id: Hash32
    amount: Wei


@dataclass(frozen=True, slots=True)
class SettledSeen:
    """The manager logged ChannelSettled: nothing more to watch."""

    channel_id: Hash32


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: decide what to answer."""

    now: Timestamp


@dataclass(frozen=True, slots=True)
class Answer:
    """Submit ``voucher`` to the manager now."""

    voucher: Voucher


WatchInput = VoucherHeld | ClosingSeen | BestRaised | SettledSeen | Tick


def watch_transition(state: WatchState, inp: WatchInput) -> TransitionResult[WatchState, Answer]:
    """Apply one input; a Tick returns the answers to send as the events."""
    if isinstance(inp, VoucherHeld):
        current = state.vouchers.get(inp.voucher.channel_id)
        if current is None or inp.voucher.amount > current.amount:
            vouchers = {**state.vouchers, inp.voucher.channel_id: inp.voucher}
            return TransitionResult(replace(state, vouchers=vouchers), [])
        return TransitionResult(state, [])
    if isinstance(inp, ClosingSeen):
        closing = {**state.closing, inp.channel_id: Closing(inp.amount, inp.deadline)}
        return TransitionResult(replace(state, closing=closing), [])
    if isinstance(inp, BestRaised):
        known = state.closing.get(inp.channel_id)
        if known is None or inp.amount <= known.amount:
            return TransitionResult(state, [])
        closing = {**state.closing, inp.channel_id: replace(known, amount=inp.amount)}
        return TransitionResult(replace(state, closing=closing), [])
    if isinstance(inp, SettledSeen):
        closing = {k: v for k, v in state.closing.items() if k != inp.channel_id}
        return TransitionResult(replace(state, closing=closing), [])
    return _answers(state, inp.now)


def _answers(state: WatchState, now: Timestamp) -> TransitionResult[WatchState, Answer]:
    answers: list[Answer] = []
    closing = dict(state.closing)
    for cid, info in state.closing.items():
        voucher = state.vouchers.get(cid)
        if voucher is None or now >= info.deadline:
            continue
        if voucher.amount > info.amount and voucher.amount > info.answered:
            answers.append(Answer(voucher))
            closing[cid] = replace(info, answered=voucher.amount)
    return TransitionResult(replace(state, closing=closing), answers)
