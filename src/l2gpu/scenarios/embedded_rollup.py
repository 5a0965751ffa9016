"""The embedded rollup: a Rollup deployed and bonded on a chain, parties with funded
L2 accounts, and its node serving its API on loopback with its sealing loop running.

The demo's market stage, the benchmarks and the tests use it so that the market's
parties talk to a node over HTTP exactly as they do in production, with no process
to start. ``l2gpu up`` runs the same node and :class:`~l2gpu.node.service.Sealer`
for real.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.state import L2State
from l2gpu.core.types import Address, ChainId
from l2gpu.db import open_database
from l2gpu.l1 import Chain
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.node.client import L2Client
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.node import RollupNode
from l2gpu.node.service import Sealer


@dataclass
class EmbeddedNode:
    """A node serving its API on loopback, with its sealing loop running."""

    node: RollupNode
    url: str
    sealer: Sealer
    server: Any
    folder: tempfile.TemporaryDirectory[str] | None = None

    def stop(self) -> None:
        """Stop sealing and serving (and drop the node's own folder, if it has one)."""
        self.sealer.stop.set()
        self.server.should_exit = True
        if self.folder is not None:
            self.folder.cleanup()


def serve_node(
    node: RollupNode, desk: CoSignDesk, *, interval: float = 0.2, batch_size: int = 1000
) -> EmbeddedNode:
    """Serve ``node`` on a free loopback port and seal every ``interval`` seconds."""
    from l2gpu.node.api import create_app
    from l2gpu.serving.loopback import serve_on_loopback

    node.on_sealed.append(desk.wake_sealed)
    sealer = Sealer(node, interval, batch_size)
    sealer.start()
    try:
        server, url = serve_on_loopback(create_app(node, desk), "rollup node API")
    except L2gpuError:
        sealer.stop.set()
        raise
    return EmbeddedNode(node, url, sealer, server)


def embedded_rollup(
    chain: Chain,
    depositors: list[LocalAccount],
    *,
    deposit: int = 10**18,
    interval: float = 0.2,
    cache_dir: Path | None = None,
    cosign_timeout: float = 5.0,
) -> EmbeddedNode:
    """A Rollup on ``chain`` (deployed and bonded by its first account), with each of
    ``depositors`` holding ``deposit`` wei in it (BLS keys derived from their keys),
    and its node served on loopback; returns once the node has credited the deposits.
    ``cosign_timeout``: how long a seal waits for co-signers (tests on a busy machine
    give more, so that a slow signer is not taken for a silent one)."""
    operator = chain.accounts[0]
    genesis = L2State(ChainId(chain.chain_id), Address(bytes(20))).root()
    rollup = RollupClient.deploy(chain, operator, genesis_root=genesis, cache_dir=cache_dir)
    rollup.stake(operator, 10**18)
    keys = [PrivateKey(bytes(account.key)) for account in depositors]
    for account, key in zip(depositors, keys, strict=True):
        rollup.deposit(account, BlsSecretKey.from_seed(key.secret), deposit)
    folder = tempfile.TemporaryDirectory(prefix="l2gpu-node-")
    desk = CoSignDesk(timeout=cosign_timeout)
    node = RollupNode(rollup, open_database(f"sqlite:///{folder.name}/node.db"), operator,
                      cosigners=desk)  # fmt: skip
    served = serve_node(node, desk, interval=interval)
    served.folder = folder
    deadline = time.monotonic() + 30
    for key in keys:  # the node credits the deposits in its next batch
        while True:
            try:
                L2Client(served.url, key).account()
                break
            except L2gpuError as exc:
                if time.monotonic() > deadline:
                    served.stop()
                    raise L2gpuError("the rollup node did not credit the deposits",
                                     "run it again") from exc  # fmt: skip
                time.sleep(0.05)  # waiting for the node's sealing thread
    return served
