"""A running rollup node: the sealing loop, and (for embedding) its API on loopback.

``l2gpu up`` runs :class:`Sealer` in a thread beside uvicorn; the demo and the
tests embed a whole node with :func:`serve_node`, so that the market's parties talk
to it over HTTP exactly as they do in production.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from l2gpu.core.errors import L2gpuError
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.node import RollupNode

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.l1 import Chain

log = logging.getLogger("l2gpu.up")


@dataclass
class Sealer:
    """Follows L1 and seals a batch once its oldest input is ``interval`` s old or
    ``batch_size`` inputs wait; posts sealed batches, backing off while L1 fails."""

    node: RollupNode
    interval: float = 2.0
    batch_size: int = 1000
    stop: threading.Event = field(default_factory=threading.Event)
    max_backoff: float = 30.0
    _backoff: float = 0.0
    _retry_at: float = 0.0
    _sealed: threading.Event = field(default_factory=threading.Event)
    follow_every: float = 0.5
    _follow_at: float = 0.0

    def step(self) -> None:
        """One round: follow L1, seal if due, post what waits (tests call this; the
        running node seals and posts in two threads). Nothing here raises."""
        self.seal_step()
        self._post()

    def seal_step(self) -> bool:
        """Follow L1 and seal if due; True if a batch was sealed. A failure is logged
        (and shown in the node's status) and the next round retries."""
        node = self.node
        if time.monotonic() >= self._follow_at:  # an L1 read costs an RPC: twice a second
            self._follow_at = time.monotonic() + self.follow_every
            try:
                node.follow_l1()
            except Exception as exc:  # L1 unreachable or answering nonsense: keep sequencing
                node.degrade(f"reading L1 failed: {exc}")
        try:
            if node.batch_due(max_transactions=self.batch_size, max_age=self.interval,
                              now=time.monotonic()):  # fmt: skip
                report = node.seal_and_post(post=False)
                if report.batch is not None:
                    log.info("sealed: %d L1 operations, %d commitments, %d dropped",
                             report.deposits, len(report.commitments),
                             len(report.dropped))  # fmt: skip
                    self._sealed.set()
                    return True
        except L2gpuError as exc:
            log.error("sealing failed (nothing was applied): %s", exc)
        except Exception:
            log.exception("sealing failed (nothing was applied)")
        return False

    def _post(self) -> None:
        node = self.node
        if not node.unposted or time.monotonic() < self._retry_at:
            return
        node.post_pending()
        if node.health.degraded:
            self._backoff = min(self.max_backoff, max(self.interval, self._backoff * 2))
            self._retry_at = time.monotonic() + self._backoff
        else:
            self._backoff = 0.0

    def run(self) -> None:
        """Seal until :attr:`stop` is set."""
        while not self.stop.is_set():
            if not self.seal_step():
                self.stop.wait(min(self.interval, 0.05))

    def run_poster(self) -> None:
        """Post sealed batches until :attr:`stop` is set: posting (an L1 transaction and
        its receipt) never holds up the next seal."""
        while not self.stop.is_set():
            self._sealed.wait(0.5)
            self._sealed.clear()
            try:
                self._post()
            except Exception:  # post_pending reports L1 failures itself; this is a bug
                log.exception("posting failed")

    def start(self) -> threading.Thread:
        """Run the sealing and posting loops in daemon threads; return the sealer's."""
        threading.Thread(target=self.run_poster, name="poster", daemon=True).start()
        thread = threading.Thread(target=self.run, name="sealer", daemon=True)
        thread.start()
        return thread


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

    node.on_sealed.append(desk.wake_all)
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
    from l2gpu.core.crypto.bls import BlsSecretKey
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.l2.state import L2State
    from l2gpu.core.types import Address, ChainId
    from l2gpu.db import open_database
    from l2gpu.node.client import L2Client
    from l2gpu.node.rollup_client import RollupClient

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
