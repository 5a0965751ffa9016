"""The hub over HTTP, between two shards with their nodes on loopback (embedded L1).

A routed lease end to end; the requests and vouchers the hub must refuse; a hub that
vanishes mid-lease (both ends close, paid for every second the renter paid); a hub
that restarts from its journal; a renter that closes its channel to the hub early.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.l2.transactions import OpenChannel, SettleChannel
from l2gpu.core.shards.hop import renter_owes
from l2gpu.core.shards.route import RouteRequest, hub_domain
from l2gpu.core.types import Address, ChainId, Timestamp, Wei
from l2gpu.hub.runner import RunningHub, start_hub
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.client import L2Client
from l2gpu.payments.hub_client import HubClient, HubError
from l2gpu.payments.rails import CHALLENGE_PERIOD
from l2gpu.payments.rollup_rail import RollupChannelRail
from l2gpu.payments.routed_rail import RoutedChannelRail
from l2gpu.scenarios.sharded_market import ShardNodes, account_on, shard_nodes

PRICE = 10**12  # wei a second to the provider
DEPOSIT = Wei(10**15)


class World:
    """Two shards; renters on shard 0, a provider on shard 1, a hub on both."""

    def __init__(self) -> None:
        self.chain = start_embedded_chain()
        taken: set[str] = set()
        self.renters = [account_on(self.chain, 0, 2, taken) for _ in range(2)]
        self.provider = account_on(self.chain, 1, 2, taken)
        self.hub = next(a for a in self.chain.accounts[1:9] if a.address not in taken)
        depositors = [*self.renters, self.provider]
        self.nodes: ShardNodes = shard_nodes(self.chain, 2, depositors=depositors,
                                             everywhere=[self.hub])  # fmt: skip

    def key(self, account: object) -> PrivateKey:
        return PrivateKey(bytes(account.key))  # type: ignore[attr-defined]

    def client(self, account: object, shard: int) -> L2Client:
        return L2Client(self.nodes.urls[shard], self.key(account))

    def balance(self, account: object, shard: int) -> int:
        return int(self.client(account, shard).account()["balance"])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = World()
    yield built
    built.nodes.stop()


@pytest.fixture
def hub(world: World, tmp_path: Path) -> Iterator[RunningHub]:
    running = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    yield running
    running.close()


def routed_rail(world: World, hub: RunningHub, renter: int = 0) -> RoutedChannelRail:
    assert hub.url is not None
    return RoutedChannelRail(world.key(world.renters[renter]), hub.url, world.nodes.urls, wait=20)


def provider_rail(world: World, *, cooperative: bool = True) -> RollupChannelRail:
    return RollupChannelRail(world.client(world.provider, 1), wait=10, cooperative=cooperative)


def wait_until(done: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)  # the nodes seal and the hub claims on their own threads


def test_a_routed_lease_pays_the_provider_on_its_shard_and_the_hub_its_fee(
    world: World, hub: RunningHub
) -> None:
    rail = routed_rail(world, hub)
    provider = Address.from_hex(world.provider.address)
    hub_a, hub_b = world.balance(world.hub, 0), world.balance(world.hub, 1)
    renter_a, provider_b = world.balance(world.renters[0], 0), world.balance(world.provider, 1)
    opened = rail.open(provider, DEPOSIT, lifetime=600)
    lease = opened.description
    assert lease.settlement == "hybrid"
    assert lease.renter == hub.hub.address
    assert lease.routed is not None
    assert lease.routed.renter == world.key(world.renters[0]).address
    best = None
    for second in range(1, 11):
        best = rail.sign(lease.channel_id, Wei(second * PRICE))
        assert best.amount == second * PRICE
    assert best is not None
    # The provider closes as any hybrid provider; the hub co-signs (10 bytes, cooperative).
    closed = provider_rail(world).close(lease, best)
    assert closed.how == "cooperative"
    assert closed.provider_payout == 10 * PRICE
    # The renter co-signs the hub's close of its inbound channel.
    assert rail.cosign_close(lease, Wei(10 * PRICE)) == "settled"
    wait_until(lambda: all(r.finished for r in hub.hub.routes.values()))
    fee = renter_owes(10 * PRICE, hub.hub.fee_ppm) - 10 * PRICE
    assert world.balance(world.provider, 1) - provider_b == 10 * PRICE
    assert world.balance(world.hub, 0) - hub_a == 10 * PRICE + fee
    assert world.balance(world.hub, 1) - hub_b == -10 * PRICE  # the rest came back
    assert renter_a - world.balance(world.renters[0], 0) == 10 * PRICE + fee


def test_the_hub_refuses_forged_and_misdirected_routes(world: World, hub: RunningHub) -> None:
    rail = routed_rail(world, hub)
    home = rail.rails[rail.home]
    assert hub.url is not None
    client = HubClient(hub.url)
    domain = hub_domain(world.chain.chain_id, hub.hub.address)
    provider = Address.from_hex(world.provider.address)
    inbound = home.open(hub.hub.address, Wei(renter_owes(DEPOSIT, 1_000) * 2),
                        lifetime=600 + CHALLENGE_PERIOD + 600)  # fmt: skip
    request = RouteRequest(inbound.params.id, provider, int(DEPOSIT), 600)
    stranger = world.key(world.renters[1])
    with pytest.raises(HubError, match="not signed by the renter"):
        client.open_route(inbound.description, request, request.sign(stranger, domain))
    with pytest.raises(HubError, match="not signed by the renter"):
        client.open_route(inbound.description, request, b"\x01" * 65)
    # A renter on the provider's own shard is told to pay directly.
    own_shard = RouteRequest(inbound.params.id, Address.from_hex(world.renters[1].address),
                             int(DEPOSIT), 600)  # fmt: skip
    with pytest.raises(HubError, match="one shard"):
        client.open_route(inbound.description, own_shard,
                          own_shard.sign(world.key(world.renters[0]), domain))  # fmt: skip
    too_much = RouteRequest(inbound.params.id, provider, int(DEPOSIT) * 3, 600)
    with pytest.raises(HubError, match="holds"):
        client.open_route(inbound.description, too_much,
                          too_much.sign(world.key(world.renters[0]), domain))  # fmt: skip
    too_long = RouteRequest(inbound.params.id, provider, int(DEPOSIT), 10_000)
    with pytest.raises(HubError, match="expires"):
        client.open_route(inbound.description, too_long,
                          too_long.sign(world.key(world.renters[0]), domain))  # fmt: skip
    signature = request.sign(world.key(world.renters[0]), domain)
    inflated = replace(inbound.description, deposit=Wei(int(inbound.deposit) * 10))
    with pytest.raises(HubError, match="deposit is not the channel's"):
        client.open_route(inflated, request, signature)
    first = client.open_route(inbound.description, request, signature)
    assert client.open_route(inbound.description, request, signature) == first  # a replay
    elsewhere = RouteRequest(inbound.params.id, Address.from_hex(world.hub.address),
                             int(DEPOSIT), 600)  # fmt: skip
    with pytest.raises(HubError) as refused:
        client.open_route(inbound.description, elsewhere,
                          elsewhere.sign(world.key(world.renters[0]), domain))  # fmt: skip
    assert refused.value.status == 409


def test_the_hub_takes_no_route_on_a_channel_no_batch_holds(world: World, hub: RunningHub) -> None:
    renter = world.renters[1]
    client = world.client(renter, 0)
    hub_index = int(client.account(hub.hub.address)["index"])
    expires = Timestamp(int(client.status()["time"]) + 10_000)
    # Sent, never co-signed: the node shows it pending until it drops it.
    _, envelope, _ = client.send_soft(
        lambda me: OpenChannel(me, hub_index, Wei(renter_owes(DEPOSIT, 1_000)), expires,
                               CHALLENGE_PERIOD))  # fmt: skip
    from l2gpu.core.channel import ChannelParams
    from l2gpu.core.market.settlement import describe_channel
    from l2gpu.core.types import ZERO_ADDRESS

    params = ChannelParams(world.key(renter).address, hub.hub.address, ZERO_ADDRESS,
                           CHALLENGE_PERIOD, envelope.nonce.to_bytes(32, "big"))  # fmt: skip
    pending = describe_channel(params, renter_owes(DEPOSIT, 1_000), world.chain.chain_id,
                               Address.from_hex(client.status()["rollup"]), "hybrid")  # fmt: skip
    request = RouteRequest(params.id, Address.from_hex(world.provider.address), int(DEPOSIT), 600)
    assert hub.url is not None
    with pytest.raises(HubError, match="pending, not open"):
        HubClient(hub.url).open_route(pending, request, request.sign(
            world.key(renter), hub_domain(world.chain.chain_id, hub.hub.address)))  # fmt: skip


def test_the_hub_forwards_only_what_the_renter_paid(world: World, hub: RunningHub) -> None:
    rail = routed_rail(world, hub)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    routed = rail.routed[lease.channel_id]
    inbound = routed.inbound
    domain = channel_domain(ChainId(world.chain.chain_id), inbound.manager)
    assert hub.url is not None
    client = HubClient(hub.url)
    owner = world.key(world.renters[0])
    stranger = world.key(world.renters[1])
    with pytest.raises(HubError, match="not signed by the renter"):
        client.pay(inbound.channel_id, sign_voucher(stranger, domain, inbound.channel_id, Wei(5)))
    with pytest.raises(HubError, match="more than the channel holds"):
        client.pay(inbound.channel_id, sign_voucher(owner, domain, inbound.channel_id,
                                                    Wei(int(inbound.deposit) + 1)))  # fmt: skip
    with pytest.raises(HubError, match="another channel"):
        client.pay(inbound.channel_id, sign_voucher(owner, domain, lease.channel_id, Wei(5)))
    three = rail.sign(lease.channel_id, Wei(3 * PRICE))
    # An old voucher again: the hub's best stands, nothing newly signed.
    old = sign_voucher(owner, domain, inbound.channel_id, Wei(renter_owes(PRICE, 1_000)))
    assert client.pay(inbound.channel_id, old) == three
    # A voucher that pays less than one fee's worth above forwards nothing more.
    a_bit = sign_voucher(owner, domain, inbound.channel_id,
                         Wei(renter_owes(3 * PRICE, 1_000) + 1))  # fmt: skip
    assert client.pay(inbound.channel_id, a_bit) == three
    with pytest.raises(HubError) as missing:
        client.pay(lease.channel_id, sign_voucher(owner, domain, lease.channel_id, Wei(5)))
    assert missing.value.status == 404
    # Hostile bodies: refused with a message, never a 500.
    for body in ({"channel_id": "0x00", "amount": "1", "signature": "0x"},
                 {"channel_id": str(inbound.channel_id), "amount": "-1", "signature": "0x00"},
                 {"channel_id": str(inbound.channel_id), "amount": "1" * 60, "signature": "0x"},
                 "[" * 40 + "]" * 40):  # fmt: skip
        content = body if isinstance(body, str) else json.dumps(body)
        answer = httpx.post(
            f"{hub.url}/hub/routes/{inbound.channel_id}/vouchers",
            content=content,
            headers={"content-type": "application/json"},
        )
        assert 400 <= answer.status_code < 500
        assert "error" in answer.json()
    huge = httpx.post(f"{hub.url}/hub/routes", content=b"{" + b" " * 100_000 + b"}",
                      headers={"content-type": "application/json"})  # fmt: skip
    assert huge.status_code == 413


def test_a_hub_that_vanishes_mid_lease_costs_the_provider_and_renter_nothing_paid_for(
    world: World, tmp_path: Path
) -> None:
    running = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    rail = routed_rail(world, running)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    best = None
    for second in range(1, 8):
        best = rail.sign(lease.channel_id, Wei(second * PRICE))
    assert best is not None
    renter_before = world.balance(world.renters[0], 0)
    hub_before = world.balance(world.hub, 0)
    provider_before = world.balance(world.provider, 1)
    running.close()  # the hub vanishes: it serves, co-signs and claims no more
    with pytest.raises(L2gpuError):
        rail.sign(lease.channel_id, Wei(8 * PRICE))
    # The provider closes alone with the hub's best voucher: paid every second it holds.
    closed = provider_rail(world, cooperative=False).close(lease, best)
    assert closed.provider_payout == 7 * PRICE
    assert world.balance(world.provider, 1) - provider_before == 7 * PRICE
    # The renter closes its channel to the hub conceding what the hub acknowledged
    # (seven seconds and their fee): the eighth voucher, which the hub never forwarded,
    # is not conceded, and a hub that is gone cannot claim it.
    routed = rail.routed[lease.channel_id]
    assert routed.signed == renter_owes(8 * PRICE, 1_000)
    rail.abandon(lease)
    world.chain.time_travel(CHALLENGE_PERIOD + 1)
    client = world.client(world.renters[0], 0)
    index = int(client.channel(str(routed.inbound.channel_id))["index"])
    client.send_tx(lambda me: SettleChannel(me, index), wait=30)
    paid = renter_owes(7 * PRICE, 1_000)
    assert world.balance(world.hub, 0) - hub_before == paid
    returned = world.balance(world.renters[0], 0) - renter_before
    assert returned == int(routed.inbound.deposit) - paid


def test_a_hub_restarted_from_its_journal_claims_what_it_was_paid(
    world: World, tmp_path: Path
) -> None:
    first = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    rail = routed_rail(world, first)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    best = rail.sign(lease.channel_id, Wei(4 * PRICE))
    first.close()  # as after kill -9: only the journal survives
    with (tmp_path / "hub-journal.jsonl").open("ab") as journal:
        journal.write(b'{"paid": {"channel_id": "0x')  # a torn last line
    again = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    try:
        route = again.hub.routes[rail.routed[lease.channel_id].inbound.channel_id]
        assert route.state.forwarded == 4 * PRICE
        assert route.onward == best
        rail.hub = HubClient(str(again.url))
        assert rail.sign(lease.channel_id, Wei(5 * PRICE)).amount == 5 * PRICE
        hub_before = world.balance(world.hub, 0)
        provider_rail(world).close(lease, rail.sign(lease.channel_id, Wei(5 * PRICE)))
        rail.cosign_close(lease, Wei(5 * PRICE))
        wait_until(lambda: route.finished)
        assert world.balance(world.hub, 0) - hub_before == renter_owes(5 * PRICE, 1_000)
    finally:
        again.close()


def test_a_renter_closing_its_channel_early_still_pays_the_hub_its_best_voucher(
    world: World, hub: RunningHub
) -> None:
    rail = routed_rail(world, hub)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    rail.sign(lease.channel_id, Wei(6 * PRICE))
    routed = rail.routed[lease.channel_id]
    hub_before = world.balance(world.hub, 0)
    # The renter starts closing conceding nothing; the hub answers with its best voucher.
    rail.rails[rail.home].abandon(routed.inbound, Wei(0))
    route = hub.hub.routes[routed.inbound.channel_id]
    wait_until(lambda: route.finished)
    assert world.balance(world.hub, 0) - hub_before == renter_owes(6 * PRICE, 1_000)
    # Claimed: the hub forwards nothing more (a voucher now would be paid by nobody).
    with pytest.raises(HubError) as closed:
        rail.sign(lease.channel_id, Wei(7 * PRICE))
    assert closed.value.status == 409
    # And it takes back the rest of its channel to the provider, conceding what it
    # forwarded (the provider is paid that when it settles, or closes first).
    outbound = provider_rail(world)
    wait_until(lambda: outbound.status(lease) == "closing")
    found = outbound.client.channel(str(lease.channel_id))
    assert int(found["best_amount"]) == 6 * PRICE


def test_a_renter_that_never_co_signs_still_pays_the_hub(world: World, hub: RunningHub) -> None:
    rail = routed_rail(world, hub)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    best = rail.sign(lease.channel_id, Wei(9 * PRICE))
    hub_before = world.balance(world.hub, 0)
    provider_rail(world).close(lease, best)  # the hub co-signs this one
    # The renter's client is gone: nobody co-signs the hub's cooperative close, which
    # the node drops; the hub closes alone with the renter's best voucher.
    route = hub.hub.routes[rail.routed[lease.channel_id].inbound.channel_id]
    wait_until(lambda: route.finished, seconds=90)
    assert world.balance(world.hub, 0) - hub_before == renter_owes(9 * PRICE, 1_000)


def test_the_hub_co_signs_only_what_it_sent(world: World, hub: RunningHub) -> None:
    from l2gpu.core.l2.transactions import Transfer

    me = int(world.client(world.hub, 0).account()["index"])
    agreed = hub.hub.agrees(0)
    # A sequencer putting a transfer from the hub's account into a batch: refused.
    assert agreed(Transfer(me, 1, Wei(10**17), Wei(0))) is False
    assert agreed(Transfer(1, me, Wei(10**17), Wei(0))) is False


class Crash(BaseException):
    """The hub's process dies here (as under kill -9: nothing after it runs)."""


