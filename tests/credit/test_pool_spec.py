"""The lending pool's specification (``core/credit``) on its own: the faults issue 20
names, and invariants over random call sequences (money in equals money out plus
what the pool holds; nobody takes out a wei that was not put in)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.credit import pool
from l2gpu.core.credit.rates import MAX_INDEX, RAY, WAD, PoolParams, borrow_rate, debt_of
from l2gpu.core.types import Address

ORACLE, TREASURY = Address(b"\x0a" * 20), Address(b"\x0b" * 20)
ALICE, BOB, CAROL, LIQUIDATOR = (Address(bytes([i]) * 20) for i in (1, 2, 3, 4))
ETHER = 10**18
T0 = 1_700_000_000


def fresh_pool(params: PoolParams | None = None) -> pool.PoolState:
    return pool.PoolState(params or PoolParams(), ORACLE, TREASURY, last_accrual=T0)


def apply(state: pool.PoolState, inp: pool.Input, now: int = T0) -> pool.PoolState:
    """Apply ``inp`` and insist it was taken."""
    after, events = pool.state_transition(state, inp, now=now)
    assert not any(isinstance(e, pool.Rejected) for e in events), events
    return after


def reason(state: pool.PoolState, inp: pool.Input, now: int = T0) -> str:
    after, events = pool.state_transition(state, inp, now=now)
    assert after == state
    assert isinstance(events[0], pool.Rejected)
    return events[0].reason


def funded(price: int = 2 * ETHER) -> pool.PoolState:
    """20 ether supplied by Carol, Alice's 10 tokens posted, the price set."""
    state = apply(fresh_pool(), pool.SetPrice(ORACLE, price))
    state = apply(state, pool.Supply(CAROL, 20 * ETHER))
    return apply(state, pool.AddCollateral(ALICE, 10 * ETHER))


def test_borrowing_past_the_loan_to_value_limit_is_refused() -> None:
    state = funded()  # 10 tokens at 2 ether: 20 ether of value, 70 % LTV: 14 ether
    state = replace(state, cash=100 * ETHER)
    assert reason(state, pool.Borrow(ALICE, 14 * ETHER + 1)) == "past the loan-to-value limit"
    apply(state, pool.Borrow(ALICE, 14 * ETHER))


def test_a_stale_price_stops_borrowing_and_liquidation_but_not_repayment() -> None:
    state = apply(funded(), pool.Borrow(ALICE, ETHER))
    later = T0 + state.params.max_price_age + 1
    assert reason(state, pool.Borrow(ALICE, 1), later) == "the price is stale"
    assert reason(state, pool.Liquidate(LIQUIDATOR, ALICE, ETHER), later) == "the price is stale"
    assert reason(state, pool.RemoveCollateral(ALICE, 1), later) == "the price is stale"
    apply(state, pool.Repay(ALICE, ALICE, ETHER), later)


