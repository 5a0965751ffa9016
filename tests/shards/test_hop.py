"""A lease paid across shards through a hub (core/shards/hop.py) on the embedded L1:
the renter's channel to the hub on shard 0, the hub's to the provider on shard 1,
every voucher forwarded; the hub vanishes mid-lease and both ends still close, the
provider paid for every second the renter paid, the hub out of pocket by nothing."""

from __future__ import annotations

import pytest

from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.l2.transactions import CloseByProvider, CloseByRenter, OpenChannel, SettleChannel
from l2gpu.core.shards.hop import Forward, HopState, HopTerms, Refused, RenterVoucher, sign_forward
from l2gpu.core.shards.hop import state_transition as hop
from l2gpu.core.types import ChainId, Seconds, Timestamp, Wei
from l2gpu.scenarios.shard_world import ETH, Shard, ShardWorld

PRICE, FEE_PPM = 10**12, 10_000  # per second to the provider; the hub's 1 %
FEE = PRICE * FEE_PPM // 1_000_000  # the hub's per second
DEPOSIT = 10**16
CHALLENGE = 600


@pytest.fixture(scope="module")
def world() -> ShardWorld:
    return ShardWorld(2, challenge_window=3600)


def open_channel(world: ShardWorld, shard: Shard, payer: int, payee: int) -> tuple[int, object]:
    """``payer`` opens a channel to ``payee`` on ``shard``; (its index, its id)."""
    expires = Timestamp(world.chain.timestamp() + 86_400)
    world.send(shard, payer, OpenChannel(world.index(shard, payer), world.index(shard, payee),
                                         Wei(DEPOSIT), expires, Seconds(CHALLENGE)))  # fmt: skip
    world.post(shard)
    opened = shard.state.channels[-1]
    return opened.index, opened.channel.params.id


def test_the_hub_forwards_what_was_paid_and_vanishing_costs_nobody(world: ShardWorld) -> None:
    world.reset()
    a, b = world.shards
    renter, hub = world.users_on(0, 2)
    provider = world.users_on(1, 1)[0]
    for who in (renter, hub, provider):
        world.deposit(who, ETH)  # each to its own shard
    b.client.deposit(world.account(hub), world.bls(hub), ETH)  # the hub on shard 1 too
    world.post(a)
    world.post(b)
    inbound_index, inbound = open_channel(world, a, renter, hub)
    outbound_index, outbound = open_channel(world, b, hub, provider)
    chain_id = ChainId(world.chain.chain_id)
    terms = HopTerms(inbound, channel_domain(chain_id, a.client.address), DEPOSIT,
                     world.address(renter), outbound, channel_domain(chain_id, b.client.address),
                     DEPOSIT, FEE_PPM)  # fmt: skip
    state = HopState(terms)
    best_for_provider = None
    for second in range(1, 31):  # thirty seconds of a lease
        voucher = sign_voucher(world.key(renter), terms.inbound_domain, inbound,
                               Wei(terms.renter_owes(second * PRICE)))  # fmt: skip
        state, events = hop(state, RenterVoucher(voucher))
        assert events == [Forward(second * PRICE)]
        best_for_provider = sign_forward(world.key(hub), terms, events[0])
        assert best_for_provider.signer(terms.outbound_domain) == world.address(hub)
    # What the hub refuses: a stranger's voucher, more than the channel holds, old news.
    forged = sign_voucher(world.key(provider), terms.inbound_domain, inbound, Wei(DEPOSIT // 2))
    assert isinstance(hop(state, RenterVoucher(forged)).events[0], Refused)
    too_much = sign_voucher(world.key(renter), terms.inbound_domain, inbound, Wei(DEPOSIT + 1))
    assert isinstance(hop(state, RenterVoucher(too_much)).events[0], Refused)
    old = sign_voucher(
        world.key(renter), terms.inbound_domain, inbound, Wei(terms.renter_owes(3 * PRICE))
    )
    assert hop(state, RenterVoucher(old)).events == []
    # The hub vanishes. The provider closes on shard 1 with the hub's best voucher.
    assert best_for_provider is not None
    before = world.balance(b, provider)
    world.send(b, provider, CloseByProvider(world.index(b, provider), outbound_index,
                                            best_for_provider.amount,
                                            best_for_provider.signature))  # fmt: skip
    world.post(b)
    assert world.balance(b, provider) - before == 30 * PRICE  # every second paid
    # The renter closes on shard 0 conceding what it signed; after the challenge period
    # the hub's account is paid it, and the rest returns to the renter.
    renter_before, hub_before = world.balance(a, renter), world.balance(a, hub)
    paid = terms.renter_owes(30 * PRICE)
    world.send(a, renter, CloseByRenter(world.index(a, renter), inbound_index, Wei(paid)))
    world.post(a)
    world.chain.time_travel(CHALLENGE + 1)
    world.send(a, renter, SettleChannel(world.index(a, renter), inbound_index))
    world.post(a)
    assert world.balance(a, hub) - hub_before == paid  # the hub's income: price + fee
    assert world.balance(a, renter) - renter_before == DEPOSIT - paid
    hub_net = paid - 30 * PRICE
    assert hub_net == 30 * FEE >= 0  # the hub is out of pocket by nothing
