"""The rail a renter's lease pays over, and what follows a lease on it: the channel's
close when no lease will pay any more, earlier closes settled, a loan repaid; and how
``rent`` rides out a market that restarts. Shared by ``rent``, ``launch``, ``provider
up`` and the web console's command.
"""

from __future__ import annotations

import time
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
) -> ChannelRail:
    """The rail a lease pays over, of the design :func:`rail_design` picks; with
    ``credit``, a channel on L1 whose deposit that lending pool lends."""
    from l2gpu.designs import RailParts, lease_rail

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
