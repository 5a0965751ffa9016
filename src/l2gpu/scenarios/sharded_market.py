"""The market across shards (``L2GPU_SETTLEMENT=sharded make demo``).

Two rollup shards share one bridge on a fresh embedded L1, each with its own node
and proposer served on loopback; a hub with an account on both serves its API on
loopback. The renter lives on shard 0 and the provider on shard 1 (the routing rule
places them; each deposited through the bridge). The market's one search shows the
provider's offer; the lease runs over a virtual channel: its channel is the hub's
channel to the provider on shard 1, paid each second with the renter's own voucher,
which counts on the renter's channel to the hub on shard 0 too, where the hub claims
it with its fee after the lease. Nothing of the lease reaches L1.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from rich.console import Console

from l2gpu.clock import system_clock
from l2gpu.config import Settings
from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.state import L2State
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.types import Address, ChainId, format_wei
from l2gpu.l1 import Chain
from l2gpu.l1.contracts.bridge import ShardSet, deploy_shards
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.node.client import L2Client
from l2gpu.scenarios.embedded_rollup import EmbeddedNode

ETH = 10**18


@dataclass
class ShardNodes:
    """Shards on one chain, their nodes on loopback (in shard order)."""

    chain: Chain
    shards: ShardSet
    nodes: list[EmbeddedNode]

    @property
    def urls(self) -> list[str]:
        """The nodes' URLs, in shard order."""
        return [node.url for node in self.nodes]

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def account_on(chain: Chain, shard: int, count: int, taken: set[str]) -> LocalAccount:
    """The first of the chain's accounts 1..8 that lives on ``shard`` and is not taken."""
    for account in chain.accounts[1:9]:
        if (
            account.address not in taken
            and shard_of(Address.from_hex(account.address), count) == shard
        ):
            taken.add(account.address)
            return account
    raise L2gpuError(f"no free dev account lives on shard {shard}", "this is a bug in the demo")


def shard_nodes(chain: Chain, count: int, *, depositors: list[LocalAccount],
                everywhere: list[LocalAccount], cache_dir: Path | None = None,
                deposit: int = ETH) -> ShardNodes:  # fmt: skip
    """``count`` shards and their bridge, each with its node served on loopback and
    its own proposer (account 0, then 9, 8, ...); ``depositors`` deposit through the
    bridge (landing on their shard), ``everywhere`` on every shard directly."""
    from l2gpu.db import open_database
    from l2gpu.node.cosign_desk import CoSignDesk
    from l2gpu.node.node import RollupNode
    from l2gpu.scenarios.embedded_rollup import serve_node

    genesis = L2State(ChainId(chain.chain_id), Address(bytes(20))).root()
    deployed = deploy_shards(chain, chain.accounts[0], count, genesis_root=genesis,
                             cache_dir=cache_dir)  # fmt: skip
    proposers = [chain.accounts[0], *chain.accounts[9 : 9 - count + 1 : -1]][:count]
    for client, proposer in zip(deployed.shards, proposers, strict=True):
        client.stake(proposer, ETH)
    for account in depositors:
        deployed.bridge.deposit(account, _bls(account), deposit)
    for account in everywhere:
        for client in deployed.shards:
            client.deposit(account, _bls(account), deposit)
    nodes = []
    for client, proposer in zip(deployed.shards, proposers, strict=True):
        folder = tempfile.TemporaryDirectory(prefix="l2gpu-shard-")
        desk = CoSignDesk(timeout=5.0)
        node = RollupNode(RollupClient(chain, client.contract),
                          open_database(f"sqlite:///{folder.name}/node.db"), proposer,
                          cosigners=desk)  # fmt: skip
        served = serve_node(node, desk)
        served.folder = folder
        nodes.append(served)
    out = ShardNodes(chain, deployed, nodes)
    _wait_credited(out, depositors, everywhere)
    return out


def _bls(account: LocalAccount) -> BlsSecretKey:
    return BlsSecretKey.from_seed(PrivateKey(bytes(account.key)).secret)


