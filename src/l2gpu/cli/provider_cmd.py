"""``l2gpu provider up`` (the agent), ``l2gpu provider check`` (can this machine
run renters' jobs safely?) and ``l2gpu provider price`` (what to charge)."""

from __future__ import annotations

import json
import logging
import secrets
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import (
    ApiUrlOption,
    AsJson,
    NodeOption,
    ShardNodeOption,
    market_api_url,
    now,
    parse_amount,
    print_json,
    signing_key,
)
from l2gpu.cli.lease_rails import (
    _check_provider_account,
    _rail,
    _rail_node,
    provider_shard_rail,
)
from l2gpu.cli.market_cmd import ManagerOption
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import parse_duration

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.agent.outputs import Retention
    from l2gpu.config import Settings
    from l2gpu.core.market.offers import OfferTerms


def provider_check(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Say what this machine's job sandbox has and lacks (bubblewrap, namespaces,
    cgroups, GPU device files); exit 2 unless jobs can run sandboxed."""
    from l2gpu.agent.sandbox_check import sandbox_check

    del ctx  # no settings needed: it looks at this machine
    report = sandbox_check()
    if as_json:  # the verdict is in "ok" and the exit status alike
        checks = [{"name": c.name, "ok": c.ok, "required": c.required, "detail": c.detail,
                   "fix": c.fix} for c in report.checks]  # fmt: skip
        print_json({"ok": report.ok, "checks": checks})
    else:
        for line in report.lines():
            typer.echo(line)
    if not report.ok:
        raise typer.Exit(2)


def provider_up(
    ctx: typer.Context,
    price: Annotated[str, typer.Option(help="Price per GPU-second, e.g. '0.0001 ether'.")],
    gpus: Annotated[
        str | None, typer.Option(help="Declared GPUs where there is no NVML, e.g. RTX_4090:2.")
    ] = None,
    location: Annotated[str, typer.Option(help="Region code shown in offers.")] = "XX",
    backend: Annotated[str, typer.Option(help="local, ray, docker or podman.")] = "local",
    image: Annotated[
        str | None, typer.Option(help="The image jobs run in (docker or podman backend).")
    ] = None,
    allow_image: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-image",
            help="An image (or pattern, * any characters) renters may ask for with "
            "--image, besides --image; repeat for more (docker or podman backend).",
        ),
    ] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    max_duration: Annotated[str, typer.Option(help="Longest lease, e.g. 24h.")] = "24h",
    expires_in: Annotated[str, typer.Option(help="How long the offers stand.")] = "24h",
    grace: Annotated[int, typer.Option(help="Seconds of unpaid work tolerated.")] = 5,
    manager: ManagerOption = None,
    node: NodeOption = None,
    shard_node: ShardNodeOption = None,
    market: ApiUrlOption = None,
    job_network: Annotated[
        str, typer.Option(help="none (default: jobs see no network) or host.")
    ] = "none",
    unsandboxed: Annotated[
        bool,
        typer.Option(
            "--unsandboxed-i-trust-every-renter",
            help="Run jobs as plain processes of this user: a job can read this agent's "
            "keys and files. Only for machines where every renter is trusted.",
        ),
    ] = False,
    unpaid: Annotated[
        bool,
        typer.Option(
            "--no-payment-checks-i-accept-unpaid-work",
            help="Run without --node or --l1-rpc: channels are neither checked nor "
            "settled, so nothing guarantees payment.",
        ),
    ] = False,
    keep_folders: Annotated[
        str, typer.Option(help="Keep a lease's folder this long after it ends (downloads).")
    ] = "24h",
    keep_folders_gib: Annotated[
        float, typer.Option(help="Keep at most this many GiB of ended leases' folders.")
    ] = 20.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics at http://127.0.0.1:PORT/metrics."),
    ] = None,
) -> None:
    """Discover GPUs, publish offers, run leased jobs in a sandbox, check vouchers every
    second."""
    from l2gpu.agent.agent import ProviderAgent
    from l2gpu.agent.backends import make_backend
    from l2gpu.agent.inventory import discover, load_nvml
    from l2gpu.agent.sandbox import SandboxPolicy
    from l2gpu.client import MarketClient
    from l2gpu.db import open_database
    from l2gpu.payments.store import VoucherStore

    settings: Settings = ctx.obj
    # The agent's log is the provider's record of leases, payments and closes.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for chatty in ("httpx", "httpcore", "alembic", "web3"):  # a line per request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    key = signing_key(ctx)
    nvml = load_nvml()
    inventory = discover(gpus, nvml=nvml, workdir=settings.data_dir)
    client = MarketClient(market_api_url(settings, market), key)
    chain_id = client.health().chain_id
    if job_network not in ("none", "host"):
        raise L2gpuError(f"unknown --job-network '{job_network}'", "use none or host")
    on_shards = provider_shard_rail(settings, key, shard_node or (), node, manager)
    rail = None
    if on_shards is not None:  # paid on its own shard; leases from others through a hub
        shard, node, rail = on_shards
        typer.echo(f"this provider lives on shard {shard}: paid on its node {node}", err=True)
    else:
        node = _rail_node(settings, node, manager)
        if node or manager or settings.l1_rpc:
            rail = _rail(ctx, key, node, manager)
    if rail is None and not unpaid:
        raise L2gpuError(
            "no payment rail: without --node (channels inside the rollup) or --l1-rpc "
            "(channels on L1) no channel is checked and no lease is settled",
            "pass --node URL or --l1-rpc URL, or --no-payment-checks-i-accept-unpaid-work",
        )
    if node:
        _check_provider_account(node, key, rail)
    if rail is None:
        typer.echo("warning: channels are not checked and not settled", err=True)
    sandbox = SandboxPolicy.NONE_I_TRUST_EVERY_RENTER if unsandboxed else SandboxPolicy.BWRAP
    if unsandboxed:
        typer.echo("warning: jobs run unsandboxed: they can read this agent's keys", err=True)
    root = settings.data_dir / "jobs"
    agent = ProviderAgent(
        client,
        key,
        make_backend(
            backend,
            root,
            ray_address,
            image,
            tuple(allow_image or ()),
            sandbox=sandbox,
            network=job_network,
        ),
        inventory,
        VoucherStore(open_database(settings.effective_database_url)),
        now,
        chain_id,
        grace=grace,
        rail=rail,
        nvml=nvml,
        background_closes=True,
        kept=_retention(settings.data_dir / "kept", keep_folders, keep_folders_gib),
    )
    if metrics_port is not None:
        from l2gpu.agent.metrics import serve_metrics

        if not 0 < metrics_port < 65536:
            raise L2gpuError(f"--metrics-port {metrics_port} is no port", "give 1 to 65535")
        serve_metrics(agent, metrics_port)
        typer.echo(f"metrics at http://127.0.0.1:{metrics_port}/metrics", err=True)
    terms = agent.offer_terms(
        parse_amount(price, "--price"),
        expires_at=now() + parse_duration(expires_in),
        location=location,
        max_duration=parse_duration(max_duration),
        nonce=secrets.randbelow(2**63),
    )
    # The offers of an earlier run of this agent go first (they would otherwise stay
    # listed beside the new ones, and a leased one come back when its lease ends).
    # A leased one is kept (its lease runs on), and its GPUs are not offered again.
    record = settings.data_dir / f"offers-{key.address.checksum}.json"
    # Only offers this data folder recorded are this agent's: another machine may run
    # an agent with the same key, and its offers and leases are its own.
    recorded = _recorded_offers(record)
    leased = {i: held for i, held in agent.leased_offers().items() if i in recorded}
    retired = agent.retire_offers(recorded, keep=leased)
    if retired:
        typer.echo(f"withdrew {len(retired)} offer(s) of an earlier run", err=True)
    agent.take_back(leased)
    published = agent.publish(_less_leased(terms, leased))
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps([str(o.id) for o in published] + sorted(leased)))
    for offer_id, (gpu_name, count) in sorted(leased.items()):
        typer.echo(f"offer {offer_id}: {count} x {gpu_name} (leased: kept, back on the market "
                   "when its lease ends)", err=True)  # fmt: skip
    for offer in published:
        typer.echo(
            f"offer {offer.id}: {offer.num_gpus} x {offer.gpu_name} at "
            f"{offer.price_per_gpu_second} wei/GPU-s"
            f"{' (declared)' if offer.declared else ''}",
            err=True,
        )
    stop = threading.Event()
    # SIGTERM (systemd, docker stop, kill) stops the agent as Ctrl-C does: its offers
    # are withdrawn rather than left listed and rentable with nobody serving them.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        agent.run(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        agent.shutdown()
        withdrawn = agent.retire_offers([str(o.id) for o in published])
        record.unlink(missing_ok=True)
        typer.echo(f"stopped; withdrew {len(withdrawn)} offer(s)", err=True)


def _retention(folder: Path, keep: str, gib: float) -> Retention:
    """Where the agent records the leases' folders it keeps, and for how long."""
    from l2gpu.agent.outputs import Retention

    if not 0 <= gib <= 2**20:
        raise L2gpuError(f"--keep-folders-gib {gib} is out of range", "give 0 to 1048576")
    return Retention(folder, keep_s=parse_duration(keep), max_bytes=int(gib * 2**30))


