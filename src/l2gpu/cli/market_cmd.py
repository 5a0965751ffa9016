"""The market's commands: ``market serve``, ``offers``, ``rent``, ``jobs`` (``provider``
in :mod:`l2gpu.cli.provider_cmd`).

The API runs with ``l2gpu market serve``; the other commands talk to it at
``--api-url`` (default: the ``market_url`` setting, else ``api_host``/``api_port``)
and sign in with the command's key (:func:`l2gpu.cli.common.signing_account`).
``rent`` and a provider that checks channels pay over a rail: ``--node URL`` (default:
the ``node_url`` setting) for channels inside the rollup (hybrid, through a node run
by ``l2gpu up``), or a persistent L1 (``--l1-rpc``, with ``--manager``) for channels
on L1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import (
    ApiUrlOption,
    AsJson,
    NodeOption,
    market_api_url,
    node_url,
    now,
    parse_amount,
    print_json,
    signing_key,
)
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Wei, format_wei

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.client import MarketClient
    from l2gpu.config import Settings
    from l2gpu.core.crypto.secp256k1 import PrivateKey

if TYPE_CHECKING:
    from l2gpu.core.market.settlement import ChannelDescription
    from l2gpu.payments.channel_check import ChannelCheck
    from l2gpu.payments.rails import ChannelRail

ApiUrl = ApiUrlOption
ManagerOption = Annotated[
    str | None, typer.Option("--manager", help="ChannelManager address (channels on L1).")
]


def register(app: typer.Typer) -> None:
    """Add the market's commands to the root app."""
    market = typer.Typer(help="Run the market API.", no_args_is_help=True)
    market.command("serve")(serve)
    offers = typer.Typer(help="Search and withdraw GPU offers.", no_args_is_help=True)
    offers.command("search")(offers_search)
    offers.command("withdraw")(offers_withdraw)
    jobs = typer.Typer(help="List, follow and stop your jobs.", no_args_is_help=True)
    jobs.command("list")(jobs_list)
    jobs.command("logs")(jobs_logs)
    jobs.command("stop")(jobs_stop)
    app.add_typer(market, name="market")
    app.add_typer(offers, name="offers")
    app.command("rent")(rent)
    app.add_typer(jobs, name="jobs")


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


def _client(ctx: typer.Context, url: str | None, *, signed: bool = True) -> MarketClient:
    """A client of the market at ``url`` (else the default), signing in with the
    command's key, or with a throwaway key that signs in as nobody."""
    from l2gpu.client import MarketClient
    from l2gpu.core.crypto.secp256k1 import PrivateKey

    key = signing_key(ctx) if signed else PrivateKey((1).to_bytes(32, "big"))
    return MarketClient(market_api_url(ctx.obj, url), key)


# -- market serve ------------------------------------------------------------------


