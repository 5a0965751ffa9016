"""The lending pool's arithmetic: the kinked rate curve, interest by index, health.

Every quantity is an integer, and every division says which way it rounds: always
the way that favours the pool (debts and shares burnt round up, shares minted and
collateral paid out round down), so no sequence of calls can take out a wei that was
not put in. ``LendingPool.vy`` does the same arithmetic in the same order; the shared
vectors (``tests/credit``) keep the two equal.

Units: amounts in wei (the loan asset) or the collateral token's base unit; a price
is wei per whole collateral token (``WAD`` base units, 18 decimals); rates and the
borrow index are scaled by ``RAY``; parameters are in basis points.
"""

from __future__ import annotations

from dataclasses import dataclass

WAD = 10**18
RAY = 10**27
BPS = 10_000
SECONDS_PER_YEAR = 365 * 86_400
MAX_AMOUNT = 2**128 - 1
"""The largest amount any call moves or any balance holds (keeps products in uint256)."""
MAX_PRICE = 2**96 - 1
"""The largest price a feed may post (wei per whole token): about 7.9e10 ether."""
MAX_INDEX = RAY * 2**32
"""The borrow index stops growing here: past it, products of the index would leave
uint256, and the contract would revert every call (funds stuck). At 80 % a year it
takes 28 years of compounding to get there; interest then stops, calls go on."""
PRICE_STEP_PERIOD = 3_600
"""A feed's price moves at most ``max_price_step_bps`` per this many seconds since its
last update (and no more in one update): a feed key that posts many times in one
block, or every block, moves the price no faster than one step an hour."""
MAX_ACCRUAL_STEP = 2**32
"""Seconds one accrual covers at most (136 years): bounds ``index * rate * elapsed``."""


def div_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded up (both non-negative, denominator > 0)."""
    return -(-numerator // denominator)


@dataclass(frozen=True, slots=True)
class PoolParams:
    """What a pool is deployed with; fixed for its life.

    The rate curve is Aave's and Compound's kinked line: below ``kink_bps`` of
    utilization the yearly borrow rate rises from ``base_rate`` by ``slope_low`` at
    the kink; above it, by ``slope_high`` more at full utilization, so that borrowers
    pay steeply to keep lenders' cash available.
    """

    ltv_bps: int = 7_000
    """A borrow may take debt up to this share of the collateral's value."""
    liquidation_threshold_bps: int = 8_000
    """Below ``health_factor == 1``: debt above this share of the collateral's value."""
    liquidation_bonus_bps: int = 500
    """A liquidator receives collateral worth the debt it repays plus this share."""
    close_factor_bps: int = 5_000
    """A liquidation repays at most this share of the debt (all of it once overdue)."""
    reserve_factor_bps: int = 1_000
    """This share of the interest goes to the pool's reserves, the first loss buffer."""
    base_rate: int = RAY // 100
    """Yearly borrow rate at zero utilization (RAY-scaled: RAY is 100 % a year)."""
    slope_low: int = 4 * RAY // 100
    slope_high: int = 75 * RAY // 100
    kink_bps: int = 8_000
    max_price_age: int = 3_600
    """A price older than this (seconds) is stale: no borrow, withdrawal of collateral
    or liquidation until a new one arrives."""
    max_price_step_bps: int = 2_000
    """The price moves by at most this share an hour (:func:`bounded_price`): a feed
    that is wrong, or whose key was taken, moves the pool's price boundedly."""
    max_term: int = 30 * 86_400
    """A loan is due this long after its first borrow; an overdue loan is liquidated
    in full whatever its health (a renter who disappears is repaid from collateral)."""

    def problems(self) -> list[str]:
        """What makes these parameters unsafe, in words (empty when none)."""
        out = []
        if not 0 < self.ltv_bps < self.liquidation_threshold_bps < BPS:
            out.append("need 0 < ltv < liquidation threshold < 100 %")
        if (BPS + self.liquidation_bonus_bps) * self.liquidation_threshold_bps >= BPS * BPS:
            out.append("the bonus at the threshold would pay more collateral than exists")
        if not 0 < self.close_factor_bps <= BPS:
            out.append("the close factor must be in (0, 100 %]")
        if not 0 <= self.reserve_factor_bps < BPS:
            out.append("the reserve factor must be in [0, 100 %)")
        if not 0 < self.kink_bps < BPS:
            out.append("the kink must be in (0, 100 %)")
        if max(self.base_rate, self.slope_low, self.slope_high) > 10 * RAY:
            out.append("a rate above 1,000 % a year")
        if self.max_price_age <= 0 or not 0 < self.max_price_step_bps < BPS:
            out.append("the price's age and step bounds must be positive and below 100 %")
        if self.max_term <= 0:
            out.append("the loan term must be positive")
        return out


def borrow_rate(params: PoolParams, debt: int, cash: int) -> int:
    """The yearly borrow rate (RAY) at utilization ``debt / (cash + debt)``."""
    if debt == 0:
        return params.base_rate
    utilization_bps = debt * BPS // (cash + debt)
    if utilization_bps <= params.kink_bps:
        return params.base_rate + params.slope_low * utilization_bps // params.kink_bps
    above = utilization_bps - params.kink_bps
    return (
        params.base_rate + params.slope_low + params.slope_high * above // (BPS - params.kink_bps)
    )


def grown_index(index: int, yearly_rate: int, elapsed: int) -> int:
    """The borrow index after ``elapsed`` seconds at ``yearly_rate`` (simple interest
    over the step, compounded at each accrual, as Compound's ``accrueInterest``),
    rounded up, and at most :data:`MAX_INDEX`."""
    step = min(elapsed, MAX_ACCRUAL_STEP)
    grown = index + div_up(index * yearly_rate * step, RAY * SECONDS_PER_YEAR)
    return min(grown, MAX_INDEX)


def debt_of(scaled_debt: int, index: int) -> int:
    """What a borrower owes: its scaled debt times the index, rounded up."""
    return div_up(scaled_debt * index, RAY)


def collateral_value(collateral: int, price: int) -> int:
    """The collateral's value in wei at ``price`` (wei per whole token), rounded down."""
    return collateral * price // WAD


def health_factor(params: PoolParams, collateral: int, debt: int, price: int) -> int:
    """``collateral value * threshold / debt`` (WAD; below WAD is liquidatable); the
    largest uint256 for a position without debt."""
    if debt == 0:
        return 2**256 - 1
    value = collateral_value(collateral, price)
    return value * params.liquidation_threshold_bps * WAD // (BPS * debt)


def seized_for(params: PoolParams, repaid: int, price: int) -> int:
    """The collateral a liquidator receives for repaying ``repaid`` wei, rounded down."""
    return repaid * (BPS + params.liquidation_bonus_bps) * WAD // (BPS * price)


def repaid_for(params: PoolParams, collateral: int, price: int) -> int:
    """The wei a liquidator must repay to take all of ``collateral``, rounded up."""
    return div_up(collateral * price * BPS, (BPS + params.liquidation_bonus_bps) * WAD)


def bounded_price(current: int, current_at: int, requested: int, now: int, step_bps: int) -> int:
    """The price a feed's ``requested`` update puts in force: within ``step_bps`` of
    ``current`` per :data:`PRICE_STEP_PERIOD` elapsed since ``current_at`` (one step
    at most); the first price (``current`` 0) is taken as it is."""
    if current == 0:
        return requested
    elapsed = min(max(now - current_at, 0), PRICE_STEP_PERIOD)
    step = current * step_bps * elapsed // (BPS * PRICE_STEP_PERIOD)
    return min(max(requested, current - step), current + step)
