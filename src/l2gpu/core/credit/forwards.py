"""GPU-hour forwards on margin, as a state machine: the specification of
``Forwards.vy``.

One market per GPU model and delivery date (its ``expiry``): a forward is a promise
between a long (a renter locking what its GPU-hours will cost) and a short (a
provider locking what its hours will earn) on ``gpu_hours`` at ``price`` wei per
GPU-hour, settled in cash against the market's index at expiry, not in hours:

    the long receives (index - price) * gpu_hours from the short (or pays it).

- **Opening.** A maker posts an :class:`OpenOffer` (side, hours, price) with its
  margin; a taker takes the whole offer with its own. Each side's margin must be at
  least ``initial_margin_bps`` of the notional (``price * gpu_hours``): the leverage
  is at most ``BPS / initial_margin_bps``.
- **Marking.** The index comes from a feed (``core/credit/price_index``'s value,
  posted by the feed's key), each update moved at most ``max_price_step_bps`` and
  stale after ``max_price_age``. A side's equity is its margin plus its profit at the
  index.
- **Liquidation.** When either side's equity falls below ``maintenance_margin_bps``
  of the notional at the index, anyone settles the forward early at the index: the
  liquidator takes ``liquidation_fee_bps`` of the notional out of the failing side's
  equity (what there is of it), the rest is paid out as at expiry.
- **Settlement.** After expiry, with an index posted after it, anyone settles.
  Payouts are capped by the two margins together: where the loser's margin does not
  cover its loss, the winner gets both margins and the shortfall is recorded as
  ``bad_debt`` (nobody else pays for it: the market has no insurance fund).

Every amount is integer wei; the payouts of a forward always add up to its margins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

# The credit machines' common events, re-exported: a caller reads every event from here.
from l2gpu.core.credit.pool import Paid as Paid
from l2gpu.core.credit.pool import Rejected as Rejected
from l2gpu.core.credit.rates import BPS, MAX_AMOUNT, bounded_price
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address

Side = Literal["long", "short"]
MAX_HOURS = 2**64 - 1
MAX_PRICE = 2**96 - 1
SETTLE_GRACE = 7 * 86_400
"""A market whose feed posts nothing after expiry settles, this long after it, at the
last index in force (margins returned as they are if none was ever posted): a silent
feed delays the settlement, it does not lock the margins."""


@dataclass(frozen=True, slots=True)
class ForwardParams:
    """A market's parameters, fixed at deployment."""

    expiry: int
    initial_margin_bps: int = 2_000
    maintenance_margin_bps: int = 1_000
    liquidation_fee_bps: int = 100
    max_price_age: int = 3_600
    max_price_step_bps: int = 2_000

    def problems(self) -> list[str]:
        """What makes these parameters unsafe, in words (empty when none)."""
        out = []
        if not 0 < self.liquidation_fee_bps < self.maintenance_margin_bps:
            out.append("need 0 < liquidation fee < maintenance margin")
        if not self.maintenance_margin_bps < self.initial_margin_bps <= BPS:
            out.append("need maintenance margin < initial margin <= 100 %")
        if self.max_price_age <= 0 or not 0 < self.max_price_step_bps < BPS:
            out.append("the price's age and step bounds must be positive and below 100 %")
        return out


@dataclass(frozen=True, slots=True)
class Offer:
    maker: Address
    side: Side
    gpu_hours: int
    price: int
    margin: int


@dataclass(frozen=True, slots=True)
class Forward:
    long: Address
    short: Address
    gpu_hours: int
    price: int
    long_margin: int
    short_margin: int


@dataclass(frozen=True, slots=True)
class ForwardsState:
    """A market's storage."""

    params: ForwardParams
    feed: Address
    index: int = 0
    index_at: int = 0
    next_id: int = 1
    offers: Mapping[int, Offer] = field(default_factory=dict)
    forwards: Mapping[int, Forward] = field(default_factory=dict)
    bad_debt: int = 0
    settlement_index: int = 0
    """The first index posted after expiry (0 until then): every forward settles at it."""


@dataclass(frozen=True, slots=True)
class PostIndex:
    sender: Address
    price: int


@dataclass(frozen=True, slots=True)
class OpenOffer:
    """``sender`` offers to be ``side`` of ``gpu_hours`` at ``price`` wei per GPU-hour,
    with ``margin`` wei (the call's value)."""

    sender: Address
    side: Side
    gpu_hours: int
    price: int
    margin: int


@dataclass(frozen=True, slots=True)
class CancelOffer:
    sender: Address
    offer_id: int


@dataclass(frozen=True, slots=True)
class Take:
    """``sender`` takes offer ``offer_id`` whole, with ``margin`` wei."""

    sender: Address
    offer_id: int
    margin: int


@dataclass(frozen=True, slots=True)
class AddMargin:
    sender: Address
    forward_id: int
    margin: int


