"""The liquidity provider at work: its loop in a thread, its API on a port."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from l2gpu.core.errors import L2gpuError
from l2gpu.liquidity.provider import LiquidityProvider

log = logging.getLogger(__name__)
STEP_EVERY_S = 2.0


@dataclass
class RunningLp:
    """A provider whose loop runs until :meth:`close` (and its API, when served)."""

    provider: LiquidityProvider
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    server: Any = None
    url: str | None = None
    done: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Stop the loop and the API."""
        self.stop.set()
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)


def _loop(running: RunningLp, every: float) -> None:
    """Step until stopped. A round that fails (L1 unreachable a while, or anything
    else) is logged, said by ``/lp``'s ``last_error``, and tried again after a pause
    that doubles up to a minute: the loop never dies while the API takes offers."""
    pause = every
    while not running.stop.is_set():
        try:
            lines = running.provider.step()
            running.provider.last_error, pause = None, every
        except Exception as exc:
            what = exc.what if isinstance(exc, L2gpuError) else f"{type(exc).__name__}: {exc}"
            lines = [f"round failed: {what}"]
            running.provider.last_error = what
            log.warning("lp: round failed: %s", what)
            pause = min(60.0, pause * 2)
        for line in lines:
            log.info("lp: %s", line)
        running.done += lines
        del running.done[:-1000]  # what the last rounds did, bounded
        running.stop.wait(pause)


def start_lp(provider: LiquidityProvider, *, serve: bool = True, port: int | None = None,
             every: float = STEP_EVERY_S) -> RunningLp:  # fmt: skip
    """Run ``provider``'s loop every ``every`` seconds, and its API on loopback when
    ``serve``."""
    running = RunningLp(provider)
    running.thread = threading.Thread(target=_loop, args=(running, every), name="lp-loop",
                                      daemon=True)  # fmt: skip
    running.thread.start()
    if serve:
        from l2gpu.liquidity.app import create_app
        from l2gpu.serving.loopback import serve_on_loopback

        running.server, running.url = serve_on_loopback(create_app(provider), "lp API", port)
    return running
