"""The lending pool as a state machine: the specification of ``LendingPool.vy``.

Suppliers deposit ether and hold shares of the pool; borrowers post collateral (an
ERC-20 priced by a feed, in wei per whole token) and borrow ether up to the
loan-to-value limit; interest accrues every second on the kinked curve of
:mod:`l2gpu.core.credit.rates` through one borrow index, and a share of it goes to
reserves. Below a health factor of 1, or once a loan is past its term, anyone
repays part of the debt and takes collateral worth it plus a bonus. A position whose
collateral is gone while debt remains is bad debt: written off at once, first
against the reserves, the rest against the suppliers' shares (each loses the same
fraction), and recorded in :attr:`PoolState.bad_debt`.

Every call but :class:`SetPrice` first accrues interest to ``now``. A refused call
changes nothing and answers :class:`Rejected` with the contract's revert reason;
``tests/credit`` makes the same calls to both and compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from l2gpu.core.credit.pool_io import (
    AddCollateral as AddCollateral,
)
from l2gpu.core.credit.pool_io import (
    BadDebt as BadDebt,
)
from l2gpu.core.credit.pool_io import (
    Borrow as Borrow,
)
from l2gpu.core.credit.pool_io import (
    BorrowForLease as BorrowForLease,
)
from l2gpu.core.credit.pool_io import (
    CollateralPaid as CollateralPaid,
)
from l2gpu.core.credit.pool_io import (
    CollectReserves as CollectReserves,
)
from l2gpu.core.credit.pool_io import (
    Event as Event,
)
from l2gpu.core.credit.pool_io import (
    Input as Input,
)
from l2gpu.core.credit.pool_io import (
    LeaseFunded as LeaseFunded,
)
from l2gpu.core.credit.pool_io import (
    LeaseSettled as LeaseSettled,
)
from l2gpu.core.credit.pool_io import (
    Liquidate as Liquidate,
)
from l2gpu.core.credit.pool_io import (
    Liquidated as Liquidated,
)
from l2gpu.core.credit.pool_io import (
    Paid as Paid,
)
from l2gpu.core.credit.pool_io import (
    PriceSet as PriceSet,
)
from l2gpu.core.credit.pool_io import (
    Rejected as Rejected,
)
from l2gpu.core.credit.pool_io import (
    RemoveCollateral as RemoveCollateral,
)
from l2gpu.core.credit.pool_io import (
    Repay as Repay,
)
from l2gpu.core.credit.pool_io import (
    SetPrice as SetPrice,
)
from l2gpu.core.credit.pool_io import (
    SettleLease as SettleLease,
)
from l2gpu.core.credit.pool_io import (
    Supply as Supply,
)
from l2gpu.core.credit.pool_io import (
    Withdraw as Withdraw,
)
from l2gpu.core.credit.rates import (
    BPS,
    MAX_AMOUNT,
    MAX_PRICE,
    RAY,
    WAD,
    PoolParams,
    borrow_rate,
    bounded_price,
    collateral_value,
    debt_of,
    div_up,
    grown_index,
    health_factor,
    repaid_for,
    seized_for,
)
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import ZERO_ADDRESS, Address, Hash32

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Position:
    """One borrower's collateral (token base units), scaled debt and due time (0:
    no loan)."""

    collateral: int = 0
    scaled_debt: int = 0
    due: int = 0


@dataclass(frozen=True, slots=True)
class PoolState:
    """A pool's storage."""

    params: PoolParams
    oracle: Address
    treasury: Address
    last_accrual: int
    price: int = 0
    price_at: int = 0
    cash: int = 0
    total_shares: int = 0
    shares: Mapping[Address, int] = field(default_factory=dict)
    positions: Mapping[Address, Position] = field(default_factory=dict)
    total_scaled_debt: int = 0
    borrow_index: int = RAY
    reserves: int = 0
    bad_debt: int = 0
    """Debt written off since deployment, reserves' part included."""
    channels: Address = ZERO_ADDRESS
    """The ChannelManager that credit leases' channels live in (zero: none)."""
    leases: Mapping[Hash32, Address] = field(default_factory=dict)
    """Credit leases not settled yet: channel id -> the renter who borrowed."""

    @property
    def total_debt(self) -> int:
        """What borrowers owe together, rounded up."""
        return debt_of(self.total_scaled_debt, self.borrow_index)

    @property
    def supplied_value(self) -> int:
        """What the suppliers' shares are worth together: cash and debt, less reserves."""
        return max(self.cash + self.total_debt - self.reserves, 0)

    def debt(self, who: Address) -> int:
        """What ``who`` owes now (at the last accrual)."""
        return debt_of(self.positions.get(who, Position()).scaled_debt, self.borrow_index)

    def share_value(self, who: Address) -> int:
        """What ``who``'s shares are worth, rounded down."""
        if self.total_shares == 0:
            return 0
        return self.shares.get(who, 0) * self.supplied_value // self.total_shares


