"""A running rollup node: the sealing loop, and (for embedding) its API on loopback.

``l2gpu up`` runs :class:`Sealer` in a thread beside uvicorn; the demo and the
tests embed a whole node with :func:`serve_node`, so that the market's parties talk
to it over HTTP exactly as they do in production.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from l2gpu.core.errors import L2gpuError
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.node import RollupNode

log = logging.getLogger("l2gpu.up")


@dataclass
class Sealer:
    """Follows L1 and posts a batch once its oldest input is ``interval`` s old or
    ``batch_size`` inputs wait; ``lock`` is shared with the API."""

    node: RollupNode
    lock: threading.Lock
    interval: float = 2.0
    batch_size: int = 1000
    stop: threading.Event = field(default_factory=threading.Event)

    def step(self) -> None:
        """One round: follow L1, post if due; a failure is logged and retried."""
        node = self.node
        try:
            with self.lock:
                node.follow_l1()
                due = node.batch_due(
                    max_transactions=self.batch_size, max_age=self.interval, now=time.monotonic()
                )
                report = node.seal_and_post() if due else None
            if report is not None and report.batch is not None:
                log.info("batch %d: %d L1 operations, %d commitments, %d dropped",
                         node.posted[-1], report.deposits, len(report.commitments),
                         len(report.dropped))  # fmt: skip
        except L2gpuError as exc:
            log.error("sealing failed: %s", exc)

    def run(self) -> None:
        """Step until :attr:`stop` is set."""
        while not self.stop.is_set():
            self.step()
            self.stop.wait(min(self.interval, 0.2))

    def start(self) -> threading.Thread:
        """Run in a daemon thread."""
        thread = threading.Thread(target=self.run, name="sealer", daemon=True)
        thread.start()
        return thread


@dataclass
class EmbeddedNode:
    """A node serving its API on loopback, with its sealing loop running."""

    node: RollupNode
    url: str
    sealer: Sealer
    server: object

    def stop(self) -> None:
        """Stop sealing and serving."""
        self.sealer.stop.set()
        self.server.should_exit = True  # type: ignore[attr-defined]


def serve_node(
    node: RollupNode, desk: CoSignDesk, *, interval: float = 0.2, batch_size: int = 1000
) -> EmbeddedNode:
    """Serve ``node`` on a free loopback port and seal every ``interval`` seconds."""
    import uvicorn

    from l2gpu.cli.market_cmd import free_loopback_port
    from l2gpu.node.api import create_app

    lock = threading.Lock()
    sealer = Sealer(node, lock, interval, batch_size)
    sealer.start()
    port = free_loopback_port()
    config = uvicorn.Config(
        create_app(node, desk, lock), host="127.0.0.1", port=port, log_level="error"
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="node-api", daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            sealer.stop.set()
            raise L2gpuError("the rollup node's API did not start", "check that loopback works")
        time.sleep(0.02)  # waiting for the server thread to listen
    return EmbeddedNode(node, f"http://127.0.0.1:{port}", sealer, server)
