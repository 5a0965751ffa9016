"""Forwards.vy against its specification (``core/credit/forwards``): the same calls to
both, at the same L1 time, and after each one the same revert reason or the same
whole state and the same ether moved, for every party. Then the faults, one test
each, on the contract."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from eth_account.signers.local import LocalAccount

from l2gpu.core.credit import forwards as fw
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, Receipt, compile_contract
from l2gpu.l1.contracts.forwards import ForwardsClient, offer_id
from l2gpu.l1.errors import ContractRevert
from tests.credit.lockstep import Lockstep

ETHER = 10**18
GWEI = 10**9
PRICE = 2_000_000 * GWEI  # wei per GPU-hour (0.002 ether)
HOURS = 1_000  # notional 2 ether
NOTIONAL = PRICE * HOURS
DAY = 86_400
NOBODY = Address(bytes(20))


def addr(account: LocalAccount) -> Address:
    return Address.from_hex(account.address)


def margin_in(inp: fw.Input) -> int:
    """The ether a call sends with it."""
    return inp.margin if isinstance(inp, fw.OpenOffer | fw.Take | fw.AddMargin) else 0


@dataclass
class Market(Lockstep):
    """A deployed market and its specification, called together."""

    chain: Chain
    client: ForwardsClient
    spec: fw.ForwardsState
    accounts: dict[Address, LocalAccount]
    feed: LocalAccount
    gas: dict[str, list[int]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    """The reasons and events the calls so far gave (what a random run covered)."""
    extra: list[Address] = field(default_factory=list)
    """Contract accounts that may hold credit (refused payouts)."""
    events: list[fw.Event] = field(default_factory=list)
    """The specification's events for the latest call (the contract's matched them)."""

    @property
    def users(self) -> list[Address]:
        return [who for who in self.accounts if who != self.spec.feed]

    def ether(self, who: Address) -> int:
        return int(self.chain.balance(who))

    def step(self, inp: fw.Input, wait: int = 1) -> str | None:
        """Make ``inp`` to both, ``wait`` seconds after the latest block; compare.

        Returns the revert reason (None when the call was taken)."""
        now = int(self.chain.timestamp()) + max(wait, 1)
        after, events = fw.state_transition(self.spec, inp, now=now)
        rejected = events[0].reason if events and isinstance(events[0], fw.Rejected) else None
        sender = self.accounts[inp.sender]
        before = self.holdings()
        self.chain.set_next_block_timestamp(now)
        try:
            receipt = self.client.apply(inp, sender)
            reason = None
        except ContractRevert as exc:
            reason = exc.reason
        assert reason == rejected, (inp, now)
        self.seen.add(reason or type(inp).__name__)
        self.seen.update(type(e).__name__ for e in events)
        self.events = events
        if reason is None:
            self.spec = after
            assert self.block_time(receipt) == now
            self.check_moves(inp, events, receipt, before)
        else:  # a refused call sends nothing and costs nothing (it is never mined)
            assert self.holdings() == before
        self.check_state()
        return reason

    def check_moves(
        self, inp: fw.Input, events: list[fw.Event], receipt: Receipt, before: dict[Address, int]
    ) -> None:
        """Every account's ether moved as the specification's payouts say, the
        sender's less its margin and its gas; the contract's events are the
        specification's."""
        self.gas.setdefault(type(inp).__name__, []).append(receipt.gas_used)
        paid = [(e.to, e.amount) for e in events if isinstance(e, fw.Paid)]
        logged = [
            (e.args["recipient"], e.args["amount"]) for e in receipt.events if e.name == "Paid"
        ]
        assert logged == paid
        expected = dict(before)
        expected[inp.sender] -= margin_in(inp) + receipt.gas_used * self.gas_price(receipt)
        for to, amount in paid:  # to an account, or credited to a contract that refuses it
            expected[to] += amount
        assert self.holdings() == expected
        for kind in (fw.Opened, fw.Settled):
            got = [dict(e.args) for e in receipt.events if e.name == kind.__name__]
            for args in got:
                if args.get("liquidator") == NOBODY:
                    args["liquidator"] = None
            assert [kind(**args) for args in got] == [e for e in events if isinstance(e, kind)]
        if isinstance(inp, fw.OpenOffer):
            assert offer_id(receipt) == self.spec.next_id - 1

    def holdings(self) -> dict[Address, int]:
        """The accounts' ether, and the contracts' credit at the market (those
        contracts refuse ether: what they are paid is credited)."""
        ether = {who: self.ether(who) for who in self.accounts}
        return ether | {who: self.client.credit(who) for who in self.extra}

    def check_state(self) -> None:
        assert self.client.state(params=self.spec.params, feed=self.spec.feed) == self.spec
        # only a contract refuses ether: the accounts' credits stay 0
        credits = sum(self.client.credit(who) for who in self.extra)
        held = sum(o.margin for o in self.spec.offers.values()) + sum(
            f.long_margin + f.short_margin for f in self.spec.forwards.values()
        )
        assert self.ether(self.client.address) == held + credits

    def post(self, price: int, wait: int = 3_600) -> None:
        """The feed asks for ``price`` an hour after its last post (moved one step at
        most)."""
        self.ok(fw.PostIndex(self.spec.feed, price), wait)

    def wait_until(self, when: int) -> None:
        """Let L1 time run to ``when`` (a block at it)."""
        self.chain.time_travel(when - int(self.chain.timestamp()))


