"""Attacks on LendingPool.vy and Forwards.vy with real transactions, from an attack
review: each test states what an attacker tries and shows it refused (the five the
review found working are fixed, and say so). Helper contracts live in
contracts/testing (AttackFeed, ReentrantToken, FeeToken).
"""

from __future__ import annotations

import contextlib

import pytest
from eth_abi import encode
from eth_utils import keccak

from l2gpu.core.credit import forwards as fw
from l2gpu.core.credit import pool
from l2gpu.core.credit.rates import RAY, WAD, PoolParams
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, compile_contract
from l2gpu.l1.contracts.forwards import ForwardsClient
from l2gpu.l1.contracts.lending_pool import LendingPoolClient
from l2gpu.l1.errors import ContractRevert, L1Error

from .test_forwards_contract import DAY, HOURS, NOTIONAL, PRICE, open_market, with_forward
from .test_pool_contract import ETHER, MAX_UINT, addr, crash, funded, open_pool

MAX_PRICE = 2**96 - 1
MAX_AMOUNT = 2**128 - 1


def calldata(signature: str, types: list[str], args: list[object]) -> bytes:
    return keccak(text=signature)[:4] + encode(types, args)


def supplied_value(client: LendingPoolClient) -> tuple[int, int]:
    """(what the suppliers' shares are worth together, total shares) on the contract."""
    cash, total, scaled, index, _, _, _, reserves, _ = client.contract.call_fast("pool_state")
    debt = -(-scaled * index // RAY)
    return max(cash + debt - reserves, 0), total


def deploy_pool(chain: Chain, token: Address, oracle: Address) -> LendingPoolClient:
    return LendingPoolClient.deploy(
        chain,
        chain.accounts[0],
        token=token,
        oracle=oracle,
        treasury=addr(chain.accounts[2]),
        params=PoolParams(),
    )


# == LendingPool ======================================================================


def test_pool_feed_cannot_move_the_price_more_than_one_step_in_one_block(chain: Chain) -> None:
    """A taken feed key (here a feed contract) posts 134 times in one transaction to move
    the price from 2 ether to 2**96, so that a colluding borrower drains the pool
    against one token worth 2 ether. The step bound is per hour since the last post
    (found by an attack review: it was per update), so the price barely moves and the
    borrow is refused."""
    deployer, _, _, carol, mallory = chain.accounts[:5]
    token = chain.deploy(
        compile_contract("tokens/TestToken.vy"), "Collateral", "COL", 18, sender=deployer
    )
    feed = chain.deploy(compile_contract("testing/AttackFeed.vy"), sender=deployer)
    client = deploy_pool(chain, token.address, feed.address)
    feed.transact("set_price_many", client.address, 2 * ETHER, 1, sender=deployer)
    client.supply(carol, 100 * ETHER)
    token.transact("mint", mallory.address, ETHER, sender=mallory)
    token.transact("approve", client.address, MAX_UINT, sender=mallory)
    client.add_collateral(mallory, ETHER)  # one token, worth 2 ether
    before = int(client.contract.call_fast("price"))

    receipt = feed.transact("set_price_many", client.address, MAX_PRICE, 134, sender=deployer)
    after = int(client.contract.call_fast("price"))
    posts = [e for e in receipt.events if e.name == "PriceSet"]
    assert len(posts) == 134  # all in one block
    assert after <= before * 1_001 // 1_000  # seconds since the last post: a sliver of a step
    with pytest.raises(ContractRevert, match="past the loan-to-value limit"):
        client.borrow(mallory, 100 * ETHER)  # the whole pool, against 2 ether of collateral


def test_pool_ether_forced_in_does_not_skew_shares(chain: Chain) -> None:
    """Donation / first-depositor attack: there is no default function, and ether forced
    in by selfdestruct is not counted (the pool keeps its own `cash`), so the attacker's
    1-wei share does not grow and the victim's shares are fair."""
    p = open_pool(chain)
    alice, bob, *_ = (addr(u) for u in p.users)
    attacker, victim = p.users[0], p.users[1]
    p.ok(pool.SetPrice(p.spec.oracle, 2 * ETHER))
    p.ok(pool.Supply(alice, 1))  # the attacker is first, with 1 wei: 1 share
    # no __default__: a plain transfer fails (send_ether does not check the status)
    with contextlib.suppress(ContractRevert, L1Error, ValueError):
        chain.send_ether(p.client.address, 10 * ETHER, sender=attacker)
    assert p.ether(p.client.address) == 1
    bomb = chain.deploy(compile_contract("testing/AttackFeed.vy"), sender=attacker)
    bomb.transact("force_send", p.client.address, sender=attacker, value=10 * ETHER)
    assert p.ether(p.client.address) == 10 * ETHER + 1
    assert (
        p.client.state(
            p.addresses(), params=p.spec.params, oracle=p.spec.oracle, treasury=p.spec.treasury
        ).cash
        == 1
    )  # not counted
    p.client.supply(victim, 10 * ETHER)
    value, total = supplied_value(p.client)
    victim_value = p.client.shares(bob) * value // total
    assert victim_value >= 10 * ETHER - 1
    assert p.client.shares(alice) * value // total <= 1  # the donation is not the attacker's


def test_pool_many_small_withdrawals_take_no_more_than_the_shares_are_worth(
    chain: Chain,
) -> None:
    """Rounding over many small calls: each withdrawal burns its shares rounded up, so
    what Bob has taken plus what his shares are worth never exceeds what the shares he
    minted are worth at the current share price."""
    p, (alice, bob, *_) = funded(chain)
    p.ok(pool.Borrow(alice, 10 * ETHER))
    p.chain.time_travel(30 * 86_400)
    p.ok(pool.Supply(bob, 3 * ETHER + 7))  # share price now above 1 wei
    minted = p.spec.shares[bob]
    taken = 0
    for amount in [1, 1, 2, 3, 1, 5, 7, 1, 11, 13, 1, 2, 17, 1, 19, 1, 3, 23, 1, 1] * 2:
        p.ok(pool.Withdraw(bob, amount))
        taken += amount
    assert p.refused(pool.Supply(bob, 1)) == "the amount buys no share"
    value, total = supplied_value(p.client)
    # taken + shares * value / total <= minted * value / total, exactly (no rounding)
    assert taken * total + p.spec.shares[bob] * value <= minted * value


def test_pool_tiny_collateral_borrows_nothing_past_the_limit(chain: Chain) -> None:
    """Borrowing on rounding: 1 base unit at 2 ether a token is worth 2 wei, so it lends
    1 wei at most; the next wei, and removing the unit, are refused."""
    p = open_pool(chain)
    alice, _, carol, *_ = (addr(u) for u in p.users)
    p.ok(pool.SetPrice(p.spec.oracle, 2 * ETHER))
    p.ok(pool.Supply(carol, 20 * ETHER))
    p.ok(pool.AddCollateral(alice, 1))
    p.ok(pool.Borrow(alice, 1))
    assert p.refused(pool.Borrow(alice, 1)) == "past the loan-to-value limit"
    assert p.refused(pool.RemoveCollateral(alice, 1)) == (
        "the rest would not cover the loan-to-value limit"
    )
    p.ok(pool.SetPrice(p.spec.oracle, 1))  # one step down: 1.6 ether, worth 1 wei
    p.ok(pool.AddCollateral(alice, 1))
    assert p.refused(pool.Borrow(alice, 1)) == "past the loan-to-value limit"


def test_pool_borrow_then_remove_collateral_is_refused(chain: Chain) -> None:
    p, (alice, *_) = funded(chain)
    p.ok(pool.Borrow(alice, 7 * ETHER))  # half the limit
    p.ok(pool.RemoveCollateral(alice, 4 * ETHER))  # 6 tokens: 12 ether * 70 % = 8.4
    assert p.refused(pool.RemoveCollateral(alice, ETHER)) == (
        "the rest would not cover the loan-to-value limit"
    )


def test_pool_reentrant_collateral_token_cannot_reenter(chain: Chain) -> None:
    """A malicious collateral token (chosen at deploy: the pool trusts its token) calls
    back into the pool from transferFrom and transfer: the lock refuses the reentry.
    The control call outside a pool call shows the hook itself works."""
    deployer, oracle, _, alice, _ = chain.accounts[:5]
    token = chain.deploy(compile_contract("testing/ReentrantToken.vy"), sender=deployer)
    client = deploy_pool(chain, token.address, addr(oracle))
    client.set_price(oracle, 2 * ETHER)
    # the token itself is a supplier: its reentry would withdraw its own ether
    token.transact(
        "execute",
        client.address,
        calldata("supply()", [], []),
        5 * ETHER,
        sender=deployer,
        value=5 * ETHER,
    )
    withdraw = calldata("withdraw(uint256)", ["uint256"], [ETHER])
    token.transact("mint", alice.address, 100 * ETHER, sender=alice)
    token.transact("approve", client.address, MAX_UINT, sender=alice)
    for step in ("add", "remove"):
        token.transact("arm", client.address, withdraw, sender=deployer)
        if step == "add":
            client.add_collateral(alice, 10 * ETHER)
        else:
            client.remove_collateral(alice, 10 * ETHER)
    assert int(token.call_fast("hook_tried")) == 2
    assert int(token.call_fast("hook_ok")) == 0
    assert int(client.shares(token.address)) == 5 * ETHER
    # control: the same reentry outside a pool call goes through
    token.transact("arm", client.address, withdraw, sender=deployer)
    token.transact("transfer", alice.address, 0, sender=alice)
    assert int(token.call_fast("hook_ok")) == 1


def test_pool_fee_on_transfer_collateral_keeps_the_pool_solvent(chain: Chain) -> None:
    """A fee-on-transfer token would leave the pool owing more collateral than it holds
    (found by an attack review): add_collateral now refuses a transfer that delivers
    less than the amount."""
    deployer, oracle, _, alice, bob = chain.accounts[:5]
    token = chain.deploy(compile_contract("testing/FeeToken.vy"), sender=deployer)
    client = deploy_pool(chain, token.address, addr(oracle))
    client.set_price(oracle, 2 * ETHER)
    for who in (alice, bob):
        token.transact("mint", who.address, 100 * ETHER, sender=who)
        token.transact("approve", client.address, MAX_UINT, sender=who)
        with pytest.raises(ContractRevert, match="fee-on-transfer tokens are not supported"):
            client.add_collateral(who, 100 * ETHER)
    held = int(token.call_fast("balanceOf", client.address))
    owed = sum(client.position(addr(who)).collateral for who in (alice, bob))
    assert held >= owed, f"the pool holds {held} tokens and owes {owed}"


def test_pool_amounts_at_the_stated_bounds_do_not_overflow(chain: Chain) -> None:
    """Collateral 2**128 - 1 at a price 2**96 - 1: every product stays in uint256; loan,
    views, overdue liquidation and repayment all work and match the specification."""
    p = open_pool(chain)
    alice, bob, carol, _, liquidator = (addr(u) for u in p.users)
    p.token.transact("mint", p.users[0].address, MAX_AMOUNT - 10**6 * ETHER, sender=p.users[0])
    p.ok(pool.SetPrice(p.spec.oracle, MAX_PRICE))  # the first price is not clamped
    p.ok(pool.Supply(carol, 1_000 * ETHER))
    p.ok(pool.AddCollateral(alice, MAX_AMOUNT))
    p.ok(pool.Borrow(alice, 900 * ETHER))
    assert p.client.health_factor(alice) > WAD
    p.ok(pool.Repay(bob, alice, ETHER))
    p.chain.time_travel(p.spec.params.max_term + 1)
    p.ok(pool.SetPrice(p.spec.oracle, MAX_PRICE))
    p.ok(pool.Liquidate(liquidator, alice, 1_000 * ETHER))  # overdue: the whole debt
    assert p.spec.debt(alice) == 0
    assert p.spec.bad_debt == 0
    p.ok(pool.RemoveCollateral(alice, p.spec.positions[alice].collateral))


def test_pool_self_liquidation_makes_no_profit(chain: Chain) -> None:
    """The borrower liquidates itself after a one-step price drop: the bonus comes out
    of its own collateral, so its net worth (ether + tokens + collateral - debt, at
    the price) does not rise (it falls by its gas)."""
    p, (alice, *_) = funded(chain)
    p.ok(pool.Borrow(alice, 13 * ETHER))
    crash(p, 1)
    borrower = p.users[0]

    def worth() -> int:
        s = pool.accrue(p.spec, int(p.chain.timestamp()))
        held = p.tokens(borrower.address) + s.positions[alice].collateral
        return p.ether(borrower.address) + held * s.price // WAD - s.debt(alice)

    before = worth()
    p.ok(pool.Liquidate(alice, alice, 10 * ETHER))
    assert p.spec.positions[alice].collateral > 0  # a partial liquidation, no write-off
    assert worth() <= before


def test_pool_liquidations_leave_no_debt_nobody_can_clear(chain: Chain) -> None:
    """After a crash, liquidations at the close factor go on until the position is gone:
    its debt repaid or written off, no dust debt left against no collateral."""
    p, (alice, _, _, _, liquidator) = funded(chain)
    p.ok(pool.Borrow(alice, 13 * ETHER))
    crash(p, 3)
    for _ in range(40):
        if p.spec.debt(alice) == 0:
            break
        p.ok(pool.Liquidate(liquidator, alice, 100 * ETHER))
    position = p.spec.positions.get(alice, pool.Position())
    assert position.scaled_debt == 0


# == Forwards =========================================================================


def test_forwards_feed_cannot_move_the_index_more_than_one_step_in_one_block(
    chain: Chain,
) -> None:
    """As for the pool: 50 posts in one transaction would take the index from PRICE to
    PRICE * 0.8**50 and liquidate the long at once; bounded per hour, the index barely
    moves and nobody can be liquidated."""
    deployer, _, renter, provider, bot = chain.accounts[:5]
    feed = chain.deploy(compile_contract("testing/AttackFeed.vy"), sender=deployer)
    params = fw.ForwardParams(expiry=int(chain.timestamp()) + 30 * DAY)
    client = ForwardsClient.deploy(chain, deployer, feed=feed.address, params=params)
    feed.transact("post_index_many", client.address, PRICE, 1, sender=deployer)
    client.open_offer(renter, "long", HOURS, PRICE, NOTIONAL // 5)
    client.take(provider, 1, NOTIONAL // 5)
    feed.transact("post_index_many", client.address, 1, 50, sender=deployer)
    assert client.index() >= PRICE * 999 // 1_000
    with pytest.raises(ContractRevert, match="both sides hold their maintenance margin"):
        client.liquidate(bot, 1)


def test_forwards_wash_trade_self_liquidation_makes_no_money(chain: Chain) -> None:
    """One owner behind the long, the short and the liquidator: the fee comes out of its
    own failing side, payouts and fee add up to the margins, the market keeps nothing
    and pays nothing more; a bystander's forward is untouched."""
    m = open_market(chain)
    renter, provider, trader, bot = m.users
    m.post(PRICE)
    m.ok(fw.OpenOffer(trader, "short", HOURS, PRICE, NOTIONAL // 5))  # the bystander
    m.ok(fw.Take(provider, 1, NOTIONAL // 5))
    mine = [renter, bot, provider]
    before = sum(m.ether(a) for a in mine)
    m.ok(fw.OpenOffer(renter, "long", HOURS, PRICE, NOTIONAL // 5))
    m.ok(fw.Take(bot, 2, NOTIONAL // 5))
    m.post(PRICE * 88 // 100)  # the long fails maintenance
    m.ok(fw.Liquidate(provider, 2))
    assert sum(m.ether(a) for a in mine) < before  # gas only: nothing gained
    assert m.spec.bad_debt == 0
    assert m.ether(m.client.address) == 2 * NOTIONAL // 5  # the bystander's margins only
    assert 1 in m.spec.forwards


def test_forwards_settle_on_an_index_posted_exactly_at_expiry_is_refused(chain: Chain) -> None:
    m, (*_, bot) = with_forward(chain)
    expiry = m.spec.params.expiry
    m.wait_until(expiry - 5)
    m.post(PRICE * 11 // 10, wait=5)  # posted at the expiry itself
    assert m.spec.index_at == expiry
    assert m.refused(fw.Settle(bot, 1)) == (
        "the forward settles on an index posted after its expiry"
    )


def test_forwards_only_sides_add_margin_and_offers_cannot_be_reused(chain: Chain) -> None:
    """Margin added by an outsider (to keep a side from liquidation) is refused; a taken
    offer is not cancelled or taken again; a cancelled one is not taken; ids never
    collide (each offer gets the next one)."""
    m, (renter, _, trader, bot) = with_forward(chain)
    assert m.refused(fw.AddMargin(bot, 1, ETHER)) == (
        "only a side of the forward adds margin to it"
    )
    assert m.refused(fw.CancelOffer(renter, 1)) == "no such offer"
    assert m.refused(fw.Take(trader, 1, NOTIONAL)) == "no such offer"
    m.ok(fw.OpenOffer(trader, "short", HOURS, PRICE, NOTIONAL // 5))
    m.ok(fw.CancelOffer(trader, 2))
    assert m.refused(fw.Take(bot, 2, NOTIONAL)) == "no such offer"
    assert m.refused(fw.CancelOffer(trader, 2)) == "no such offer"
    m.ok(fw.OpenOffer(trader, "short", HOURS, PRICE, NOTIONAL // 5))
    assert m.spec.next_id == 4
    assert 3 in m.spec.offers


def test_forwards_payouts_never_exceed_the_margins(chain: Chain) -> None:
    """The index walked far away over many (separate) posts: the liquidation pays out
    exactly the two margins, the loser's lack recorded as bad debt with no fee (its
    equity is negative), and the market's ether matches what it still holds."""
    m, (*_, trader, bot) = with_forward(chain)
    m.ok(fw.OpenOffer(trader, "long", HOURS, PRICE, NOTIONAL // 5))
    m.ok(fw.Take(bot, 2, NOTIONAL // 5))
    for _ in range(30):
        m.post(MAX_PRICE)
    assert m.client.equity(1, "short") < 0
    m.ok(fw.Liquidate(bot, 1))
    settled = m.events[0]
    assert settled.fee == 0
    assert settled.long_payout + settled.short_payout == 2 * NOTIONAL // 5
    assert m.ether(m.client.address) == 2 * NOTIONAL // 5  # forward 2's margins


def test_forwards_settlement_price_is_fixed_at_expiry(chain: Chain) -> None:
    """[MEDIUM] Settlement is not at one expiry index: each forward settles at whatever
    index is in force when someone calls settle, any time after expiry. Two identical
    forwards settled on two post-expiry indices pay differently; a side that is losing
    keeps market exposure (and the option to wait) past expiry."""
    m, (*_, trader, bot) = with_forward(chain)
    m.ok(fw.OpenOffer(trader, "long", HOURS, PRICE, NOTIONAL // 5))
    m.ok(fw.Take(bot, 2, NOTIONAL // 5))
    m.wait_until(m.spec.params.expiry + 1)
    m.post(PRICE * 11 // 10)
    m.ok(fw.Settle(bot, 1))
    first = m.events[0]
    m.post(PRICE * 9 // 10, wait=60)
    m.ok(fw.Settle(bot, 2))
    second = m.events[0]
    assert second.long_payout == first.long_payout, (
        f"same forward, settled at {first.index} then at {second.index}: "
        f"long paid {first.long_payout} vs {second.long_payout}"
    )


def test_forwards_margins_are_not_locked_forever_by_a_silent_feed(chain: Chain) -> None:
    """A feed that never posts after expiry once locked the margins for good (found by
    an attack review); a week after expiry the forward settles at the last index."""
    m, (*_, bot) = with_forward(chain)
    m.wait_until(m.spec.params.expiry + 365 * DAY)
    assert m.refused(fw.Liquidate(bot, 1)) == "the market has expired: settle the forward"
    m.ok(fw.Settle(bot, 1))
    assert m.spec.forwards == {}


def test_forwards_after_expiry_only_settle_on_a_post_expiry_index(chain: Chain) -> None:
    """After expiry a forward settles on an index posted after it, with no fee; a
    liquidation on a pre-expiry index once took a fee out of the losing side (found by
    an attack review): after expiry liquidation is refused."""
    m, (*_, bot) = with_forward(chain, long_margin=NOTIONAL * 3 // 10)
    expiry = m.spec.params.expiry
    m.wait_until(expiry - 7_300)
    m.post(PRICE * 9 // 10)
    m.post(1)  # the long fails maintenance before expiry
    m.wait_until(expiry + 10)
    assert m.refused(fw.Settle(bot, 1)) == (
        "the forward settles on an index posted after its expiry"
    )
    assert m.refused(fw.Liquidate(bot, 1)) == "the market has expired: settle the forward"


def test_forwards_an_offer_taken_below_maintenance_is_refused(chain: Chain) -> None:
    """A stale long offer taken after the index fell, and its maker liquidated in the
    next block before it could add margin (found by an attack review): take now
    refuses a forward that would be liquidatable at once."""
    m = open_market(chain)
    renter, provider, _, bot = m.users
    m.post(PRICE)
    m.ok(fw.OpenOffer(renter, "long", HOURS, PRICE, NOTIONAL // 5))
    m.post(PRICE * 87 // 100)  # one step: the offer is now 13 % off the market
    reason = m.step(fw.Take(provider, 1, NOTIONAL // 5))
    if reason is None:
        m.ok(fw.Liquidate(bot, 1))  # at once: the maker had no block to add margin
        settled = m.events[0]
        assert reason is not None, (
            f"taken below maintenance and liquidated: maker paid out {settled.long_payout} "
            f"of {NOTIONAL // 5}, fee {settled.fee}"
        )
