"""GPU-hour forwards (``core/credit/forwards``): opened, marked, liquidated and settled;
the faults; and over random calls, that the market pays out exactly what was paid in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.credit import forwards as fw
from l2gpu.core.types import Address

FEED = Address(b"\x0f" * 20)
RENTER, PROVIDER, BOT = (Address(bytes([i]) * 20) for i in (1, 2, 3))
GWEI = 10**9
T0 = 1_800_000_000
EXPIRY = T0 + 30 * 86_400
PRICE = 2_000_000 * GWEI  # wei per GPU-hour (0.002 ether)
HOURS = 1_000  # notional 2 ether


def market() -> fw.ForwardsState:
    state = fw.ForwardsState(fw.ForwardParams(expiry=EXPIRY), FEED)
    return take(state, fw.PostIndex(FEED, PRICE))


def take(state: fw.ForwardsState, inp: fw.Input, now: int = T0) -> fw.ForwardsState:
    after, events = fw.state_transition(state, inp, now=now)
    assert not any(isinstance(e, fw.Rejected) for e in events), events
    return after


def reason(state: fw.ForwardsState, inp: fw.Input, now: int = T0) -> str:
    after, events = fw.state_transition(state, inp, now=now)
    assert after == state
    assert isinstance(events[0], fw.Rejected)
    return events[0].reason


def opened(long_margin: int = PRICE * HOURS // 5, short_margin: int = PRICE * HOURS // 5):
    """A forward: the renter long, the provider short, 1,000 GPU-hours at PRICE."""
    state = take(market(), fw.OpenOffer(RENTER, "long", HOURS, PRICE, long_margin))
    return take(state, fw.Take(PROVIDER, 1, short_margin))


def walk(state: fw.ForwardsState, target: int, start: int) -> tuple[fw.ForwardsState, int]:
    """Post ``target`` hourly until the index gets there (20 % a step at most)."""
    now = start
    while state.index != target:
        now += 3_600
        state = take(state, fw.PostIndex(FEED, target), now)
    return state, now


def test_leverage_is_bounded_by_the_initial_margin() -> None:
    state = market()
    notional = PRICE * HOURS
    assert reason(state, fw.OpenOffer(RENTER, "long", HOURS, PRICE, notional // 5 - 1)) == (
        "the margin is below the initial margin"
    )  # 20 %: five times leverage at most
    state = take(state, fw.OpenOffer(RENTER, "long", HOURS, PRICE, notional // 5))
    assert reason(state, fw.Take(PROVIDER, 1, notional // 5 - 1)) == (
        "the margin is below the initial margin"
    )
    assert reason(state, fw.Take(RENTER, 1, notional)) == "a maker cannot take its own offer"


def test_a_forward_settles_in_cash_against_the_index_after_expiry() -> None:
    state = opened()
    state, now = walk(state, PRICE * 11 // 10, EXPIRY - 3 * 3_600)  # +10 %: the long gains
    assert reason(state, fw.Settle(BOT, 1), now) == (
        "the forward settles on an index posted after its expiry"
    )
    state = take(state, fw.PostIndex(FEED, PRICE * 11 // 10), EXPIRY + 60)
    after, events = fw.state_transition(state, fw.Settle(BOT, 1), now=EXPIRY + 61)
    gain = PRICE // 10 * HOURS
    margin = PRICE * HOURS // 5
    assert fw.Paid(RENTER, margin + gain) in events
    assert fw.Paid(PROVIDER, margin - gain) in events
    assert after.forwards == {}
    assert after.bad_debt == 0


def test_a_side_below_maintenance_is_liquidated_and_a_healthy_one_is_not() -> None:
    state = opened()
    assert reason(state, fw.Liquidate(BOT, 1)) == "both sides hold their maintenance margin"
    state, now = walk(state, PRICE * 88 // 100, T0)  # -12 %: the long's equity 8 % < 10 %
    _, events = fw.state_transition(state, fw.Liquidate(BOT, 1), now=now)
    settled = events[0]
    assert isinstance(settled, fw.Settled)
    assert settled.liquidator == BOT
    assert settled.fee == state.params.liquidation_fee_bps * state.index * HOURS // 10_000
    assert settled.long_payout + settled.short_payout + settled.fee == 2 * PRICE * HOURS // 5
    assert settled.shortfall == 0


def test_a_stale_or_manipulated_index_is_refused_or_bounded() -> None:
    state = opened()
    late = T0 + state.params.max_price_age + 1
    assert reason(state, fw.Liquidate(BOT, 1), late) == "the index is stale"
    hour = T0 + 3_600
    for _ in range(20):  # a taken feed key posting many times in one block
        state = take(state, fw.PostIndex(FEED, 1), hour)
    assert state.index == PRICE * 8 // 10  # 20 % an hour at most, however often it posts
    assert reason(state, fw.PostIndex(RENTER, PRICE)) == "only the feed posts the index"


def test_a_jump_past_the_margin_is_recorded_as_bad_debt() -> None:
    state = opened()
    # The feed posts hourly; nobody liquidates until the index has fallen 59 %.
    now = T0
    for _ in range(4):
        now += 3_600
        state = take(state, fw.PostIndex(FEED, PRICE * 41 // 100), now)
    after, events = fw.state_transition(state, fw.Liquidate(BOT, 1), now=now)
    settled = events[0]
    assert isinstance(settled, fw.Settled)
    assert settled.long_payout == 0
    assert settled.shortfall == (PRICE - state.index) * HOURS - PRICE * HOURS // 5
    assert after.bad_debt == settled.shortfall


def test_every_forward_settles_at_the_first_index_after_expiry() -> None:
    state = take(opened(), fw.OpenOffer(RENTER, "long", HOURS, PRICE, PRICE * HOURS // 5))
    state = take(state, fw.Take(PROVIDER, 2, PRICE * HOURS // 5))
    assert reason(state, fw.Liquidate(BOT, 1), EXPIRY + 1) == (
        "the market has expired: settle the forward"
    )
    state = take(state, fw.PostIndex(FEED, PRICE * 11 // 10), EXPIRY + 3_600)
    state, first = fw.state_transition(state, fw.Settle(BOT, 1), now=EXPIRY + 3_601)
    state = take(state, fw.PostIndex(FEED, PRICE * 9 // 10), EXPIRY + 7_200)  # later: no matter
    _, second = fw.state_transition(state, fw.Settle(BOT, 2), now=EXPIRY + 7_201)
    assert first[0] == fw.Settled(1, PRICE * 11 // 10, *_payouts(PRICE * 11 // 10), 0)
    assert second[0] == fw.Settled(2, PRICE * 11 // 10, *_payouts(PRICE * 11 // 10), 0)


def _payouts(index: int) -> tuple[int, int]:
    gain = (index - PRICE) * HOURS
    return PRICE * HOURS // 5 + gain, PRICE * HOURS // 5 - gain


def test_a_silent_feed_delays_settlement_but_does_not_lock_the_margins() -> None:
    state = opened()
    grace = EXPIRY + fw.SETTLE_GRACE
    assert reason(state, fw.Settle(BOT, 1), grace) == (
        "the forward settles on an index posted after its expiry"
    )
    _, events = fw.state_transition(state, fw.Settle(BOT, 1), now=grace + 1)
    assert events[0] == fw.Settled(1, PRICE, *_payouts(PRICE), 0)  # the last index in force


def test_an_offer_whose_maker_already_fails_at_the_index_cannot_be_taken() -> None:
    state = take(market(), fw.OpenOffer(RENTER, "long", HOURS, PRICE, PRICE * HOURS // 5))
    state = take(state, fw.PostIndex(FEED, PRICE * 87 // 100), T0 + 3_600)  # long's equity 7 %
    assert reason(state, fw.Take(PROVIDER, 1, PRICE * HOURS // 5), T0 + 3_600) == (
        "at the index the forward would be liquidated at once"
    )


def test_an_offer_is_cancelled_by_its_maker_only() -> None:
    state = take(market(), fw.OpenOffer(PROVIDER, "short", HOURS, PRICE, PRICE * HOURS))
    assert reason(state, fw.CancelOffer(RENTER, 1)) == "only its maker cancels an offer"
    _, events = fw.state_transition(state, fw.CancelOffer(PROVIDER, 1), now=T0)
    assert events == [fw.Paid(PROVIDER, PRICE * HOURS)]


WHO = st.sampled_from([RENTER, PROVIDER, BOT])
CALLS = st.one_of(
    st.builds(fw.PostIndex, st.just(FEED), st.integers(PRICE // 4, PRICE * 4)),
    st.builds(
        fw.OpenOffer,
        WHO,
        st.sampled_from(["long", "short"]),
        st.integers(1, 5_000),
        st.integers(PRICE // 2, PRICE * 2),
        st.integers(0, 10 * PRICE * HOURS),
    ),
    st.builds(fw.CancelOffer, WHO, st.integers(1, 6)),
    st.builds(fw.Take, WHO, st.integers(1, 6), st.integers(0, 10 * PRICE * HOURS)),
    st.builds(fw.AddMargin, WHO, st.integers(1, 6), st.integers(1, PRICE * HOURS)),
    st.builds(fw.Liquidate, WHO, st.integers(1, 6)),
    st.builds(fw.Settle, WHO, st.integers(1, 6)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(CALLS, st.integers(0, 6 * 86_400)), max_size=30))
def test_the_market_pays_out_exactly_what_was_paid_in(steps: list) -> None:  # type: ignore[type-arg]
    state = market()
    now = T0
    paid_in = paid_out = 0
    for inp, wait in steps:
        now += wait
        state, events = fw.state_transition(state, inp, now=now)
        if any(isinstance(e, fw.Rejected) for e in events):
            continue
        if isinstance(inp, fw.OpenOffer | fw.Take | fw.AddMargin):
            paid_in += inp.margin
        paid_out += sum(e.amount for e in events if isinstance(e, fw.Paid))
        held = sum(o.margin for o in state.offers.values()) + sum(
            f.long_margin + f.short_margin for f in state.forwards.values()
        )
        assert paid_in - paid_out == held
        for e in events:
            if isinstance(e, fw.Settled):
                assert min(e.long_payout, e.short_payout, e.fee, e.shortfall) >= 0
