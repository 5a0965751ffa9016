"""The analytics page: adoption curves with Rogers segments, demand forecasts with
prediction intervals, usage patterns and the settlement designs table, as charts.

The content comes from the shared data sets and takes tens of seconds of fitting and
backtesting (``analytics_data.compute_view``), so it is computed once per console,
in a background thread started by the first visit, and kept. Until it is ready the
page says "computing…" and htmx asks again every second (without JavaScript the page
refreshes itself). A failed computation is shown with its reason; the next visit
tries again. At most one computation runs at a time.
"""

# No "from __future__ import annotations": FastAPI reads the route annotations.

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

PageRenderer = Callable[..., Response]


@dataclass(frozen=True)
class Snapshot:
    """Where the computation stands: ``view`` when ready, ``error`` when it failed."""

    view: Any = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        """True once the page's content exists."""
        return self.view is not None


def _default_compute() -> Any:
    from l2gpu.web.analytics_data import compute_view  # pandas, scipy: only when asked

    return compute_view()


class AnalyticsCache:
    """Computes the page's content once, off the request path, and keeps it.

    ``compute`` returns the content (``analytics_data.AnalyticsView`` by default);
    ``computations`` counts the runs started, so a test can see there was one.
    """

    def __init__(self, compute: Callable[[], Any] | None = None) -> None:
        self._compute = compute or _default_compute
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._running = False
        self._snapshot = Snapshot()
        self.computations = 0

    def get(self, *, retry: bool = True) -> Snapshot:
        """The content if ready; otherwise start computing it (once) and say so.
        After a failure it starts again only when ``retry`` (a visit, not a poll)."""
        with self._lock:
            failed = self._snapshot.error is not None
            if self._snapshot.ready or self._running or (failed and not retry):
                return self._snapshot
            self._running = True
            self._done.clear()
            self._snapshot = Snapshot()
            self.computations += 1
            snapshot = self._snapshot
        threading.Thread(target=self._run, name="l2gpu-analytics", daemon=True).start()
        return snapshot

    def wait(self, timeout: float) -> Snapshot:
        """Start if needed and wait up to ``timeout`` seconds for the outcome."""
        self.get()
        self._done.wait(timeout)
        with self._lock:
            return self._snapshot

    def _run(self) -> None:
        try:
            snapshot = Snapshot(view=self._compute())
        except Exception as exc:
            snapshot = Snapshot(error=f"{type(exc).__name__}: {exc}"[:500])
        with self._lock:
            self._snapshot = snapshot
            self._running = False
            self._done.set()


def analytics_router(page: PageRenderer, cache: AnalyticsCache) -> APIRouter:
    """The page's routes; ``page(request, template, **context)`` renders in the console's
    frame (the signed-in user, the banners)."""
    router = APIRouter()

    def context(retry: bool) -> dict[str, Any]:
        snapshot = cache.get(retry=retry)
        return {"view": snapshot.view, "failure": snapshot.error}

    @router.get("/analytics", response_class=HTMLResponse)
    def analytics(request: Request) -> Response:
        """Adoption, forecasts, usage and the designs, as charts ("computing…" at first)."""
        return page(request, "analytics.html", **context(retry=True))

    @router.get("/analytics/body", response_class=HTMLResponse)
    def analytics_body(request: Request) -> Response:
        """The page's content alone: htmx asks for it every second until it is ready."""
        return page(request, "analytics_body.html", **context(retry=False))

    return router