def inbound_and_request(world: World, hub: RunningHub) -> tuple[object, RouteRequest, bytes]:
    """What a renter's rail sends to route a lease: its final inbound channel, signed terms
    (renter 1's: renter 0 is benched a while by the test of a renter that never co-signs)."""
    from l2gpu.payments.routed_rail import SLACK_S

    rail = routed_rail(world, hub, renter=1)
    inbound = rail.rails[rail.home].open(
        hub.hub.address, Wei(renter_owes(DEPOSIT, hub.hub.fee_ppm)),
        lifetime=600 + CHALLENGE_PERIOD + SLACK_S,
    )  # fmt: skip
    assert rail.rails[rail.home].status(inbound.description) == "open"
    request = RouteRequest(inbound.params.id, Address.from_hex(world.provider.address),
                           int(DEPOSIT), 600)  # fmt: skip
    signature = request.sign(rail.key, hub_domain(hub.hub.chain_id, hub.hub.address))
    return inbound.description, request, signature


def test_a_hub_killed_after_sending_an_open_tracks_it_from_its_journal(
    world: World, tmp_path: Path
) -> None:
    first = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    inbound, request, signature = inbound_and_request(world, first)
    first.close()  # no co-signing loop: the open waits for the restarted hub
    client = first.hub.clients[1]
    send_at = client.send_at

    def send_then_die(tx: object, nonce: int) -> object:
        send_at(tx, nonce)
        raise Crash  # after the node took the open, before the hub answered

    client.send_at = send_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        first.hub.open_route(inbound, request, signature)  # type: ignore[arg-type]
    # Journaled before it was sent: the restarted hub knows the channel and co-signs it.
    again = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    try:
        route = again.hub.routes[request.inbound]
        outbound = provider_rail(world)
        wait_until(lambda: outbound.status(route.record.outbound) == "open")
        # The renter asks again: the same route, not a second channel.
        answer = HubClient(str(again.url)).open_route(inbound, request, signature)  # type: ignore[arg-type]
        assert answer["outbound"]["channel_id"] == str(route.record.outbound.channel_id)
        # Nothing paid, the renter leaves: the hub takes its deposit back (closes conceding 0).
        routed_rail(world, again, renter=1).rails[0].abandon(inbound, Wei(0))  # type: ignore[arg-type]
        wait_until(lambda: outbound.status(route.record.outbound) == "closing")
        found = outbound.client.channel(str(route.record.outbound.channel_id))
        assert int(found["best_amount"]) == 0
    finally:
        again.close()