def _wait_credited(nodes: ShardNodes, depositors: list[LocalAccount],
                   everywhere: list[LocalAccount]) -> None:  # fmt: skip
    count = len(nodes.nodes)
    wanted = [(shard_of(Address.from_hex(a.address), count), a) for a in depositors]
    wanted += [(shard, a) for a in everywhere for shard in range(count)]
    deadline = time.monotonic() + 60
    for shard, account in wanted:
        client = L2Client(nodes.urls[shard], PrivateKey(bytes(account.key)))
        while True:
            try:
                client.account()
                break
            except L2gpuError as exc:
                if time.monotonic() > deadline:
                    nodes.stop()
                    raise L2gpuError("a shard's node did not credit the deposits",
                                     "run it again") from exc  # fmt: skip
                time.sleep(0.05)  # waiting for the node's sealing thread


@dataclass
class ShardedMarket:
    """The shards, the hub and the market's parties."""

    parties: Any  # l2gpu.scenarios.market.Parties
    nodes: ShardNodes
    hub: Any  # l2gpu.hub.runner.RunningHub
    hub_key: PrivateKey
    folder: tempfile.TemporaryDirectory[str]

    def close(self) -> None:
        """Stop the hub and the nodes."""
        self.hub.close()
        self.nodes.stop()
        self.folder.cleanup()


def sharded_market(settings: Settings, out: Console) -> ShardedMarket:
    """Two shards, a hub, a renter on shard 0 and a provider on shard 1."""
    from l2gpu.designs import RailParts, lease_rail
    from l2gpu.hub.runner import start_hub
    from l2gpu.l1 import open_chain
    from l2gpu.payments.channel_check import ChannelCheck
    from l2gpu.payments.routed_rail import RoutedChannelRail
    from l2gpu.scenarios.market import Parties

    chain = open_chain(settings)
    taken: set[str] = set()
    renter_l1, provider_l1 = account_on(chain, 0, 2, taken), account_on(chain, 1, 2, taken)
    hub_l1 = next(a for a in chain.accounts[1:9] if a.address not in taken)
    nodes = shard_nodes(chain, 2, depositors=[renter_l1, provider_l1], everywhere=[hub_l1],
                        cache_dir=settings.cache_dir)  # fmt: skip
    renter, provider = PrivateKey(bytes(renter_l1.key)), PrivateKey(bytes(provider_l1.key))
    hub_key = PrivateKey(bytes(hub_l1.key))
    folder = tempfile.TemporaryDirectory(prefix="l2gpu-hub-")
    hub = start_hub(hub_key, nodes.urls, Path(folder.name), wait=20.0)
    assert hub.url is not None
    out.print(f"  shards    2 rollups sharing bridge {nodes.shards.bridge.address}; nodes on "
              f"{', '.join(nodes.urls)}")  # fmt: skip
    out.print(f"  parties   renter {renter.address.checksum[:10]}… on shard 0, provider "
              f"{provider.address.checksum[:10]}… on shard 1 (deposited through the bridge); "
              f"hub {hub_key.address.checksum[:10]}… on both, fee "
              f"{hub.hub.fee_ppm / 10_000:g} % at {hub.url}")  # fmt: skip
    parties = Parties(
        chain.chain_id,
        renter,
        provider,
        RoutedChannelRail(renter, hub.url, nodes.urls, clock=system_clock, wait=20.0, virtual=True),
        lease_rail("hybrid", RailParts(node_url=nodes.urls[1], key=provider, clock=system_clock)),
        ChannelCheck(node_url=nodes.urls[0], shard_urls=tuple(nodes.urls[1:])),
    )
    return ShardedMarket(parties, nodes, hub, hub_key, folder)


def hub_claimed(market: ShardedMarket, seconds: float = 60.0) -> str:
    """Wait until the hub has claimed every route's inbound channel; say how it went."""
    hub = market.hub.hub
    deadline = time.monotonic() + seconds
    while not all(r.finished for r in hub.routes.values()) and time.monotonic() < deadline:
        time.sleep(0.2)  # the hub's claiming thread closes the inbound channels
    routes = list(hub.routes.values())
    received = sum(r.state.received for r in routes)
    forwarded = sum(r.state.forwarded for r in routes)
    done = sum(r.finished for r in routes)
    refund = sum(int(r.record.inbound.deposit) - r.state.received for r in routes)
    return (f"hub: {done} of {len(routes)} routes closed on both shards; the renter's "
            f"vouchers paid the provider {format_wei(forwarded)} on shard 1 and the hub "
            f"{format_wei(received)} on shard 0 (fee {format_wei(received - forwarded)}), "
            f"the renter's channel returned {format_wei(refund)} to it; no L1 transaction "
            "for the lease")  # fmt: skip