Result = TransitionResult[PoolState, Event]


def state_transition(state: PoolState, inp: Input, *, now: int) -> Result:
    """Apply one call at L1 time ``now``."""
    if isinstance(inp, SetPrice):
        return _set_price(state, inp, now)
    if isinstance(inp, SettleLease):
        if inp.params.id not in state.leases:
            return _reject(state, "not a lease this pool funded")
    elif not 0 < inp.amount <= MAX_AMOUNT:
        return _reject(state, "the amount must be above 0 and below 2**128")
    result = _dispatch(accrue(state, now), inp, now)
    if result.events and isinstance(result.events[0], Rejected):
        return _reject(state, result.events[0].reason)  # a revert undoes the accrual too
    return result


def _dispatch(state: PoolState, inp: Input, now: int) -> Result:
    if isinstance(inp, Supply):
        return _supply(state, inp)
    if isinstance(inp, Withdraw):
        return _withdraw(state, inp)
    if isinstance(inp, AddCollateral):
        return _add_collateral(state, inp)
    if isinstance(inp, RemoveCollateral):
        return _remove_collateral(state, inp, now)
    if isinstance(inp, Borrow):
        return _borrow(state, inp, now)
    if isinstance(inp, BorrowForLease):
        return _borrow_for_lease(state, inp, now)
    if isinstance(inp, SettleLease):
        return _settle_lease(state, inp)
    if isinstance(inp, Repay):
        return _repay(state, inp)
    if isinstance(inp, Liquidate):
        return _liquidate(state, inp, now)
    assert isinstance(inp, CollectReserves)
    return _collect_reserves(state, inp)


def accrue(state: PoolState, now: int) -> PoolState:
    """Interest from the last accrual to ``now``: the index grows, reserves take
    their share of what borrowers now owe more."""
    elapsed = now - state.last_accrual
    if elapsed <= 0:
        return state
    if state.total_scaled_debt == 0:
        return replace(state, last_accrual=now)
    before = state.total_debt
    rate = borrow_rate(state.params, before, state.cash)
    index = grown_index(state.borrow_index, rate, elapsed)
    interest = debt_of(state.total_scaled_debt, index) - before
    reserves = state.reserves + interest * state.params.reserve_factor_bps // BPS
    return replace(state, borrow_index=index, reserves=reserves, last_accrual=now)


def _reject(state: PoolState, reason: str) -> Result:
    return TransitionResult(state, [Rejected(reason)])


def _with(mapping: Mapping[K, T], key: K, value: T) -> dict[K, T]:
    out = dict(mapping)
    out[key] = value
    return out


def _fresh_price(state: PoolState, now: int) -> str | None:
    if state.price == 0 or now - state.price_at > state.params.max_price_age:
        return "the price is stale"
    return None


def _supply(state: PoolState, inp: Supply) -> Result:
    value = state.supplied_value
    if state.total_shares == 0:
        minted = inp.amount
    elif value == 0:
        return _reject(state, "the pool's supplied funds were lost to bad debt")
    else:
        minted = inp.amount * state.total_shares // value
    if minted == 0:
        return _reject(state, "the amount buys no share")
    mine = state.shares.get(inp.sender, 0) + minted
    if state.total_shares + minted > MAX_AMOUNT or state.cash + inp.amount > MAX_AMOUNT:
        return _reject(state, "the pool is full")
    after = replace(
        state, cash=state.cash + inp.amount, total_shares=state.total_shares + minted,
        shares=_with(state.shares, inp.sender, mine),
    )  # fmt: skip
    return TransitionResult(after, [])