def test_an_open_the_node_refuses_leaves_no_route_and_may_be_asked_again(
    world: World, tmp_path: Path
) -> None:
    from l2gpu.node.client import NodeError

    first = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    inbound, request, signature = inbound_and_request(world, first)
    client = first.hub.clients[1]
    send_at = client.send_at

    def refuse(tx: object, nonce: int) -> object:
        raise NodeError("the sequencer refused it", status=400)

    client.send_at = refuse  # type: ignore[method-assign]
    with pytest.raises(NodeError):
        first.hub.open_route(inbound, request, signature)  # type: ignore[arg-type]
    assert request.inbound not in first.hub.routes
    journal = (tmp_path / "hub-journal.jsonl").read_text().splitlines()
    assert json.loads(journal[-1]) == {"dropped": str(request.inbound)}
    client.send_at = send_at  # type: ignore[method-assign]
    route = first.hub.open_route(inbound, request, signature)  # type: ignore[arg-type]
    first.close()
    again = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    try:
        assert again.hub.routes[request.inbound].record == route.record
    finally:
        again.close()


def test_a_renter_flooding_the_hub_with_vouchers_is_slowed(world: World, hub: RunningHub) -> None:
    from l2gpu.hub.route_state import VOUCHER_BURST, VOUCHERS_PER_S

    now = [0.0]
    hub.hub.clock = lambda: now[0]
    rail = routed_rail(world, hub, renter=1)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    for second in range(1, int(VOUCHER_BURST) + 1):  # a burst, as a client catching up
        rail.sign(lease.channel_id, Wei(second * PRICE))
    with pytest.raises(HubError) as flooded:
        rail.sign(lease.channel_id, Wei(100 * PRICE))
    assert flooded.value.status == 429
    assert "at most 4 a second" in str(flooded.value)
    now[0] += 1.0  # a second later the route takes vouchers again, at the stated rate
    for second in range(int(VOUCHERS_PER_S)):
        rail.sign(lease.channel_id, Wei((30 + second) * PRICE))
    with pytest.raises(HubError):
        rail.sign(lease.channel_id, Wei(40 * PRICE))


