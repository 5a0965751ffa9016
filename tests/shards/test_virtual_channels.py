"""A lease between shards over a virtual channel: the hub signs two opens and a claim,
the renter pays the provider directly, and one voucher counts on both ends.

Over HTTP between two shards with their nodes on loopback (embedded L1): a lease end
to end; a hub that vanishes right after the opens (the provider is paid every voucher
it holds, the renter the rest); a renter that closes its channel to the hub early (the
hub closes its channel to the provider, reads the provider's last voucher and claims
it); the terms a hub refuses; vouchers that are not the renter's for the virtual id.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from l2gpu.core.channel.state import MAX_DEPOSIT, VirtualTerms
from l2gpu.core.channel.vouchers import (
    VirtualVoucherDomain,
    Voucher,
    channel_domain,
    sign_voucher,
)
from l2gpu.core.l2.transactions import SettleChannel
from l2gpu.core.market.channel_description import voucher_domain
from l2gpu.core.shards.hop import renter_owes
from l2gpu.core.shards.route import RouteRequest, hub_domain
from l2gpu.core.shards.virtual import CLAIM_MARGIN_S, new_virtual_id
from l2gpu.core.types import Address, ChainId, Wei
from l2gpu.hub.runner import RunningHub, start_hub
from l2gpu.payments.hub_client import HubClient, HubError
from l2gpu.payments.rails import CHALLENGE_PERIOD
from l2gpu.payments.routed_rail import RoutedChannelRail

from .test_hub import DEPOSIT, PRICE, World, provider_rail, wait_until
from .test_hub import hub as hub  # the fixtures: a world of two shards, a hub on both
from .test_hub import world as world

FEE = 1_000  # the hub's default fee, ppm


def virtual_rail(world: World, hub: RunningHub, renter: int = 0) -> RoutedChannelRail:
    assert hub.url is not None
    return RoutedChannelRail(world.key(world.renters[renter]), hub.url, world.nodes.urls,
                             wait=20, virtual=True)  # fmt: skip


def test_a_virtual_lease_pays_the_provider_directly_and_the_hub_claims_its_fee(
    world: World, hub: RunningHub
) -> None:
    rail = virtual_rail(world, hub)
    renter = world.key(world.renters[0]).address
    provider = Address.from_hex(world.provider.address)
    hub_a, hub_b = world.balance(world.hub, 0), world.balance(world.hub, 1)
    renter_a, provider_b = world.balance(world.renters[0], 0), world.balance(world.provider, 1)
    lease = rail.open(provider, DEPOSIT, lifetime=600).description
    assert lease.renter == hub.hub.address  # the hub pays into the lease's channel...
    assert lease.voucher_signer == renter  # ... with the renter's vouchers
    virtual = lease.params.virtual
    assert virtual is not None
    assert virtual.fee_ppm == 0
    inbound = rail.routed[lease.channel_id].inbound.params.virtual
    assert inbound == VirtualTerms(renter, virtual.virtual_id, FEE)
    route = next(r for r in hub.hub.routes.values() if r.record.outbound == lease)
    best = None
    for second in range(1, 11):
        best = rail.sign(lease.channel_id, Wei(second * PRICE))
        # the provider checks it as any voucher of its channel
        assert best.signer(voucher_domain(lease)) == renter
    assert best is not None
    assert route.state.received == 0  # the hub saw none of them
    inbound_id = rail.routed[lease.channel_id].inbound.channel_id
    with pytest.raises(HubError) as refused:  # and takes none
        HubClient(str(hub.url)).pay(inbound_id, Voucher(inbound_id, best.amount, best.signature))
    assert refused.value.status == 409
    # The hub agrees to no close above what it can claim: the provider closes alone,
    # which puts the voucher in its shard's batch; the hub claims it on the renter's.
    closed = provider_rail(world).close(lease, best)
    assert closed.how != "cooperative"
    assert closed.provider_payout == 10 * PRICE
    wait_until(lambda: route.finished and route.reclaimed)
    fee = renter_owes(10 * PRICE, FEE) - 10 * PRICE
    assert fee > 0
    assert world.balance(world.provider, 1) - provider_b == 10 * PRICE
    assert world.balance(world.hub, 0) - hub_a == 10 * PRICE + fee
    assert world.balance(world.hub, 1) - hub_b == -10 * PRICE  # the rest came back at once
    assert renter_a - world.balance(world.renters[0], 0) == 10 * PRICE + fee


def test_a_hub_gone_after_the_opens_blocks_nothing_and_is_owed_what_the_renter_signed(
    world: World, tmp_path: Path
) -> None:
    running = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    rail = virtual_rail(world, running)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    running.close()  # the hub vanishes: no payment needs it
    best = None
    for second in range(1, 8):
        best = rail.sign(lease.channel_id, Wei(second * PRICE))
    assert best is not None
    provider_before = world.balance(world.provider, 1)
    renter_before, hub_before = world.balance(world.renters[0], 0), world.balance(world.hub, 0)
    closed = provider_rail(world, cooperative=False).close(lease, best)
    assert closed.provider_payout == 7 * PRICE
    assert world.balance(world.provider, 1) - provider_before == 7 * PRICE
    # The renter closes its channel to the hub conceding what its vouchers pay there
    # (what the provider was paid and the fee); the rest returns after the challenge
    # period: the delay a vanished hub costs.
    routed = rail.routed[lease.channel_id]
    rail.abandon(lease)
    world.chain.time_travel(CHALLENGE_PERIOD + CLAIM_MARGIN_S + 1)
    client = world.client(world.renters[0], 0)
    index = int(client.channel(str(routed.inbound.channel_id))["index"])
    client.send_tx(lambda me: SettleChannel(me, index), wait=30)
    owed = renter_owes(7 * PRICE, FEE)
    assert world.balance(world.hub, 0) - hub_before == owed
    assert world.balance(world.renters[0], 0) - renter_before == int(routed.inbound.deposit) - owed


def test_a_renter_closing_early_cannot_keep_what_the_provider_proves_later(
    world: World, hub: RunningHub
) -> None:
    rail = virtual_rail(world, hub)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    best = rail.sign(lease.channel_id, Wei(6 * PRICE))  # the provider holds it; nobody else
    routed = rail.routed[lease.channel_id]
    route = hub.hub.routes[routed.inbound.channel_id]
    hub_before = world.balance(world.hub, 0)
    # The renter starts closing its channel to the hub conceding nothing.
    rail.rails[rail.home].abandon(routed.inbound, Wei(0))
    # The hub closes its channel to the provider at once (the provider has its
    # challenge period to prove its vouchers), and co-signs no close of the renter's.
    outbound = provider_rail(world)
    wait_until(lambda: outbound.status(lease) == "closing")
    outbound.close(lease, best)  # the provider's agent answers the close
    wait_until(lambda: route.finished)
    assert world.balance(world.hub, 0) - hub_before == renter_owes(6 * PRICE, FEE)


def test_the_hub_refuses_virtual_terms_it_could_lose_by(world: World, hub: RunningHub) -> None:
    rail = virtual_rail(world, hub, renter=1)
    home = rail.rails[rail.home]
    client = HubClient(str(hub.url))
    key = world.key(world.renters[1])
    domain = hub_domain(world.chain.chain_id, hub.hub.address)
    provider = Address.from_hex(world.provider.address)
    long_enough = CHALLENGE_PERIOD + CLAIM_MARGIN_S

    def ask(terms: VirtualTerms, period: int = long_enough) -> dict[str, object]:
        inbound = home.open(hub.hub.address, Wei(renter_owes(DEPOSIT, FEE)),
                            lifetime=600 + period + 600, virtual=terms,
                            challenge_period=period)  # fmt: skip
        assert home.confirmed(inbound.params.id) == "open"
        request = RouteRequest(inbound.params.id, provider, int(DEPOSIT), 600)
        return client.open_route(inbound.description, request, request.sign(key, domain))

    def fresh() -> bytes:
        return new_virtual_id(key.address, secrets.token_bytes(32))

    with pytest.raises(HubError, match="fee"):
        ask(VirtualTerms(key.address, fresh(), 0))  # a route that pays the hub nothing
    with pytest.raises(HubError, match="not its renter's"):
        ask(VirtualTerms(Address.from_hex(world.renters[0].address), fresh(), FEE))
    with pytest.raises(HubError, match="challenge period"):
        ask(VirtualTerms(key.address, fresh(), FEE), period=CHALLENGE_PERIOD)
    taken = fresh()
    ask(VirtualTerms(key.address, taken, FEE))
    with pytest.raises(HubError, match="virtual id is taken"):
        ask(VirtualTerms(key.address, taken, FEE))  # two channels to providers, one voucher


def test_only_the_renters_voucher_for_the_virtual_id_pays(world: World, hub: RunningHub) -> None:
    rail = virtual_rail(world, hub)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    virtual = lease.params.virtual
    assert virtual is not None
    renter = world.key(world.renters[0])
    chain = ChainId(world.chain.chain_id)
    forged = [
        # the channel's own domain: the hub's vouchers, not the renter's
        sign_voucher(world.key(world.hub), channel_domain(chain, lease.manager),
                     lease.channel_id, Wei(3 * PRICE)),
        # the renter's, for another virtual id, or under the channel's own domain
        VirtualVoucherDomain(chain, new_virtual_id(renter.address, bytes(32))).sign(
            renter, lease.channel_id, Wei(3 * PRICE)),
        sign_voucher(renter, channel_domain(chain, lease.manager), lease.channel_id,
                     Wei(3 * PRICE)),
        # another renter's, for this virtual id
        VirtualVoucherDomain(chain, virtual.virtual_id).sign(
            world.key(world.renters[1]), lease.channel_id, Wei(3 * PRICE)),
    ]  # fmt: skip
    provider = provider_rail(world, cooperative=False)
    for voucher in forged:
        assert voucher.signer(voucher_domain(lease)) != lease.voucher_signer
        with pytest.raises(Exception, match="bad voucher signature"):
            provider.close(lease, voucher)
    # The renter's own pays (and the hub then claims it).
    closed = provider.close(lease, rail.sign(lease.channel_id, Wei(3 * PRICE)))
    assert closed.provider_payout == 3 * PRICE


def test_a_voucher_whose_fee_would_overflow_still_pays_the_hub_as_much_as_the_provider(
    world: World, hub: RunningHub
) -> None:
    # A renter signs the largest amount there is: on the provider's end (no fee) it
    # pays the whole deposit; on the hub's end amount plus fee passes 128 bits, so
    # the credited amount saturates (refused, it would leave the hub nothing to claim).
    rail = virtual_rail(world, hub)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    virtual = lease.params.virtual
    assert virtual is not None
    routed = rail.routed[lease.channel_id]
    route = hub.hub.routes[routed.inbound.channel_id]
    hub_a, hub_b = world.balance(world.hub, 0), world.balance(world.hub, 1)
    huge = VirtualVoucherDomain(ChainId(world.chain.chain_id), virtual.virtual_id).sign(
        world.key(world.renters[0]), lease.channel_id, Wei(MAX_DEPOSIT))  # fmt: skip
    closed = provider_rail(world, cooperative=False).close(lease, huge)
    assert closed.provider_payout == int(lease.deposit)
    wait_until(lambda: route.finished)
    # the hub is paid the renter's whole deposit on A: the provider's and the fee
    assert world.balance(world.hub, 0) - hub_a == int(routed.inbound.deposit)
    assert world.balance(world.hub, 1) == hub_b  # its deposit on B went to the provider
    assert int(routed.inbound.deposit) >= renter_owes(int(lease.deposit), FEE)


def test_another_renters_channel_on_the_same_virtual_id_blocks_no_route(
    world: World, hub: RunningHub
) -> None:
    # A virtual id is public once its channel is in a batch; a voucher binds the id and
    # its signer, so another signer's channel on the same id takes nothing from it.
    first, second = virtual_rail(world, hub, renter=0), virtual_rail(world, hub, renter=1)
    lease = first.open(Address.from_hex(world.provider.address), DEPOSIT,
                       lifetime=600).description  # fmt: skip
    virtual = lease.params.virtual
    assert virtual is not None
    key = world.key(world.renters[1])
    home = second.rails[second.home]
    period = CHALLENGE_PERIOD + CLAIM_MARGIN_S
    inbound = home.open(hub.hub.address, Wei(renter_owes(DEPOSIT, FEE)),
                        lifetime=600 + period + 600,
                        virtual=VirtualTerms(key.address, virtual.virtual_id, FEE),
                        challenge_period=period)  # fmt: skip
    assert home.confirmed(inbound.params.id) == "open"
    request = RouteRequest(inbound.params.id, Address.from_hex(world.provider.address),
                           int(DEPOSIT), 600)  # fmt: skip
    domain = hub_domain(world.chain.chain_id, hub.hub.address)
    answer = HubClient(str(hub.url)).open_route(inbound.description, request,
                                                request.sign(key, domain))  # fmt: skip
    assert answer["outbound"]["virtual"]["signer"] == key.address.checksum