def _withdraw(state: PoolState, inp: Withdraw) -> Result:
    value = state.supplied_value
    if state.total_shares == 0 or value == 0:
        return _reject(state, "more than your share")
    burnt = div_up(inp.amount * state.total_shares, value)
    mine = state.shares.get(inp.sender, 0)
    if burnt > mine:
        return _reject(state, "more than your share")
    if inp.amount > state.cash:
        return _reject(state, "the pool's cash is lent out")
    after = replace(
        state, cash=state.cash - inp.amount, total_shares=state.total_shares - burnt,
        shares=_with(state.shares, inp.sender, mine - burnt),
    )  # fmt: skip
    return TransitionResult(after, [Paid(inp.sender, inp.amount)])


def _add_collateral(state: PoolState, inp: AddCollateral) -> Result:
    position = state.positions.get(inp.sender, Position())
    if position.collateral + inp.amount > MAX_AMOUNT:
        return _reject(state, "the pool is full")
    moved = replace(position, collateral=position.collateral + inp.amount)
    return TransitionResult(replace(state, positions=_with(state.positions, inp.sender, moved)), [])


def _remove_collateral(state: PoolState, inp: RemoveCollateral, now: int) -> Result:
    position = state.positions.get(inp.sender, Position())
    if inp.amount > position.collateral:
        return _reject(state, "more collateral than you posted")
    left = position.collateral - inp.amount
    debt = debt_of(position.scaled_debt, state.borrow_index)
    if debt > 0:
        stale = _fresh_price(state, now)
        if stale:
            return _reject(state, stale)
        if debt * BPS > collateral_value(left, state.price) * state.params.ltv_bps:
            return _reject(state, "the rest would not cover the loan-to-value limit")
    moved = replace(position, collateral=left)
    after = replace(state, positions=_with(state.positions, inp.sender, moved))
    return TransitionResult(after, [CollateralPaid(inp.sender, inp.amount)])


def _borrow(state: PoolState, inp: Borrow, now: int) -> Result:
    after = _borrowed(state, inp.sender, inp.amount, now)
    if isinstance(after, str):
        return _reject(state, after)
    return TransitionResult(after, [Paid(inp.sender, inp.amount)])


def _borrowed(state: PoolState, who: Address, amount: int, now: int) -> PoolState | str:
    """The pool after ``who`` borrows ``amount``, or why it may not."""
    stale = _fresh_price(state, now)
    if stale:
        return stale
    if amount > state.cash:
        return "the pool has not that much cash"
    position = state.positions.get(who, Position())
    debt = debt_of(position.scaled_debt, state.borrow_index) + amount
    if debt * BPS > collateral_value(position.collateral, state.price) * state.params.ltv_bps:
        return "past the loan-to-value limit"
    added = div_up(amount * RAY, state.borrow_index)
    due = position.due if position.scaled_debt else now + state.params.max_term
    moved = replace(position, scaled_debt=position.scaled_debt + added, due=due)
    return replace(
        state, cash=state.cash - amount, total_scaled_debt=state.total_scaled_debt + added,
        positions=_with(state.positions, who, moved),
    )  # fmt: skip


def _borrow_for_lease(state: PoolState, inp: BorrowForLease, now: int) -> Result:
    if state.channels == ZERO_ADDRESS:
        return _reject(state, "this pool funds no leases")
    if inp.sender != inp.params.renter:
        return _reject(state, "only the lease's renter borrows for it")
    if inp.params.token != ZERO_ADDRESS:
        return _reject(state, "a credit lease's channel holds ether")
    after = _borrowed(state, inp.sender, inp.amount, now)
    if isinstance(after, str):
        return _reject(state, after)
    cid = inp.params.id
    after = replace(after, leases=_with(after.leases, cid, inp.sender))
    return TransitionResult(after, [LeaseFunded(inp.sender, cid, inp.amount)])


def _settle_lease(state: PoolState, inp: SettleLease) -> Result:
    cid = inp.params.id
    borrower = state.leases[cid]
    leases = {k: v for k, v in state.leases.items() if k != cid}
    position = state.positions.get(borrower, Position())
    debt = debt_of(position.scaled_debt, state.borrow_index)
    repaid = min(inp.refund, debt)
    after = replace(state, leases=leases)
    if repaid:
        after = _reduce_debt(after, borrower, position, repaid, debt, position.collateral)
    events: list[Event] = [LeaseSettled(borrower, cid, inp.refund, repaid)]
    if inp.refund > repaid:
        events.append(Paid(borrower, inp.refund - repaid))
    return TransitionResult(after, events)