@dataclass(frozen=True, slots=True)
class Liquidate:
    sender: Address
    forward_id: int


@dataclass(frozen=True, slots=True)
class Settle:
    sender: Address
    forward_id: int


Input = PostIndex | OpenOffer | CancelOffer | Take | AddMargin | Liquidate | Settle


@dataclass(frozen=True, slots=True)
class Opened:
    forward_id: int
    long: Address
    short: Address
    gpu_hours: int
    price: int


@dataclass(frozen=True, slots=True)
class Settled:
    """A forward paid out at ``index``; ``shortfall`` is what the loser's margin did
    not cover; ``liquidator`` is empty for a settlement at expiry."""

    forward_id: int
    index: int
    long_payout: int
    short_payout: int
    shortfall: int
    liquidator: Address | None = None
    fee: int = 0


Event = Rejected | Paid | Opened | Settled
Result = TransitionResult[ForwardsState, Event]


def state_transition(state: ForwardsState, inp: Input, *, now: int) -> Result:
    """Apply one call at L1 time ``now``."""
    if isinstance(inp, PostIndex):
        return _post_index(state, inp, now)
    if isinstance(inp, OpenOffer):
        return _open_offer(state, inp, now)
    if isinstance(inp, CancelOffer):
        return _cancel_offer(state, inp)
    if isinstance(inp, Take):
        return _take(state, inp, now)
    if isinstance(inp, AddMargin):
        return _add_margin(state, inp)
    if isinstance(inp, Liquidate):
        return _liquidate(state, inp, now)
    return _settle(state, inp, now)


def long_profit(forward: Forward, index: int) -> int:
    """What the long gains at ``index`` (negative: what it loses), in wei."""
    return (index - forward.price) * forward.gpu_hours


def equity(forward: Forward, side: Side, index: int) -> int:
    """A side's margin plus its profit at ``index`` (may be negative)."""
    if side == "long":
        return forward.long_margin + long_profit(forward, index)
    return forward.short_margin - long_profit(forward, index)


