"""A renter's routes through a hub survive its process (issue 18): the routed rail
records each route in the renter's data folder before it acts on it, and
``l2gpu settle`` finishes a routed lease whose renter was killed mid-lease, paying the
hub exactly the renter's best voucher and nothing twice.

Two shards with their nodes and a hub on loopback, as in ``test_hub.py``; the renter's
kill is its rail dropped without a close (what kill -9 leaves: the data folder).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.shards.hop import renter_owes
from l2gpu.core.types import Address, ChainId, Wei
from l2gpu.hub.runner import RunningHub, start_hub
from l2gpu.payments.rails import CHALLENGE_PERIOD
from l2gpu.payments.route_records import FILE_NAME, RenterRoutes
from l2gpu.payments.routed_rail import RoutedChannelRail

from ..cli.helpers import cli
from .test_hub import DEPOSIT, PRICE, World, provider_rail, wait_until


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = World()
    yield built
    built.nodes.stop()


@pytest.fixture
def hub(world: World, tmp_path: Path) -> Iterator[RunningHub]:
    running = start_hub(world.key(world.hub), world.nodes.urls, tmp_path / "hub", wait=10.0)
    yield running
    running.close()


def renter_rail(world: World, hub: RunningHub, folder: Path, renter: int) -> RoutedChannelRail:
    assert hub.url is not None
    return RoutedChannelRail(world.key(world.renters[renter]), hub.url, world.nodes.urls,
                             wait=20, routes=RenterRoutes(folder))  # fmt: skip


def settle(
    capsys: pytest.CaptureFixture[str], world: World, folder: Path, renter: int
) -> list[dict[str, str]]:
    """``l2gpu settle --json`` as the renter, on its data folder."""
    key = "0x" + bytes(world.renters[renter].key).hex()
    code, out, err = cli(capsys, "--data-dir", str(folder), "--private-key", key,
                         "settle", "--json")  # fmt: skip
    assert code == 0, (out, err)
    return list(json.loads(out))


def test_a_renter_killed_mid_lease_is_finished_by_settle_paying_its_best_voucher(
    world: World, hub: RunningHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "renter"
    rail = renter_rail(world, hub, folder, renter=0)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    for second in range(1, 6):
        rail.sign(lease.channel_id, Wei(second * PRICE))
    inbound = rail.routed[lease.channel_id].inbound
    del rail  # killed mid-lease: nothing closed, only the data folder is left
    owed = renter_owes(5 * PRICE, hub.hub.fee_ppm)
    # The record, read back by a new process: the route, the lease and the best voucher.
    (route,) = RenterRoutes(folder).pending()
    assert (route.inbound, route.outbound, route.hub_url) == (inbound, lease, hub.url)
    assert route.outbound is not None
    assert route.outbound.routed == lease.routed
    assert (route.signed, route.acknowledged, route.state) == (owed, owed, "open")
    renter_before, hub_before = world.balance(world.renters[0], 0), world.balance(world.hub, 0)
    (done,) = settle(capsys, world, folder, renter=0)
    assert done["state"] == "settled", done
    assert "closed with the hub" in done["note"]
    assert world.balance(world.hub, 0) - hub_before == owed
    assert world.balance(world.renters[0], 0) - renter_before == int(inbound.deposit) - owed
    assert [r.state for r in RenterRoutes(folder).all()] == ["done"]
    # Twice: nothing left to do, nothing paid again.
    assert settle(capsys, world, folder, renter=0) == []
    assert world.balance(world.hub, 0) - hub_before == owed
    # The hub forwards nothing more and takes back its channel to the provider,
    # conceding what it forwarded.
    assert hub.hub.routes[inbound.channel_id].claimed
    outbound = provider_rail(world)
    wait_until(lambda: outbound.status(lease) in ("closing", "settled"))
    assert int(outbound.client.channel(str(lease.channel_id))["best_amount"]) == 5 * PRICE


def test_settle_after_a_crash_mid_close_pays_nothing_twice(
    world: World, hub: RunningHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "renter"
    rail = renter_rail(world, hub, folder, renter=1)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    rail.sign(lease.channel_id, Wei(3 * PRICE))
    inbound = rail.routed[lease.channel_id].inbound
    del rail
    routes = RenterRoutes(folder)
    # Killed after marking the close, before sending it: settle sends it.
    routes.mark(inbound.channel_id, "closing")
    hub_before = world.balance(world.hub, 0)
    (done,) = settle(capsys, world, folder, renter=1)
    assert done["state"] == "settled", done
    owed = renter_owes(3 * PRICE, hub.hub.fee_ppm)
    assert world.balance(world.hub, 0) - hub_before == owed
    # Killed after the close landed, before the route was marked done: settle finds the
    # channel settled, marks it and sends nothing.
    (route,) = routes.all()
    routes.add(replace(route, state="closing"))
    renter_before = world.balance(world.renters[1], 0)
    (again,) = settle(capsys, world, folder, renter=1)
    assert again["state"] == "settled", again
    assert world.balance(world.hub, 0) - hub_before == owed
    assert world.balance(world.renters[1], 0) == renter_before
    assert routes.pending() == []


def test_the_record_survives_a_reopen_and_keeps_what_it_cannot_read(tmp_path: Path) -> None:
    from l2gpu.core.channel import ChannelParams
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.market.settlement import describe_channel
    from l2gpu.payments.route_records import RenterRoute

    key = PrivateKey(b"\x01" * 32)
    params = ChannelParams(key.address, Address(b"\x02" * 20), Address(bytes(20)),
                           CHALLENGE_PERIOD, b"\x00" * 32)  # fmt: skip
    inbound = describe_channel(params, 10**15, 1, Address(b"\x03" * 20), "hybrid")
    domain = channel_domain(ChainId(1), inbound.manager)
    (tmp_path / FILE_NAME).write_text(json.dumps([{"from": "a newer version"}]))
    routes = RenterRoutes(tmp_path)
    routes.add(RenterRoute(inbound, "http://hub", ("http://a", "http://b"), 0))
    routes.signed(inbound.channel_id, sign_voucher(key, domain, inbound.channel_id, Wei(7)))
    routes.signed(inbound.channel_id, sign_voucher(key, domain, inbound.channel_id, Wei(5)))
    routes.acknowledged(inbound.channel_id, 7)
    routes.mark(inbound.channel_id, "done")
    routes.mark(inbound.channel_id, "closing")  # never back
    (route,) = RenterRoutes(tmp_path).all()
    assert (route.signed, route.acknowledged, route.state) == (7, 7, "done")
    assert route.best is not None
    assert route.best.signer(domain) == key.address
    assert json.loads((tmp_path / FILE_NAME).read_text())[0] == {"from": "a newer version"}


def test_finished_routes_are_kept_only_so_many(tmp_path: Path) -> None:
    from l2gpu.core.channel import ChannelParams
    from l2gpu.core.market.settlement import describe_channel
    from l2gpu.payments.route_records import KEEP_DONE, RenterRoute

    def route(nonce: int, state: str) -> RenterRoute:
        params = ChannelParams(Address(b"\x01" * 20), Address(b"\x02" * 20), Address(bytes(20)),
                               CHALLENGE_PERIOD, nonce.to_bytes(32, "big"))  # fmt: skip
        inbound = describe_channel(params, 10**15, 1, Address(b"\x03" * 20), "hybrid")
        return RenterRoute(inbound, "http://hub", ("http://a",), 0, state=state)

    routes = RenterRoutes(tmp_path)
    for nonce in range(KEEP_DONE + 3):
        routes.add(route(nonce, "done"))
    routes.add(route(KEEP_DONE + 3, "open"))
    kept = routes.all()
    assert len(kept) == KEEP_DONE + 1  # the newest finished ones and the unfinished one
    assert [r.state for r in routes.pending()] == ["open"]


def test_a_hub_gone_leaves_the_renter_to_close_alone_conceding_what_it_acknowledged(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Last in this module: the hub that is gone misses a co-signature (its account is
    # benched a while) and the chain's clock moves past a challenge period.
    running = start_hub(world.key(world.hub), world.nodes.urls, tmp_path / "hub", wait=10.0)
    folder = tmp_path / "renter"
    rail = renter_rail(world, running, folder, renter=0)
    lease = rail.open(Address.from_hex(world.provider.address), DEPOSIT, lifetime=600).description
    rail.sign(lease.channel_id, Wei(4 * PRICE))
    inbound = rail.routed[lease.channel_id].inbound
    # A fifth second signed and on disk, never sent: the renter dies before the hub has it.
    routes = RenterRoutes(folder)
    domain = channel_domain(ChainId(world.chain.chain_id), inbound.manager)
    fifth = Wei(renter_owes(5 * PRICE, running.hub.fee_ppm))
    unsent = sign_voucher(world.key(world.renters[0]), domain, inbound.channel_id, fifth)
    routes.signed(inbound.channel_id, unsent)
    del rail
    running.close()  # the hub vanishes too
    renter_before, hub_before = world.balance(world.renters[0], 0), world.balance(world.hub, 0)
    (closing,) = settle(capsys, world, folder, renter=0)
    assert closing["state"] == "waiting", closing
    world.chain.time_travel(CHALLENGE_PERIOD + 1)
    (done,) = settle(capsys, world, folder, renter=0)
    assert done["state"] == "settled", done
    acknowledged = renter_owes(4 * PRICE, running.hub.fee_ppm)
    assert world.balance(world.hub, 0) - hub_before == acknowledged
    assert world.balance(world.renters[0], 0) - renter_before == int(inbound.deposit) - acknowledged
    assert settle(capsys, world, folder, renter=0) == []
