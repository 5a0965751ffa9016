"""A running rollup node's sealing loop.

``l2gpu up`` runs :class:`Sealer` in threads beside uvicorn; the demo and the tests
embed a whole node with :mod:`l2gpu.scenarios.embedded_rollup`, which runs it too.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from l2gpu.core.errors import L2gpuError
from l2gpu.node.node import RollupNode

if TYPE_CHECKING:
    pass

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
            else:
                if not node.unposted:  # L1 answers and nothing waits to be posted
                    node.healthy()
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