def open_market(chain: Chain, params: fw.ForwardParams | None = None) -> Market:
    """A market expiring in 30 days (or as ``params`` say); account 1 is its feed,
    2 to 5 its users (a renter, a provider, a trader, a liquidation bot)."""
    deployer, feed, *users = chain.accounts[:6]
    params = params or fw.ForwardParams(expiry=int(chain.timestamp()) + 30 * DAY)
    client = ForwardsClient.deploy(chain, deployer, feed=addr(feed), params=params)
    spec = fw.ForwardsState(params, addr(feed))
    accounts = {addr(a): a for a in (feed, *users)}
    market = Market(chain, client, spec, accounts, feed)
    market.check_state()
    return market


def with_forward(
    chain: Chain, long_margin: int = NOTIONAL // 5, short_margin: int = NOTIONAL // 5
) -> tuple[Market, list[Address]]:
    """Index at PRICE; the renter long, the provider short, 1,000 GPU-hours at PRICE
    (forward 1)."""
    m = open_market(chain)
    renter, provider, trader, bot = m.users
    m.post(PRICE)
    m.ok(fw.OpenOffer(renter, "long", HOURS, PRICE, long_margin))
    m.ok(fw.Take(provider, 1, short_margin))
    return m, [renter, provider, trader, bot]


# -- the differential test -----------------------------------------------------------

WAITS = [1, 1, 1, 7, 60, 600, 3_000, 3_601]


