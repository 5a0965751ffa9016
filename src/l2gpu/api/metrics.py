"""Prometheus metrics of the market API (``GET /metrics``).

Two kinds, each on the app's own registry (two apps in one process, as in tests,
never collide):

- **Requests**, counted as they happen by an ASGI wrapper: requests by method,
  route template and status, and a latency histogram by method and route. The route
  is the template (``/leases/{lease_id}``), never the raw path, so a client cannot
  grow the series without bound; a path that matches no route counts as
  ``unmatched``.
- **The market's state**, read from the database when Prometheus scrapes: leases
  by state, active offers, GPU-seconds and wei metered, providers heard from.
  Read at scrape time rather than kept in counters, they stay true across
  restarts and across several API processes over one database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Numeric, cast, func, select
from sqlalchemy.orm import Session
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.db.market_models import LeaseRow, OfferRow, Provider

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
LEASE_STATES = tuple(state.value for state in LeaseStatus)
# Any token passes as a method: the rest count as "other", so no client grows the series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Request counters and latencies, wrapped around the app (see the module)."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, router: Any) -> None:
        self.app = app
        self.router = router  # the FastAPI app whose route templates label the requests
        self.requests = Counter(
            "l2gpu_market_requests", "Requests answered, by method, route and status",
            ["method", "route", "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "l2gpu_market_request_seconds", "Time to answer a request, by method and route",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; count it and time it when its answer starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = _route(self.router, scope)
            self.requests.labels(method, route, str(status["code"])).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - started)


def _route(app: Any, scope: Scope) -> str:
    """The template of the route ``scope`` matches, or ``unmatched``."""
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class MarketStateCollector(Collector):
    """The market's state, read from its database at each scrape."""

    def __init__(self, engine: Engine, clock: Any) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Any]:
        """Leases by state, active offers, GPU-seconds and wei metered, providers."""
        with Session(self.engine) as session:
            counted = session.execute(
                select(LeaseRow.status, func.count()).group_by(LeaseRow.status)
            ).all()
            by_state = {str(state): int(n) for state, n in counted}
            gpu_seconds = session.scalar(
                select(func.coalesce(func.sum(LeaseRow.metered_seconds * LeaseRow.num_gpus), 0))
            )
            # wei as text, summed as SQL NUMERIC (exact on PostgreSQL; Prometheus keeps
            # a float64 anyway)
            paid = session.scalar(select(func.coalesce(func.sum(cast(LeaseRow.paid, Numeric)), 0)))
            now = int(self.clock())
            offers = session.scalar(
                select(func.count()).where(OfferRow.status == "active", OfferRow.expires_at > now)
            )
            providers = session.scalar(select(func.count()).select_from(Provider))
        leases = GaugeMetricFamily("l2gpu_market_leases", "Leases by state", labels=["state"])
        for state in sorted(set(LEASE_STATES) | set(by_state)):
            leases.add_metric([state], int(by_state.get(state, 0)))
        yield leases
        yield GaugeMetricFamily("l2gpu_market_offers_active", "Offers listed and unexpired",
                                value=int(offers or 0))  # fmt: skip
        yield GaugeMetricFamily("l2gpu_market_providers", "Providers the market has heard from",
                                value=int(providers or 0))  # fmt: skip
        sold = CounterMetricFamily("l2gpu_market_gpu_hours_sold",
                                   "GPU-hours metered on leases, all time")  # fmt: skip
        sold.add_metric([], int(gpu_seconds or 0) / 3600)
        yield sold
        wei = CounterMetricFamily("l2gpu_market_paid_wei", "Wei paid by vouchers, all time")
        wei.add_metric([], float(paid or 0))
        yield wei


def market_registry(engine: Engine, clock: Any) -> CollectorRegistry:
    """A registry holding the market's state collector (requests are added by
    :class:`RequestMetrics`)."""
    registry = CollectorRegistry()
    registry.register(MarketStateCollector(engine, clock))
    return registry
