"""Where the designs are deployed: one L1, its ChannelManager, a rollup node, a zk
rollup node, a zk validium node, a Plasma operator, and rollup shards with their
bridge and a hub."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from l2gpu.core.crypto.secp256k1 import PrivateKey


@dataclass
class DesignWorld:
    """One L1 (``chain``) with a ChannelManager (``manager``) and a Rollup whose node
    serves at ``node_url`` (``rollup``: its L1 client). ``l1_finality_s``: how long an
    L1 block takes to be final on the L1 this stands for (an input: a dev chain is
    final at once; Ethereum's is two epochs)."""

    chain: Any
    manager: Any = None
    rollup: Any = None
    node_url: str | None = None
    l1_finality_s: int = 768
    zk: Any = None  # the ZkRollup's L1 client, beside its node at zk_node_url
    zk_node_url: str | None = None
    validium: Any = None  # a validium ZkRollup's L1 client, beside its node at validium_node_url
    validium_node_url: str | None = None
    plasma: Any = None  # a Plasma contract's L1 client, beside its operator at plasma_node_url
    plasma_node_url: str | None = None
    # N rollup shards (their nodes' URLs and L1 clients, in shard order), their bridge,
    # and a hub that carries leases between them
    shard_urls: list[str] = field(default_factory=list)
    shard_rollups: list[Any] = field(default_factory=list)
    bridge: Any = None
    hub_url: str | None = None
    _clients: dict[bytes, Any] = field(default_factory=dict)

    def l2(self, party: Any) -> Any:
        """The rollup node client of an L1 account (one per party, reused)."""
        from l2gpu.node.client import L2Client

        if self.node_url is None:
            raise ValueError("this world has no rollup node")
        key = bytes(party.key)
        if key not in self._clients:
            self._clients[key] = L2Client(self.node_url, PrivateKey(key))
        return self._clients[key]
