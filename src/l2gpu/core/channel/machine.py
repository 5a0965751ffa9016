"""The channel manager's state transition: the specification of ChannelManager.vy.

``state_transition(state, input)`` validates the input, one check per line, and
returns a :class:`~l2gpu.core.transition.TransitionResult`: the new state and the
events. A rejected input raises
:class:`~l2gpu.core.channel.state.ChannelError` whose ``reason`` is the exact
revert string of the contract, checked in the same order, so that shared vectors
can compare the two. The state passed in is never changed.

Rules in short:
- only the renter opens, tops up (while open and unexpired) and starts a close;
- anyone may prove a higher voucher before the deadline (a watcher for an
  offline provider); the provider may close at once with its best voucher;
- both parties together may close at once with any amount up to the deposit;
- after the deadline anyone may settle: the provider gets the best voucher
  capped at the deposit, the renter the rest;
- a lender may open a channel for a renter with its own deposit (``OpenFor``), the
  refund then being the lender's; the refund and the payout can each be assigned
  by their owner (the renter or the provider, later only the assignee); an
  assigned share is kept at settlement for its assignee to ``Collect``;
- inside a rollup, a channel may be one end of a virtual channel
  (``state.VirtualTerms``): its vouchers are its virtual signer's, and each credits
  the provider its amount plus the channel's fee.
"""

from __future__ import annotations

from dataclasses import replace

from l2gpu.core.channel.events import (
    ChannelClosing,
    ChannelEvent,
    ChannelOpened,
    ChannelSettled,
    ChannelToppedUp,
    Collected,
    Payout,
    PayoutAssigned,
    RefundAssigned,
    VoucherAccepted,
)
from l2gpu.core.channel.inputs import (
    ApprovedCooperativeClose,
    AssignPayout,
    AssignRefund,
    ChannelInput,
    CloseByProvider,
    CloseByRenter,
    Collect,
    CooperativeClose,
    Open,
    OpenFor,
    Settle,
    SubmitVoucher,
    TopUp,
)
from l2gpu.core.channel.state import (
    MAX_CHALLENGE_PERIOD,
    MAX_DEPOSIT,
    MAX_TIMESTAMP,
    MIN_CHALLENGE_PERIOD,
    PPM,
    Channel,
    ChannelError,
    ChannelParams,
    ChannelStatus,
    ManagerState,
)
from l2gpu.core.channel.vouchers import (
    Voucher,
    channel_domain,
    cooperative_close_signer,
    virtual_voucher_signer,
)
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import ZERO_ADDRESS, Address, Timestamp, Wei


def state_transition(
    state: ManagerState, event_input: ChannelInput
) -> TransitionResult[ManagerState, ChannelEvent]:
    """Apply one input to the manager state; return the new state and its events."""
    match event_input:
        case Open():
            return handle_open(state, event_input)
        case OpenFor():
            return handle_open_for(state, event_input)
        case AssignRefund():
            return handle_assign_refund(state, event_input)
        case AssignPayout():
            return handle_assign_payout(state, event_input)
        case Collect():
            return handle_collect(state, event_input)
        case TopUp():
            return handle_top_up(state, event_input)
        case SubmitVoucher():
            return handle_submit_voucher(state, event_input)
        case CloseByRenter():
            return handle_close_by_renter(state, event_input)
        case CloseByProvider():
            return handle_close_by_provider(state, event_input)
        case CooperativeClose():
            return handle_cooperative_close(state, event_input)
        case ApprovedCooperativeClose():
            return handle_approved_cooperative_close(state, event_input)
        case Settle():
            return handle_settle(state, event_input)
    raise ChannelError(f"channel: unknown input {type(event_input).__name__}")


def handle_open(state: ManagerState, inp: Open) -> TransitionResult[ManagerState, ChannelEvent]:
    """The renter opens a channel with a deposit."""
    require(inp.sender == inp.params.renter, "channel: only the renter may open")
    channel = open_channel(state, inp.now, inp.params, inp.amount, inp.expires_at, inp.value)
    return TransitionResult(
        state.with_channel(channel),
        [ChannelOpened(inp.params.id, inp.params, inp.amount, inp.expires_at)],
    )