def maintenance(params: ForwardParams, forward: Forward, index: int) -> int:
    """The equity each side must keep at ``index``, rounded up (for the market)."""
    return -(-index * forward.gpu_hours * params.maintenance_margin_bps // BPS)


def _reject(state: ForwardsState, reason: str) -> Result:
    return TransitionResult(state, [Rejected(reason)])


def _fresh(state: ForwardsState, now: int) -> bool:
    return state.index != 0 and now - state.index_at <= state.params.max_price_age


def _post_index(state: ForwardsState, inp: PostIndex, now: int) -> Result:
    if inp.sender != state.feed:
        return _reject(state, "only the feed posts the index")
    if not 0 < inp.price <= MAX_PRICE:
        return _reject(state, "the index must be above 0 and below 2**96")
    price = bounded_price(
        state.index, state.index_at, inp.price, now, state.params.max_price_step_bps
    )
    settlement = state.settlement_index
    if now > state.params.expiry and settlement == 0:
        settlement = price  # the first index after expiry settles every forward
    after = replace(state, index=price, index_at=now, settlement_index=settlement)
    return TransitionResult(after, [])


def _initial(params: ForwardParams, gpu_hours: int, price: int) -> int:
    return -(-price * gpu_hours * params.initial_margin_bps // BPS)


def _open_offer(state: ForwardsState, inp: OpenOffer, now: int) -> Result:
    if now >= state.params.expiry:
        return _reject(state, "the market has expired")
    if not 0 < inp.gpu_hours <= MAX_HOURS or not 0 < inp.price <= MAX_PRICE:
        return _reject(state, "hours and price must be above 0 (below 2**64 and 2**96)")
    if inp.margin > MAX_AMOUNT:
        return _reject(state, "the margin must be below 2**128")
    if inp.margin < _initial(state.params, inp.gpu_hours, inp.price):
        return _reject(state, "the margin is below the initial margin")
    offer = Offer(inp.sender, inp.side, inp.gpu_hours, inp.price, inp.margin)
    offers = {**state.offers, state.next_id: offer}
    return TransitionResult(replace(state, offers=offers, next_id=state.next_id + 1), [])


def _cancel_offer(state: ForwardsState, inp: CancelOffer) -> Result:
    offer = state.offers.get(inp.offer_id)
    if offer is None:
        return _reject(state, "no such offer")
    if offer.maker != inp.sender:
        return _reject(state, "only its maker cancels an offer")
    offers = {k: v for k, v in state.offers.items() if k != inp.offer_id}
    return TransitionResult(replace(state, offers=offers), [Paid(offer.maker, offer.margin)])


def _take(state: ForwardsState, inp: Take, now: int) -> Result:
    offer = state.offers.get(inp.offer_id)
    if offer is None:
        return _reject(state, "no such offer")
    if now >= state.params.expiry:
        return _reject(state, "the market has expired")
    if inp.sender == offer.maker:
        return _reject(state, "a maker cannot take its own offer")
    if inp.margin > MAX_AMOUNT:
        return _reject(state, "the margin must be below 2**128")
    if inp.margin < _initial(state.params, offer.gpu_hours, offer.price):
        return _reject(state, "the margin is below the initial margin")
    maker_long = offer.side == "long"
    forward = Forward(
        long=offer.maker if maker_long else inp.sender,
        short=inp.sender if maker_long else offer.maker,
        gpu_hours=offer.gpu_hours,
        price=offer.price,
        long_margin=offer.margin if maker_long else inp.margin,
        short_margin=inp.margin if maker_long else offer.margin,
    )
    if state.index:
        floor = maintenance(state.params, forward, state.index)
        if min(equity(forward, "long", state.index), equity(forward, "short", state.index)) < floor:
            # the maker's side already fails at the index: it would be liquidated at once
            return _reject(state, "at the index the forward would be liquidated at once")
    offers = {k: v for k, v in state.offers.items() if k != inp.offer_id}
    forwards = {**state.forwards, inp.offer_id: forward}
    after = replace(state, offers=offers, forwards=forwards)
    opened = Opened(inp.offer_id, forward.long, forward.short, forward.gpu_hours, forward.price)
    return TransitionResult(after, [opened])


def _add_margin(state: ForwardsState, inp: AddMargin) -> Result:
    forward = state.forwards.get(inp.forward_id)
    if forward is None:
        return _reject(state, "no such forward")
    if inp.sender == forward.long:
        grown = replace(forward, long_margin=forward.long_margin + inp.margin)
    elif inp.sender == forward.short:
        grown = replace(forward, short_margin=forward.short_margin + inp.margin)
    else:
        return _reject(state, "only a side of the forward adds margin to it")
    if grown.long_margin + grown.short_margin > MAX_AMOUNT:
        return _reject(state, "the margin must be below 2**128")
    return TransitionResult(replace(state, forwards={**state.forwards, inp.forward_id: grown}), [])


def _liquidate(state: ForwardsState, inp: Liquidate, now: int) -> Result:
    forward = state.forwards.get(inp.forward_id)
    if forward is None:
        return _reject(state, "no such forward")
    if now > state.params.expiry:
        return _reject(state, "the market has expired: settle the forward")
    if not _fresh(state, now):
        return _reject(state, "the index is stale")
    floor = maintenance(state.params, forward, state.index)
    sides: tuple[Side, Side] = ("long", "short")
    failing = [s for s in sides if equity(forward, s, state.index) < floor]
    if not failing:
        return _reject(state, "both sides hold their maintenance margin")
    fee_due = state.params.liquidation_fee_bps * state.index * forward.gpu_hours // BPS
    fee = min(fee_due, max(equity(forward, failing[0], state.index), 0))
    return _pay_out(state, inp.forward_id, forward, state.index, fee, inp.sender, failing[0])


def _settle(state: ForwardsState, inp: Settle, now: int) -> Result:
    forward = state.forwards.get(inp.forward_id)
    if forward is None:
        return _reject(state, "no such forward")
    settlement = state.settlement_index
    if settlement == 0:
        if now <= state.params.expiry + SETTLE_GRACE:
            return _reject(state, "the forward settles on an index posted after its expiry")
        settlement = state.index  # the feed fell silent: the last index in force
        state = replace(state, settlement_index=settlement)
    # No index was ever posted: settled at its own price, each side takes its margin back.
    at = settlement if settlement else forward.price
    return _pay_out(state, inp.forward_id, forward, at, 0, None, None)


def _pay_out(
    state: ForwardsState, forward_id: int, forward: Forward, index: int, fee: int,
    liquidator: Address | None, failing: Side | None,
) -> Result:  # fmt: skip
    """Pay both sides at ``index``, less ``fee`` taken from the failing side for the
    liquidator; the payouts and the fee add up to the two margins."""
    total = forward.long_margin + forward.short_margin
    long_equity = equity(forward, "long", index)
    if failing == "long":
        long_equity -= fee
    long_payout = min(max(long_equity, 0), total - fee)
    short_payout = total - fee - long_payout
    short_equity = equity(forward, "short", index) - (fee if failing == "short" else 0)
    shortfall = max(-long_equity, 0) + max(-short_equity, 0)
    forwards = {k: v for k, v in state.forwards.items() if k != forward_id}
    after = replace(state, forwards=forwards, bad_debt=state.bad_debt + shortfall)
    events: list[Event] = [
        Settled(forward_id, index, long_payout, short_payout, shortfall, liquidator, fee)
    ]
    for who, amount in ((forward.long, long_payout), (forward.short, short_payout)):
        if amount:
            events.append(Paid(who, amount))
    if liquidator is not None and fee:
        events.append(Paid(liquidator, fee))
    return TransitionResult(after, events)
