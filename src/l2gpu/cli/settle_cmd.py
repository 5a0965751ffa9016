"""``l2gpu settle``: finish the closes ``rent`` started, so deposits come back.

``rent`` records each channel whose close it started (a failed or abandoned
lease: :mod:`l2gpu.payments.closing`); this command settles those whose deadline
has passed and says, in local time, when the others can be. ``--daemon`` keeps
doing so; ``rent`` also runs it once at its start.

It also finishes the routed leases (through a hub, :mod:`l2gpu.payments.routed_rail`)
that a renter's process left unfinished, from the routes it recorded: it closes each
one's channel to the hub, with the hub or alone, conceding no more than the renter's
best voucher (:mod:`l2gpu.payments.routed_finish`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import AsJson, print_json, signing_key
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from l2gpu.payments.closing import ClosingChannels, PendingClose
    from l2gpu.payments.rails import L1ChannelRail
    from l2gpu.payments.rollup_rail import RollupChannelRail

DAEMON_INTERVAL_S = 30.0


def settle(
    ctx: typer.Context,
    daemon: Annotated[
        bool, typer.Option("--daemon", help="Keep settling as deadlines pass.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds with --daemon.")] = (
        DAEMON_INTERVAL_S
    ),
    as_json: AsJson = False,
) -> None:
    """Settle the channels whose close 'rent' started, once their deadline has passed,
    and close the channels to a hub of routed leases whose renter stopped mid-lease."""
    from l2gpu.payments.closing import ClosingChannels

    store = ClosingChannels(ctx.obj.data_dir)
    while True:
        outcomes = settle_pending(ctx, store) + settle_routes(ctx)
        if as_json:
            print_json([{"channel_id": cid, "state": state, "note": note}
                        for cid, state, note in outcomes])  # fmt: skip
        else:
            if not outcomes:
                typer.echo("no closes to finish")
            for _, _, note in outcomes:
                typer.echo(note)
        if not daemon:
            return
        time.sleep(interval)  # a daemon's pause between rounds, not a test's wait


def settle_pending(ctx: typer.Context, store: ClosingChannels) -> list[tuple[str, str, str]]:
    """Try every recorded close: ``(channel id, state, what happened)`` each, the state
    ``settled``, ``waiting`` (with its local time) or ``failed`` (kept, tried again)."""
    from l2gpu.core.designs import ChannelAlreadyClosed, ChannelNotDue

    outcomes = []
    for pending in store.pending():
        cid = pending.channel.channel_id
        try:
            note = _rail_for(ctx, pending).settle(pending.channel)
            state = "settled"
            store.remove(cid)
        except ChannelNotDue as exc:
            state, note = "waiting", f"{exc.what}; 'l2gpu settle' finishes it then"
        except ChannelAlreadyClosed as exc:
            state, note = "settled", exc.what
            store.remove(cid)
        except L2gpuError as exc:  # the chain or node is away: kept for the next round
            state, note = "failed", f"channel {cid}: could not settle now ({exc.what})"
        outcomes.append((str(cid), state, note))
    return outcomes


def settle_routes(ctx: typer.Context) -> list[tuple[str, str, str]]:
    """Finish every recorded route through a hub not finished yet: ``(inbound channel
    id, state, what happened)`` each, as :func:`settle_pending` says them."""
    from l2gpu.payments.route_records import RenterRoutes
    from l2gpu.payments.routed_finish import finish_route

    routes = RenterRoutes(ctx.obj.data_dir)
    pending = routes.pending()
    if not pending:
        return []
    try:
        key = signing_key(ctx)
    except L2gpuError as exc:  # the closes on L1 above need no key: say it, route by route
        return [(str(r.channel_id), "failed", f"route {r.channel_id}: {exc.what}")
                for r in pending]  # fmt: skip
    outcomes = []
    for route in pending:
        if route.inbound.renter != key.address:
            state, note = "failed", (f"route {route.channel_id} is {route.inbound.renter}'s: "
                                     "run 'l2gpu settle' with that key")  # fmt: skip
        else:
            state, note = finish_route(route, key, routes)
        outcomes.append((str(route.channel_id), state, note))
    return outcomes


def _rail_for(ctx: typer.Context, pending: PendingClose) -> L1ChannelRail | RollupChannelRail:
    """The renter's rail of the recorded channel's design (those that need a settle)."""
    channel = pending.channel
    if channel.settlement == "hybrid":
        from l2gpu.node.client import L2Client
        from l2gpu.payments.rollup_rail import RollupChannelRail

        if pending.node is None:
            raise L2gpuError(f"no rollup node was recorded for channel {channel.channel_id}",
                             "settle it with 'l2gpu l2 settle-channel --node URL'")  # fmt: skip
        return RollupChannelRail(L2Client(pending.node, signing_key(ctx)))
    from l2gpu.cli.session import Session
    from l2gpu.payments.rails import L1ChannelRail

    session = Session(ctx, str(channel.manager))
    return L1ChannelRail(session.manager, session.account)
