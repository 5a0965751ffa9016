"""Advances on a provider's receivables: the specification of ``Advances.vy``.

A provider whose lease is running holds the renter's vouchers: money the channel
will pay it at settlement. A lender's *desk* buys that payout now. The provider
assigns the channel's payout to the desk (``ChannelManager.assign_payout``) and
asks for an advance with its best voucher; the desk proves the voucher on chain,
so the channel owes at least that much whatever happens next, and pays

    owed     = vouched + (deposit - vouched) * share(renter)     (rounded down)
    advanced = owed - ceil(owed * fee)

``share`` is the part of the lease's *remaining* value (the deposit not yet
vouched) that the lender advances against the renter's reputation; the lender
sets it per renter, below a cap fixed at deployment, and it applies only to a
channel the renter funded itself (whose refund it holds): on a deposit someone
else put up, the renter's name would be spent without its word. At settlement the
desk collects the payout: ``owed`` goes to the lender first, anything above it to
the provider. What falls short is at most ``owed - vouched``, the share of the
remaining value advanced: a channel closed early, or a lease that stops, costs no
more (a cooperative close below the proven voucher is refused, and the expiry is
fixed, once the payout is assigned). The shortfall is the provider's debt
(recourse: the provider answers for the lease it sold), kept back from its next
advances or repaid; the desk's ``losses`` are the shortfalls not yet recovered.
The renter's vouchers, refund and risk do not change.

The machine does not own the channel: each input carries what the ChannelManager
says of it (:class:`ChannelFacts`), read by the contract in the same call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from l2gpu.core.channel.state import ChannelParams, ChannelStatus
from l2gpu.core.credit.pool import Paid, Rejected
from l2gpu.core.credit.rates import BPS, MAX_AMOUNT
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import ZERO_ADDRESS, Address, Hash32


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """The ChannelManager's view of a channel when the desk acts on it (for an
    advance: after the desk proved the provider's voucher)."""

    deposit: int
    best: int
    expires_at: int
    status: ChannelStatus
    payout_to: Address
    payout_owed: int = 0
    refund_to: Address = ZERO_ADDRESS
    refund_owed: int = 0

    def owed_to(self, desk: Address) -> int:
        """What the settled channel owes ``desk``: its payout, and a refund assigned to it."""
        refund = self.refund_owed if self.refund_to == desk else 0
        return refund + (self.payout_owed if self.payout_to == desk else 0)


@dataclass(frozen=True, slots=True)
class Advance:
    """One advance: paid to ``provider``; ``owed`` is the most the lender takes back."""

    provider: Address
    advanced: int
    owed: int