def _channel_check(
    settings: Settings, node: str | None, manager: str | None, unverified: bool
) -> ChannelCheck | None:
    """What the market reads a lease's channel on before the lease takes an offer."""
    from l2gpu.payments.channel_check import ChannelCheck

    if unverified:
        typer.echo("warning: --unverified-channels: leases take offers on channels no one "
                   "checked; anyone can hold every offer at no cost", err=True)  # fmt: skip
        return None
    check = ChannelCheck(node_url=node)
    if settings.l1_rpc:
        from l2gpu.cli.session import MANAGER
        from l2gpu.core.types import Address
        from l2gpu.l1 import open_chain
        from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
        from l2gpu.payments import deployments

        try:
            chain = open_chain(settings)
            if manager:
                address = Address.from_hex(manager)
            else:
                address, _ = deployments.lookup(settings.data_dir, chain.chain_id, MANAGER)
            check.manager = ChannelManagerClient.at(chain, address, cache_dir=settings.cache_dir)
        except L2gpuError:
            if node is None:
                raise  # no rail at all: say why the L1 one is missing
    if not check.settlements():
        raise L2gpuError(
            "the market reads each lease's channel before the lease takes an offer, and "
            "no rail to read it on is configured",
            "pass --node URL (channels inside the rollup) and/or --l1-rpc URL with a "
            "deployed ChannelManager (--manager), or --unverified-channels for a test",
        )
    return check


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default: api_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api_port).")] = None,
    chain_id: Annotated[int | None, typer.Option(help="Chain id of offers and channels.")] = None,
    rate: Annotated[float, typer.Option(help="Requests per second per client.")] = 200.0,
    node: NodeOption = None,
    manager: ManagerOption = None,
    unverified_channels: Annotated[
        bool,
        typer.Option(
            "--unverified-channels",
            help="Take an offer for a lease whose channel no one checked: anyone can then "
            "hold every offer at no cost. For tests and demos only.",
        ),
    ] = False,
) -> None:
    """Serve the market API (OpenAPI at /docs) on the configured database. Each lease's
    channel is read on its rail before the lease takes an offer: --node for channels
    inside the rollup, --l1-rpc (and --manager, else the recorded one) for L1 channels."""
    import uvicorn

    from l2gpu.api.app import create_app
    from l2gpu.api.service import MarketService
    from l2gpu.config import api_origin
    from l2gpu.db import open_database
    from l2gpu.serving.connections import require_free_port, uvicorn_options

    settings: Settings = ctx.obj
    require_free_port(host or settings.api_host, port or settings.api_port,
                      "market API or rollup node", "--port or L2GPU_API_PORT")  # fmt: skip
    if chain_id is None:
        from l2gpu.l1 import open_chain

        chain_id = open_chain(settings).chain_id
    # Sign-in messages name the origin clients use: the api_origin setting behind a
    # proxy or a public name, else the address served here.
    origin = api_origin(settings, host, port)
    node = _rail_node(settings, node, manager)
    channels = _channel_check(settings, node, manager, unverified_channels)
    service = MarketService(
        open_database(settings.effective_database_url), chain_id=chain_id, origin=origin,
        channels=channels,
    )  # fmt: skip
    app = create_app(service, rate=rate, burst=int(rate * 2))
    typer.echo(
        f"market API for chain {chain_id} on http://{host or settings.api_host}:"
        f"{port or settings.api_port} (docs at /docs; sign-in for {origin})",
        err=True,
    )
    uvicorn.run(
        app,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level,
        **uvicorn_options(),
    )


# -- offers ------------------------------------------------------------------------


def offers_search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Filter, e.g. 'num_gpus>=2 gpu_ram>=24'.")] = "",
    sort: Annotated[str, typer.Option(help="Sort keys, e.g. 'price_per_hour,-reliability'.")] = "",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    api_url: ApiUrl = None,
    as_json: AsJson = False,
) -> None:
    """Search offers with the filter language (see docs/market.md)."""
    from l2gpu.core.market.query import parse_filter, parse_sort

    parse_filter(query)  # a malformed filter fails here, pointing at its column
    if sort:
        parse_sort(sort)
    found = _client(ctx, api_url, signed=False).search(query, sort=sort, limit=limit)
    if as_json:
        print_json(found.offers)
        return
    typer.echo(
        f"{'id':>20}  {'gpu':<12} {'n':>3} {'ram':>4} {'loc':<5} {'ETH/h':>12} {'rel':>6} decl"
    )
    for o in found.offers:
        typer.echo(
            f"{o.id:>20}  {o.gpu_name:<12} {o.num_gpus:>3} {o.gpu_ram_gb:>4} "
            f"{o.location:<5} {o.price_per_hour_eth:>12} {o.reliability:>6.3f} "
            f"{'yes' if o.declared else 'no'}"
        )
    typer.echo(f"{len(found.offers)} offer(s)", err=True)


def offers_withdraw(
    ctx: typer.Context, offer_id: Annotated[str, typer.Argument()], api_url: ApiUrl = None
) -> None:
    """Withdraw one of your offers."""
    print_json(_client(ctx, api_url).withdraw(_offer_id(offer_id)), compact=True)


def _offer_id(text: str) -> str:
    """An offer id as typed, checked here so that the user reads what was wrong in the
    terms of the command, not the API's path validation."""
    if not text.strip().isdigit():
        raise L2gpuError(f"offer id '{text}' is not a number",
                         "take an id from 'l2gpu offers search'")  # fmt: skip
    return text.strip()


# -- rent --------------------------------------------------------------------------


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