def handle_open_for(
    state: ManagerState, inp: OpenFor
) -> TransitionResult[ManagerState, ChannelEvent]:
    """A lender opens a channel for the renter with its own deposit and holds its refund.
    The salt starts with the lender's address, so no one can take a renter's id first."""
    params = inp.params
    require(
        params.salt[:20] == bytes(inp.sender),
        "channel: a funder's salt must start with its address",
    )
    channel = open_channel(state, inp.now, params, inp.amount, inp.expires_at, inp.value)
    channel = replace(channel, refund_to=inp.sender)
    return TransitionResult(
        state.with_channel(channel),
        [
            ChannelOpened(params.id, params, inp.amount, inp.expires_at),
            RefundAssigned(params.id, inp.sender),
        ],
    )


def open_channel(
    state: ManagerState,
    now: Timestamp,
    params: ChannelParams,
    amount: Wei,
    expires_at: Timestamp,
    value: Wei,
) -> Channel:
    """The checks of an opening after the opener's, and the new channel."""
    require(
        params.provider not in (ZERO_ADDRESS, params.renter),
        "channel: provider must be another account",
    )
    require(
        MIN_CHALLENGE_PERIOD <= params.challenge_period <= MAX_CHALLENGE_PERIOD,
        "channel: challenge period out of range",
    )
    require(0 < amount <= MAX_DEPOSIT, "channel: deposit out of range")
    require(now < expires_at <= MAX_TIMESTAMP, "channel: expiry must be in the future")
    v = params.virtual
    require(
        v is None or (v.signer != ZERO_ADDRESS and any(v.virtual_id) and 0 <= v.fee_ppm <= PPM),
        "channel: bad virtual terms",
    )
    require(state.get(params.id) is None, "channel: id already used")
    check_value(params, amount, value)
    return Channel(params=params, deposit=amount, expires_at=expires_at)


def handle_top_up(state: ManagerState, inp: TopUp) -> TransitionResult[ManagerState, ChannelEvent]:
    """The renter adds funds and may extend expiry, while the channel is open and unexpired."""
    channel = require_open(state, inp.params)
    if channel.refund_to == ZERO_ADDRESS:
        require(inp.sender == inp.params.renter, "channel: only the renter may top up")
    else:
        require(inp.sender == channel.refund_to, "channel: only the refund's assignee may top up")
    require(inp.now < channel.expires_at, "channel: expired")
    require(
        channel.expires_at <= inp.expires_at <= MAX_TIMESTAMP,
        "channel: expiry cannot move earlier",
    )
    require(
        channel.payout_to == ZERO_ADDRESS or inp.expires_at == channel.expires_at,
        "channel: the payout is assigned; its expiry cannot move",
    )
    require(channel.deposit + inp.amount <= MAX_DEPOSIT, "channel: deposit out of range")
    check_value(inp.params, inp.amount, inp.value)
    deposit = Wei(channel.deposit + inp.amount)
    updated = replace(channel, deposit=deposit, expires_at=inp.expires_at)
    return TransitionResult(
        state.with_channel(updated),
        [ChannelToppedUp(inp.params.id, inp.amount, deposit, inp.expires_at)],
    )


def handle_submit_voucher(
    state: ManagerState, inp: SubmitVoucher
) -> TransitionResult[ManagerState, ChannelEvent]:
    """Anyone proves a higher voucher before the deadline."""
    channel = require_live(state, inp.params)
    require(inp.now < channel.deadline(), "channel: deadline passed")
    require(inp.amount <= MAX_DEPOSIT, "channel: amount out of range")
    credited = Wei(inp.params.credited(inp.amount))
    require(credited > channel.best_amount, "channel: voucher not above the best")
    require_voucher(state, inp.params, inp.amount, inp.signature)
    updated = replace(channel, best_amount=credited)
    return TransitionResult(
        state.with_channel(updated), [VoucherAccepted(inp.params.id, credited, inp.sender)]
    )


def handle_close_by_renter(
    state: ManagerState, inp: CloseByRenter
) -> TransitionResult[ManagerState, ChannelEvent]:
    """The renter starts a close conceding ``amount``; the challenge period starts now."""
    channel = require_open(state, inp.params)
    require(inp.sender == inp.params.renter, "channel: only the renter may start a close")
    require(inp.amount <= MAX_DEPOSIT, "channel: amount out of range")
    deadline = Timestamp(inp.now + inp.params.challenge_period)
    best = Wei(max(channel.best_amount, inp.amount))
    updated = replace(
        channel, best_amount=best, close_deadline=deadline, status=ChannelStatus.CLOSING
    )
    return TransitionResult(
        state.with_channel(updated), [ChannelClosing(inp.params.id, best, deadline)]
    )