def test_a_route_the_hub_refuses_gives_the_renter_its_deposit_back_at_once(
    world: World, hub: RunningHub
) -> None:
    """The renter's channel to the hub opens before the hub is asked: when the hub then
    refuses the route, the hub co-signs its close for nothing (it was paid nothing), so
    the deposit is back at once, not after a challenge period and 'l2gpu settle'."""
    rail = routed_rail(world, hub, renter=1)
    before = world.balance(world.renters[1], 0)
    with pytest.raises(L2gpuError) as refused:
        # a provider on the renter's own shard: the hub says to pay it directly
        rail.open(Address.from_hex(world.renters[0].address), DEPOSIT, lifetime=600)
    assert "one shard" in refused.value.what  # the hub's reason
    assert "closed and its deposit back on your L2 balance" in refused.value.fix
    assert world.balance(world.renters[1], 0) == before
    mine = world.client(world.renters[1], 0).channels()
    assert mine[0]["status"] == "settled"
    assert mine[0]["refunded_to_renter"] == str(renter_owes(round_up(DEPOSIT), 1_000))


def test_a_channel_the_hub_let_go_unrouted_is_never_routed(world: World, tmp_path: Path) -> None:
    """The hub agrees to close an unrouted channel under the lock routes open under and
    journals it: a route asked for it afterwards, by this hub or after a restart, is
    refused. A channel a live route uses is not let go by that rule."""
    from l2gpu.core.l2.transactions import CooperativeClose
    from l2gpu.hub.cosigning import agrees_unrouted_close

    first = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    rail = routed_rail(world, first, renter=1)
    home = rail.rails[rail.home]
    inbound = home.open(first.hub.address, Wei(renter_owes(DEPOSIT, 1_000) * 2),
                        lifetime=600 + CHALLENGE_PERIOD + 600)  # fmt: skip
    found = home.client.channel(str(inbound.params.id))
    close = CooperativeClose(int(found["renter_index"]), int(found["index"]), Wei(0))
    try:
        assert agrees_unrouted_close(first.hub, 0, close)
        request = RouteRequest(inbound.params.id, Address.from_hex(world.provider.address),
                               int(DEPOSIT), 600)  # fmt: skip
        signature = request.sign(world.key(world.renters[1]),
                                 hub_domain(world.chain.chain_id, first.hub.address))  # fmt: skip
        with pytest.raises(HubError, match="being closed") as refused:
            HubClient(str(first.url)).open_route(inbound.description, request, signature)
        assert refused.value.status == 409
        # a routed lease's channel: not let go for nothing
        lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600)
        routed = home.client.channel(str(rail.routed[lease.params.id].inbound.channel_id))
        rail.sign(lease.params.id, Wei(PRICE))
        assert not agrees_unrouted_close(
            first.hub, 0, CooperativeClose(int(routed["renter_index"]), int(routed["index"]),
                                           Wei(0)))  # fmt: skip
    finally:
        first.close()
    again = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    try:
        with pytest.raises(HubError, match="being closed"):
            HubClient(str(again.url)).open_route(inbound.description, request, signature)
    finally:
        again.close()