def _repay(state: PoolState, inp: Repay) -> Result:
    position = state.positions.get(inp.borrower, Position())
    debt = debt_of(position.scaled_debt, state.borrow_index)
    if debt == 0:
        return _reject(state, "nothing to repay")
    paid = min(inp.amount, debt)
    after = _reduce_debt(state, inp.borrower, position, paid, debt, position.collateral)
    events: list[Event] = [Paid(inp.sender, inp.amount - paid)] if inp.amount > paid else []
    return TransitionResult(after, events)


def _liquidate(state: PoolState, inp: Liquidate, now: int) -> Result:
    stale = _fresh_price(state, now)
    if stale:
        return _reject(state, stale)
    position = state.positions.get(inp.borrower, Position())
    debt = debt_of(position.scaled_debt, state.borrow_index)
    if debt == 0:
        return _reject(state, "nothing to liquidate")
    overdue = now > position.due
    health = health_factor(state.params, position.collateral, debt, state.price)
    if health >= WAD and not overdue:
        return _reject(state, "the position is healthy")
    limit = debt if overdue else div_up(debt * state.params.close_factor_bps, BPS)
    repaid = min(inp.amount, limit)
    seized = seized_for(state.params, repaid, state.price)
    if seized >= position.collateral:
        seized = position.collateral
        repaid = min(repaid, repaid_for(state.params, seized, state.price))
    if seized == 0 or repaid == 0:
        return _reject(state, "the repayment is too small to seize any collateral")
    after = _reduce_debt(state, inp.borrower, position, repaid, debt, position.collateral - seized)
    events: list[Event] = [
        Liquidated(inp.borrower, inp.sender, repaid, seized),
        CollateralPaid(inp.sender, seized),
    ]
    if inp.amount > repaid:
        events.append(Paid(inp.sender, inp.amount - repaid))
    left = after.positions[inp.borrower]
    if left.collateral == 0 and left.scaled_debt > 0:
        after, written_off = _write_off(after, inp.borrower)
        events.append(written_off)
    return TransitionResult(after, events)


def _reduce_debt(
    state: PoolState, who: Address, position: Position, paid: int, debt: int, collateral: int
) -> PoolState:
    """``paid`` of ``debt`` repaid: the scaled debt falls by what ``paid`` is worth,
    rounded down (all of it when the whole debt is paid)."""
    cut = position.scaled_debt if paid == debt else paid * RAY // state.borrow_index
    scaled = position.scaled_debt - cut
    moved = Position(collateral, scaled, position.due if scaled else 0)
    return replace(
        state, cash=state.cash + paid, total_scaled_debt=state.total_scaled_debt - cut,
        positions=_with(state.positions, who, moved),
    )  # fmt: skip


def _write_off(state: PoolState, who: Address) -> tuple[PoolState, BadDebt]:
    position = state.positions[who]
    amount = debt_of(position.scaled_debt, state.borrow_index)
    from_reserves = min(state.reserves, amount)
    after = replace(
        state,
        total_scaled_debt=state.total_scaled_debt - position.scaled_debt,
        reserves=state.reserves - from_reserves,
        bad_debt=state.bad_debt + amount,
        positions=_with(state.positions, who, Position(0, 0, 0)),
    )
    return after, BadDebt(who, amount, from_reserves)


def _set_price(state: PoolState, inp: SetPrice, now: int) -> Result:
    if inp.sender != state.oracle:
        return _reject(state, "only the price feed sets the price")
    if not 0 < inp.price <= MAX_PRICE:
        return _reject(state, "the price must be above 0 and below 2**96")
    price = bounded_price(
        state.price, state.price_at, inp.price, now, state.params.max_price_step_bps
    )
    after = replace(state, price=price, price_at=now)
    return TransitionResult(after, [PriceSet(price, inp.price)])


def _collect_reserves(state: PoolState, inp: CollectReserves) -> Result:
    if inp.sender != state.treasury:
        return _reject(state, "only the treasury collects reserves")
    if inp.amount > state.reserves:
        return _reject(state, "more than the reserves")
    if inp.amount > state.cash:
        return _reject(state, "the pool's cash is lent out")
    after = replace(state, cash=state.cash - inp.amount, reserves=state.reserves - inp.amount)
    return TransitionResult(after, [Paid(inp.sender, inp.amount)])
