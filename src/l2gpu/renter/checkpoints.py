"""The renter's copy of a job's checkpoints, for ``launch`` to resume a preempted job on
another provider.

The convention (docs/workloads.md): a job that can resume writes what it needs under
``checkpoints/`` in its working folder, each file written whole and then renamed into
place, and on start reads ``checkpoints/`` if it is there. While a lease runs,
:class:`Checkpoints` fetches that folder from the provider's agent every ``every``
seconds, in a background thread (the paying loop must not wait on it), and keeps the
newest complete copy (a fetch that fails leaves the previous copy as it was). When
the lease is preempted it tries once more if the agent may still answer; the next
attempt then starts in the task's folder with the copy laid over it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from l2gpu.archive import Layer
from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease import AGENT_SHUT_DOWN, AGENT_SILENT
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.workdir import CHECKPOINTS
from l2gpu.renter.outputs import fetch_files
from l2gpu.wire import LeasePublic, LogChunk

log = logging.getLogger(__name__)
FETCH_WAIT_S = 60.0
FINAL_WAIT_S = 15.0


def agent_may_answer(reason: str) -> bool:
    """Whether the agent of a preempted lease may still send its folder: not when it
    went silent or said it was shutting down."""
    return AGENT_SILENT not in reason and AGENT_SHUT_DOWN not in reason


class Checkpoints:
    """The newest copy of a running job's ``checkpoints/``, under ``folder``."""

    def __init__(
        self,
        client: MarketClient,
        folder: Path,
        *,
        every: float,
        clock: Callable[[], int],
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client  # its own: it is used from the fetching thread
        self.folder = folder
        self.every = every
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self._last = -float("inf")
        self._thread: threading.Thread | None = None
        self.fetched = 0
        self.problem = ""

    @property
    def copy(self) -> Path:
        """Where the copy is: ``copy/checkpoints/...``."""
        return self.folder / "copy"

    def layer(self) -> Layer:
        """The copy, to lay over the task's folder for the next attempt."""
        return Layer(self.copy, (CHECKPOINTS,), missing_ok=True)

    def has_copy(self) -> bool:
        """Whether a checkpoint was fetched (by this launch or an earlier attempt)."""
        return (self.copy / CHECKPOINTS).is_dir()

    def watch(self, info: LeasePublic, _output: Sequence[LogChunk]) -> None:
        """Called every second by the paying loop: start a fetch when one is due."""
        if self.every <= 0 or info.status is not LeaseStatus.RUNNING:
            return
        busy = self._thread is not None and self._thread.is_alive()
        if busy or self.monotonic() - self._last < self.every:
            return
        self._last = self.monotonic()
        self._thread = threading.Thread(target=self._fetch, args=(info.id, FETCH_WAIT_S),
                                        name="checkpoints", daemon=True)  # fmt: skip
        self._thread.start()

    def after(self, info_id: int, status: LeaseStatus, reason: str) -> None:
        """Once the lease is over: wait for a fetch in flight; after a preemption, fetch
        once more if the agent may still answer (it keeps the folder a while)."""
        if self._thread is not None:
            self._thread.join(FETCH_WAIT_S + 5)
        if status is LeaseStatus.PREEMPTED and self.every > 0 and agent_may_answer(reason):
            self._fetch(info_id, FINAL_WAIT_S)

    def _fetch(self, lease_id: int, wait_s: float) -> None:
        try:
            fetch_files(self.client, lease_id, CHECKPOINTS, self.copy, issued_at=self.clock(),
                        wait_s=wait_s, swap=True, sleep=self.sleep,
                        monotonic=self.monotonic)  # fmt: skip
        except L2gpuError as exc:  # no checkpoint yet, or the agent is away: keep the last
            self.problem = exc.what
            log.info("checkpoints of lease %s not fetched: %s", lease_id, exc.what)
            return
        self.fetched += 1
        self.problem = ""