def handle_close_by_provider(
    state: ManagerState, inp: CloseByProvider
) -> TransitionResult[ManagerState, ChannelEvent]:
    """The provider closes with its best voucher before the deadline; pays out at once."""
    channel = require_live(state, inp.params)
    require(inp.sender == inp.params.provider, "channel: only the provider may close at once")
    require(inp.now < channel.deadline(), "channel: deadline passed")
    require(inp.amount <= MAX_DEPOSIT, "channel: amount out of range")
    credited = Wei(inp.params.credited(inp.amount))
    events: list[ChannelEvent] = []
    if credited > channel.best_amount:
        require_voucher(state, inp.params, inp.amount, inp.signature)
        channel = replace(channel, best_amount=credited)
        events.append(VoucherAccepted(inp.params.id, credited, inp.sender))
    return pay_out(state, channel, channel.provider_payout(), events)


def handle_cooperative_close(
    state: ManagerState, inp: CooperativeClose
) -> TransitionResult[ManagerState, ChannelEvent]:
    """Both parties signed the amount; anyone may submit it; pays out at once."""
    channel = require_live(state, inp.params)
    require(inp.amount <= channel.deposit, "channel: amount above deposit")
    require_assigned_payout_kept(channel, inp.amount)
    domain = channel_domain(state.chain_id, state.contract)
    cid = inp.params.id
    require(
        cooperative_close_signer(domain, cid, inp.amount, inp.renter_signature)
        == inp.params.renter,
        "channel: bad renter signature",
    )
    require(
        cooperative_close_signer(domain, cid, inp.amount, inp.provider_signature)
        == inp.params.provider,
        "channel: bad provider signature",
    )
    return pay_out(state, channel, inp.amount, [])


def handle_approved_cooperative_close(
    state: ManagerState, inp: ApprovedCooperativeClose
) -> TransitionResult[ManagerState, ChannelEvent]:
    """A cooperative close approved outside the machine (the rollup's co-signature)."""
    channel = require_live(state, inp.params)
    require(inp.amount <= channel.deposit, "channel: amount above deposit")
    return pay_out(state, channel, inp.amount, [])


def handle_settle(state: ManagerState, inp: Settle) -> TransitionResult[ManagerState, ChannelEvent]:
    """Anyone settles a channel whose deadline has passed."""
    channel = require_live(state, inp.params)
    require(inp.now >= channel.deadline(), "channel: challenge period not over")
    return pay_out(state, channel, channel.provider_payout(), [])


def handle_assign_refund(
    state: ManagerState, inp: AssignRefund
) -> TransitionResult[ManagerState, ChannelEvent]:
    """The refund's owner hands the refund of a live channel to ``to``."""
    channel = _assignable(state, inp.params, inp.to)
    owner = channel.refund_to if channel.refund_to != ZERO_ADDRESS else inp.params.renter
    require(inp.sender == owner, "channel: only the refund's owner may assign it")
    return TransitionResult(
        state.with_channel(replace(channel, refund_to=inp.to)),
        [RefundAssigned(inp.params.id, inp.to)],
    )


def handle_assign_payout(
    state: ManagerState, inp: AssignPayout
) -> TransitionResult[ManagerState, ChannelEvent]:
    """The payout's owner hands the payout of a live channel to ``to``."""
    channel = _assignable(state, inp.params, inp.to)
    owner = channel.payout_to if channel.payout_to != ZERO_ADDRESS else inp.params.provider
    require(inp.sender == owner, "channel: only the payout's owner may assign it")
    return TransitionResult(
        state.with_channel(replace(channel, payout_to=inp.to)),
        [PayoutAssigned(inp.params.id, inp.to)],
    )


def _assignable(state: ManagerState, params: ChannelParams, to: Address) -> Channel:
    """The checks both assignments make first: a live channel, an account to assign to."""
    channel = require_live(state, params)
    require(to != ZERO_ADDRESS, "channel: assign to an account")
    return channel