def test_a_manipulated_price_moves_the_pool_by_the_step_bound_only() -> None:
    state = funded(price=2 * ETHER)
    hour = T0 + 3_600
    after, events = pool.state_transition(state, pool.SetPrice(ORACLE, 1), now=hour)
    assert events == [pool.PriceSet(2 * ETHER * 8 // 10, 1)]  # down 20 % an hour, not to 0
    # A taken feed key posting many times in one block moves it no further.
    for _ in range(50):
        after, events = pool.state_transition(after, pool.SetPrice(ORACLE, 1), now=hour)
    assert after.price == 2 * ETHER * 8 // 10
    # Nor does posting every 12 seconds: 20 % an hour whatever the cadence.
    now = hour
    for _ in range(300):  # an hour of blocks
        now += 12
        after, _ = pool.state_transition(after, pool.SetPrice(ORACLE, 1), now=now)
    assert after.price >= 2 * ETHER * 8 // 10 * 8 // 10 * 99 // 100
    assert reason(state, pool.SetPrice(ALICE, ETHER)) == "only the price feed sets the price"
    assert (
        reason(state, pool.SetPrice(ORACLE, 2**96)) == "the price must be above 0 and below 2**96"
    )


def test_liquidating_a_healthy_position_is_refused() -> None:
    state = apply(funded(), pool.Borrow(ALICE, 14 * ETHER // 2))
    assert reason(state, pool.Liquidate(LIQUIDATOR, ALICE, ETHER)) == "the position is healthy"


def test_an_unhealthy_position_is_liquidated_by_the_close_factor_with_a_bonus() -> None:
    state = apply(funded(), pool.Borrow(ALICE, 13 * ETHER))
    now = T0 + 3_600
    state = apply(state, pool.SetPrice(ORACLE, 1), now)  # 2 -> 1.6 ether per token
    debt = pool.accrue(state, now).debt(ALICE)
    assert pool.health_factor(state.params, 10 * ETHER, debt, state.price) < WAD
    _, events = pool.state_transition(state, pool.Liquidate(LIQUIDATOR, ALICE, debt), now=now)
    liquidated = next(e for e in events if isinstance(e, pool.Liquidated))
    assert liquidated.repaid == -(-debt * 5_000 // 10_000)  # half, rounded up
    assert liquidated.seized == liquidated.repaid * 10_500 * WAD // (10_000 * state.price)
    assert pool.Paid(LIQUIDATOR, debt - liquidated.repaid) in events  # the excess returns


def test_a_borrower_who_disappears_is_repaid_from_collateral_after_the_term() -> None:
    state = apply(funded(), pool.Borrow(ALICE, 2 * ETHER))  # healthy, and stays so
    due = T0 + state.params.max_term
    state = apply(state, pool.SetPrice(ORACLE, 2 * ETHER), due)
    assert reason(state, pool.Liquidate(LIQUIDATOR, ALICE, 10 * ETHER), due) == (
        "the position is healthy"
    )
    state = apply(state, pool.SetPrice(ORACLE, 2 * ETHER), due + 1)
    debt = pool.accrue(state, due + 1).debt(ALICE)
    after = apply(state, pool.Liquidate(LIQUIDATOR, ALICE, debt), due + 1)
    assert after.debt(ALICE) == 0
    assert after.bad_debt == 0
    assert after.share_value(CAROL) > 20 * ETHER  # the lender has its money and interest


def test_collateral_gone_with_debt_left_is_bad_debt_reserves_first() -> None:
    state = apply(funded(), pool.Borrow(ALICE, 13 * ETHER))
    state = apply(state, pool.Supply(BOB, ETHER), T0 + 86_400 * 30)  # interest: reserves
    now = T0 + 86_400 * 30
    for step in range(1, 12):  # an hour apart: 20 % each
        state = apply(state, pool.SetPrice(ORACLE, 1), now + step * 3_600)
    now += 11 * 3_600
    reserves = pool.accrue(state, now).reserves
    after, events = pool.state_transition(
        state, pool.Liquidate(LIQUIDATOR, ALICE, 100 * ETHER), now=now
    )
    bad = next(e for e in events if isinstance(e, pool.BadDebt))
    assert after.positions[ALICE] == pool.Position(0, 0, 0)
    assert bad.from_reserves == min(reserves, bad.amount)
    assert after.bad_debt == bad.amount
    assert after.total_scaled_debt == 0


def test_interest_that_would_overflow_stops_at_the_index_cap() -> None:
    steep = PoolParams(base_rate=10 * RAY, slope_low=10 * RAY, slope_high=10 * RAY)
    state = apply(fresh_pool(steep), pool.SetPrice(ORACLE, 2 * ETHER))
    state = apply(state, pool.Supply(CAROL, 10 * ETHER))
    state = apply(state, pool.AddCollateral(ALICE, 10 * ETHER))
    state = apply(state, pool.Borrow(ALICE, 10 * ETHER))  # all the cash: 100 % utilized
    now = T0
    for year in range(1, 40):  # a call a year at 3,000 %: the index would pass 2**256
        now = T0 + year * 365 * 86_400
        state = apply(state, pool.SetPrice(ORACLE, 2 * ETHER), now)
        state = apply(state, pool.AddCollateral(BOB, 1), now)
    assert state.borrow_index == MAX_INDEX
    assert state.debt(ALICE) == debt_of(state.positions[ALICE].scaled_debt, MAX_INDEX)
    apply(state, pool.Liquidate(LIQUIDATOR, ALICE, ETHER), now)  # calls still work


def test_rounding_favours_the_pool() -> None:
    state = funded()
    state = apply(state, pool.Borrow(ALICE, 1), T0)
    state = apply(state, pool.SetPrice(ORACLE, 2 * ETHER), T0 + 1)
    assert state.debt(ALICE) >= 1
    later = pool.accrue(state, T0 + 1)
    assert later.debt(ALICE) >= 1  # a 1-wei loan never rounds to nothing owed
    # Grow the share price, then a deposit below one share's worth buys nothing.
    rich = replace(state, cash=state.cash + 10 * ETHER)
    assert reason(rich, pool.Supply(BOB, 1)) == "the amount buys no share"
    # A withdrawal burns shares rounded up: 1 wei costs a whole share.
    after = apply(rich, pool.Withdraw(CAROL, 1))
    assert after.shares[CAROL] == rich.shares[CAROL] - 1


def test_the_rate_curve_is_kinked() -> None:
    params = PoolParams()
    at = [borrow_rate(params, debt, 100 - debt) for debt in (0, 40, 80, 90, 100)]
    assert at[0] == params.base_rate
    assert at[2] == params.base_rate + params.slope_low
    assert at[4] == params.base_rate + params.slope_low + params.slope_high
    assert (at[3] - at[2]) > 3 * (at[2] - at[1])  # steeper above the kink


AMOUNT = st.integers(min_value=0, max_value=30 * ETHER)
WHO = st.sampled_from([ALICE, BOB, CAROL, LIQUIDATOR])
CALLS = st.one_of(
    st.builds(pool.Supply, WHO, AMOUNT),
    st.builds(pool.Withdraw, WHO, AMOUNT),
    st.builds(pool.AddCollateral, WHO, AMOUNT),
    st.builds(pool.RemoveCollateral, WHO, AMOUNT),
    st.builds(pool.Borrow, WHO, AMOUNT),
    st.builds(pool.Repay, WHO, WHO, AMOUNT),
    st.builds(pool.Liquidate, WHO, WHO, AMOUNT),
    st.builds(pool.SetPrice, st.just(ORACLE), st.integers(1, 5 * ETHER)),
    st.builds(pool.CollectReserves, st.just(TREASURY), AMOUNT),
)
STEPS = st.lists(st.tuples(CALLS, st.integers(0, 10 * 86_400)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_money_in_equals_money_out_plus_what_the_pool_holds(steps: list) -> None:  # type: ignore[type-arg]
    state = fresh_pool()
    now = T0
    ether_in = ether_out = tokens_in = tokens_out = 0
    for inp, wait in steps:
        now += wait
        state, events = pool.state_transition(state, inp, now=now)
        if any(isinstance(e, pool.Rejected) for e in events):
            continue
        if isinstance(inp, pool.Supply | pool.Repay | pool.Liquidate):
            ether_in += inp.amount
        if isinstance(inp, pool.AddCollateral):
            tokens_in += inp.amount
        ether_out += sum(e.amount for e in events if isinstance(e, pool.Paid))
        tokens_out += sum(e.amount for e in events if isinstance(e, pool.CollateralPaid))
        assert state.cash == ether_in - ether_out >= 0
        assert sum(p.collateral for p in state.positions.values()) == tokens_in - tokens_out
        assert sum(state.shares.values()) == state.total_shares
        assert sum(p.scaled_debt for p in state.positions.values()) == state.total_scaled_debt
        owed = sum(debt_of(p.scaled_debt, state.borrow_index) for p in state.positions.values())
        assert owed >= state.total_debt  # each debt rounds up, so their sum is no less
        assert state.reserves <= state.cash + state.total_debt
