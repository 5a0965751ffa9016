"""One lease from the offer to the channel's close: what ``rent`` does, and what
``launch`` does once per attempt.

:func:`run_lease` checks the offer and asks the market for a quote before any deposit
is locked, uploads the job's folder (the market keeps one copy per digest, so an
attempt after a failed one sends nothing again), opens the channel, rents, pays every
second for what was metered while printing the job's output above a live line of its
seconds, spend and voucher lag (:mod:`l2gpu.cli.live`), and at the end co-signs
the provider's close, or starts the channel's close itself when the lease failed or
was preempted (``l2gpu settle`` finishes it). A lease the market refuses after the
channel opened gets its channel's close started at once, as ``rent`` always did.

It returns a :class:`LeaseOutcome` instead of exiting, so that ``launch`` can try the
next offer; ``watch`` lets the caller look at the lease every second (to fetch
checkpoints, or to stop a job that is idle).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from l2gpu.cli.common import now, signing_key
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.types import Address, Wei, format_wei

if TYPE_CHECKING:
    from l2gpu.client import MarketClient
    from l2gpu.wire import LeasePublic, LogChunk

Watch = Callable[["LeasePublic", list["LogChunk"]], "str | None"]
"""Called every second with the lease and the output printed since the last call;
returns a reason to stop the lease now, or None."""


@dataclass(frozen=True)
class JobRequest:
    """The job to run: a command, its variables, secrets and small files, and the folder
    it starts in (a packed archive, or None), and the container image it asks for."""

    command: str
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    folder: bytes | None = None
    image: str | None = None


@dataclass(frozen=True)
class LeaseOutcome:
    """How a lease ended: its id, status and reason, the seconds billed, what was paid."""

    lease_id: int
    status: LeaseStatus
    reason: str
    metered_seconds: int
    paid: Wei
    deposit: Wei
    started: bool
    exit_code: int | None = None

    @property
    def ended_badly(self) -> bool:
        """Failed or preempted: not a success for scripts (``rent`` exits with 1)."""
        return self.status in (LeaseStatus.FAILED, LeaseStatus.PREEMPTED)


def run_lease(
    ctx: typer.Context,
    client: MarketClient,
    offer_id: str,
    *,
    duration: int,
    job: JobRequest,
    max_price: Wei | None,
    node: str | None,
    manager: str | None,
    credit: str | None = None,
    watch: Watch | None = None,
    hub: str | None = None,
    shard_nodes: Sequence[str] = (),
) -> LeaseOutcome:
    """Rent ``offer_id`` for ``duration`` s with ``job``, pay for it until it ends, and
    close or co-sign the close of its channel. Raises :class:`L2gpuError` when the
    market refuses the lease (nothing is then rented and no deposit stays locked).
    With the ``sharded`` settlement (``shard_nodes``, ``hub``: see
    :func:`l2gpu.cli.lease_rails._shards`), a provider on another shard is paid
    through the hub."""
    from l2gpu.cli.lease_rails import (
        OUTAGE_LIMIT_S,
        Outage,
        _abandon,
        _check_rail_options,
        _rail,
        _rail_node,
        _settle_credit,
        _settle_earlier_closes,
        _shards,
    )
    from l2gpu.cli.live import LiveLine, lease_line
    from l2gpu.core.market.channel_description import voucher_domain
    from l2gpu.payments.routed_rail import RoutedChannelRail
    from l2gpu.renter import LeasePayer, lease_taken_despite

    offer = client.offer(offer_id)
    price = offer.price_per_gpu_second
    if max_price is not None and price > max_price:
        raise L2gpuError(
            f"offer {offer_id} costs {price} wei per GPU-second, above --max-price {max_price}",
            "raise --max-price or choose another offer",
        )
    # Everything the market could refuse, asked before any rail is touched or deposit locked.
    quote = client.quote(offer_id, duration=duration, max_price_per_gpu_second=max_price,
                         image=job.image)  # fmt: skip
    shards = _shards(ctx.obj, shard_nodes, hub)
    key = signing_key(ctx)
    provider = Address.from_hex(offer.provider)
    if shards is None:
        node = _rail_node(ctx.obj, node, manager)
        _check_rail_options(ctx.obj, node, manager)
    # The rail before anything is uploaded or locked: on shards, a lease it cannot carry
    # (no hub for a provider on another shard, too little for the deposit and the
    # hub's fee) is refused here.
    rail = _rail(ctx, key, node, manager, credit, shards=shards, provider=provider,
                 deposit=Wei(quote.max_cost))  # fmt: skip
    if shards is not None:
        node = shards.node_of(key.address)  # where a hybrid channel's close is settled
    archive = None
    if job.folder is not None:
        archive = client.upload(job.folder)
        typer.echo(f"job folder {archive.sha256[:12]} ({archive.size:,} bytes) at the market",
                   err=True)  # fmt: skip
    _settle_earlier_closes(ctx)
    opened = rail.open(provider, Wei(quote.max_cost), lifetime=duration + 3600)
    try:
        lease = client.rent(
            offer_id, command=job.command, duration=duration, channel=opened.description,
            env=job.env, secrets=job.secrets, files=job.files, archive=archive,
            max_price_per_gpu_second=max_price, image=job.image,
        )  # fmt: skip
    except L2gpuError as exc:
        taken = lease_taken_despite(
            client, exc, opened.params.id,
            fix="run 'l2gpu jobs list' when the market is back, and close the channel "
            "('l2gpu channel close' or 'l2gpu l2 close-channel') only if no lease uses it",
        )  # fmt: skip
        if taken is None:
            # No lease uses the channel: start its close so that the deposit comes back.
            try:
                note = _abandon(ctx, rail, opened.description, node)
            except L2gpuError as failed:
                note = (f"closing the unused channel {opened.params.id} failed too "
                        f"({failed.what}); close it yourself to get the deposit back")  # fmt: skip
            raise L2gpuError(exc.what, f"{exc.fix}; {note}".strip("; ")) from exc
        lease = taken
    lease_id = lease.id
    typer.echo(
        f"lease {lease_id}: deposit {format_wei(opened.deposit)} in channel {opened.params.id} "
        f"({rail.settlement})",
        err=True,
    )
    # A lease through a hub pays with the hub's vouchers, bought with the renter's own.
    signer = rail.sign if isinstance(rail, RoutedChannelRail) else None
    payer = LeasePayer(client, key, lease, voucher_domain(lease.channel.to_core()), clock=now,
                       signer=signer)  # fmt: skip
    after, info, outage = 0, lease, Outage(OUTAGE_LIMIT_S)
    started = False
    line = LiveLine()
    try:
        while not payer.done:
            try:
                info = payer.step()
                chunks = client.logs(lease_id, after).chunks
            except L2gpuError as exc:  # a market that restarts: pay once it is back
                outage.failed(exc, client)
                line.show(lease_line(info, spent=payer.paid, deposit=opened.deposit,
                                     note=f"waiting: {exc.what[:70]}"))  # fmt: skip
                time.sleep(1)
                continue
            outage.over()
            started = started or info.started_at is not None
            for chunk in chunks:
                after = chunk.seq
                line.output(chunk.text)
            line.show(lease_line(info, spent=payer.paid, deposit=opened.deposit))
            why = watch(info, list(chunks)) if watch is not None else None
            if why is not None and not info.status.is_final:
                line.say(f"stopping lease {lease_id}: {why}")
                client.stop(lease_id)
                info = payer.step()
                continue
            time.sleep(1)
    except KeyboardInterrupt:
        client.stop(lease_id)
        info = payer.step()
    finally:
        line.close()
    outcome = LeaseOutcome(lease_id, info.status, info.reason, info.metered_seconds,
                           payer.paid, opened.deposit, started, info.job.exit_code)  # fmt: skip
    # A soft-confirmed channel is co-signed into a batch by this process: stay until then;
    # with vouchers given, stay to co-sign the provider's cooperative close.
    if payer.paid > 0:
        try:
            closed = rail.cosign_close(opened.description, payer.paid)
        except L2gpuError as exc:  # the node is away: the provider closes alone
            closed = f"not known ({exc.what})"
        if closed == "open" and outcome.ended_badly:
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
    if outcome.ended_badly and payer.paid == 0:
        # The job never ran (or was taken back before a paid second) and no voucher was
        # signed: take the deposit back.
        try:
            typer.echo(_abandon(ctx, rail, opened.description, node), err=True)
        except L2gpuError as exc:
            typer.echo(f"closing the unused channel failed ({exc.what}); close it yourself "
                       "('l2gpu l2 close-channel' or 'l2gpu channel close')", err=True)  # fmt: skip
    _settle_credit(rail, opened.description)
    return outcome