def handle_collect(
    state: ManagerState, inp: Collect
) -> TransitionResult[ManagerState, ChannelEvent]:
    """An assignee takes what a settled channel owes it (refund, payout or both)."""
    channel = state.get(inp.params.id)
    require(channel is not None and channel.status == ChannelStatus.SETTLED, "channel: not settled")
    assert channel is not None  # for mypy; require() raised otherwise
    amount = 0
    if inp.sender == channel.refund_to:
        amount += channel.refund_owed
        channel = replace(channel, refund_owed=Wei(0))
    if inp.sender == channel.payout_to:
        amount += channel.payout_owed
        channel = replace(channel, payout_owed=Wei(0))
    require(amount > 0, "channel: nothing to collect")
    return TransitionResult(
        state.with_channel(channel),
        [
            Collected(inp.params.id, inp.sender, Wei(amount)),
            Payout(inp.sender, inp.params.token, Wei(amount)),
        ],
    )


# -- shared checks and effects -------------------------------------------------


def require(condition: bool, reason: str) -> None:
    """Raise ChannelError(reason) unless ``condition`` holds (the contract's ``assert``)."""
    if not condition:
        raise ChannelError(reason)


def require_live(state: ManagerState, params: ChannelParams) -> Channel:
    """The channel, which must be open or closing."""
    channel = state.get(params.id)
    require(channel is not None, "channel: unknown channel")
    assert channel is not None  # for mypy; require() raised otherwise
    require(channel.status != ChannelStatus.SETTLED, "channel: already settled")
    return channel


def require_open(state: ManagerState, params: ChannelParams) -> Channel:
    """The channel, which must be open (not closing, not settled)."""
    channel = require_live(state, params)
    require(channel.status == ChannelStatus.OPEN, "channel: closing")
    return channel


def require_assigned_payout_kept(channel: Channel, amount: Wei) -> None:
    """An assigned payout was bought on the vouchers proven so far: a cooperative
    close may not pay its assignee less than the best of them."""
    require(
        channel.payout_to == ZERO_ADDRESS or amount >= channel.provider_payout(),
        "channel: the payout is assigned; a close pays at least the best voucher",
    )


def require_voucher(state: ManagerState, params: ChannelParams, amount: Wei, sig: bytes) -> None:
    """The renter signed a voucher for ``amount`` on this channel, chain and contract;
    on one end of a virtual channel, its signer signed one for its virtual id."""
    if params.virtual is not None:
        v = params.virtual
        signer = virtual_voucher_signer(state.chain_id, v.virtual_id, amount, sig)
        require(signer == v.signer, "channel: bad voucher signature")
        return
    voucher = Voucher(params.id, amount, sig)
    signer = voucher.signer(channel_domain(state.chain_id, state.contract))
    require(signer == params.renter, "channel: bad voucher signature")


def check_value(params: ChannelParams, amount: Wei, value: Wei) -> None:
    """Ether channels take the deposit as ``value``; token channels take no ether."""
    if params.is_ether:
        require(value == amount, "channel: ether sent must equal the amount")
    else:
        require(value == 0, "channel: no ether for a token channel")


def pay_out(
    state: ManagerState, channel: Channel, to_provider: Wei, events: list[ChannelEvent]
) -> TransitionResult[ManagerState, ChannelEvent]:
    """Settle ``channel``: ``to_provider`` to the provider, the rest of the deposit back;
    a share that is assigned is kept for its assignee to collect instead of pushed."""
    params = channel.params
    to_renter = Wei(channel.deposit - to_provider)
    payout_assigned = channel.payout_to != ZERO_ADDRESS
    refund_assigned = channel.refund_to != ZERO_ADDRESS
    settled = Channel(
        params=params,
        deposit=Wei(0),
        expires_at=Timestamp(0),
        best_amount=Wei(0),
        close_deadline=Timestamp(0),
        status=ChannelStatus.SETTLED,
        refund_to=channel.refund_to,
        payout_to=channel.payout_to,
        refund_owed=to_renter if refund_assigned else Wei(0),
        payout_owed=to_provider if payout_assigned else Wei(0),
    )
    events = [*events, ChannelSettled(params.id, to_provider, to_renter)]
    if to_provider and not payout_assigned:
        events.append(Payout(params.provider, params.token, to_provider))
    if to_renter and not refund_assigned:
        events.append(Payout(params.renter, params.token, to_renter))
    return TransitionResult(state.with_channel(settled), events)
