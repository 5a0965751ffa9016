"""LendingPool.vy against its specification (``core/credit/pool``): the same calls to
both, at the same L1 time, and after each one the same revert reason or the same
whole state and the same ether and tokens moved. Then the faults issue 20 names, one
test each, on the contract."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from eth_account.signers.local import LocalAccount

from l2gpu.core.credit import pool
from l2gpu.core.credit.rates import MAX_ACCRUAL_STEP, MAX_INDEX, RAY, WAD, PoolParams
from l2gpu.core.types import ZERO_ADDRESS, Address, Hash32
from l2gpu.l1 import Chain, DeployedContract, Receipt, compile_contract
from l2gpu.l1.contracts.lending_pool import LendingPoolClient
from l2gpu.l1.errors import ContractRevert
from tests.credit.lockstep import Lockstep

ETHER = 10**18
MAX_UINT = 2**256 - 1


def addr(account: LocalAccount) -> Address:
    return Address.from_hex(account.address)


def normal(state: pool.PoolState) -> pool.PoolState:
    """``state`` without the empty shares and positions a contract cannot tell from
    missing ones."""
    return replace(
        state,
        shares={who: n for who, n in state.shares.items() if n},
        positions={who: p for who, p in state.positions.items() if p != pool.Position()},
    )


@dataclass
class Pool(Lockstep):
    """A deployed pool, its token and its specification, called together."""

    chain: Chain
    client: LendingPoolClient
    token: DeployedContract
    spec: pool.PoolState
    accounts: dict[Address, LocalAccount]
    oracle: LocalAccount
    treasury: LocalAccount
    gas: dict[str, list[int]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    """The reasons and events the calls so far gave (what a random run covered)."""
    extra: list[Address] = field(default_factory=list)
    """Contract accounts whose shares and positions are compared too."""
    lease_ids: list[Hash32] = field(default_factory=list)
    """Channels of credit leases whose record is compared too."""

    @property
    def users(self) -> list[LocalAccount]:
        return [a for a in self.accounts.values() if a not in (self.oracle, self.treasury)]

    def addresses(self) -> list[Address]:
        return [*self.accounts, *self.extra]

    def ether(self, who: Address) -> int:
        return int(self.chain.balance(who))

    def tokens(self, who: Address) -> int:
        return int(self.token.call_fast("balanceOf", who))

    def step(self, inp: pool.Input, wait: int = 1) -> str | None:
        """Make ``inp`` to both, ``wait`` seconds after the latest block; compare.

        Returns the revert reason (None when the call was taken)."""
        now = int(self.chain.timestamp()) + max(wait, 1)
        after, events = pool.state_transition(self.spec, inp, now=now)
        rejected = events[0].reason if events and isinstance(events[0], pool.Rejected) else None
        sender = self.accounts[inp.sender]
        ether_before = self.ether(sender.address)
        tokens_before = self.tokens(sender.address)
        self.chain.set_next_block_timestamp(now)
        try:
            receipt = self.client.apply(inp, sender)
            reason = None
        except ContractRevert as exc:
            reason = exc.reason
        assert reason == rejected, (inp, now)
        self.seen.add(reason or type(inp).__name__)
        self.seen.update(type(e).__name__ for e in events)
        if reason is None:
            self.spec = after
            assert self.block_time(receipt) == now
            self.check_moves(inp, sender, events, receipt, ether_before, tokens_before)
        self.check_state()
        return reason

    def check_moves(
        self,
        inp: pool.Input,
        sender: LocalAccount,
        events: list[pool.Event],
        receipt: Receipt,
        ether_before: int,
        tokens_before: int,
    ) -> None:
        name = type(inp).__name__
        self.gas.setdefault(name, []).append(receipt.gas_used)
        paid = [(e.to, e.amount) for e in events if isinstance(e, pool.Paid)]
        logged = [
            (e.args["recipient"], e.args["amount"]) for e in receipt.events if e.name == "Paid"
        ]
        assert logged == paid
        paid = [(to, amount) for to, amount in paid if to == addr(sender)]
        tokens_paid = sum(e.amount for e in events if isinstance(e, pool.CollateralPaid))
        ether_in = inp.amount if isinstance(inp, pool.Supply | pool.Repay | pool.Liquidate) else 0
        tokens_in = inp.amount if isinstance(inp, pool.AddCollateral) else 0
        fee = receipt.gas_used * self.gas_price(receipt)
        moved = -ether_in + sum(amount for _, amount in paid) - fee
        assert self.ether(sender.address) - ether_before == moved
        assert self.tokens(sender.address) - tokens_before == tokens_paid - tokens_in
        for kind in (pool.Liquidated, pool.BadDebt, pool.PriceSet, pool.LeaseFunded,
                     pool.LeaseSettled):  # fmt: skip
            expected = [e for e in events if isinstance(e, kind)]
            got = [e for e in receipt.events if e.name == kind.__name__]
            assert [kind(**dict(e.args)) for e in got] == expected

    def check_state(self) -> None:
        addresses = self.addresses()
        assert self.client.state(
            addresses,
            params=self.spec.params,
            oracle=self.spec.oracle,
            treasury=self.spec.treasury,
            channels=self.spec.channels,
            lease_ids=self.lease_ids,
        ) == normal(self.spec)
        # only a contract refuses ether: the accounts' credits stay 0
        credits = sum(self.client.credit(who) for who in self.extra)
        assert self.ether(self.client.address) == self.spec.cash + credits
        collateral = sum(p.collateral for p in self.spec.positions.values())
        assert self.tokens(self.client.address) == collateral


def open_pool(
    chain: Chain, params: PoolParams | None = None, channels: Address = ZERO_ADDRESS
) -> Pool:
    """A pool with the default (or given) parameters; accounts 1 and 2 are its feed
    and treasury, 3 to 7 its users, each with a million tokens approved to the pool.
    Its credit leases' channels live in ``channels`` (zero: it funds none)."""
    deployer, oracle, treasury, *users = chain.accounts[:8]
    token = chain.deploy(
        compile_contract("tokens/TestToken.vy"), "Collateral", "COL", 18, sender=deployer
    )
    client = LendingPoolClient.deploy(
        chain,
        deployer,
        token=token.address,
        oracle=addr(oracle),
        treasury=addr(treasury),
        params=params or PoolParams(),
        channels=channels,
    )
    spec = pool.PoolState(
        params or PoolParams(),
        addr(oracle),
        addr(treasury),
        last_accrual=int(chain.timestamp()),
        channels=channels,
    )
    for user in users:
        token.transact("mint", user.address, 10**6 * ETHER, sender=user)
        token.transact("approve", client.address, MAX_UINT, sender=user)
    accounts = {addr(a): a for a in (oracle, treasury, *users)}
    harness = Pool(chain, client, token, spec, accounts, oracle, treasury)
    harness.check_state()
    return harness