def rent(
    ctx: typer.Context,
    offer_id: Annotated[str, typer.Argument(help="Offer id from 'l2gpu offers search'.")],
    cmd: Annotated[str, typer.Option("--cmd", help="Command to run, e.g. 'python train.py'.")],
    hours: Annotated[float, typer.Option(help="Lease duration in hours.")] = 1.0,
    max_price: Annotated[str | None, typer.Option(help="Refuse above this per GPU-second.")] = None,
    file: Annotated[
        list[Path] | None, typer.Option(help="File to copy into the job folder.")
    ] = None,
    env: Annotated[list[str] | None, typer.Option(help="KEY=VALUE for the job.")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="KEY=VALUE kept secret.")] = None,
    manager: ManagerOption = None,
    node: NodeOption = None,
    api_url: ApiUrl = None,
    credit: Annotated[
        str | None,
        typer.Option(
            "--credit",
            help="Borrow the deposit from this lending pool (its address); the channel's "
            "refund repays the loan first.",
        ),
    ] = None,
) -> None:
    """Rent an offer: open a channel, start the job, pay every second, stream its output."""
    from l2gpu.core.market.lease_state import LeaseStatus
    from l2gpu.core.types import Address
    from l2gpu.renter import LeasePayer

    settings: Settings = ctx.obj
    offer_id = _offer_id(offer_id)
    duration = round(hours * 3600)
    if duration < 1:
        raise L2gpuError(f"--hours {hours} is less than a second", "rent for longer")
    limit = None if max_price is None else parse_amount(max_price, "--max-price")
    client = _client(ctx, api_url)
    offer = client.offer(offer_id)
    price = offer.price_per_gpu_second
    if limit is not None and price > limit:
        raise L2gpuError(
            f"offer {offer_id} costs {price} wei per GPU-second, above --max-price {limit}",
            "raise --max-price or choose another offer",
        )
    # Everything the market could refuse, asked before any rail is touched or deposit locked.
    quote = client.quote(offer_id, duration=duration, max_price_per_gpu_second=limit)
    node = _rail_node(settings, node, manager)
    _check_rail_options(settings, node, manager)
    job_env, job_secrets, job_files = _pairs(env), _pairs(secret), _files(file)
    key = signing_key(ctx)
    _settle_earlier_closes(ctx)
    rail = _rail(ctx, key, node, manager, credit)
    deposit = Wei(quote.max_cost)
    opened = rail.open(Address.from_hex(offer.provider), deposit, lifetime=duration + 3600)
    try:
        lease = client.rent(
            offer_id,
            command=cmd,
            duration=duration,
            channel=opened.description,
            env=job_env,
            secrets=job_secrets,
            files=job_files,
            max_price_per_gpu_second=None
            if max_price is None
            else parse_amount(max_price, "--max-price"),
        )
    except L2gpuError as exc:
        from l2gpu.renter import lease_taken_despite

        taken = lease_taken_despite(
            client, exc, opened.params.id,
            fix="run 'l2gpu jobs list' when the market is back, and close the channel "
            "('l2gpu channel close' or 'l2gpu l2 close-channel') only if no lease uses it",
        )  # fmt: skip
        if taken is not None:
            lease = taken
        else:
            # No lease uses the channel: start its close so that the deposit comes back.
            try:
                note = _abandon(ctx, rail, opened.description, node)
            except L2gpuError as failed:
                note = (f"closing the unused channel {opened.params.id} failed too "
                        f"({failed.what}); close it yourself to get the deposit back")  # fmt: skip
            raise L2gpuError(exc.what, f"{exc.fix}; {note}".strip("; ")) from exc
    lease_id = lease.id
    typer.echo(
        f"lease {lease_id}: deposit {format_wei(opened.deposit)} in channel {opened.params.id} "
        f"({rail.settlement})",
        err=True,
    )
    from l2gpu.core.market.channel_description import voucher_domain

    payer = LeasePayer(client, key, lease, voucher_domain(lease.channel.to_core()), clock=now)
    after, info, outage = 0, lease, Outage(OUTAGE_LIMIT_S)
    try:
        while not payer.done:
            try:
                info = payer.step()
                chunks = client.logs(lease_id, after).chunks
            except L2gpuError as exc:  # a market that restarts: pay once it is back
                outage.failed(exc, client)
                sys.stderr.write(f"\r{'waiting':<9} {exc.what[:70]}")
                time.sleep(1)
                continue
            outage.over()
            for chunk in chunks:
                after = chunk.seq
                sys.stdout.write(chunk.text)
            sys.stdout.flush()
            sys.stderr.write(
                f"\r{info.status.value:<9} {info.metered_seconds:>6} s  "
                f"paid {format_wei(payer.paid):<16}"
            )
            time.sleep(1)
    except KeyboardInterrupt:
        client.stop(lease_id)
        info = payer.step()
    sys.stderr.write("\n")
    # A soft-confirmed channel is co-signed into a batch by this process: stay until then;
    # with vouchers given, stay to co-sign the provider's cooperative close.
    ended_badly = info.status in (LeaseStatus.FAILED, LeaseStatus.PREEMPTED)
    if payer.paid > 0:
        try:
            closed = rail.cosign_close(opened.description, payer.paid)
        except L2gpuError as exc:  # the node is away: the provider closes alone
            closed = f"not known ({exc.what})"
        if closed == "open" and ended_badly:
            # The provider's agent is gone or failed: it may never close. Start the close
            # ourselves, conceding exactly the best voucher signed (what the provider is
            # owed), so that the rest of the deposit comes back without it.
            try:
                typer.echo(_abandon(ctx, rail, opened.description, node, payer.paid), err=True)
            except L2gpuError as exc:
                typer.echo(f"closing channel {opened.params.id} failed ({exc.what}); close "
                           "it yourself ('l2gpu l2 close-channel')", err=True)  # fmt: skip
        elif closed != "settled":
            rest = "repays your loan first" if credit else "returns to you"
            typer.echo(f"channel {opened.params.id} is {closed}: the provider closes it "
                       f"with your best voucher, the rest {rest}", err=True)  # fmt: skip
    elif rail.confirmed(opened.params.id) == "missing":
        typer.echo(f"the node dropped channel {opened.params.id}: nothing was locked", err=True)
    typer.echo(
        f"lease {lease_id} {info.status.value} ({info.reason}): {info.metered_seconds} s "
        f"billed, paid {format_wei(payer.paid)} of {format_wei(opened.deposit)} deposited",
        err=True,
    )
    if ended_badly and payer.paid == 0:
        # The job never ran (or was taken back before a paid second) and no voucher was
        # signed: take the deposit back.
        try:
            typer.echo(_abandon(ctx, rail, opened.description, node), err=True)
        except L2gpuError as exc:
            typer.echo(f"closing the unused channel failed ({exc.what}); close it yourself "
                       "('l2gpu l2 close-channel' or 'l2gpu channel close')", err=True)  # fmt: skip
    _settle_credit(rail, opened.description)
    if ended_badly:
        raise typer.Exit(1)  # a failed or preempted lease is not a success for scripts


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


