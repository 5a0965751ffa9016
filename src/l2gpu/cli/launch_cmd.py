"""``l2gpu launch task.yaml``: search, pick the best offer, rent it, and try the next
best when an attempt fails before its job starts (see docs/workloads.md).

The task file is read by :mod:`l2gpu.renter.task`; offers are ranked by
:mod:`l2gpu.renter.choice`; each attempt is one lease run by
:func:`l2gpu.cli.renting.run_lease`, exactly as ``rent`` runs it (channel opened,
paid every second, closed or its close started when the lease fails).
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import ApiUrlOption, HubOption, NodeOption, ShardNodeOption, now
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from l2gpu.cli.renting import Watch
    from l2gpu.renter.checkpoints import Checkpoints
    from l2gpu.renter.task import Task
    from l2gpu.wire import LeasePublic, LogChunk


def launch(
    ctx: typer.Context,
    task_file: Annotated[Path, typer.Argument(help="The task's YAML file.")],
    node: NodeOption = None,
    manager: Annotated[
        str | None, typer.Option("--manager", help="ChannelManager address (channels on L1).")
    ] = None,
    api_url: ApiUrlOption = None,
    hub: HubOption = None,
    shard_node: ShardNodeOption = None,
) -> None:
    """Run a task (resources, max_price, hours, workdir, setup, run, retries, idle_stop)
    on the best offer; after a failure before the job starts, or a preemption, on the next best (a
    preempted job resumes from the checkpoints/ it wrote: see docs/workloads.md)."""
    from l2gpu.cli.market_cmd import _client
    from l2gpu.cli.renting import JobRequest, run_lease
    from l2gpu.core.types import format_wei
    from l2gpu.renter.checkpoints import Checkpoints
    from l2gpu.renter.choice import after_attempt, launch_query, rank_offers

    task = _read_task(task_file)
    folder = _pack(task.workdir)  # a folder the rules refuse stops here, before any lease
    client = _client(ctx, api_url)
    state = ctx.obj.data_dir / "launch" / f"{_slug(task.name)}-{now()}"
    saved = Checkpoints(_client(ctx, api_url), state, every=task.checkpoint_every, clock=now)
    tried_providers: set[str] = set()
    tried_offers: set[int] = set()
    attempts = task.retries + 1
    for attempt in range(1, attempts + 1):
        found = client.search(launch_query(task), sort="price_per_hour", limit=200).offers
        ranked = rank_offers(
            found, task, now=now(), tried_providers=tried_providers, tried_offers=tried_offers
        )
        if not ranked:
            raise L2gpuError(
                f"no offer can run {task.name}: {task.count} x {task.gpu} for {task.duration} s"
                + (
                    f" at most {format_wei(task.max_price_per_gpu_hour)} per GPU-hour"
                    if task.max_price_per_gpu_hour is not None
                    else ""
                )
                + (
                    f", from a provider not tried yet ({len(tried_providers)} tried)"
                    if tried_providers
                    else ""
                ),
                "search with 'l2gpu offers search' and adjust resources or max_price",
            )
        offer = ranked[0]
        typer.echo(
            f"launch {task.name}: attempt {attempt}/{attempts} on offer {offer.id} "
            f"({offer.num_gpus} x {offer.gpu_name} from {offer.provider}, "
            f"{offer.price_per_hour_eth} ETH/h)",
            err=True,
        )
        tried_offers.add(offer.id)
        if saved.has_copy():  # resume: the task's folder with the checkpoint laid over it
            folder = _pack(task.workdir, saved)
            typer.echo(
                f"launch {task.name}: attempt {attempt} resumes from the checkpoint in "
                f"{saved.copy}",
                err=True,
            )
        env = {**task.envs, "L2GPU_ATTEMPT": str(attempt)}
        job = JobRequest(task.command, env, folder=folder, image=task.image)
        try:
            outcome = run_lease(
                ctx,
                client,
                str(offer.id),
                duration=task.duration,
                job=job,
                max_price=task.max_price_per_gpu_second,
                node=node,
                manager=manager,
                watch=_watch(saved, task),
                hub=hub,
                shard_nodes=shard_node or (),
            )
        except L2gpuError as exc:  # the market refused: nothing rented, nothing locked
            step = after_attempt(None, exc.what, started=False, left=attempts - attempt)
        else:
            tried_providers.add(offer.provider)
            saved.after(outcome.lease_id, outcome.status, outcome.reason)
            step = after_attempt(
                outcome.status, outcome.reason, started=outcome.started, left=attempts - attempt
            )
            if step.action == "done":
                typer.echo(
                    f"launch {task.name}: lease {outcome.lease_id} {outcome.reason} "
                    f"after {attempt} attempt(s)",
                    err=True,
                )
                if outcome.exit_code not in (None, 0):
                    raise typer.Exit(1)
                return
        typer.echo(f"launch {task.name}: attempt {attempt} {step.why}", err=True)
        if step.action == "give up":
            raise typer.Exit(1)


def _read_task(path: Path) -> Task:
    from l2gpu.renter.task import parse_task

    try:
        text = path.read_text()
    except OSError as exc:
        raise L2gpuError(
            f"cannot read the task file {path}: {exc.strerror}", "give the path of a task YAML file"
        ) from exc
    return parse_task(text, base=path.parent, where=str(path))


def _pack(workdir: PurePath | None, saved: Checkpoints | None = None) -> bytes | None:
    """The job's folder: the task's workdir, with the checkpoint copy laid over it."""
    from l2gpu.archive import Layer, pack
    from l2gpu.cli.market_cmd import pack_job_folder

    if saved is None:
        return None if workdir is None else pack_job_folder(Path(workdir), {})
    layers = [] if workdir is None else [Layer(Path(workdir))]
    return pack([*layers, saved.layer()], what="the task's folder and its checkpoint")


def _watch(saved: Checkpoints, task: Task) -> Watch:
    """Each second: fetch checkpoints when due; with ``idle_stop``, a reason to stop an
    idle job (one watch per attempt: the idle count starts with each job)."""
    from l2gpu.renter.idle import IdleStop

    idle = None if task.idle_stop_s is None else IdleStop(task.idle_stop_s, now, "idle_stop")

    def watch(info: LeasePublic, output: list[LogChunk]) -> str | None:
        saved.watch(info, output)
        return None if idle is None else idle.watch(info, output)

    return watch


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "task"


def register(app: typer.Typer) -> None:
    """Add ``l2gpu launch`` to the root app."""
    app.command("launch")(launch)
