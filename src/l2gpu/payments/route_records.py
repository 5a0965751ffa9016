"""A renter's routes through hubs, kept in its data folder so that a restarted renter
finishes a routed lease through the rail (:mod:`l2gpu.payments.routed_finish`, run by
``l2gpu settle``) rather than by hand.

The routed rail (:mod:`l2gpu.payments.routed_rail`) writes each part of a route
before it acts on it: the inbound channel once its open has a receipt (before the
route is asked for), the hub's outbound channel with its ``RoutedFor`` attestation
(before the renter pays through it), each voucher it signs to the hub (before the hub
has it), and what the hub acknowledged (after its answer). A crash anywhere leaves a
record that says no less than the renter owes and no more than it signed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.shards.hub_messages import voucher_from_json, voucher_to_json
from l2gpu.core.types import Hash32
from l2gpu.payments.json_records import JsonRecords

FILE_NAME = "hub-routes.json"
STATES = ("open", "closing", "done")
"""A route's states, in the only order it moves through them."""
KEEP_DONE = 64  # finished routes kept (newest), for 'l2gpu settle' to say what became of them


@dataclass(frozen=True)
class RenterRoute:
    """One routed lease as its renter keeps it."""

    inbound: ChannelDescription
    """The renter's channel to the hub, on its home shard."""
    hub_url: str
    shard_urls: tuple[str, ...]
    """The shards' nodes, in shard order (the home shard's among them)."""
    home: int
    outbound: ChannelDescription | None = None
    """The hub's channel to the provider, the lease's (with the hub's attestation);
    None until the hub answered the route request."""
    best: Voucher | None = None
    """The highest voucher this renter signed on the inbound channel."""
    acknowledged: int = 0
    """The most the hub acknowledged with a voucher onward (wei to the hub)."""
    state: str = "open"
    """``open``, ``closing`` (the renter started closing the inbound channel), ``done``."""
    started_at: int = 0

    @property
    def channel_id(self) -> Hash32:
        """The inbound channel's id, the route's key."""
        return self.inbound.channel_id

    @property
    def node(self) -> str:
        """The home shard's node, where the inbound channel lives."""
        return self.shard_urls[self.home]

    @property
    def signed(self) -> int:
        """What the best voucher gives the hub (0 before the first); on a virtual
        channel's end, the voucher's amount and the hub's fee on it."""
        return 0 if self.best is None else self.inbound.params.credited(int(self.best.amount))

    def to_json(self) -> dict[str, Any]:
        """The record as stored (wei as decimal strings)."""
        return {"inbound": self.inbound.to_json(), "hub": self.hub_url,
                "shards": list(self.shard_urls), "home": self.home,
                "outbound": None if self.outbound is None else self.outbound.to_json(),
                "best": None if self.best is None else voucher_to_json(self.best),
                "acknowledged": str(self.acknowledged), "state": self.state,
                "started_at": self.started_at}  # fmt: skip

    @classmethod
    def from_json(cls, data: Any) -> RenterRoute:
        """A stored record; raises KeyError, TypeError or ValueError for a bad one."""
        outbound, best = data.get("outbound"), data.get("best")
        shards = tuple(str(url) for url in data["shards"])
        route = cls(
            ChannelDescription.from_json(data["inbound"]), str(data["hub"]), shards,
            int(data["home"]),
            None if outbound is None else ChannelDescription.from_json(outbound),
            None if best is None else voucher_from_json(best),
            int(str(data["acknowledged"])), str(data["state"]), int(data.get("started_at", 0)),
        )  # fmt: skip
        if route.state not in STATES or not 0 <= route.home < len(shards):
            raise ValueError("not a route record")
        return route


class RenterRoutes:
    """The routes of one renter, in a JSON file of its data folder (a record this
    version cannot read is kept as it is through every write)."""

    def __init__(self, data_dir: Path) -> None:
        self._records = JsonRecords(data_dir / FILE_NAME)

    def all(self) -> list[RenterRoute]:
        """Every readable route, oldest first."""
        return [r for r in (_parse(item) for item in self._records.read()) if r is not None]

    def pending(self) -> list[RenterRoute]:
        """The routes not finished yet."""
        return [route for route in self.all() if route.state != "done"]

    def get(self, channel_id: Hash32) -> RenterRoute | None:
        """The route of inbound channel ``channel_id``, if recorded."""
        return next((r for r in self.all() if r.channel_id == channel_id), None)

    def add(self, route: RenterRoute) -> None:
        """Record a new route (replacing one of the same inbound channel)."""
        record = route.to_json()

        def added(items: list[Any]) -> list[Any]:
            kept = [
                i for i in items if (r := _parse(i)) is None or r.channel_id != route.channel_id
            ]
            done = [i for i in kept if (r := _parse(i)) is not None and r.state == "done"]
            stale = {id(i) for i in done[: max(0, len(done) - KEEP_DONE)]}
            return [*(i for i in kept if id(i) not in stale), record]

        self._records.update(added)

    def routed(self, channel_id: Hash32, outbound: ChannelDescription) -> None:
        """The hub's outbound channel of the route."""
        self._change(channel_id, lambda r: replace(r, outbound=outbound))

    def signed(self, channel_id: Hash32, voucher: Voucher) -> None:
        """A voucher the renter signed on the inbound channel (kept if the best)."""
        self._change(channel_id, lambda r: r
                     if r.signed >= r.inbound.params.credited(voucher.amount)
                     else replace(r, best=voucher))  # fmt: skip

    def acknowledged(self, channel_id: Hash32, amount: int) -> None:
        """The hub answered a voucher for ``amount`` with its voucher onward."""
        self._change(channel_id, lambda r: replace(r, acknowledged=max(r.acknowledged, amount)))

    def mark(self, channel_id: Hash32, state: str) -> None:
        """Move the route on to ``state`` (never back: a finished route stays finished)."""
        self._change(channel_id, lambda r: r if STATES.index(r.state) >= STATES.index(state)
                     else replace(r, state=state))  # fmt: skip

    def _change(self, channel_id: Hash32, change: Callable[[RenterRoute], RenterRoute]) -> None:
        def changed(items: list[Any]) -> list[Any]:
            out = []
            for item in items:
                route = _parse(item)
                out.append(item if route is None or route.channel_id != channel_id
                           else change(route).to_json())  # fmt: skip
            return out

        self._records.update(changed)


def _parse(item: Any) -> RenterRoute | None:
    """A stored route, or None for one this version cannot read."""
    try:
        return RenterRoute.from_json(item)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError, L2gpuError):
        return None