@dataclass(frozen=True, slots=True)
class DeskState:
    """A desk's storage."""

    desk: Address
    """The desk's own address: a channel's payout must be assigned to it."""
    lender: Address
    fee_bps: int
    max_share_bps: int
    cash: int = 0
    outstanding: int = 0
    """What open advances owe the lender together."""
    losses: int = 0
    """Shortfalls of settled advances not yet recovered from their providers."""
    shares: Mapping[Address, int] = field(default_factory=dict)
    advances: Mapping[Hash32, Advance] = field(default_factory=dict)
    provider_debt: Mapping[Address, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fund:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class SetShare:
    """The lender advances ``bps`` of a lease's remaining value on ``renter``'s leases."""

    sender: Address
    renter: Address
    bps: int


@dataclass(frozen=True, slots=True)
class TakeAdvance:
    sender: Address
    params: ChannelParams
    facts: ChannelFacts


@dataclass(frozen=True, slots=True)
class SettleAdvance:
    sender: Address
    params: ChannelParams
    facts: ChannelFacts


@dataclass(frozen=True, slots=True)
class Release:
    """The provider takes back a payout it assigned to the desk without an advance."""

    sender: Address
    params: ChannelParams
    facts: ChannelFacts


@dataclass(frozen=True, slots=True)
class RepayDebt:
    """``sender`` pays ``amount`` towards ``provider``'s debt; the excess returns."""

    sender: Address
    provider: Address
    amount: int


Input = Fund | Withdraw | SetShare | TakeAdvance | SettleAdvance | Release | RepayDebt


@dataclass(frozen=True, slots=True)
class Advanced:
    channel_id: Hash32
    provider: Address
    vouched: int
    advanced: int
    owed: int
    recovered: int
    """Of the provider's debt, kept back from the advance."""


@dataclass(frozen=True, slots=True)
class AdvanceSettled:
    """``received`` came from the channel: ``to_lender`` of it to the desk's cash, the
    rest to the provider; ``shortfall`` is what the advance returned short."""

    channel_id: Hash32
    provider: Address
    received: int
    to_lender: int
    shortfall: int


Event = Rejected | Paid | Advanced | AdvanceSettled
Result = TransitionResult[DeskState, Event]


def advance_terms(deposit: int, vouched: int, share_bps: int, fee_bps: int) -> tuple[int, int]:
    """``(advanced, owed)`` for a channel of ``deposit`` with ``vouched`` proven: both
    roundings favour the lender."""
    owed = vouched + (deposit - vouched) * share_bps // BPS
    fee = (owed * fee_bps + BPS - 1) // BPS
    return owed - fee, owed


def state_transition(state: DeskState, inp: Input, *, now: int) -> Result:
    """Apply one call at L1 time ``now``."""
    match inp:
        case Fund():
            return _fund(state, inp)
        case Withdraw():
            return _withdraw(state, inp)
        case SetShare():
            return _set_share(state, inp)
        case TakeAdvance():
            return _take_advance(state, inp, now)
        case SettleAdvance():
            return _settle(state, inp)
        case Release():
            return _release(state, inp)
        case RepayDebt():
            return _repay(state, inp)
    raise AssertionError(f"unknown input {inp!r}")


def _reject(state: DeskState, reason: str) -> Result:
    return TransitionResult(state, [Rejected(reason)])


def _fund(state: DeskState, inp: Fund) -> Result:
    if inp.sender != state.lender:
        return _reject(state, "only the lender funds the desk")
    if not 0 < inp.amount <= MAX_AMOUNT or state.cash + inp.amount > MAX_AMOUNT:
        return _reject(state, "the amount must be above 0 and below 2**128")
    return TransitionResult(replace(state, cash=state.cash + inp.amount), [])


def _withdraw(state: DeskState, inp: Withdraw) -> Result:
    if inp.sender != state.lender:
        return _reject(state, "only the lender withdraws")
    if inp.amount > state.cash:
        return _reject(state, "more than the desk's cash")
    return TransitionResult(
        replace(state, cash=state.cash - inp.amount), [Paid(inp.sender, inp.amount)]
    )


def _set_share(state: DeskState, inp: SetShare) -> Result:
    if inp.sender != state.lender:
        return _reject(state, "only the lender sets shares")
    if inp.bps > state.max_share_bps:
        return _reject(state, "above the desk's cap on the share of remaining value")
    shares = {who: bps for who, bps in state.shares.items() if who != inp.renter}
    if inp.bps:  # a share of 0 is no share: storage cannot tell them apart
        shares[inp.renter] = inp.bps
    return TransitionResult(replace(state, shares=shares), [])


def _take_advance(state: DeskState, inp: TakeAdvance, now: int) -> Result:
    params, facts = inp.params, inp.facts
    if inp.sender != params.provider:
        return _reject(state, "only the channel's provider takes an advance")
    if params.token != ZERO_ADDRESS:
        return _reject(state, "the desk advances on ether channels only")
    if params.id in state.advances:
        return _reject(state, "this channel's payout was advanced already")
    if facts.status != ChannelStatus.OPEN:
        return _reject(state, "the channel is not open")
    if now >= facts.expires_at:
        return _reject(state, "the channel has expired")
    if facts.payout_to != state.desk:
        return _reject(state, "assign the channel's payout to the desk first")
    vouched = min(facts.best, facts.deposit)
    share = state.shares.get(params.renter, 0) if facts.refund_to == ZERO_ADDRESS else 0
    advanced, owed = advance_terms(facts.deposit, vouched, share, state.fee_bps)
    if advanced == 0:
        return _reject(state, "nothing to advance: no voucher and no share")
    debt = state.provider_debt.get(inp.sender, 0)
    recovered = min(debt, advanced)
    if advanced - recovered > state.cash:
        return _reject(state, "the desk has not that much cash")
    after = replace(
        state,
        cash=state.cash - (advanced - recovered),
        outstanding=state.outstanding + owed,
        losses=state.losses - recovered,
        advances={**state.advances, params.id: Advance(inp.sender, advanced, owed)},
        provider_debt=_debt(state.provider_debt, inp.sender, debt - recovered),
    )
    events: list[Event] = [Advanced(params.id, inp.sender, vouched, advanced, owed, recovered)]
    if advanced > recovered:
        events.append(Paid(inp.sender, advanced - recovered))
    return TransitionResult(after, events)


def _debt(debts: Mapping[Address, int], who: Address, amount: int) -> dict[Address, int]:
    """``debts`` with ``who`` owing ``amount`` (none kept at 0: storage cannot tell)."""
    out = {k: v for k, v in debts.items() if k != who}
    if amount:
        out[who] = amount
    return out


def _settle(state: DeskState, inp: SettleAdvance) -> Result:
    cid = inp.params.id
    advance = state.advances.get(cid)
    if advance is None:
        return _reject(state, "no advance on this channel")
    if inp.facts.status != ChannelStatus.SETTLED:
        return _reject(state, "the channel has not settled")
    received = inp.facts.owed_to(state.desk)
    to_lender = min(received, advance.owed)
    shortfall = advance.owed - to_lender
    debt = state.provider_debt.get(advance.provider, 0) + shortfall
    after = replace(
        state,
        cash=state.cash + to_lender,
        outstanding=state.outstanding - advance.owed,
        losses=state.losses + shortfall,
        advances={k: v for k, v in state.advances.items() if k != cid},
        provider_debt=_debt(state.provider_debt, advance.provider, debt),
    )
    events: list[Event] = [AdvanceSettled(cid, advance.provider, received, to_lender, shortfall)]
    if received > to_lender:
        events.append(Paid(advance.provider, received - to_lender))
    return TransitionResult(after, events)


def _release(state: DeskState, inp: Release) -> Result:
    params, facts = inp.params, inp.facts
    if inp.sender != params.provider:
        return _reject(state, "only the channel's provider takes its payout back")
    if params.id in state.advances:
        return _reject(state, "an advance on this channel is outstanding")
    if facts.payout_to != state.desk:
        return _reject(state, "the desk does not hold this channel's payout")
    owed = facts.owed_to(state.desk)
    if facts.status == ChannelStatus.SETTLED and owed:
        # settled meanwhile: the desk collects the payout and hands it on
        return TransitionResult(state, [Paid(params.provider, owed)])
    return TransitionResult(state, [])


def _repay(state: DeskState, inp: RepayDebt) -> Result:
    debt = state.provider_debt.get(inp.provider, 0)
    if debt == 0:
        return _reject(state, "the provider owes the desk nothing")
    paid = min(inp.amount, debt)
    after = replace(
        state,
        cash=state.cash + paid,
        losses=state.losses - paid,
        provider_debt=_debt(state.provider_debt, inp.provider, debt - paid),
    )
    events: list[Event] = [Paid(inp.sender, inp.amount - paid)] if inp.amount > paid else []
    return TransitionResult(after, events)
