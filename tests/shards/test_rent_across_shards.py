"""``l2gpu rent`` across shards (issue 18): a renter on shard 0 rents the offer of a
provider on shard 1 through the CLI's own code path, paid every second through a hub,
with the route kept in the renter's data folder while the lease runs and finished
after; a lease between shards without a hub, or one the renter cannot fund with the
hub's fee, is refused before any channel opens.

Two shards with their nodes and a hub on loopback (``test_hub.py``'s world), the
market API on loopback reading channels on both shards, and a provider agent on
shard 1 stepping in a thread; ``rent`` runs in process.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from l2gpu.core.errors import L2gpuError
from l2gpu.core.shards.hop import renter_owes
from l2gpu.core.types import Address, Wei
from l2gpu.hub.runner import start_hub
from l2gpu.payments.route_records import FILE_NAME, RenterRoute, RenterRoutes

from ..cli.helpers import cli, refused
from .test_hub import World, wait_until

PRICE = Wei(26 * 10**14)  # wei per GPU-second: 0.1 h costs 0.936 ETH of the renter's 1 ETH


@dataclass
class Market:
    """The market API and a provider agent on shard 1 that steps until stopped."""

    url: str
    offer_id: str
    agent: object
    stop: threading.Event
    thread: threading.Thread
    seen: list[list[RenterRoute]]
    """What a renter's data folder held, every 50 ms (when watched)."""
    watched: Path | None = None


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = World()
    yield built
    built.nodes.stop()