def test_a_hub_restarted_after_agreeing_to_a_close_forwards_nothing_more(
    world: World, tmp_path: Path
) -> None:
    """Found by attacking the hub: its agreement to a renter's close of a routed channel
    was in memory only, so a hub restarted after it took a voucher for the whole
    deposit on the closed channel (before its first round of claims) and signed onward
    for the whole outbound deposit. The agreement is journaled now."""
    from l2gpu.core.l2.transactions import CooperativeClose

    first = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    rail = routed_rail(world, first, renter=1)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    rail.sign(lease.channel_id, Wei(2 * PRICE))
    inbound = rail.routed[lease.channel_id].inbound
    home = rail.rails[rail.home]
    paid = renter_owes(2 * PRICE, 1_000)
    index = int(home.client.channel(str(inbound.channel_id))["index"])
    home.client.send_tx(lambda me: CooperativeClose(me, index, Wei(paid)), wait=30)
    assert home.client.channel(str(inbound.channel_id))["status"] != "open"
    first.close()  # as after kill -9: only the journal survives
    again = start_hub(world.key(world.hub), world.nodes.urls, tmp_path, wait=10.0)
    try:
        domain = channel_domain(ChainId(world.chain.chain_id), inbound.manager)
        whole = sign_voucher(world.key(world.renters[1]), domain, inbound.channel_id,
                             Wei(int(inbound.deposit)))  # fmt: skip
        with pytest.raises(HubError, match="this route is closed"):
            HubClient(str(again.url)).pay(inbound.channel_id, whole)
    finally:
        again.close()