def initial(s: fw.ForwardsState, gpu_hours: int, price: int) -> int:
    return -(-price * gpu_hours * s.params.initial_margin_bps // 10_000)


def random_call(m: Market, rng: random.Random) -> tuple[fw.Input, int]:
    """A call of any kind, good or bad, with amounts drawn around the ones the state
    makes interesting (the initial margin, one wei less, 0, too large)."""
    s = m.spec
    users = m.users
    who = rng.choice(users)
    wait = rng.choice(WAITS)
    now = int(m.chain.timestamp()) + wait
    if s.index and now - s.index_at > s.params.max_price_age and rng.random() < 0.6:
        return fw.PostIndex(s.feed, s.index * rng.choice([9, 10, 11]) // 10), 3_600  # keeps up
    base = s.index or PRICE
    offers = list(s.offers)
    forwards = list(s.forwards)
    any_id = rng.randrange(1, s.next_id + 2)
    kind = rng.randrange(13)
    if kind < 4:  # each field good four times in five, else at or past its bound
        hours = rng.choice([HOURS, rng.randrange(1, 5_000)])
        price = base * rng.randrange(80, 121) // 100
        if rng.random() < 0.2:
            hours = rng.choice([0, 2**64 - 1, 2**64])
        if rng.random() < 0.2:
            price = rng.choice([0, 2**96])
        need = initial(s, max(hours, 1), max(price, 1))
        margin = need + rng.choice([0, 0, need, rng.randrange(need + 1)])
        if rng.random() < 0.2:
            margin = rng.choice([need - 1, 0])
        side: fw.Side = rng.choice(["long", "short"])
        return fw.OpenOffer(who, side, hours, price, min(margin, 50 * ETHER)), wait
    if kind == 4:
        target = rng.choice(offers) if offers and rng.random() < 0.8 else any_id
        maker = s.offers[target].maker if target in s.offers else who
        return fw.CancelOffer(maker if rng.random() < 0.7 else who, target), wait
    if kind in (5, 6):
        target = rng.choice(offers) if offers and rng.random() < 0.9 else any_id
        offer = s.offers.get(target)
        others = [u for u in users if offer is None or u != offer.maker]
        taker = rng.choice(others) if rng.random() < 0.9 else who
        need = initial(s, offer.gpu_hours, offer.price) if offer else ETHER
        margin = need + rng.choice([0, 0, 2 * need, rng.randrange(need + 1)])
        if rng.random() < 0.2:
            margin = rng.choice([need - 1, 0])
        return fw.Take(taker, target, min(margin, 50 * ETHER)), wait
    if kind == 7:
        target = rng.choice(forwards) if forwards and rng.random() < 0.9 else any_id
        forward = s.forwards.get(target)
        sides = [forward.long, forward.short] if forward else []
        sender = rng.choice(sides) if sides and rng.random() < 0.8 else who
        return fw.AddMargin(sender, target, rng.choice([0, 1, NOTIONAL // 10])), wait
    if kind in (8, 9):
        target = rng.choice(forwards) if forwards and rng.random() < 0.9 else any_id
        return fw.Liquidate(who, target), wait
    if kind == 10:
        target = rng.choice(forwards) if forwards and rng.random() < 0.9 else any_id
        return fw.Settle(who, target), wait
    sender = s.feed if rng.random() < 0.9 else who
    odd = base * rng.randrange(50, 300) // 100 + rng.randrange(1_000)  # rounds every division
    price = rng.choice([odd, odd, base // 2, base * 9 // 10, base * 11 // 10, 3 * base, 0, 2**96])
    return fw.PostIndex(sender, price), rng.choice([1, 1, 30, 600])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_contract_follows_its_specification_call_by_call(chain: Chain, seed: int) -> None:
    rng = random.Random(seed)
    params = fw.ForwardParams(expiry=int(chain.timestamp()) + 2 * DAY)
    m = open_market(chain, params)
    renter, provider, trader, bot = m.users
    assert m.refused(fw.Liquidate(bot, 1)) == "no such forward"
    m.post(PRICE + 777)  # not a round number: every division rounds
    for n in range(40):
        if n in (5, 20):  # forwards both ways, one marked down until it is liquidated:
            # at 5 over one clamped step, with a fee; at 20 over two, with bad debt
            m.post(m.spec.index)
            first = m.spec.next_id
            hours = HOURS + 7  # not a round number: every division rounds
            need = initial(m.spec, hours, m.spec.index)
            margin = need * 5 // 4 if n == 5 else need
            m.step(fw.OpenOffer(renter, "long", hours, m.spec.index, margin))
            m.step(fw.Take(provider, first, NOTIONAL))
            m.step(fw.OpenOffer(trader, "short", HOURS // 2, m.spec.index, NOTIONAL))
            m.step(fw.Take(renter, first + 1, NOTIONAL))
            m.step(fw.AddMargin(trader, first + 1, NOTIONAL // 10))
            m.step(fw.OpenOffer(bot, "short", HOURS, m.spec.index, NOTIONAL))
            m.step(fw.CancelOffer(bot, first + 2))  # and one withdrawn
            for _ in range(1 if n == 5 else 2):
                m.post(1)
            m.step(fw.Liquidate(bot, first))
            m.step(fw.Liquidate(bot, first + 1))
        if n == 30:  # past the expiry: what is left settles on a fresh index
            m.wait_until(params.expiry + 1)
            m.post(m.spec.index or PRICE)
            for forward_id in list(m.spec.forwards):
                m.step(fw.Settle(bot, forward_id))
        inp, wait = random_call(m, rng)
        m.step(inp, wait)
    covered = {"OpenOffer", "CancelOffer", "Take", "AddMargin", "Liquidate", "Settle"}
    covered |= {"Opened", "Settled", "Paid", "PostIndex"}
    assert covered <= m.seen, covered - m.seen  # calls taken
    assert len(m.seen - covered) > 6, m.seen  # and refused, for many reasons


def test_a_forward_marked_down_over_clamped_steps_is_liquidated_with_a_fee(
    chain: Chain,
) -> None:
    m, (renter, provider, _, bot) = with_forward(chain, long_margin=NOTIONAL * 3 // 10)
    m.post(PRICE * 9 // 10)  # -10 %: the long's equity 20 % >= 9 %
    assert m.refused(fw.Liquidate(bot, 1)) == "both sides hold their maintenance margin"
    m.post(1)  # asked near 0: one step of 20 %, to 72 %
    assert m.spec.index == PRICE * 9 // 10 * 8 // 10
    assert m.client.equity(1, "long") == NOTIONAL * 3 // 10 - (PRICE - m.spec.index) * HOURS
    assert m.client.equity(1, "long") < m.client.maintenance(1)
    assert m.client.equity(1, "short") == NOTIONAL // 5 + (PRICE - m.spec.index) * HOURS
    m.ok(fw.Liquidate(bot, 1))
    fee = m.spec.params.liquidation_fee_bps * m.spec.index * HOURS // 10_000
    long_payout = NOTIONAL * 3 // 10 - (PRICE - m.spec.index) * HOURS - fee
    short_payout = NOTIONAL // 5 + (PRICE - m.spec.index) * HOURS
    settled = fw.Settled(1, m.spec.index, long_payout, short_payout, 0, bot, fee)
    assert m.events == [  # logged and paid so by the contract too: step compared them
        settled,
        fw.Paid(renter, long_payout),
        fw.Paid(provider, short_payout),
        fw.Paid(bot, fee),
    ]
    assert 1 not in m.spec.forwards
    assert m.spec.bad_debt == 0


def test_a_jump_past_the_margin_is_recorded_as_bad_debt(chain: Chain) -> None:
    m, (*_, bot) = with_forward(chain)
    for _ in range(4):  # every 10 minutes, and nobody liquidates until 59 % is gone
        m.post(PRICE * 41 // 100)
    shortfall = (PRICE - m.spec.index) * HOURS - NOTIONAL // 5
    assert m.client.equity(1, "long") == -shortfall
    m.ok(fw.Liquidate(bot, 1))
    assert m.events[0] == fw.Settled(1, m.spec.index, 0, 2 * NOTIONAL // 5, shortfall, bot, 0)
    assert m.spec.bad_debt == shortfall
    assert m.client.bad_debt() == shortfall


def test_a_forward_settles_in_cash_after_expiry(chain: Chain) -> None:
    m, (renter, provider, _, bot) = with_forward(chain)
    expiry = m.spec.params.expiry
    m.wait_until(expiry - 3 * 3_600)
    m.post(PRICE * 11 // 10)  # +10 %: the long gains
    assert m.refused(fw.Settle(bot, 1)) == (
        "the forward settles on an index posted after its expiry"
    )
    m.wait_until(expiry + 30)
    assert m.refused(fw.Settle(bot, 1)) == (  # the index in force was posted before
        "the forward settles on an index posted after its expiry"
    )
    m.post(PRICE * 11 // 10)
    m.ok(fw.Settle(bot, 1))
    gain = PRICE // 10 * HOURS  # 0.2 ether, from the provider to the renter
    assert m.events[1:] == [
        fw.Paid(renter, NOTIONAL // 5 + gain),
        fw.Paid(provider, NOTIONAL // 5 - gain),
    ]
    assert m.spec.forwards == {}
    assert m.refused(fw.Settle(bot, 1)) == "no such forward"


# -- the faults, one test each --------------------------------------------------------


def test_leverage_above_the_maximum_is_refused(chain: Chain) -> None:
    m = open_market(chain)
    renter, provider, *_ = m.users
    m.post(PRICE)
    assert m.refused(fw.OpenOffer(renter, "long", HOURS, PRICE, NOTIONAL // 5 - 1)) == (
        "the margin is below the initial margin"
    )  # 20 %: five times leverage at most
    m.ok(fw.OpenOffer(renter, "long", HOURS, PRICE, NOTIONAL // 5))
    assert m.refused(fw.Take(provider, 1, NOTIONAL // 5 - 1)) == (
        "the margin is below the initial margin"
    )
    assert m.refused(fw.Take(renter, 1, NOTIONAL)) == "a maker cannot take its own offer"
    assert m.refused(fw.OpenOffer(renter, "short", 0, PRICE, NOTIONAL)) == (
        "hours and price must be above 0 (below 2**64 and 2**96)"
    )
    m.ok(fw.Take(provider, 1, NOTIONAL // 5))


def test_a_stale_index_is_refused(chain: Chain) -> None:
    m, (*_, bot) = with_forward(chain, long_margin=NOTIONAL * 3 // 10)
    m.post(PRICE * 9 // 10)
    m.post(1)  # liquidatable...
    m.wait_until(m.spec.index_at + m.spec.params.max_price_age)  # ...but the index ages
    assert m.refused(fw.Liquidate(bot, 1)) == "the index is stale"
    m.post(m.spec.index)
    m.ok(fw.Liquidate(bot, 1))


def test_a_manipulated_index_moves_by_one_bounded_step(chain: Chain) -> None:
    m, (renter, *_) = with_forward(chain)
    moved = []
    for asked in (1, 2**96 - 1):  # a feed bought for an update, down then up
        m.post(asked)
        moved.append(m.client.index())
    assert moved == [PRICE * 8 // 10, PRICE * 8 // 10 * 12 // 10]
    assert m.refused(fw.PostIndex(renter, PRICE)) == "only the feed posts the index"
    for bad in (0, 2**96):
        assert m.refused(fw.PostIndex(m.spec.feed, bad)) == (
            "the index must be above 0 and below 2**96"
        )


def test_liquidating_a_forward_whose_sides_hold_maintenance_is_refused(chain: Chain) -> None:
    m, (renter, _, _, bot) = with_forward(chain)
    assert m.refused(fw.Liquidate(bot, 1)) == "both sides hold their maintenance margin"
    m.post(PRICE * 91 // 100)  # the long's equity 11 % >= 9.1 %
    assert m.refused(fw.Liquidate(bot, 1)) == "both sides hold their maintenance margin"
    m.post(PRICE * 88 // 100)  # 8 % < 8.8 %
    m.ok(fw.AddMargin(renter, 1, NOTIONAL // 10))  # the long tops up in time
    assert m.refused(fw.Liquidate(bot, 1)) == "both sides hold their maintenance margin"
    assert m.refused(fw.AddMargin(bot, 1, 1)) == "only a side of the forward adds margin to it"


def test_settling_before_expiry_or_on_an_earlier_index_is_refused_and_the_index_is_fixed(
    chain: Chain,
) -> None:
    m, (_, _, _, bot) = with_forward(chain)
    reason = "the forward settles on an index posted after its expiry"
    assert m.refused(fw.Settle(bot, 1)) == reason  # before expiry
    expiry = m.spec.params.expiry
    m.wait_until(expiry - 3_700)
    m.post(PRICE, wait=1)
    m.wait_until(expiry + 10)
    assert m.refused(fw.Settle(bot, 1)) == reason  # after, on an index posted before it
    assert m.refused(fw.Liquidate(bot, 1)) == "the market has expired: settle the forward"
    m.post(PRICE * 11 // 10)  # the first post after expiry: the settlement index
    m.post(PRICE // 2)  # later posts do not move it
    assert m.spec.settlement_index == PRICE * 11 // 10
    m.ok(fw.Settle(bot, 1))
    # Past the expiry the market opens nothing new.
    assert m.refused(fw.OpenOffer(bot, "long", HOURS, PRICE, NOTIONAL)) == (
        "the market has expired"
    )


def test_an_offer_is_cancelled_by_its_maker_only(chain: Chain) -> None:
    m = open_market(chain)
    renter, provider, trader, _ = m.users
    m.ok(fw.OpenOffer(provider, "short", HOURS, PRICE, NOTIONAL))
    assert m.refused(fw.CancelOffer(renter, 1)) == "only its maker cancels an offer"
    m.ok(fw.CancelOffer(provider, 1))  # the margin goes back (check_moves)
    assert m.refused(fw.CancelOffer(provider, 1)) == "no such offer"
    assert m.refused(fw.Take(renter, 1, NOTIONAL)) == "no such offer"
    m.ok(fw.OpenOffer(provider, "short", HOURS, PRICE, NOTIONAL))
    m.ok(fw.Take(trader, 2, NOTIONAL))
    assert m.refused(fw.CancelOffer(provider, 2)) == "no such offer"  # taken: a forward


def test_rounding_always_favours_the_market(chain: Chain) -> None:
    m = open_market(chain)
    renter, provider, _, bot = m.users
    price, hours = PRICE + 1, HOURS + 7  # price * hours is a multiple of neither 5 nor 10
    m.post(price)
    need = initial(m.spec, hours, price)
    assert need * 5 > price * hours  # the initial margin rounds up
    assert m.refused(fw.OpenOffer(renter, "long", hours, price, need - 1)) == (
        "the margin is below the initial margin"
    )
    m.ok(fw.OpenOffer(renter, "long", hours, price, need * 5 // 4))
    m.ok(fw.Take(provider, 1, need))
    assert m.client.maintenance(1) * 10 > price * hours  # so does the maintenance margin
    m.post(1)
    assert m.client.equity(1, "long") < m.client.maintenance(1)
    assert m.spec.index * hours % 100 != 0  # and the fee rounds down
    m.ok(fw.Liquidate(bot, 1))


def test_a_recipient_that_refuses_ether_cannot_block_the_settlement(chain: Chain) -> None:
    m = open_market(chain)
    _, provider, _, bot = m.users
    owner = chain.accounts[8]
    refuser = chain.deploy(compile_contract("testing/RefusingTrader.vy"), sender=owner)
    m.extra.append(refuser.address)

    def as_refuser(inp: fw.Input, function: str, *args: object, value: int = 0) -> None:
        now = int(chain.timestamp()) + 1
        chain.set_next_block_timestamp(now)
        refuser.transact(function, m.client.address, *args, sender=owner, value=value)
        m.spec, events = fw.state_transition(m.spec, inp, now=now)
        assert not any(isinstance(e, fw.Rejected) for e in events)
        m.check_state()

    m.post(PRICE)
    # The refuser is long, and cancels an offer first: its margin is credited.
    offer = fw.OpenOffer(refuser.address, "long", HOURS, PRICE, NOTIONAL)
    as_refuser(offer, "open_offer_at", True, HOURS, PRICE, value=NOTIONAL)
    as_refuser(fw.CancelOffer(refuser.address, 1), "cancel_at", 1)
    assert m.client.credit(refuser.address) == NOTIONAL
    offer = replace(offer, margin=NOTIONAL // 2)
    as_refuser(offer, "open_offer_at", True, HOURS, PRICE, value=NOTIONAL // 2)
    m.ok(fw.Take(provider, 2, NOTIONAL // 2))
    # At expiry, up 10 %: the long's payout is credited, the short is paid all the same.
    m.wait_until(m.spec.params.expiry + 1)
    m.post(PRICE * 11 // 10)
    m.ok(fw.Settle(bot, 2))
    gain = PRICE // 10 * HOURS
    assert m.client.credit(refuser.address) == NOTIONAL + NOTIONAL // 2 + gain
    # And the refuser takes its credit once it accepts ether.
    refuser.transact("set_accepting", True, sender=owner)
    before = m.ether(refuser.address)
    refuser.transact("withdraw_credit_from", m.client.address, sender=owner)
    assert m.ether(refuser.address) - before == NOTIONAL + NOTIONAL // 2 + gain
    assert m.client.credit(refuser.address) == 0
    m.check_state()
    with pytest.raises(ContractRevert, match="nothing to withdraw"):
        m.client.withdraw_credit(chain.accounts[3])


UNSAFE: list[tuple[Callable[[fw.ForwardParams], fw.ForwardParams], str]] = [
    (lambda q: replace(q, liquidation_fee_bps=0), "need 0 < liquidation fee"),
    (lambda q: replace(q, liquidation_fee_bps=1_000), "need 0 < liquidation fee"),
    (lambda q: replace(q, initial_margin_bps=1_000), "need maintenance margin < initial"),
    (lambda q: replace(q, initial_margin_bps=10_001), "need maintenance margin < initial"),
    (lambda q: replace(q, max_price_age=0), "the price's age and step bounds"),
    (lambda q: replace(q, max_price_step_bps=0), "the price's age and step bounds"),
    (lambda q: replace(q, max_price_step_bps=10_000), "the price's age and step bounds"),
]


@pytest.mark.parametrize(("unsafe", "reason"), UNSAFE)
def test_unsafe_parameters_are_refused_as_the_specification_names_them(
    chain: Chain, unsafe: Callable[[fw.ForwardParams], fw.ForwardParams], reason: str
) -> None:
    params = unsafe(fw.ForwardParams(expiry=int(chain.timestamp()) + DAY))
    assert [text for text in params.problems() if text.startswith(reason)]
    account = chain.accounts[0]
    with pytest.raises(ContractRevert) as raised:
        ForwardsClient.deploy(chain, account, feed=addr(account), params=params)
    assert raised.value.reason in params.problems()


def test_an_expiry_not_in_the_future_is_refused(chain: Chain) -> None:
    account = chain.accounts[0]
    params = fw.ForwardParams(expiry=int(chain.timestamp()))
    with pytest.raises(ContractRevert, match="the expiry must be in the future"):
        ForwardsClient.deploy(chain, account, feed=addr(account), params=params)


def test_the_client_reads_back_what_it_deployed(chain: Chain) -> None:
    m, (renter, provider, _, _) = with_forward(chain)
    again = ForwardsClient.at(chain, m.client.address)
    assert again.params() == m.spec.params
    assert again.feed() == m.spec.feed
    assert again.state() == m.spec
    assert again.offer(1) is None
    assert again.forward(1) == fw.Forward(renter, provider, HOURS, PRICE, *[NOTIONAL // 5] * 2)
    assert again.next_id() == 2
    assert again.index() == PRICE


def test_a_silent_feed_delays_settlement_but_does_not_lock_the_margins(chain: Chain) -> None:
    m, (renter, provider, _, bot) = with_forward(chain)
    before = {who: m.chain.balance(who) for who in (renter, provider)}
    m.wait_until(m.spec.params.expiry + fw.SETTLE_GRACE - 1)
    assert m.refused(fw.Settle(bot, 1)) == (
        "the forward settles on an index posted after its expiry"
    )
    m.ok(fw.Settle(bot, 1), wait=2)  # past the grace: the last index in force
    assert m.spec.forwards == {}
    assert all(m.chain.balance(who) > before[who] for who in (renter, provider))


def test_an_offer_whose_maker_already_fails_at_the_index_cannot_be_taken(chain: Chain) -> None:
    m = open_market(chain)
    renter, provider, *_ = m.users
    m.post(PRICE)
    m.ok(fw.OpenOffer(renter, "long", HOURS, PRICE, NOTIONAL // 5))
    m.post(PRICE * 87 // 100)  # the long's equity: 7 % of the notional, below maintenance
    assert m.refused(fw.Take(provider, 1, NOTIONAL // 5)) == (
        "at the index the forward would be liquidated at once"
    )
