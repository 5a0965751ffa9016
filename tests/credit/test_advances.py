"""Advances on a provider's receivables: Advances.vy against its specification
(``core/credit/advances``), call by call, and the faults issue 20 names: an advance
on a channel then closed early (the lender gets what the vouchers pay, and the rule
bounded its loss), and a renter whose vouchers and refund do not change."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace

import pytest
from eth_account.signers.local import LocalAccount

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.vouchers import COOPERATIVE_CLOSE, Voucher, sign_voucher
from l2gpu.core.credit import advances as adv
from l2gpu.core.credit.pool import Paid, Rejected
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, Hash32, Seconds, Timestamp, Wei
from l2gpu.l1 import Chain
from l2gpu.l1.contracts.advances import AdvancesClient
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.errors import ContractRevert
from tests.credit.lockstep import Lockstep

ETHER = 10**18
HOUR = 3600
FEE_BPS, MAX_SHARE_BPS = 100, 5_000


def addr(account: LocalAccount) -> Address:
    return Address.from_hex(account.address)


@dataclass
class Desk(Lockstep):
    """A desk, its ChannelManager and its specification, called together."""

    chain: Chain
    client: AdvancesClient
    manager: ChannelManagerClient
    spec: adv.DeskState
    accounts: dict[Address, LocalAccount]
    channel_ids: list[Hash32] = field(default_factory=list)
    voucher: Voucher | None = None
    """The voucher the next advance proves."""

    def step(self, inp: adv.Input, wait: int = 1) -> str | None:
        now = int(self.chain.timestamp()) + max(wait, 1)
        if isinstance(inp, adv.TakeAdvance | adv.SettleAdvance | adv.Release):
            facts = self.client.facts(inp.params)
            if isinstance(inp, adv.TakeAdvance) and self.voucher:
                facts = replace(facts, best=max(facts.best, self.voucher.amount))
            inp = replace(inp, facts=facts)
        after, events = adv.state_transition(self.spec, inp, now=now)
        rejected = events[0].reason if events and isinstance(events[0], Rejected) else None
        sender = self.accounts[inp.sender]
        before = {who: self.chain.balance(who) for who in self.accounts}
        self.chain.set_next_block_timestamp(now)
        try:
            receipt = self.client.apply(inp, sender, self.voucher)
            reason = None
        except ContractRevert as exc:
            reason = exc.reason
        assert reason == rejected, (inp, reason, rejected)
        if reason is None:
            self.spec = after
            fee = receipt.gas_used * self.gas_price(receipt)
            ether_in = inp.amount if isinstance(inp, adv.Fund | adv.RepayDebt) else 0
            for who in self.accounts:
                paid = sum(e.amount for e in events if isinstance(e, Paid) and e.to == who)
                spent = (fee + ether_in) if who == inp.sender else 0
                assert self.chain.balance(who) - before[who] == paid - spent, who
            for kind in (adv.Advanced, adv.AdvanceSettled):
                got = [kind(**dict(e.args)) for e in receipt.events if e.name == kind.__name__]
                assert got == [e for e in events if isinstance(e, kind)]
        self.check_state()
        return reason

    def check_state(self) -> None:
        assert self.client.state(self.accounts, self.channel_ids) == self.spec
        assert self.chain.balance(self.client.address) == self.spec.cash


@dataclass
class World:
    desk: Desk
    lender: Address
    renter: Address
    provider: Address
    stranger: Address

    def key(self, who: Address) -> PrivateKey:
        return PrivateKey(bytes(self.desk.accounts[who].key))

    def open_channel(self, deposit: int = 10 * ETHER, lifetime: int = 2 * HOUR) -> ChannelParams:
        params = ChannelParams(self.renter, self.provider, challenge_period=Seconds(HOUR),
                               salt=secrets.token_bytes(32))  # fmt: skip
        now = int(self.desk.chain.timestamp())
        self.desk.manager.apply(
            ci.Open(self.renter, Timestamp(now), params, Wei(deposit),
                    Timestamp(now + lifetime), Wei(deposit)),
            self.desk.accounts[self.renter],
        )  # fmt: skip
        self.desk.channel_ids.append(params.id)
        return params

    def voucher(self, params: ChannelParams, amount: int) -> Voucher:
        return sign_voucher(self.key(self.renter), self.desk.manager.domain, params.id, Wei(amount))

    def assign(self, params: ChannelParams) -> None:
        self.desk.client.assign_payout(self.desk.accounts[self.provider], params)

    def take(self, params: ChannelParams, amount: int | None) -> str | None:
        self.desk.voucher = None if amount is None else self.voucher(params, amount)
        return self.desk.step(adv.TakeAdvance(self.provider, params, _NO_FACTS))

    def provider_closes(self, params: ChannelParams, amount: int) -> None:
        v = self.voucher(params, amount)
        self.desk.manager.apply(
            ci.CloseByProvider(self.provider, Timestamp(0), params, v.amount, v.signature),
            self.desk.accounts[self.provider],
        )


_NO_FACTS = adv.ChannelFacts(0, 0, 0, adv.ChannelStatus.NONE, Address(bytes(20)))
"""Placeholder: the harness reads the real facts from the ChannelManager."""


@pytest.fixture
def world(chain: Chain) -> World:
    deployer, lender, renter, provider, stranger = chain.accounts[:5]
    manager = ChannelManagerClient.deploy(chain, deployer)
    client = AdvancesClient.deploy(chain, deployer, channels=manager.address,
                                   lender=addr(lender), fee_bps=FEE_BPS,
                                   max_share_bps=MAX_SHARE_BPS)  # fmt: skip
    spec = adv.DeskState(client.address, addr(lender), FEE_BPS, MAX_SHARE_BPS)
    accounts = {addr(a): a for a in (lender, renter, provider, stranger)}
    desk = Desk(chain, client, manager, spec, accounts)
    w = World(desk, addr(lender), addr(renter), addr(provider), addr(stranger))
    desk.ok(adv.Fund(w.lender, 20 * ETHER))
    desk.ok(adv.SetShare(w.lender, w.renter, 2_000))
    return w


def test_a_provider_takes_an_advance_and_the_lender_is_paid_first(world: World) -> None:
    w, desk = world, world.desk
    params = w.open_channel()
    w.assign(params)
    provider_before = desk.chain.balance(w.provider)
    assert w.take(params, 3 * ETHER) is None
    record = desk.client.advance_of(params.id)
    # owed: 3 vouched + 20 % of the 7 not yet vouched; the advance: that less a 1 % fee
    assert record is not None
    assert record.owed == 3 * ETHER + 7 * ETHER * 2_000 // 10_000
    assert record.advanced == record.owed - record.owed // 100
    assert desk.chain.balance(w.provider) > provider_before + 4 * ETHER  # less the gas
    # the lease goes on: the renter's vouchers are unchanged, its refund still its own
    renter_before = desk.chain.balance(w.renter)
    w.provider_closes(params, 8 * ETHER)
    assert desk.chain.balance(w.renter) - renter_before == 2 * ETHER
    desk.ok(adv.SettleAdvance(w.stranger, params, _NO_FACTS))  # anyone settles
    assert desk.spec.losses == 0
    assert desk.spec.outstanding == 0
    assert desk.spec.cash == 20 * ETHER - record.advanced + record.owed  # the fee earned


def test_an_advance_on_a_channel_closed_early_loses_at_most_its_share(world: World) -> None:
    """The renter stops early and closes conceding only the vouchers proven: the
    lender gets what they pay, and loses exactly the share of remaining value it
    chose to advance, no more."""
    w, desk = world, world.desk
    params = w.open_channel()
    w.assign(params)
    w.take(params, 3 * ETHER)
    record = desk.client.advance_of(params.id)
    assert record is not None
    desk.manager.apply(ci.CloseByRenter(w.renter, Timestamp(0), params, Wei(0)),
                       desk.accounts[w.renter])  # fmt: skip
    desk.chain.time_travel(HOUR + 1)
    desk.manager.apply(ci.Settle(w.stranger, Timestamp(0), params), desk.accounts[w.stranger])
    desk.ok(adv.SettleAdvance(w.lender, params, _NO_FACTS))
    shortfall = record.owed - 3 * ETHER
    assert shortfall == 7 * ETHER * 2_000 // 10_000
    assert desk.spec.losses == shortfall
    # recourse: the shortfall is the provider's debt, kept back from its next advance
    assert desk.spec.provider_debt == {w.provider: shortfall}
    again = w.open_channel()
    w.assign(again)
    provider_before = desk.chain.balance(w.provider)
    assert w.take(again, 5 * ETHER) is None
    taken = desk.client.advance_of(again.id)
    assert taken is not None
    assert desk.spec.losses == 0
    assert desk.spec.provider_debt == {}
    gas_bound = ETHER // 100
    received = desk.chain.balance(w.provider) - provider_before
    assert taken.advanced - shortfall - gas_bound < received < taken.advanced - shortfall


def test_a_provider_repays_its_debt_to_the_desk(world: World) -> None:
    w, desk = world, world.desk
    params = w.open_channel()
    w.assign(params)
    w.take(params, ETHER)
    w.provider_closes(params, ETHER)  # at once: the share of the remaining value is lost
    desk.ok(adv.SettleAdvance(w.stranger, params, _NO_FACTS))
    debt = desk.spec.provider_debt[w.provider]
    assert debt == 9 * ETHER * 2_000 // 10_000
    assert desk.refused(adv.RepayDebt(w.stranger, w.renter, 1)) == (
        "the provider owes the desk nothing"
    )
    cash = desk.spec.cash
    desk.ok(adv.RepayDebt(w.stranger, w.provider, debt + ETHER))  # the excess returns
    assert desk.spec.losses == 0
    assert desk.spec.cash == cash + debt


def test_no_share_on_a_deposit_the_renter_did_not_put_up(world: World) -> None:
    """A lender funded this channel (its refund is assigned): the renter's share is not
    spent on it; the advance covers the vouched part only."""
    w, desk = world, world.desk
    params = ChannelParams(w.renter, w.provider, challenge_period=Seconds(HOUR),
                           salt=bytes(w.stranger) + secrets.token_bytes(12))  # fmt: skip
    now = int(desk.chain.timestamp())
    desk.manager.apply(
        ci.OpenFor(w.stranger, Timestamp(now), params, Wei(10 * ETHER),
                   Timestamp(now + 2 * HOUR), Wei(10 * ETHER)),
        desk.accounts[w.stranger],
    )  # fmt: skip
    desk.channel_ids.append(params.id)
    w.assign(params)
    assert w.take(params, None) == "nothing to advance: no voucher and no share"
    assert w.take(params, 2 * ETHER) is None
    taken = desk.client.advance_of(params.id)
    assert taken is not None
    assert taken.owed == 2 * ETHER


def test_renter_and_provider_cannot_agree_to_pay_the_desk_less(world: World) -> None:
    w, desk = world, world.desk
    params = w.open_channel()
    w.assign(params)
    w.take(params, 3 * ETHER)
    sigs = [COOPERATIVE_CLOSE.sign(w.key(who), desk.manager.domain,
                                   {"channelId": params.id, "amount": ETHER})
            for who in (w.renter, w.provider)]  # fmt: skip
    with pytest.raises(ContractRevert, match="a close pays at least the best voucher"):
        desk.manager.apply(
            ci.CooperativeClose(w.renter, Timestamp(0), params, Wei(ETHER), *sigs),
            desk.accounts[w.renter],
        )


def test_advances_refuse_what_the_rule_does_not_cover(world: World) -> None:
    w, desk = world, world.desk
    params = w.open_channel()
    assert w.take(params, ETHER) == "assign the channel's payout to the desk first"
    w.assign(params)
    desk.voucher = w.voucher(params, ETHER)
    assert (
        desk.refused(adv.TakeAdvance(w.stranger, params, _NO_FACTS))
        == "only the channel's provider takes an advance"
    )
    assert (
        desk.refused(adv.SetShare(w.lender, w.renter, MAX_SHARE_BPS + 1))
        == "above the desk's cap on the share of remaining value"
    )
    assert desk.refused(adv.SetShare(w.stranger, w.stranger, 10)) == "only the lender sets shares"
    assert desk.refused(adv.Fund(w.stranger, 1)) == "only the lender funds the desk"
    assert desk.refused(adv.Withdraw(w.stranger, 1)) == "only the lender withdraws"
    assert desk.refused(adv.Withdraw(w.lender, 21 * ETHER)) == "more than the desk's cash"
    desk.ok(adv.SetShare(w.lender, w.renter, 0))
    assert w.take(params, None) == "nothing to advance: no voucher and no share"
    big = w.open_channel(deposit=50 * ETHER)
    w.assign(big)
    assert w.take(big, 30 * ETHER) == "the desk has not that much cash"
    assert w.take(params, ETHER) is None
    assert w.take(params, 2 * ETHER) == "this channel's payout was advanced already"
    assert (
        desk.refused(adv.SettleAdvance(w.stranger, params, _NO_FACTS))
        == "the channel has not settled"
    )
    assert (
        desk.refused(adv.SettleAdvance(w.stranger, big, _NO_FACTS)) == "no advance on this channel"
    )
    late = w.open_channel(lifetime=100)
    w.assign(late)
    desk.chain.time_travel(200)
    assert w.take(late, ETHER) == "the channel has expired"
    closing = w.open_channel()
    w.assign(closing)
    desk.manager.apply(ci.CloseByRenter(w.renter, Timestamp(0), closing, Wei(0)),
                       desk.accounts[w.renter])  # fmt: skip
    assert w.take(closing, ETHER) == "the channel is not open"
    with pytest.raises(Exception, match="fund the desk with fund"):
        desk.chain.w3.eth.call(
            {
                "from": desk.accounts[w.stranger].address,
                "to": desk.client.address.checksum,
                "value": 1,
            }
        )


def test_a_payout_assigned_without_an_advance_can_be_taken_back(world: World) -> None:
    w, desk = world, world.desk
    params = w.open_channel()
    w.assign(params)
    assert (
        desk.refused(adv.Release(w.stranger, params, _NO_FACTS))
        == "only the channel's provider takes its payout back"
    )
    desk.ok(adv.Release(w.provider, params, _NO_FACTS))
    assert desk.client.facts(params).payout_to == w.provider
    assert (
        desk.refused(adv.Release(w.provider, params, _NO_FACTS))
        == "the desk does not hold this channel's payout"
    )
    # assigned, then settled without an advance: the desk collects it and hands it on
    later = w.open_channel()
    w.assign(later)
    w.provider_closes(later, 4 * ETHER)
    desk.ok(adv.Release(w.provider, later, _NO_FACTS))
    taken = w.open_channel()
    w.assign(taken)
    w.take(taken, ETHER)
    assert (
        desk.refused(adv.Release(w.provider, taken, _NO_FACTS))
        == "an advance on this channel is outstanding"
    )
