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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import (
    ApiUrlOption,
    AsJson,
    HubOption,
    NodeOption,
    ShardNodeOption,
    market_api_url,
    now,
    parse_amount,
    print_json,
    signing_key,
)
from l2gpu.cli.lease_rails import _rail_node
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import format_wei

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.client import MarketClient
    from l2gpu.config import Settings

if TYPE_CHECKING:
    from l2gpu.payments.channel_check import ChannelCheck

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
    jobs.command("download")(jobs_download)
    app.add_typer(market, name="market")
    app.add_typer(offers, name="offers")
    app.command("rent")(rent)
    app.add_typer(jobs, name="jobs")


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
    shard_node: ShardNodeOption = None,
) -> None:
    """Serve the market API (OpenAPI at /docs) on the configured database. Each lease's
    channel is read on its rail before the lease takes an offer: --node for channels
    inside the rollup, --shard-node once per shard for a market across shards,
    --l1-rpc (and --manager, else the recorded one) for L1 channels."""
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
    shards = list(shard_node or settings.shard_nodes)
    if shards and node:
        raise L2gpuError("--node and --shard-node name the rollups to read channels on twice",
                         "pass --shard-node once per shard, without --node")  # fmt: skip
    node = shards[0] if shards else _rail_node(settings, node, manager)
    channels = _channel_check(settings, node, manager, unverified_channels)
    if channels is not None and shards:  # a channel is read on the shard its Rollup names
        channels.shard_urls = tuple(shards[1:])
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
    ctx: typer.Context,
    offer_id: Annotated[str, typer.Argument()],
    api_url: ApiUrl = None,
    as_json: AsJson = False,
) -> None:
    """Withdraw one of your offers."""
    done = _client(ctx, api_url).withdraw(_offer_id(offer_id))
    if as_json:
        print_json(done)
    else:
        typer.echo(f"offer {done.id} {done.status}")


def _offer_id(text: str) -> str:
    """An offer id as typed, checked here so that the user reads what was wrong in the
    terms of the command, not the API's path validation."""
    if not text.strip().isdigit():
        raise L2gpuError(f"offer id '{text}' is not a number",
                         "take an id from 'l2gpu offers search'")  # fmt: skip
    return text.strip()


# -- rent --------------------------------------------------------------------------


def rent(
    ctx: typer.Context,
    offer_id: Annotated[str, typer.Argument(help="Offer id from 'l2gpu offers search'.")],
    cmd: Annotated[str, typer.Option("--cmd", help="Command to run, e.g. 'python train.py'.")],
    hours: Annotated[float, typer.Option(help="Lease duration in hours.")] = 1.0,
    max_price: Annotated[str | None, typer.Option(help="Refuse above this per GPU-second.")] = None,
    file: Annotated[
        list[Path] | None, typer.Option(help="File to copy into the job folder.")
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Folder to upload as the job's working folder (at most 64 MiB packed; "
            "see docs/workloads.md).",
        ),
    ] = None,
    env: Annotated[list[str] | None, typer.Option(help="KEY=VALUE for the job.")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="KEY=VALUE kept secret.")] = None,
    manager: ManagerOption = None,
    node: NodeOption = None,
    api_url: ApiUrl = None,
    hub: HubOption = None,
    shard_node: ShardNodeOption = None,
    credit: Annotated[
        str | None,
        typer.Option(
            "--credit",
            help="Borrow the deposit from this lending pool (its address); the channel's "
            "refund repays the loan first.",
        ),
    ] = None,
    idle_stop: Annotated[
        float | None,
        typer.Option(
            "--idle-stop",
            help="Stop the lease once the job printed nothing and used no GPU for this "
            "many minutes (see docs/workloads.md).",
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="Run the job in this container image: only on an offer whose backend is "
            "container and whose provider allows the image (see docs/workloads.md).",
        ),
    ] = None,
) -> None:
    """Rent an offer: open a channel, start the job (in --dir's folder), pay every second,
    stream its output. On shards (--shard-node per shard, or settlement sharded), a
    provider on another shard is paid through the hub given by --hub."""
    from l2gpu.cli.renting import JobRequest, run_lease

    offer_id = _offer_id(offer_id)
    duration = round(hours * 3600)
    if duration < 1:
        raise L2gpuError(f"--hours {hours} is less than a second", "rent for longer")
    limit = None if max_price is None else parse_amount(max_price, "--max-price")
    watch = None
    if idle_stop is not None:
        from l2gpu.renter.idle import IdleStop, idle_limit_s

        watch = IdleStop(idle_limit_s(idle_stop), now).watch
    if image is not None:
        from l2gpu.core.market.images import check_image

        check_image(image)
    files, binary = _files(file)
    job = JobRequest(cmd, _pairs(env), _pairs(secret), files,
                     pack_job_folder(folder, files, binary), image)  # fmt: skip
    outcome = run_lease(ctx, _client(ctx, api_url), offer_id, duration=duration, job=job,
                        max_price=limit, node=node, manager=manager, credit=credit,
                        watch=watch, hub=hub, shard_nodes=shard_node or ())  # fmt: skip
    if outcome.ended_badly:
        raise typer.Exit(1)  # a failed or preempted lease is not a success for scripts


