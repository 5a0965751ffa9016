"""The hub's journal read back at a start, and rewritten when it grows large.

A route line holds the route as taken and, until the hub's open is answered, the
open's body (to co-sign it after a restart); ``paid`` lines the best renter voucher
of a route (on a virtual route, the best one the hub learned from the provider's
shard), ``claimed`` the start of a claim, ``dropped`` a route whose open the node
refused, ``closing_unrouted`` a channel the hub let its renter close unrouted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from l2gpu.core.shards.hop import Forward, RenterVoucher, sign_forward
from l2gpu.core.shards.hop import state_transition as hop
from l2gpu.core.shards.hub_messages import voucher_from_json, voucher_to_json
from l2gpu.core.types import Hash32
from l2gpu.hub.journal import RouteRecord
from l2gpu.hub.virtual_routes import learn_voucher

if TYPE_CHECKING:
    from l2gpu.hub.service import Hub

JOURNAL_COMPACT_BYTES = 64 * 2**20  # past this the journal is rewritten, one line a route


def compact_if_large(hub: Hub) -> None:
    """Rewrite the journal as one route line and one best-voucher line per route
    once it is large (a renter sending many tiny vouchers grows it)."""
    if hub.journal.size() < JOURNAL_COMPACT_BYTES:
        return
    records: list[dict[str, Any]] = []
    for route in list(hub.routes.values()):
        line: dict[str, Any] = {"route": route.record.to_json()}
        if route.open_tx and not route.reclaimed:
            line["open_tx"] = route.open_tx.hex()
        records.append(line)
        if route.state.best_inbound is not None:
            records.append({"paid": voucher_to_json(route.state.best_inbound)})
        if route.claimed:
            records.append({"claimed": str(route.record.inbound.channel_id)})
    records += [{"closing_unrouted": str(c)} for c in hub.closing_unrouted]
    hub.journal.rewrite(records)


def replay_journal(hub: Hub) -> None:
    """Rebuild ``hub``'s routes from its journal (a torn last line is cut off)."""
    for entry in hub.journal.replay():
        if "route" in entry:
            record = RouteRecord.from_json(entry["route"])
            route = hub._track(record)
            if "open_tx" in entry:  # co-sign the open if it is still waiting for us
                route.open_tx = bytes.fromhex(entry["open_tx"])
                hub.clients[record.outbound_shard].remember(route.open_tx)
        elif "claimed" in entry:
            claimed = hub.routes.get(Hash32.from_hex(entry["claimed"]))
            if claimed is not None:
                claimed.claimed = True
        elif "closing_unrouted" in entry:
            hub.closing_unrouted.add(Hash32.from_hex(entry["closing_unrouted"]))
        elif "dropped" in entry:
            hub.routes.pop(Hash32.from_hex(entry["dropped"]), None)
        elif "paid" in entry:
            voucher = voucher_from_json(entry["paid"])
            paid = hub.routes.get(voucher.channel_id)
            if paid is not None and paid.virtual:
                learn_voucher(hub, paid, voucher, journal=False)
            elif paid is not None:
                paid.state, _ = hop(paid.state, RenterVoucher(voucher))
                if paid.state.forwarded:
                    paid.onward = sign_forward(hub.key, paid.terms,
                                               Forward(paid.state.forwarded))  # fmt: skip
