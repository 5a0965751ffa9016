"""The market's check that a lease's channel exists, is open and holds the lease.

Before it, the market took an offer for any well-formed channel description, and the
provider's agent refused the lease only on its next poll: an attack on running
processes held every offer of a market with leases on channels that exist nowhere
(249 in 30 s, from fresh keys, at no cost), and honest renters who raced them lost
the offer after funding a channel. With this check a lease takes an offer only on a
channel that is open (or soft-confirmed in the rollup) and funded: holding offers
costs deposits.

The check is the provider's own (:meth:`ChannelRail.check`), run by the market on
read-only rails: the rollup node's API for ``hybrid`` channels, a zk node's for ``zk``
ones, a Plasma operator's for ``plasma`` leases (the market asks its node which it
is), the ChannelManager on L1 for ``channel-l1`` ones.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription


class ChannelUnverifiable(L2gpuError):
    """The rail that would show the channel cannot be read now."""


@dataclass
class ChannelCheck:
    """Reads channels on the rails a market serves: ``node_url``, a rollup node
    (hybrid), and ``manager``, the market's own ChannelManager on L1 (channel-l1, a
    :class:`~l2gpu.l1.contracts.channel_manager.ChannelManagerClient`). A channel in any other
    contract is refused: anyone can deploy a contract that says "open"."""

    node_url: str | None = None
    manager: Any = None
    # The other shards' rollup nodes of a sharded market (``node_url`` is shard 0's):
    # a hybrid channel is read on the shard whose Rollup its description names.
    shard_urls: tuple[str, ...] = ()
    _shard_rails: dict[Any, Any] | None = field(default=None, repr=False)
    _node_rail: Any = field(default=None, repr=False)
    _node_design: str | None = field(default=None, repr=False)

    def settlements(self) -> list[str]:
        """The designs whose channels this check can read (``rollup node`` for a node
        that has not answered yet: whether it is a zk node is asked when it answers)."""
        node = None
        if self.node_url is not None:
            node = self._design_of_node() or "rollup node"
        return [name for name, ready in ((node, self.node_url), ("channel-l1", self.manager))
                if ready is not None and name is not None]  # fmt: skip

    def _design_of_node(self) -> str | None:
        """``zk`` when the node answers ``/zk/status``, ``plasma`` when it answers
        ``/plasma/status``, ``hybrid`` when it answers otherwise, None when it does not
        answer (asked again next time)."""
        if self._node_design is None:
            import httpx

            design = "hybrid"
            for name, path in (("zk", "/zk/status"), ("plasma", "/plasma/status")):
                try:
                    answer = httpx.get(f"{self.node_url}{path}", timeout=10)
                except httpx.HTTPError:
                    return None
                if answer.status_code == 200:
                    design = name
                    break
            self._node_design = design
        return self._node_design

    def __call__(self, channel: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """Why the channel cannot pay for the lease (None: it can); raises
        :class:`ChannelUnverifiable` when its rail does not answer."""
        settlement = channel.settlement
        served = self.settlements()
        if "rollup node" in served and settlement in ("hybrid", "zk", "plasma"):
            raise ChannelUnverifiable(f"the rollup node at {self.node_url} did not answer",
                                      "retry in a minute")  # fmt: skip
        if settlement not in served:
            return (
                f"this market verifies channels on {', '.join(served) or 'no rail'}, "
                f"not on {settlement}"
            )
        try:
            rail = self._shard_rail(channel) if self.shard_urls else self._rail(settlement)
            problem: str | None = rail.check(channel, max_cost=max_cost, ends_by=ends_by)
        except ChannelUnverifiable:
            raise
        except L2gpuError as exc:
            if "did not answer" in exc.what:  # the node is down: not the renter's fault
                raise ChannelUnverifiable(exc.what, "retry in a minute") from exc
            return exc.what
        return problem

    def _shard_rail(self, channel: ChannelDescription) -> Any:
        """The rail of the shard whose Rollup ``channel`` names (the first shard's when
        none does: its check then says the channel is in another rollup)."""
        if self._shard_rails is None:
            from l2gpu.core.crypto.secp256k1 import PrivateKey
            from l2gpu.node.client import L2Client, NodeError
            from l2gpu.payments.rollup_rail import RollupChannelRail

            rails = {}
            for url in (str(self.node_url), *self.shard_urls):
                client = L2Client(url, PrivateKey(secrets.token_bytes(32)), timeout=10)
                try:
                    rail = RollupChannelRail(client)
                except NodeError as exc:
                    raise ChannelUnverifiable(exc.what, "retry in a minute") from exc
                rails[rail.rollup] = rail
            self._shard_rails = rails
        rails = self._shard_rails
        return rails.get(channel.manager) or next(iter(rails.values()))

    def _rail(self, settlement: str) -> Any:
        if settlement == "channel-l1":
            from l2gpu.payments.rails import L1ChannelRail

            # Reading only: the rail's account signs nothing in check().
            return L1ChannelRail(self.manager, None)  # type: ignore[arg-type]
        if self._node_rail is None and settlement == "plasma":
            from l2gpu.payments.plasma_rail import plasma_rail_reader

            try:
                self._node_rail = plasma_rail_reader(str(self.node_url))
            except L2gpuError as exc:
                raise ChannelUnverifiable(exc.what, "retry in a minute") from exc
        if self._node_rail is None and settlement == "zk":
            from l2gpu.payments.zk_rail import zk_rail_reader

            try:
                self._node_rail = zk_rail_reader(str(self.node_url))
            except L2gpuError as exc:
                raise ChannelUnverifiable(exc.what, "retry in a minute") from exc
        if self._node_rail is None:
            from l2gpu.core.crypto.secp256k1 import PrivateKey
            from l2gpu.node.client import L2Client, NodeError
            from l2gpu.payments.rollup_rail import RollupChannelRail

            # A key only to build the client: reading a channel signs nothing.
            client = L2Client(str(self.node_url), PrivateKey(secrets.token_bytes(32)), timeout=10)
            try:
                self._node_rail = RollupChannelRail(client)
            except NodeError as exc:
                raise ChannelUnverifiable(exc.what, "retry in a minute") from exc
        return self._node_rail
