"""The provider's page: the signed-in account as a provider.

Its machine (the inventory its agent reports with each heartbeat, and when it was
last heard from), its offers in any status, its leases (renter, start, seconds,
paid), and what it earned per day and how busy its GPUs were per hour and per day.

Everything comes from the market API, as the signed-in user: ``GET
/providers/{address}`` (public), ``GET /accounts/me/offers`` and ``GET
/leases?role=provider&since=`` (the caller's own only). Earnings and use are the
leases spread over local days and hours (:mod:`l2gpu.core.market.earnings`): a
running lease's share grows with every voucher, and the page's live part is
fetched again every two seconds.

Bounded: the newest 100 offers, and the newest 500 leases live or ended within the
last 14 days (the page says when there were more), of which 50 are listed.
"""

# No "from __future__ import annotations": FastAPI reads the route annotations.

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from l2gpu.client import ApiRequestError
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.earnings import Bucket, LeaseUse, spread_use
from l2gpu.core.types import Timestamp, Wei
from l2gpu.web.context import Console, ConsoleError
from l2gpu.web.display import day_boundaries, hour_boundaries, local_date, local_hour
from l2gpu.web.sessions import WebSession
from l2gpu.wire import LeasePublic

DAYS = 14
HOURS = 24
MAX_OFFERS = 100
MAX_LEASES = 500
LEASES_SHOWN = 50


@dataclass(frozen=True)
class Row:
    """One bucket as the page shows it."""

    label: str
    gpu_seconds: int
    earned: Wei
    percent: float
    """Utilization (of the machine's GPUs), or the share of the busiest bucket where
    the machine's GPUs are unknown: the bar's length."""
    utilization: str


def provider_router(console: Console) -> APIRouter:
    """The provider page's routes over ``console``."""
    router = APIRouter()

    @router.get("/provider", response_class=HTMLResponse)
    def provider_page(request: Request) -> Response:
        """The signed-in account as a provider: machine, offers, leases, earnings."""
        session = console.session(request)
        if session is None:
            return RedirectResponse("/signin?next=/provider", status_code=303)
        context = {**static_context(console, session), **live_context(console, session)}
        return console.page(request, "provider.html", **context)

    @router.get("/provider/live", response_class=HTMLResponse)
    def provider_live(request: Request) -> Response:
        """The live part of the provider page: earnings, use and leases (htmx fetches
        it every two seconds)."""
        session = console.session(request)
        if session is None:
            return console.page(request, "expired.html", 401)
        return console.page(request, "provider_live.html", **live_context(console, session))

    return router


def static_context(console: Console, session: WebSession) -> dict[str, Any]:
    """The machine and the offers (read once per page)."""
    client = console.market(session)
    try:
        machine = client.provider(session.address)
    except ApiRequestError as exc:
        if exc.status != 404:
            raise ConsoleError(exc.what, exc.fix, exc.status) from exc
        machine = None  # no agent of this account ever sent a heartbeat
    except L2gpuError as exc:
        return {"machine": None, "offers": [], "offers_problem": exc}
    try:
        offers = client.my_offers(limit=MAX_OFFERS)
    except ApiRequestError as exc:
        raise ConsoleError(exc.what, exc.fix, exc.status) from exc
    except L2gpuError as exc:
        return {"machine": machine, "offers": [], "offers_problem": exc}
    seen = None if machine is None else max(0, console.clock() - machine.last_heartbeat)
    return {"machine": machine, "seen_ago": seen, "offers": offers, "offers_problem": None,
            "max_offers": MAX_OFFERS}  # fmt: skip


def live_context(console: Console, session: WebSession) -> dict[str, Any]:
    """The provider's leases and what they earned per day and per hour."""
    now = console.clock()
    days = day_boundaries(now, DAYS, console.tz)
    hours = hour_boundaries(now, HOURS, console.tz)
    client = console.market(session)
    try:
        leases = client.leases(role="provider", since=days[0], limit=MAX_LEASES)
        machine_gpus = _machine_gpus(console, session)
    except ApiRequestError as exc:
        if exc.status < 500:
            raise ConsoleError(exc.what, exc.fix, exc.status) from exc
        return {"problem": exc}
    except L2gpuError as exc:  # the market is away: the page says so and retries
        return {"problem": exc}
    uses = [use_of(lease, now) for lease in leases if lease.started_at is not None]
    by_day, by_hour = spread_use(uses, days), spread_use(uses, hours)
    today = by_day[-1]
    return {
        "problem": None,
        "leases": leases[:LEASES_SHOWN],
        "leases_counted": len(leases),
        "truncated": len(leases) >= MAX_LEASES,
        "live": sum(1 for lease in leases if not lease.status.is_final),
        "earned_today": today.earned,
        "earned_days": Wei(sum(b.earned for b in by_day)),
        "gpu_seconds_today": today.gpu_seconds,
        "days": rows(by_day, machine_gpus, lambda b: local_date(b.start, console.tz))[::-1],
        "hours": rows(by_hour, machine_gpus, lambda b: local_hour(b.start, console.tz))[::-1],
        "machine_gpus": machine_gpus,
        "day_count": DAYS,
    }


def use_of(lease: LeasePublic, now: int) -> LeaseUse:
    """What a started lease counts for: its metered seconds from its start (never past
    now), its GPUs and its best voucher."""
    start = int(lease.started_at or 0)
    seconds = max(0, min(lease.metered_seconds, now - start))
    return LeaseUse(Timestamp(start), seconds, lease.num_gpus, Wei(lease.voucher.amount))


def rows(buckets: list[Bucket], gpus: int | None, label: Any) -> list[Row]:
    """The buckets as rows: utilization against ``gpus`` where known."""
    busiest = max((b.gpu_seconds for b in buckets), default=0) or 1
    out = []
    for bucket in buckets:
        if gpus:
            share = bucket.utilization(gpus)
            percent, shown = share * 100, f"{share * 100:.1f} %"
        else:
            percent, shown = bucket.gpu_seconds / busiest * 100, "unknown"
        out.append(Row(label(bucket), bucket.gpu_seconds, bucket.earned, round(percent, 1), shown))
    return out


def _machine_gpus(console: Console, session: WebSession) -> int | None:
    """The GPUs the account's agent reported (None: no heartbeat, or no count)."""
    try:
        gpus = console.market().provider(session.address).inventory.get("gpus")
    except ApiRequestError as exc:
        if exc.status == 404:
            return None
        raise
    return gpus if isinstance(gpus, int) and not isinstance(gpus, bool) and gpus > 0 else None