def _less_leased(terms: list[OfferTerms], leased: dict[str, tuple[str, int]]) -> list[OfferTerms]:
    """The offers to publish: each model's GPUs less those its leased offers hold."""
    from dataclasses import replace

    out = []
    for t in terms:
        busy = sum(n for model, n in leased.values() if model == t.gpu_name)
        if t.num_gpus > busy:
            out.append(replace(t, num_gpus=t.num_gpus - busy))
    return out


def _recorded_offers(record: Path) -> list[str]:
    """The offer ids an earlier run wrote (none when the file is missing or unreadable)."""
    try:
        ids = json.loads(record.read_text())
    except (OSError, ValueError):
        return []
    return [str(i) for i in ids] if isinstance(ids, list) else []


def provider_price(
    gpu: Annotated[str, typer.Option("--gpu", help="A catalog model, e.g. RTX_4090.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
) -> None:
    """Suggest a price (USD per GPU-hour) from the market's prices and how often offers
    at each price are rented; where dated prices exist, show how the rule did against
    the best fixed price and the market median on later windows."""
    from l2gpu.analytics.price_suggest import price_report, price_text

    report = price_report(gpu)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(price_text(report))


def register(app: typer.Typer) -> None:
    """Add ``l2gpu provider`` to the root app."""
    provider = typer.Typer(help="Run the provider agent.", no_args_is_help=True)
    provider.command("up")(provider_up)
    provider.command("check")(provider_check)
    provider.command("price")(provider_price)
    app.add_typer(provider, name="provider")