def pack_job_folder(
    folder: Path | None, files: dict[str, str], binary: Sequence[Path] = ()
) -> bytes | None:
    """``folder`` packed as the job's working folder, with the ``binary`` files (given
    with --file, not text) at its top (None with neither); a file given with --file
    as well as in the folder is refused, and so is what the archive's rules refuse."""
    if folder is None and not binary:
        return None
    import shutil
    import tempfile

    from l2gpu.archive import Layer, pack

    if folder is not None and not folder.is_dir():
        raise L2gpuError(f"no folder {folder}", "pass an existing folder with --dir")
    for name in [*files, *(path.name for path in binary)]:
        if folder is not None and ((folder / name).exists() or (folder / name).is_symlink()):
            raise L2gpuError(f"{name} is in --dir {folder} and given with --file too",
                             "give it once: drop the --file")  # fmt: skip
    what = f"--dir {folder}" if folder is not None else "the --file files"
    with tempfile.TemporaryDirectory(prefix="l2gpu-files-") as staging:
        for path in binary:  # a copy, so that the archive holds these files alone
            shutil.copyfile(path, Path(staging) / path.name)
        layers = [] if folder is None else [Layer(folder)]
        data = pack([*layers, Layer(Path(staging))], what=what)
    typer.echo(f"packed {what}: {len(data):,} bytes", err=True)
    return data


def _pairs(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise L2gpuError(f"'{item}' is not KEY=VALUE", "write e.g. --env EPOCHS=3")
        out[name] = value
    return out


def _files(paths: list[Path] | None) -> tuple[dict[str, str], list[Path]]:
    """The --file files: text ones (UTF-8) travel in the lease request, the others
    (binary) in the job's packed folder."""
    text: dict[str, str] = {}
    binary: list[Path] = []
    for path in paths or []:
        if not path.is_file():
            raise L2gpuError(f"no file {path}", "pass an existing file with --file")
        if path.name in text or any(b.name == path.name for b in binary):
            raise L2gpuError(f"two --file files are named {path.name}",
                             "rename one: each lands at the top of the job's folder")  # fmt: skip
        try:
            text[path.name] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            binary.append(path)
    return text, binary


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
    """Print a job's output; ``-f`` follows it until the lease ends, under a live line
    of its status, seconds metered, spend, deposit left and voucher lag (on stderr:
    redrawn in place on a terminal, a plain line every 10 s elsewhere)."""
    client = _client(ctx, api_url)
    if follow:
        from l2gpu.cli.live import LiveLine, follow_lease

        with LiveLine() as line:
            follow_lease(client, lease_id, line)
        return
    sys.stdout.write("".join(c.text for c in client.logs(lease_id).chunks))


def jobs_stop(
    ctx: typer.Context,
    lease_id: Annotated[int, typer.Argument()],
    api_url: ApiUrl = None,
    as_json: AsJson = False,
) -> None:
    """Stop a job and end its lease."""
    info = _client(ctx, api_url).stop(lease_id)
    if as_json:
        print_json(info)
    else:
        typer.echo(f"lease {lease_id} {info.status.value}: {info.reason}")


def jobs_download(
    ctx: typer.Context,
    lease_id: Annotated[int, typer.Argument()],
    path: Annotated[
        str, typer.Argument(help="File or folder in the job's folder (default: all of it).")
    ] = "",
    to: Annotated[Path, typer.Option("--to", help="Folder to put the files in.")] = Path("."),
    wait: Annotated[float, typer.Option(help="Seconds to wait for the provider.")] = 120.0,
    api_url: ApiUrl = None,
    as_json: AsJson = False,
) -> None:
    """Fetch files a job wrote in its folder (checkpoints, results), from the provider's
    agent, while the lease runs or after it ended (providers keep a lease's folder a
    while: see docs/workloads.md). Only the lease's renter may."""
    from l2gpu.core.market.workdir import path_parts
    from l2gpu.renter.outputs import fetch_files

    path_parts(path)  # a path that would leave the folder is refused here, by name
    done = fetch_files(_client(ctx, api_url), lease_id, path, to, issued_at=now(),
                       wait_s=wait)  # fmt: skip
    typer.echo(f"lease {lease_id}: {done.files} file(s), {done.size:,} bytes into {to}", err=True)
    if as_json:
        print_json({"lease_id": lease_id, "files": done.files, "bytes": done.size,
                    "into": str(to)})  # fmt: skip