def _pairs(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise L2gpuError(f"'{item}' is not KEY=VALUE", "write e.g. --env EPOCHS=3")
        out[name] = value
    return out


def _files(paths: list[Path] | None) -> dict[str, str]:
    out = {}
    for path in paths or []:
        if not path.is_file():
            raise L2gpuError(f"no file {path}", "pass an existing file with --file")
        out[path.name] = path.read_text()
    return out


# -- jobs --------------------------------------------------------------------------


def jobs_list(ctx: typer.Context, api_url: ApiUrl = None, as_json: AsJson = False) -> None:
    """Your jobs (as renter or provider), newest first: role, status, GPUs, start (local
    time), seconds metered, amount due, command."""
    from l2gpu.clock import format_timestamp

    client = _client(ctx, api_url)
    jobs = client.jobs()
    if as_json:
        print_json(jobs)
        return
    if not jobs:
        typer.echo("no jobs yet: rent an offer with 'l2gpu rent OFFER --cmd ...'", err=True)
        return
    me = client.key.address.checksum.lower()
    typer.echo(f"{'LEASE':>6}  {'ROLE':<8} {'STATUS':<10} {'GPUS':>4}  {'STARTED':<19}  "
               f"{'SECONDS':>7}  {'DUE':<14} COMMAND")  # fmt: skip
    for j in jobs:
        role = "renter" if j.renter.lower() == me else "provider"
        started = format_timestamp(j.started_at)[:19] if j.started_at else "-"
        typer.echo(
            f"{j.id:>6}  {role:<8} {j.status.value:<10} {j.num_gpus:>4}  {started:<19}  "
            f"{j.metered_seconds:>7}  {format_wei(j.amount_due):<14} {j.job.command[:40]}"
        )


def jobs_logs(
    ctx: typer.Context,
    lease_id: Annotated[int, typer.Argument()],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream until the end.")] = False,
    api_url: ApiUrl = None,
) -> None:
    """Print a job's output (``-f`` follows it until the lease ends)."""
    client = _client(ctx, api_url)
    if follow:
        for text in client.follow_logs(lease_id):
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    sys.stdout.write("".join(c.text for c in client.logs(lease_id).chunks))


def jobs_stop(
    ctx: typer.Context, lease_id: Annotated[int, typer.Argument()], api_url: ApiUrl = None
) -> None:
    """Stop a job and end its lease."""
    info = _client(ctx, api_url).stop(lease_id)
    typer.echo(f"lease {lease_id} {info.status.value}: {info.reason}")
