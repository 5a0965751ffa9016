"""What the hub co-signs on a shard, and the inbound channels it lets go unrouted.

A shard's node asks each party of a transaction that needs two signatures; the hub
answers (``HubRunner``'s ``cosign_until``) with :func:`agreed_on`, which accepts:

- its own transactions (only what it sent: a sequencer could put in more);
- a provider's cooperative close of a routed outbound channel for no more than the
  hub forwarded;
- a renter's cooperative close of its channel to the hub (inbound) for no less than
  the best voucher the hub holds, after which the route forwards nothing (on a
  virtual route, only once the channel to the provider is settled: until then the
  provider may prove a later voucher, which the hub must be able to claim);
- a renter's cooperative close of an inbound channel no route uses (the hub refused
  the route, or the renter never asked), for any amount: the hub forwarded nothing on
  it, so it is owed nothing. From then on the hub routes nothing over that channel
  (:attr:`Hub.closing_unrouted`, journaled), so a renter cannot close it and have it
  routed in the same breath.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.transactions import CooperativeClose, UserTx
from l2gpu.core.types import Hash32

if TYPE_CHECKING:
    from l2gpu.hub.service import Hub

UNROUTED_LOOKUP = 100
"""The hub's newest channels as provider searched for an unrouted one being closed
(what the node lists in one answer); an older one is closed by its renter alone."""


def agreed_on(hub: Hub, shard: int) -> Any:
    """The predicate the hub answers co-signature requests on ``shard`` with."""
    me = hub.clients[shard].account()["index"]

    def agreed(tx: UserTx) -> bool:
        if tx.sender == me:  # only what the hub itself sent: a sequencer could put in more
            return bool(hub.clients[shard].sent(tx))
        if not isinstance(tx, CooperativeClose):
            return False
        route = hub._by_outbound.get((shard, tx.channel))
        if route is None:  # a channel opened since: learn the indices of open routes
            learn_outbound_indices(hub, shard)
            route = hub._by_outbound.get((shard, tx.channel))
        if route is None:
            return agrees_inbound_close(hub, shard, tx)
        return int(tx.amount) <= route.state.forwarded

    return agreed


def agrees_inbound_close(hub: Hub, shard: int, tx: CooperativeClose) -> bool:
    """A renter closing its channel to the hub (a restarted renter's 'l2gpu settle'):
    agreed for no less than the best voucher the hub holds; from then on the route
    forwards nothing (a voucher after it would be paid by nobody). A channel no route
    uses: :func:`agrees_unrouted_close`."""
    for route in list(hub.routes.values()):
        if route.record.inbound_shard != shard or route.finished:
            continue
        if route.inbound_index is None:
            try:
                found = hub.clients[shard].channel(str(route.record.inbound.channel_id))
            except L2gpuError:
                continue
            route.inbound_index = found.get("index")
        if route.inbound_index == tx.channel:
            with route.lock:  # no voucher is taken between the check and the claim
                if int(tx.amount) < route.state.received:
                    return False
                if route.virtual and not route.outbound_final:
                    return False  # the provider may still prove a later voucher
                # on disk before the agreement: a hub restarted after it must not take
                # a voucher on the closed channel and sign onward for it
                hub.journal.append({"claimed": str(route.record.inbound.channel_id)})
                route.claimed = True
                return True
    return agrees_unrouted_close(hub, shard, tx)


def agrees_unrouted_close(hub: Hub, shard: int, tx: CooperativeClose) -> bool:
    """A renter closing an open channel to the hub that no unfinished route uses: the
    hub was paid nothing on it and forwarded nothing, so any amount is agreed. Marked
    (and journaled) under the lock routes open under, so that no route opens on it
    after this answer."""
    try:
        mine = hub.clients[shard].channels_of(hub.address, role="provider")
    except L2gpuError:
        return False  # the node is away: the renter may close alone
    found = next((c for c in mine[:UNROUTED_LOOKUP] if c.get("index") == tx.channel), None)
    if found is None or found.get("status") != "open":
        return False
    inbound_id = Hash32.from_hex(str(found["channel_id"]))
    with hub._opening:
        route = hub.routes.get(inbound_id)
        if route is not None and not route.finished:
            return False  # routed after all (its index was not known): the rule above
        if inbound_id not in hub.closing_unrouted:
            hub.journal.append({"closing_unrouted": str(inbound_id)})
            hub.closing_unrouted.add(inbound_id)
    return True


def learn_outbound_indices(hub: Hub, shard: int) -> None:
    """Read the index of every unfinished route's outbound channel on ``shard`` that
    is not known yet (one request each, once: a co-signature answers in time)."""
    for route in list(hub.routes.values()):
        if route.record.outbound_shard != shard or route.finished:
            continue
        if route.outbound_index is None:
            index = hub._outbound_index(route)
            if index is not None:
                hub._by_outbound[(shard, index)] = route