@pytest.fixture(scope="module")
def market(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    from l2gpu.agent.agent import ProviderAgent
    from l2gpu.agent.backends.local import LocalBackend
    from l2gpu.agent.inventory import discover
    from l2gpu.agent.outputs import Retention
    from l2gpu.api.app import create_app
    from l2gpu.api.service import MarketService
    from l2gpu.cli.lease_rails import provider_shard_rail
    from l2gpu.client import MarketClient
    from l2gpu.clock import system_clock
    from l2gpu.config import load_settings
    from l2gpu.db import open_database
    from l2gpu.payments.channel_check import ChannelCheck
    from l2gpu.payments.store import VoucherStore
    from l2gpu.serving.loopback import free_loopback_port, serve_on_loopback

    folder = tmp_path_factory.mktemp("market")
    urls = world.nodes.urls
    port = free_loopback_port()
    service = MarketService(
        open_database(f"sqlite:///{folder / 'market.db'}"),
        chain_id=world.chain.chain_id,
        origin=f"http://127.0.0.1:{port}",
        channels=ChannelCheck(node_url=urls[0], shard_urls=tuple(urls[1:])),
    )
    server, url = serve_on_loopback(create_app(service), "market API", port)
    provider = world.key(world.provider)
    # the provider's rail as 'provider up --shard-node A --shard-node B' picks it
    picked = provider_shard_rail(load_settings(), provider, urls, None, None, clock=system_clock)
    assert picked is not None
    shard, home, rail = picked
    assert (shard, home, rail.settlement) == (1, urls[1], "hybrid")
    agent = ProviderAgent(
        MarketClient(url, provider),
        provider,
        LocalBackend(folder / "jobs"),
        discover("RTX_4090:1", workdir=folder),
        VoucherStore(open_database(f"sqlite:///{folder / 'agent.db'}")),
        system_clock,
        world.chain.chain_id,
        rail=rail,
        kept=Retention(folder / "kept"),  # as 'provider up' keeps them: launch asks
    )
    offer = agent.publish(agent.offer_terms(PRICE, location="EU",
                                            expires_at=system_clock() + 3600))[0]  # fmt: skip
    stop = threading.Event()
    built = Market(url, str(offer.id), agent, stop, threading.Thread(), [])

    def run() -> None:
        while not stop.is_set():
            agent.step()
            stop.wait(0.2)  # the agent's loop, as 'provider up' runs it

    def watch() -> None:
        # Its own thread, not the agent's: an agent's step can take longer than the
        # renter's second on a slow machine, and then saw one voucher of several.
        while not stop.is_set():
            if built.watched is not None:
                built.seen.append(RenterRoutes(built.watched).all())
            stop.wait(0.05)

    built.thread = threading.Thread(target=run, daemon=True, name="provider-agent")
    built.thread.start()
    watcher = threading.Thread(target=watch, daemon=True, name="route-watcher")
    watcher.start()
    yield built
    stop.set()
    built.thread.join(timeout=30)
    watcher.join(timeout=30)
    server.should_exit = True


def rent(capsys: pytest.CaptureFixture[str], world: World, folder: Path, renter: int,
         market: Market, *args: str) -> tuple[int, str, str]:  # fmt: skip
    """``l2gpu rent`` of the market's offer as renter ``renter``, on both shards' nodes."""
    key = "0x" + bytes(world.renters[renter].key).hex()
    shards = [arg for url in world.nodes.urls for arg in ("--shard-node", url)]
    return cli(capsys, "--data-dir", str(folder), "--private-key", key, "rent", market.offer_id,
               "--api-url", market.url, *shards, *args)  # fmt: skip


def channels(world: World, renter: int) -> tuple[int, int]:
    """How many channels the renter pays from on shard 0, and the provider is paid by on
    shard 1."""
    renter_side = world.client(world.renters[renter], 0).channels()
    provider = Address.from_hex(world.provider.address)
    provider_side = world.client(world.provider, 1).channels_of(provider, role="provider")
    return len(renter_side), len(provider_side)


def test_rent_pays_a_provider_on_another_shard_through_the_hub(
    world: World, market: Market, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hub = start_hub(world.key(world.hub), world.nodes.urls, tmp_path / "hub", wait=10.0)
    try:
        assert hub.url is not None
        folder = tmp_path / "renter"
        provider_before = world.balance(world.provider, 1)
        market.watched = folder
        started = time.monotonic()
        code, out, err = rent(capsys, world, folder, 0, market, "--hub", hub.url,
                              "--cmd", "echo hello-across-shards; sleep 3",
                              "--hours", "0.01")  # fmt: skip
        market.watched = None
        assert code == 0, err
        assert time.monotonic() - started < 60
        assert "hello-across-shards" in out
        assert "(sharded)" in err  # the lease's line names its rail
        assert "ended (job exited with code 0)" in err
        # While it ran, the route was on disk with the hub's channel and a voucher.
        running = [seen for seen in market.seen if seen and seen[0].state == "open"
                   and seen[0].outbound is not None and seen[0].best is not None]  # fmt: skip
        assert running, market.seen
        (route,) = RenterRoutes(folder).all()
        # ... and paid second by second: every voucher sampled while it ran is at most
        # the last (cumulative amounts), and the last pays every second billed (below).
        # How many distinct vouchers the samples catch depends on the machine's load.
        assert all(seen[0].signed <= route.signed for seen in running), running
        assert route.state == "done"
        assert route.hub_url == hub.url
        assert route.outbound is not None
        inbound = hub.hub.routes[route.channel_id]
        forwarded = inbound.state.forwarded
        # Every second billed was paid through the hub and forwarded to the provider.
        billed = re.search(r"\): (\d+) s billed", err)
        assert billed is not None, err
        assert int(billed.group(1)) >= 2
        assert forwarded == int(billed.group(1)) * PRICE
        assert route.signed == renter_owes(forwarded, hub.hub.fee_ppm)
        # A virtual channel: the renter's best voucher, proven by the provider on its
        # shard, is what the hub claimed on the renter's (the fee on top).
        wait_until(lambda: inbound.finished)
        assert inbound.state.received == route.signed
        # The provider's agent closed the lease's channel on shard 1 with the hub's voucher.
        wait_until(lambda: world.balance(world.provider, 1) - provider_before >= forwarded)
        assert world.balance(world.provider, 1) - provider_before == forwarded
    finally:
        hub.close()


def test_launch_runs_a_task_on_another_shard_through_the_hub(
    world: World, market: Market, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``l2gpu launch`` picks the offer and runs the lease as ``rent`` does: across
    shards, through the hub, with the route kept and finished in its data folder."""
    hub = start_hub(world.key(world.hub), world.nodes.urls, tmp_path / "hub", wait=10.0)
    try:
        assert hub.url is not None
        task = tmp_path / "task.yaml"
        task.write_text("name: across\nresources: {gpu: RTX_4090, count: 1}\n"
                        "max_price: 10 ether\nhours: 0.01\n"
                        "run: echo hello-launch-across-shards; sleep 2\n")  # fmt: skip
        folder = tmp_path / "renter"
        provider_before = world.balance(world.provider, 1)
        key = "0x" + bytes(world.renters[0].key).hex()
        shards = [arg for url in world.nodes.urls for arg in ("--shard-node", url)]
        code, out, err = cli(capsys, "--data-dir", str(folder), "--private-key", key, "launch",
                             str(task), "--api-url", market.url, "--hub", hub.url,
                             *shards)  # fmt: skip
        assert code == 0, err
        assert "hello-launch-across-shards" in out
        assert "(sharded)" in err
        assert re.search(r"launch across: lease \d+ job exited with code 0 after 1 attempt", err)
        (route,) = RenterRoutes(folder).all()
        assert route.state == "done"
        forwarded = hub.hub.routes[route.channel_id].state.forwarded
        assert forwarded > 0
        wait_until(lambda: world.balance(world.provider, 1) - provider_before >= forwarded)
        assert world.balance(world.provider, 1) - provider_before == forwarded
    finally:
        hub.close()


def test_a_renter_on_the_providers_shard_pays_it_there_without_a_hub(
    world: World, market: Market, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sharded mode, one shard: the lease takes that shard's hybrid rail, no hub is
    asked for and no route is kept, and the provider is paid on its shard."""
    from l2gpu.core.crypto.bls import BlsSecretKey
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.node.client import L2Client
    from l2gpu.scenarios.sharded_market import account_on

    taken = {a.address for a in (*world.renters, world.provider, world.hub)}
    neighbour = account_on(world.chain, 1, 2, taken)  # lives on the provider's shard
    key = PrivateKey(bytes(neighbour.key))
    world.nodes.shards.bridge.deposit(neighbour, BlsSecretKey.from_seed(key.secret), 10**18)
    client = L2Client(world.nodes.urls[1], key)

    def credited() -> bool:
        try:
            return client.account() is not None
        except L2gpuError:
            return False

    wait_until(credited)
    folder = tmp_path / "neighbour"
    provider_before = world.balance(world.provider, 1)
    shards = [arg for url in world.nodes.urls for arg in ("--shard-node", url)]
    secret = "0x" + key.secret.hex()
    code, out, err = cli(capsys, "--data-dir", str(folder), "--private-key", secret, "rent",
                         market.offer_id, "--api-url", market.url, *shards, "--cmd",
                         "echo hello-on-one-shard; sleep 2", "--hours", "0.01")  # fmt: skip
    assert code == 0, err
    assert "hello-on-one-shard" in out
    assert "(hybrid)" in err  # the lease's line names its rail: the shard's own
    assert "ended (job exited with code 0)" in err
    assert not (folder / FILE_NAME).exists()  # no hub, so no route to keep
    billed = re.search(r"\): (\d+) s billed", err)
    assert billed is not None, err
    paid = int(billed.group(1)) * PRICE
    assert paid > 0
    wait_until(lambda: world.balance(world.provider, 1) - provider_before >= paid)
    assert world.balance(world.provider, 1) - provider_before == paid
    assert len(world.client(neighbour, 1).channels()) == 1  # its one channel, on shard 1


def test_a_lease_between_shards_without_a_hub_is_refused_before_any_channel_opens(
    world: World, market: Market, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "renter"
    before = channels(world, 1)
    line = refused(rent(capsys, world, folder, 1, market, "--cmd", "true", "--hours", "0.01"),
                   "shard 1", "--hub URL")  # fmt: skip
    assert "L2GPU_HUB_URL" in line
    assert channels(world, 1) == before
    assert not (folder / FILE_NAME).exists()
    # With a hub whose fee the renter cannot add to the deposit: refused, also before any
    # channel opens (0.936 ETH of deposit fits its 1 ETH; with a 10 % fee it does not).
    hub = start_hub(world.key(world.hub), world.nodes.urls, tmp_path / "hub", wait=10.0,
                    fee_ppm=100_000)  # fmt: skip
    try:
        assert hub.url is not None
        line = refused(rent(capsys, world, folder, 1, market, "--hub", hub.url, "--cmd", "true",
                            "--hours", "0.1"), "the hub's fee")  # fmt: skip
        assert "below" in line
    finally:
        hub.close()
    assert channels(world, 1) == before
    assert RenterRoutes(folder).all() == []


def test_rent_takes_the_shards_from_its_flags_else_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from l2gpu.cli.lease_rails import Shards, _shards
    from l2gpu.config import load_settings
    from l2gpu.core.errors import L2gpuError

    monkeypatch.chdir(tmp_path)  # no l2gpu.toml
    a, b, hub = "http://127.0.0.1:8600", "http://127.0.0.1:8601", "http://127.0.0.1:9000"
    assert _shards(load_settings(), (), None) is None  # no shards: the rails as before
    assert _shards(load_settings(), (a, b + "/"), hub) == Shards((a, b), hub)
    assert _shards(load_settings(), (a, b), None) == Shards((a, b), None)
    monkeypatch.setenv("L2GPU_SHARD_NODES", json.dumps([a, b]))
    monkeypatch.setenv("L2GPU_HUB_URL", hub)
    assert _shards(load_settings(), (), None) is None  # shards are asked for, not implied
    monkeypatch.setenv("L2GPU_SETTLEMENT", "sharded")
    assert _shards(load_settings(), (), None) == Shards((a, b), hub)
    monkeypatch.setenv("L2GPU_SETTLEMENT", "hybrid")
    with pytest.raises(L2gpuError, match="the settlement is hybrid"):
        _shards(load_settings(), (a, b), None)
    monkeypatch.delenv("L2GPU_SETTLEMENT")
    with pytest.raises(L2gpuError, match="once for each shard"):
        _shards(load_settings(), (a,), None)


def test_a_provider_on_shards_is_paid_on_its_own_shard_and_nowhere_else(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """'provider up' on shards: the node of the shard its address lives on, never one
    it names besides (--node, --manager), and none without every shard's node."""
    from l2gpu.cli.lease_rails import provider_shard_rail
    from l2gpu.config import load_settings
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.errors import L2gpuError
    from l2gpu.core.shards.routing import shard_of

    monkeypatch.chdir(tmp_path)  # no l2gpu.toml
    nodes = tuple(world.nodes.urls)
    settings = load_settings()
    keys = [PrivateKey(secret.to_bytes(32, "big")) for secret in range(1, 7)]
    assert provider_shard_rail(settings, keys[0], (), None, None) is None
    assert {shard_of(key.address, len(nodes)) for key in keys} == set(range(len(nodes)))
    for key in keys:
        picked = provider_shard_rail(settings, key, nodes, None, None)
        assert picked is not None
        home = shard_of(key.address, len(nodes))
        assert picked[:2] == (home, nodes[home])
        assert picked[2].settlement == "hybrid"
    for node, manager in ((nodes[0], None), (None, "0x" + "12" * 20)):
        with pytest.raises(L2gpuError, match="paid on its own shard's node"):
            provider_shard_rail(settings, keys[0], nodes, node, manager)
    monkeypatch.setenv("L2GPU_SETTLEMENT", "sharded")
    with pytest.raises(L2gpuError, match="once for each shard"):
        provider_shard_rail(load_settings(), keys[0], (), None, None)
