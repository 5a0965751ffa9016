"""The hub's rounds over its virtual routes (``core/shards/virtual.py``).

On a virtual route the hub signs nothing per second: the renter pays the provider
with vouchers that count on both ends. What the hub does, each round of
:meth:`Hub.tend <l2gpu.hub.service.Hub.tend>`:

- it reads its channel to the provider (outbound) from that shard's node, which
  shows the best voucher proven on it; it checks the renter's signature itself and
  journals the voucher before it relies on it (:func:`learn_voucher`);
- once the outbound channel is settled (the provider closed, or the hub settled it
  after its deadline), it claims the same voucher on the renter's channel (inbound)
  as its payee, alone: ``CloseByProvider`` credits the amount plus the fee;
- when the renter starts closing the inbound channel while the outbound one is open,
  it closes the outbound one at once (conceding the best voucher it knows), so that
  the provider's last voucher is on the provider's shard within the outbound
  challenge period, before the inbound one ends (``CLAIM_MARGIN_S`` later);
- a lease over whose provider never closed: after the outbound deadline the hub
  settles it itself (the provider is paid the best voucher proven), then claims.

The node is trusted here for what it shows, not for money: a voucher is taken only
with the renter's signature, and the same voucher is in the shard's batch on L1.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.errors import L2gpuError
from l2gpu.core.shards.hub_messages import voucher_to_json
from l2gpu.core.shards.virtual import claimable
from l2gpu.core.types import Hash32, Wei

if TYPE_CHECKING:
    from l2gpu.hub.route_state import Route
    from l2gpu.hub.service import Hub

log = logging.getLogger(__name__)


def learn_voucher(hub: Hub, route: Route, voucher: Voucher, *, journal: bool = True) -> bool:
    """Take ``voucher`` (on the inbound channel's id) if it is the renter's and pays
    more than the best the hub holds; journaled first. True when taken."""
    terms = route.record.inbound.params.virtual
    assert terms is not None, "a virtual route's inbound channel has virtual terms"
    if not claimable(hub.chain_id, terms, int(voucher.amount), voucher.signature):
        return False
    credited = terms.credited(int(voucher.amount))
    with route.lock:
        if credited <= route.state.received:
            return False
        if journal:
            hub.journal.append({"paid": voucher_to_json(voucher)})
        # forwarded: what the provider can claim on the outbound channel, covered by
        # this voucher on the inbound one (the hub co-signs closes up to it)
        route.state = replace(route.state, received=credited, best_inbound=voucher,
                              forwarded=int(voucher.amount))  # fmt: skip
    return True


def tend_virtual(hub: Hub, route: Route, clocks: dict[int, int]) -> None:
    """One round over a virtual route (see the module)."""
    a, b = route.record.inbound_shard, route.record.outbound_shard
    try:
        found = _outbound(hub, route)
        inbound = "settled" if route.finished else hub.rails[a].status(route.record.inbound)
        now = clocks[b] if b in clocks else clocks.setdefault(b, hub.rails[b].now())
    except L2gpuError as exc:
        log.warning("a shard did not answer: %s", exc.what)
        return
    outbound = str(found.get("status", "missing"))
    seen = found.get("voucher")
    if isinstance(seen, dict):
        inbound_id = route.record.inbound.channel_id
        try:
            voucher = Voucher(Hash32(inbound_id), Wei(int(seen["amount"])),
                              bytes.fromhex(str(seen["signature"]).removeprefix("0x")))  # fmt: skip
        except (KeyError, ValueError) as exc:
            log.warning("shard %s showed a malformed voucher: %s", b, exc)
        else:
            learn_voucher(hub, route, voucher)
    if outbound in ("settled", "missing"):
        route.outbound_final = True
    deadline = int(found.get("expires_at", 0)) + int(route.record.outbound.params.challenge_period)
    if inbound in ("settled", "missing"):
        route.finished = True
        if route.outbound_final:
            route.reclaimed = True
        else:
            _submit(hub, hub._reclaim, route, outbound)
    elif route.outbound_final:
        _submit(hub, hub._claim, route)
    elif inbound == "closing" and outbound == "open":
        _submit(hub, hub._reclaim, route, "open")  # conceding the best voucher it knows
    elif outbound == "closing" or (outbound == "open" and now >= deadline):
        _submit(hub, hub._reclaim, route, "closing")  # settles once its deadline passed


def _outbound(hub: Hub, route: Route) -> dict[str, Any]:
    """The outbound channel as its shard's node shows it (``{}``: not there)."""
    from l2gpu.node.client import NodeError

    try:
        return dict(hub.clients[route.record.outbound_shard].channel(
            str(route.record.outbound.channel_id)))  # fmt: skip
    except NodeError as exc:
        if exc.status == 404:
            return {}
        raise


def _submit(hub: Hub, work: Any, *args: Any) -> None:
    route = args[0]
    route.closing = True
    hub._closers.submit(work, *args)