def funded(
    chain: Chain, params: PoolParams | None = None, channels: Address = ZERO_ADDRESS
) -> tuple[Pool, list[Address]]:
    """Price 2 ether a token; Carol supplies 20 ether; Alice posts 10 tokens."""
    p = open_pool(chain, params, channels)
    alice, bob, carol, dave, liquidator = (addr(u) for u in p.users)
    p.ok(pool.SetPrice(p.spec.oracle, 2 * ETHER))
    p.ok(pool.Supply(carol, 20 * ETHER))
    p.ok(pool.AddCollateral(alice, 10 * ETHER))
    return p, [alice, bob, carol, dave, liquidator]


# -- the differential test -----------------------------------------------------------

WAITS = [1, 1, 1, 7, 60, 600, 3_000, 3_601]


def random_call(p: Pool, rng: random.Random) -> tuple[pool.Input, int]:
    """A call of any kind, good or bad, with amounts drawn around the ones the state
    makes interesting (all of it, one more than all of it, 0, 1, too large)."""
    s = pool.accrue(p.spec, int(p.chain.timestamp()) + 1)
    users = [addr(u) for u in p.users]
    debtors = [u for u in users if s.debt(u)]
    who = rng.choice(users)
    other = rng.choice(debtors) if debtors and rng.random() < 0.7 else rng.choice(users)
    wait = rng.choice(WAITS)
    stale = s.price_at + s.params.max_price_age < s.last_accrual + wait
    if stale and rng.random() < 0.5:  # the feed usually keeps up
        return pool.SetPrice(p.spec.oracle, s.price * rng.choice([9, 10, 11]) // 10), 3_600
    debt = s.debt(who)
    collateral = s.positions.get(who, pool.Position()).collateral
    value = s.price * collateral // WAD
    room = max(value * s.params.ltv_bps // 10_000 - debt, 0)
    common = [0, 1, rng.randrange(1, 20 * ETHER)]
    kind = rng.randrange(11)
    if kind == 0:
        return pool.Supply(who, rng.choice([*common, 5 * ETHER, 20 * ETHER])), wait
    if kind == 1:
        holders = [u for u in users if s.shares.get(u)]
        who = rng.choice(holders) if holders and rng.random() < 0.7 else who
        mine = s.share_value(who)
        return pool.Withdraw(who, rng.choice([*common, mine, mine + 1, mine // 2, 2**128])), wait
    if kind == 2:
        return pool.AddCollateral(who, rng.choice([*common, 10 * ETHER, 2**128])), wait
    if kind == 3:
        amounts = [*common, collateral, collateral + 1, collateral // 10]
        return pool.RemoveCollateral(who, rng.choice(amounts)), wait
    if kind in (4, 5):
        amounts = [*common, room, room + 1, room // 2, s.cash + 1]
        return pool.Borrow(who, rng.choice(amounts)), wait
    if kind == 6:
        owed = s.debt(other)
        return pool.Repay(who, other, rng.choice([*common, owed, owed + ETHER, owed // 3])), wait
    if kind == 7:
        owed = s.debt(other)
        amounts = [0, 1, owed, 2 * owed + ETHER, owed // 4]
        return pool.Liquidate(who, other, rng.choice(amounts)), wait
    if kind in (8, 9):
        sender = p.spec.oracle if rng.random() < 0.9 else who
        base = s.price or 2 * ETHER
        price = rng.choice([base // 2, base * 9 // 10, base, base * 11 // 10, 3 * base, 0, 2**96])
        return pool.SetPrice(sender, price), rng.choice([1, 1, 30, 600])
    sender = p.spec.treasury if rng.random() < 0.8 else who
    amounts = [0, 1, s.reserves, s.reserves + 1, s.reserves // 2]
    return pool.CollectReserves(sender, rng.choice(amounts)), wait


def crash(p: Pool, steps: int) -> None:
    """The feed asks for a price near 0 ``steps`` times, an hour apart: each moves it
    one step only."""
    for _ in range(steps):
        p.ok(pool.SetPrice(p.spec.oracle, 1), wait=3_600)


def borrow_to_the_limit(p: Pool, borrower: Address, share: int = 1) -> None:
    """``borrower`` borrows ``1 / share`` of what its collateral allows."""
    posted = p.spec.positions.get(borrower, pool.Position()).collateral
    room = p.spec.price * posted // WAD * p.spec.params.ltv_bps // 10_000 // share
    room -= room // 10_000  # leaves room for the interest of the seconds until the call
    p.step(pool.Borrow(borrower, max(room - p.spec.debt(borrower), 1)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_contract_follows_its_specification_call_by_call(chain: Chain, seed: int) -> None:
    rng = random.Random(seed)
    p, (alice, bob, _, dave, liquidator) = funded(chain)
    p.ok(pool.Supply(bob, 10 * ETHER))
    p.ok(pool.AddCollateral(dave, 5 * ETHER))
    for n in range(40):
        if n in (4, 22):  # loans, and a repayment in part by someone else
            p.ok(pool.SetPrice(p.spec.oracle, p.spec.price or 2 * ETHER))
            for borrower in (alice, dave):
                p.step(pool.AddCollateral(borrower, 5 * ETHER))
                borrow_to_the_limit(p, borrower, share=2)
            p.step(pool.Repay(bob, alice, p.spec.debt(alice) // 3 + 1))
        if n in (12, 28):  # a crash over clamped steps: unhealthy positions, bad debt
            p.ok(pool.SetPrice(p.spec.oracle, p.spec.price))
            for borrower in (alice, dave):
                borrow_to_the_limit(p, borrower)
            crash(p, 6)
            for borrower in (alice, dave, alice):  # the close factor: twice for the rest
                offer = rng.choice([ETHER, 50 * ETHER]) if borrower == dave else 50 * ETHER
                p.step(pool.Liquidate(liquidator, borrower, offer))
            p.step(pool.Withdraw(bob, p.spec.share_value(bob) // 2))
        if n == 20:  # every loan overdue: liquidated whatever its health
            p.ok(pool.SetPrice(p.spec.oracle, p.spec.price), wait=p.spec.params.max_term + 1)
            for borrower in (alice, dave):
                p.step(pool.Liquidate(liquidator, borrower, 50 * ETHER))
        inp, wait = random_call(p, rng)
        p.step(inp, wait)
    covered = {"Liquidated", "BadDebt", "Repay", "Borrow", "Withdraw", "Supply", "SetPrice"}
    assert covered <= p.seen, covered - p.seen  # calls taken
    assert len(p.seen - covered) > 8, p.seen  # and refused, for many reasons


# -- the faults, one test each --------------------------------------------------------


def test_borrowing_past_the_loan_to_value_limit_is_refused(chain: Chain) -> None:
    p, (alice, *_) = funded(chain)  # 10 tokens at 2 ether, 70 %: 14 ether
    assert p.refused(pool.Borrow(alice, 14 * ETHER + 1)) == "past the loan-to-value limit"
    p.ok(pool.Borrow(alice, 14 * ETHER), wait=0)
    assert p.refused(pool.RemoveCollateral(alice, 1), wait=0) == (
        "the rest would not cover the loan-to-value limit"
    )


def test_a_stale_price_is_refused(chain: Chain) -> None:
    p, (alice, _, _, _, liquidator) = funded(chain)
    p.ok(pool.Borrow(alice, ETHER))
    age = p.spec.params.max_price_age
    p.chain.time_travel(age - int(p.chain.timestamp() - p.spec.price_at))  # now: at the edge
    assert p.refused(pool.Borrow(alice, 1)) == "the price is stale"
    assert p.refused(pool.Liquidate(liquidator, alice, ETHER)) == "the price is stale"
    assert p.refused(pool.RemoveCollateral(alice, 1)) == "the price is stale"
    p.ok(pool.Repay(alice, alice, ETHER // 2))  # repaying needs no price
    p.ok(pool.SetPrice(p.spec.oracle, 2 * ETHER))
    p.ok(pool.Borrow(alice, 1))


def test_a_manipulated_price_moves_the_pool_by_one_bounded_step(chain: Chain) -> None:
    p, (alice, *_) = funded(chain)
    receipt_events = []
    for asked in (1, 10**28):  # a feed bought for an update, down then up, an hour apart
        p.ok(pool.SetPrice(p.spec.oracle, asked), wait=3_600)
        receipt_events.append(p.spec.price)
    assert receipt_events == [2 * ETHER * 8 // 10, 2 * ETHER * 8 // 10 * 12 // 10]
    before = p.spec.price
    for _ in range(5):  # posts a second apart: a second's share of a step each
        p.ok(pool.SetPrice(p.spec.oracle, 1), wait=1)
    assert p.spec.price >= before * (10_000 - 5 * 2_000 // 3_600 - 1) // 10_000
    assert p.refused(pool.SetPrice(alice, ETHER)) == "only the price feed sets the price"
    assert p.refused(pool.SetPrice(p.spec.oracle, 2**96)) == (
        "the price must be above 0 and below 2**96"
    )
    assert p.refused(pool.SetPrice(p.spec.oracle, 0)) == (
        "the price must be above 0 and below 2**96"
    )


def test_liquidating_a_healthy_position_is_refused(chain: Chain) -> None:
    p, (alice, _, _, _, liquidator) = funded(chain)
    p.ok(pool.Borrow(alice, 13 * ETHER))
    assert p.client.health_factor(alice) >= WAD
    assert p.refused(pool.Liquidate(liquidator, alice, ETHER)) == "the position is healthy"
    assert p.refused(pool.Liquidate(liquidator, liquidator, ETHER)) == "nothing to liquidate"
    crash(p, 1)  # 2 -> 1.6 ether a token: 16 * 0.8 < 13
    assert p.client.health_factor(alice) < WAD
    p.ok(pool.Liquidate(liquidator, alice, 10 * ETHER))
    assert p.spec.debt(alice) > 0  # half the debt at most: the close factor


def test_a_borrower_who_disappears_is_repaid_from_collateral(chain: Chain) -> None:
    p, (alice, _, carol, _, liquidator) = funded(chain)
    p.ok(pool.Borrow(alice, 2 * ETHER))  # healthy, and stays so
    term = p.spec.params.max_term
    p.chain.time_travel(term + 1)
    p.ok(pool.SetPrice(p.spec.oracle, 2 * ETHER))
    debt = p.client.debt_of(alice)
    assert debt > 2 * ETHER
    p.ok(pool.Liquidate(liquidator, alice, 10 * ETHER))  # the whole debt, healthy or not
    assert p.spec.debt(alice) == 0
    assert p.spec.bad_debt == 0
    assert p.spec.positions[alice].collateral > 0  # the rest stays Alice's
    assert p.spec.share_value(carol) > 20 * ETHER  # the lender's money and interest
    p.ok(pool.Withdraw(carol, p.spec.share_value(carol)))


def test_a_crash_over_several_steps_leaves_bad_debt_reserves_first(chain: Chain) -> None:
    p, (alice, bob, carol, _, liquidator) = funded(chain)
    p.ok(pool.Borrow(alice, 13 * ETHER))
    p.chain.time_travel(30 * 86_400)
    p.ok(pool.Supply(bob, ETHER))  # accrues: the reserves take their share
    crash(p, 11)
    p.ok(pool.Liquidate(liquidator, alice, 100 * ETHER))
    assert p.spec.bad_debt > 0
    assert p.spec.reserves == 0
    assert p.spec.positions.get(alice, pool.Position()) == pool.Position()
    assert p.spec.share_value(carol) < 20 * ETHER  # the suppliers take the rest


def test_interest_that_would_overflow_stops_at_the_index_cap(chain: Chain) -> None:
    # The steepest curve the parameters allow (3,000 % a year at full use): the
    # embedded chain's clock stops in the year 3017, before a gentler index would cap.
    steep = PoolParams(base_rate=10 * RAY, slope_low=10 * RAY, slope_high=10 * RAY)
    p, (alice, bob, carol, _, liquidator) = funded(chain, steep)
    p.ok(pool.Borrow(alice, 13 * ETHER))
    for _ in range(4):  # accruals of 136 years each: centuries
        p.chain.time_travel(MAX_ACCRUAL_STEP - 1)
        p.ok(pool.AddCollateral(bob, 1))
        if p.spec.borrow_index == MAX_INDEX:
            break
    assert p.spec.borrow_index == MAX_INDEX
    p.chain.time_travel(MAX_ACCRUAL_STEP + 1000)  # one accrual longer than its cap
    p.ok(pool.AddCollateral(bob, 1))  # and past it, calls still work
    assert p.spec.borrow_index == MAX_INDEX
    p.ok(pool.Supply(bob, ETHER))
    p.ok(pool.SetPrice(p.spec.oracle, ETHER))
    p.ok(pool.Repay(carol, alice, ETHER))
    p.ok(pool.Liquidate(liquidator, alice, 100 * ETHER))
    p.ok(pool.Withdraw(carol, ETHER))
    assert p.client.debt_of(alice) == p.spec.debt(alice)


def test_rounding_always_favours_the_pool(chain: Chain) -> None:
    p, (alice, bob, carol, _, _) = funded(chain)
    p.ok(pool.Borrow(alice, 1))
    assert p.client.debt_of(alice) >= 1
    p.chain.time_travel(1)
    assert p.client.debt_of(alice) == 2  # a second of interest on 1 wei rounds up
    p.ok(pool.Repay(alice, alice, 1))
    assert p.spec.positions[alice].scaled_debt == 1  # 1 wei of 2 owed cuts nothing
    p.ok(pool.Borrow(alice, 10 * ETHER))
    p.chain.time_travel(86_400)
    assert p.refused(pool.Supply(bob, 1)) == "the amount buys no share"  # a share > 1 wei
    shares = p.spec.shares[carol]
    p.ok(pool.Withdraw(carol, 1))
    assert p.spec.shares[carol] == shares - 1  # 1 wei burns a whole share


def test_a_reverting_ether_recipient_cannot_block_anybody(chain: Chain) -> None:
    p, (alice, bob, carol, _, _) = funded(chain)
    compiled = compile_contract("testing/RefusingLender.vy")
    refuser = chain.deploy(compiled, sender=chain.accounts[8])
    p.extra.append(refuser.address)
    owner = chain.accounts[8]
    chain.set_next_block_timestamp(int(chain.timestamp()) + 1)
    refuser.transact("supply_to", p.client.address, sender=owner, value=5 * ETHER)
    p.spec, _ = pool.state_transition(
        p.spec, pool.Supply(refuser.address, 5 * ETHER), now=int(chain.timestamp())
    )
    p.check_state()
    p.ok(pool.Borrow(alice, 13 * ETHER))
    crash(p, 1)
    # The refuser withdraws: its payout is credited, the call takes effect as specified.
    chain.set_next_block_timestamp(int(chain.timestamp()) + 1)
    receipt = refuser.transact("withdraw_from", p.client.address, ETHER, sender=owner)
    p.spec, events = pool.state_transition(
        p.spec, pool.Withdraw(refuser.address, ETHER), now=int(chain.timestamp())
    )
    assert events == [pool.Paid(refuser.address, ETHER)]
    assert receipt.event("Paid").args["credited"] is True
    assert p.client.credit(refuser.address) == ETHER
    p.check_state()
    # It liquidates, offering too much: the change is credited too.
    debt = pool.accrue(p.spec, int(chain.timestamp()) + 1).debt(alice)
    chain.set_next_block_timestamp(int(chain.timestamp()) + 1)
    refuser.transact("liquidate_at", p.client.address, alice, sender=owner, value=debt)
    p.spec, events = pool.state_transition(
        p.spec, pool.Liquidate(refuser.address, alice, debt), now=int(chain.timestamp())
    )
    change = next(e.amount for e in events if isinstance(e, pool.Paid))
    assert p.client.credit(refuser.address) == ETHER + change
    p.check_state()
    # Everyone else goes on.
    p.ok(pool.Withdraw(carol, ETHER))
    p.ok(pool.Supply(bob, ETHER))
    p.ok(pool.Repay(bob, alice, ETHER))
    # And the refuser takes its credit when it accepts ether.
    refuser.transact("set_accepting", True, sender=owner)
    before = p.ether(refuser.address)
    refuser.transact("withdraw_credit_from", p.client.address, sender=owner)
    assert p.ether(refuser.address) - before == ETHER + change
    assert p.client.credit(refuser.address) == 0
    p.check_state()
    with pytest.raises(ContractRevert, match="nothing to withdraw"):
        p.client.withdraw_credit(chain.accounts[3])


UNSAFE: list[tuple[Callable[[PoolParams], PoolParams], str]] = [
    (lambda q: replace(q, ltv_bps=0), "need 0 < ltv < liquidation threshold < 100 %"),
    (lambda q: replace(q, ltv_bps=8_000), "need 0 < ltv < liquidation threshold < 100 %"),
    (lambda q: replace(q, liquidation_bonus_bps=2_500), "the bonus at the threshold"),
    (lambda q: replace(q, close_factor_bps=10_001), "the close factor must be in (0, 100 %]"),
    (lambda q: replace(q, reserve_factor_bps=10_000), "the reserve factor must be in"),
    (lambda q: replace(q, kink_bps=10_000), "the kink must be in (0, 100 %)"),
    (lambda q: replace(q, slope_high=10 * 10**27 + 1), "a rate above 1,000 % a year"),
    (lambda q: replace(q, max_price_age=0), "the price's age and step bounds"),
    (lambda q: replace(q, max_price_step_bps=10_000), "the price's age and step bounds"),
    (lambda q: replace(q, max_term=0), "the loan term must be positive"),
]


@pytest.mark.parametrize(("unsafe", "reason"), UNSAFE)
def test_unsafe_parameters_are_refused_as_the_specification_names_them(
    chain: Chain, unsafe: Callable[[PoolParams], PoolParams], reason: str
) -> None:
    params = unsafe(PoolParams())
    assert [text for text in params.problems() if text.startswith(reason)]
    account = chain.accounts[0]
    with pytest.raises(ContractRevert) as raised:
        LendingPoolClient.deploy(
            chain,
            account,
            token=addr(account),
            oracle=addr(account),
            treasury=addr(account),
            params=params,
        )
    assert raised.value.reason in params.problems()


def test_the_client_reads_back_what_it_deployed(chain: Chain) -> None:
    p, _ = funded(chain)
    again = LendingPoolClient.at(chain, p.client.address)
    assert again.params() == PoolParams()
    assert again.oracle() == p.spec.oracle
    assert again.treasury() == p.spec.treasury
    assert again.token() == p.token.address
