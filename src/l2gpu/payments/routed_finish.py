"""Finishing a routed lease whose renter's process stopped: ``l2gpu settle`` runs
:func:`finish_route` on each route the renter recorded
(:mod:`l2gpu.payments.route_records`) and did not finish.

The renter closes its channel to the hub (*inbound*) as the rail does: cooperatively
first (a CooperativeClose for its best voucher, which the hub co-signs for no less
than the best voucher it holds: settled at once, 10 bytes in a batch), alone when the
hub does not co-sign (a CloseByRenter conceding what the hub acknowledged with
vouchers onward; a hub that holds a later voucher claims it itself within the
challenge period, and ``settle`` returns the rest after it). It never concedes more
than its best voucher. What the chain shows decides each step, never the record
alone, so running it twice, or again after a crash mid-close, pays nothing twice: a
channel closes once.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_down
from l2gpu.core.types import Wei, format_wei

if TYPE_CHECKING:
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.payments.rollup_rail import RollupChannelRail
    from l2gpu.payments.route_records import RenterRoute, RenterRoutes


def finish_route(
    route: RenterRoute, key: PrivateKey, routes: RenterRoutes, *, wait: float = 60.0
) -> tuple[str, str]:
    """Close ``route``'s inbound channel and settle it; ``(state, what happened)``, the
    state ``settled`` (the route is marked done), ``waiting`` (closing: the rest comes
    back after the challenge period) or ``failed`` (the node is away: tried again)."""
    from l2gpu.core.designs import ChannelAlreadyClosed, ChannelNotDue
    from l2gpu.node.client import L2Client
    from l2gpu.payments.rollup_rail import RollupChannelRail

    cid = route.channel_id
    try:
        rail = RollupChannelRail(L2Client(route.node, key), wait=wait)
        status = rail.confirmed(cid)  # a pending open: included, or dropped (missing)
        note = ("nothing was locked (its open never landed)" if status == "missing"
                else "its channel to the hub is closed already")  # fmt: skip
        if status == "open":
            routes.mark(cid, "closing")  # before the close is sent
            note = _close(rail, route)
            status = rail.status(route.inbound)
        if status == "closing":
            try:
                note = rail.settle(route.inbound)
                status = "settled"
            except ChannelNotDue as exc:
                return "waiting", f"route {cid}: {exc.what}; 'l2gpu settle' finishes it then"
            except ChannelAlreadyClosed:
                status = "settled"
    except L2gpuError as exc:  # the node is away or busy: kept for the next round
        return "failed", f"route {cid}: could not finish it now ({exc.what})"
    if status not in ("settled", "missing"):
        return "failed", f"route {cid}: its channel to the hub is {status}"
    routes.mark(cid, "done")
    return "settled", f"route {cid} finished: {note}"


def _close(rail: RollupChannelRail, route: RenterRoute) -> str:
    """Close the open inbound channel: with the hub's co-signature for the best voucher,
    else alone conceding what the hub acknowledged."""
    from l2gpu.core.l2.transactions import CooperativeClose
    from l2gpu.node.client import TransactionDropped

    index = int(rail.client.channel(str(route.channel_id))["index"])
    # L2 amounts are decimal floats: rounded down, a close never gives more than signed
    best = Wei(round_down(route.signed))
    with contextlib.suppress(TransactionDropped):  # the hub refused or is gone: alone
        rail.client.send_tx(lambda me: CooperativeClose(me, index, best), wait=rail.wait)
        return f"closed with the hub, which has your best voucher ({format_wei(best)})"
    conceded = Wei(round_down(route.acknowledged))
    rail.abandon(route.inbound, conceded)
    return (f"the hub did not co-sign: closing alone, conceding {format_wei(conceded)} (what "
            "it acknowledged); the hub may claim a later voucher of yours meanwhile")  # fmt: skip
