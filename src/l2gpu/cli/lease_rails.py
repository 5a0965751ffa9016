"""The rail a renter's lease pays over, and what follows a lease on it: the channel's
close when no lease will pay any more, earlier closes settled, a loan repaid; and how
``rent`` rides out a market that restarts. Shared by ``rent``, ``launch``, ``provider
up`` and the web console's command.

With the ``sharded`` settlement (:class:`Shards`), a renter's lease pays on the shard
its address lives on: over the hybrid rail there when the offer's provider lives there
too, else over the routed rail through a hub (:mod:`l2gpu.payments.routed_rail`), whose
routes are kept in the data folder so that ``l2gpu settle`` finishes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from l2gpu.cli.common import node_url
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Wei

if TYPE_CHECKING:
    from l2gpu.client import MarketClient
    from l2gpu.config import Settings
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.market.settlement import ChannelDescription
    from l2gpu.core.types import Address
    from l2gpu.payments.rails import ChannelRail


def _rail_node(settings: Settings, node: str | None, manager: str | None) -> str | None:
    """The node whose channels a lease pays over: --node, else (unless --manager names
    an L1 rail) the node_url setting."""
    return node or (None if manager else node_url(settings, None))


def _check_provider_account(node: str, key: PrivateKey, rail: ChannelRail | None = None) -> None:
    """A provider in the rollup needs an account: with a BLS key in the optimistic
    rollup (it co-signs its closes); in the zk rollup, any account of its address (its
    zk key signs its closes)."""
    if rail is not None and rail.settlement == "plasma":
        return  # a provider needs no coins to be paid in them
    if rail is not None and rail.settlement == "zk":
        found = rail.client.account_of(key.address)  # type: ignore[attr-defined]
        if found is None:
            raise L2gpuError(
                f"this provider has no account in the zk rollup at {node}",
                "deposit first: l2gpu zk deposit '0.01 ether' --node " + node,
            )
        return
    from l2gpu.node.client import L2Client

    try:
        account = L2Client(node, key).account()
    except L2gpuError as exc:
        raise L2gpuError(
            f"this provider has no account in the rollup at {node} ({exc.what})",
            "deposit first: l2gpu l2 deposit '0.01 ether' --node " + node,
        ) from exc
    if not account["has_bls_key"]:
        raise L2gpuError(
            "this provider's rollup account has no BLS key, so it cannot close channels",
            "deposit again with 'l2gpu l2 deposit' (it registers the key)",
        )


def _check_rail_options(settings: Settings, node: str | None, manager: str | None) -> None:
    if node and manager:
        raise L2gpuError(
            "--node and --manager name two different rails",
            "pass --node for a channel inside the rollup, or --manager for one on L1",
        )
    if not node and not settings.l1_rpc:
        raise L2gpuError(
            "a lease pays over a channel, inside the rollup (hybrid) or on L1, and "
            "neither is given",
            "pass --node URL of a rollup node ('l2gpu up'), or --l1-rpc URL (with "
            "--manager) for a channel on L1",
        )


@dataclass(frozen=True)
class Shards:
    """A sharded market as its renter reaches it: every shard's rollup node, in shard
    order, and the hub that carries leases between shards (None: none given)."""

    nodes: tuple[str, ...]
    hub: str | None

    def shard_of(self, address: Address) -> int:
        """The shard ``address`` lives on (``docs/shards.md``: keccak of it, mod N)."""
        from l2gpu.core.shards.routing import shard_of

        return shard_of(address, len(self.nodes))

    def node_of(self, address: Address) -> str:
        """The rollup node of the shard ``address`` lives on."""
        return self.nodes[self.shard_of(address)]


def _shards(settings: Settings, shard_nodes: Sequence[str], hub: str | None) -> Shards | None:
    """The shards a lease pays on when it takes the ``sharded`` settlement: the
    ``settlement`` setting, or ``--shard-node``/``--hub`` given where no other is set;
    with the nodes of --shard-node (else the ``shard_nodes`` setting) and --hub (else
    the ``hub_url`` setting). None for another settlement."""
    from l2gpu.config import check_service_url

    asked = bool(shard_nodes) or hub is not None
    if settings.settlement != "sharded":
        if not asked:
            return None
        if "settlement" in settings.model_fields_set:
            raise L2gpuError(
                f"--shard-node and --hub pay a lease on shards, and the settlement is "
                f"{settings.settlement}",
                "leave them out, or set the settlement to sharded (L2GPU_SETTLEMENT=sharded)",
            )
    nodes = tuple(check_service_url(url) for url in shard_nodes) or tuple(settings.shard_nodes)
    if len(nodes) < 2:
        raise L2gpuError(
            "a lease on shards needs the rollup node of every shard "
            f"({'one is' if nodes else 'none is'} given)",
            "pass --shard-node URL once for each shard, in shard order ('l2gpu up --shards N' "
            "prints them), or set shard_nodes",
        )
    chosen = hub if hub is not None else settings.hub_url
    return Shards(nodes, None if chosen is None else check_service_url(chosen))


def rail_design(settings: Settings, node: str | None) -> str:
    """The settlement design a lease pays over: the ``settlement`` setting where it was
    set (flag, L2GPU_SETTLEMENT or the TOML file), else the one the options name (a
    zk node: ``zk``; a Plasma operator: ``plasma``; another rollup node: ``hybrid``; an L1
    and a ChannelManager: ``channel-l1``). Which kind of node ``node`` is, it answers
    itself (``/zk/status``, ``/plasma/status``);
    a node that does not answer is taken for ``hybrid``, whose rail then says so."""
    if "settlement" in settings.model_fields_set:
        return str(settings.settlement)
    if not node:
        return "channel-l1"
    import httpx

    for design, path in (("zk", "/zk/status"), ("plasma", "/plasma/status")):
        try:
            if httpx.get(f"{node.rstrip('/')}{path}", timeout=10).status_code == 200:
                return design
        except httpx.HTTPError:
            break
    return "hybrid"


def _rail(
    ctx: typer.Context,
    key: PrivateKey,
    node: str | None,
    manager: str | None,
    credit: str | None = None,
    *,
    shards: Shards | None = None,
    provider: Address | None = None,
    deposit: Wei = Wei(0),
) -> ChannelRail:
    """The rail a lease pays over, of the design :func:`rail_design` picks; with
    ``credit``, a channel on L1 whose deposit that lending pool lends; with ``shards``,
    the rail on the shards for a lease of ``deposit`` with ``provider``
    (:func:`_sharded_rail`)."""
    from l2gpu.designs import RailParts, lease_rail

    if shards is not None:
        if node or manager or credit is not None:
            raise L2gpuError(
                "a lease on shards pays on the shards' nodes, not on --node, --manager or --credit",
                "pass --shard-node URL once per shard (and --hub URL) without those",
            )
        if provider is None:
            raise L2gpuError("a lease on shards needs its provider", "this is a bug in l2gpu")
        return _sharded_rail(ctx.obj, key, shards, provider, deposit)
    _check_rail_options(ctx.obj, node, manager)
    design = rail_design(ctx.obj, node)
    if credit is not None and design != "channel-l1":
        raise L2gpuError(
            f"--credit pays a lease over a channel on L1, and this lease pays over {design}",
            "rent with --l1-rpc and --manager (or L2GPU_SETTLEMENT=channel-l1) and without "
            "--node, on an offer that accepts channels on L1",
        )
    if design != "channel-l1":  # the design's rail says what it misses, if anything
        return lease_rail(design, RailParts(node_url=node, key=key))
    from l2gpu.cli.session import Session

    session = Session(ctx, manager)
    if credit is not None:
        from l2gpu.cli.onchain import parse_address, require_contract
        from l2gpu.l1.contracts.lending_pool import LendingPoolClient
        from l2gpu.payments.credit_rail import CreditChannelRail

        address = parse_address(credit, "--credit")
        require_contract(session.chain, address, "credit deploy")
        pool = LendingPoolClient.at(session.chain, address, cache_dir=session.settings.cache_dir)
        return CreditChannelRail(session.manager, session.account, pool=pool)
    return lease_rail(design, RailParts(account=session.account, manager=session.manager))


def provider_shard_rail(
    settings: Settings,
    key: PrivateKey,
    shard_nodes: Sequence[str],
    node: str | None,
    manager: str | None,
    clock: Callable[[], int] | None = None,
) -> tuple[int, str, ChannelRail] | None:
    """A provider's shard, its node and rail in a sharded market: the hybrid rail of the shard its
    address lives on (a lease from another shard reaches it through a hub's channel on
    that shard). None when the market is not sharded (no ``--shard-node``, settlement
    not ``sharded``)."""
    from l2gpu.designs import RailParts, lease_rail

    shards = _shards(settings, shard_nodes, None)
    if shards is None:
        return None
    if node or manager:
        raise L2gpuError(
            "a provider on shards is paid on its own shard's node, not on --node or --manager",
            "pass --shard-node URL once per shard, in shard order, without those",
        )
    home = shards.shard_of(key.address)
    url = shards.nodes[home]
    return home, url, lease_rail("hybrid", RailParts(node_url=url, key=key, clock=clock))


def _sharded_rail(
    settings: Settings, key: PrivateKey, shards: Shards, provider: Address, deposit: Wei
) -> ChannelRail:
    """The rail of a lease on shards: the hybrid rail of the renter's shard when the
    provider lives there too; else the routed rail through the hub, whose routes are
    kept in the data folder ('l2gpu settle' finishes them after a crash). A lease between
    shards without a hub, or one whose route the renter (deposit and the hub's fee) or
    the hub cannot fund, is refused here, before any channel opens."""
    from l2gpu.designs import RailParts, lease_rail

    home, theirs = shards.shard_of(key.address), shards.shard_of(provider)
    if home == theirs:
        return lease_rail("hybrid", RailParts(node_url=shards.nodes[home], key=key))
    if shards.hub is None:
        raise L2gpuError(
            f"the offer's provider lives on shard {theirs} and you on shard {home}: a lease "
            "between shards pays through a hub, and none is given",
            "pass --hub URL of a hub serving these shards ('l2gpu hub'), or set hub_url "
            f"(L2GPU_HUB_URL); or rent an offer of a provider on shard {home}",
        )
    from l2gpu.payments.route_records import RenterRoutes
    from l2gpu.payments.routed_rail import RoutedChannelRail

    rail = RoutedChannelRail(key, shards.hub, list(shards.nodes),
                             routes=RenterRoutes(settings.data_dir), virtual=True)  # fmt: skip
    rail.preflight(provider, deposit)
    return rail


OUTAGE_LIMIT_S = 300
CREDIT_SETTLE_WAIT_S = 30
"""How long ``rent`` waits out a market it cannot reach before giving up: vouchers
follow the metered seconds, so while it waits the renter owes for nothing unpaid
beyond what the provider's grace allows."""


class Outage:
    """Transient failures of the market during a lease: ridden out up to ``limit``
    seconds; a refusal (4xx other than an expired session) ends the lease at once."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.since: float | None = None

    def failed(self, exc: L2gpuError, client: MarketClient) -> None:
        """Note a failure; raise it if it is not transient or has lasted too long."""
        from l2gpu.client import ApiRequestError

        if isinstance(exc, ApiRequestError):
            if exc.status == 401:  # a restarted market forgot the session: sign in again
                client.forget_session()
            elif exc.status < 500:
                raise exc
        at = time.monotonic()
        self.since = self.since if self.since is not None else at
        if at - self.since > self.limit:
            raise L2gpuError(f"the market has not answered for {self.limit:.0f} s: {exc.what}",
                             "the provider closes the channel with your best voucher; "
                             "the rest returns to you")  # fmt: skip

    def over(self) -> None:
        """The market answered again."""
        self.since = None


def _abandon(
    ctx: typer.Context,
    rail: ChannelRail,
    channel: ChannelDescription,
    node: str | None,
    conceded: Wei = Wei(0),
) -> str:
    """Start the close of a channel no lease will pay any more, conceding ``conceded``
    (the best voucher signed), and record it so that 'l2gpu settle' finishes it."""
    from l2gpu.payments.closing import ClosingChannels

    note = rail.abandon(channel, conceded)
    if rail.settlement == "sharded":  # a route through a hub: its record is the route's
        return note + "; 'l2gpu settle' finishes your channel to the hub after its deadline"
    if ClosingChannels(ctx.obj.data_dir).add(channel, node, int(time.time())):
        note += "; 'l2gpu settle' (or a running 'l2gpu settle --daemon') does it for you"
    return note


def _settle_earlier_closes(ctx: typer.Context) -> None:
    """Settle what earlier rents left closing and is due now; never stops this rent."""
    from l2gpu.cli.settle_cmd import settle_pending
    from l2gpu.payments.closing import ClosingChannels

    store = ClosingChannels(ctx.obj.data_dir)
    if not store.pending():
        return
    try:
        outcomes = settle_pending(ctx, store)
    except L2gpuError:
        return  # the next 'l2gpu settle' tries again
    for _, state, note in outcomes:
        if state == "settled":
            typer.echo(note, err=True)


def _settle_credit(rail: ChannelRail, channel: ChannelDescription) -> None:
    """For a lease on credit: once the provider's close has settled the channel
    (waited for a while), its refund repays the loan; else say how to do it later."""
    from l2gpu.payments.credit_rail import CreditChannelRail

    if not isinstance(rail, CreditChannelRail):
        return
    for _ in range(CREDIT_SETTLE_WAIT_S):  # the provider's agent closes within seconds
        if rail.status(channel) == "settled":
            break
        time.sleep(1)  # waiting for another process: the provider's close on L1
    try:
        typer.echo(rail.settle_loan(channel), err=True)
    except L2gpuError as exc:
        typer.echo(f"settling the loan failed ({exc.what}); run 'l2gpu credit settle-lease "
                   f"{channel.params.id} --pool {rail.pool.address if rail.pool else ''}'",
                   err=True)  # fmt: skip
