"""Usage patterns of our own market, read from its database (SQLite or PostgreSQL).

The same measures as the cluster traces (``usage.py``): when GPUs are asked for
(hourly and weekly cycles), how many per lease, for how long, how long a lease
waits for its job to start, how much of the offered GPU time was rented; plus what
only a market has: start failures, prices per GPU model and the money billed.
Amounts are summed as Python integers (wei), never as floats.

``demand_frame`` gives the hourly GPU demand as a CSV-ready frame, so that
``l2gpu forecast`` can forecast the market's own demand like any other series.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from l2gpu.analytics.usage import (
    duration_quantiles,
    hourly_profile,
    peak_to_trough,
    size_distribution,
    weekly_profile,
)
from l2gpu.core.errors import L2gpuError
from l2gpu.db.market_models import LeaseRow, OfferRow

WEI_PER_ETH = 10**18
# A cycle is reported only when the data covers it twice: one day of hours says
# nothing about the hour of day.
MIN_HOURS_FOR_DAILY = 48
MIN_DAYS_FOR_WEEKLY = 14


def load_leases(engine: Engine) -> pd.DataFrame:
    """Every lease, one row each, with its offer's GPU model; times as UTC datetimes.

    Columns: lease_id, requested_at, started_at, ended_at (NaT when not yet),
    status, num_gpus, gpu_name, price_per_gpu_second (int wei), metered_seconds,
    wait_s (request to job start; NaN if it never started), billed_wei (int).
    """
    with Session(engine) as session:
        rows = session.execute(
            select(LeaseRow, OfferRow.gpu_name).join(
                OfferRow, OfferRow.offer_id == LeaseRow.offer_id
            )
        ).all()
    records = []
    for lease, gpu_name in rows:
        price = int(lease.price_per_gpu_second)
        records.append(
            {
                "lease_id": lease.lease_id,
                "requested_at": lease.requested_at,
                "started_at": lease.started_at,
                "ended_at": lease.ended_at,
                "status": lease.status,
                "num_gpus": lease.num_gpus,
                "gpu_name": gpu_name,
                "price_per_gpu_second": price,
                "metered_seconds": lease.metered_seconds,
                "billed_wei": lease.metered_seconds * lease.num_gpus * price,
            }
        )
    frame = pd.DataFrame.from_records(
        records,
        columns=["lease_id", "requested_at", "started_at", "ended_at", "status", "num_gpus",
                 "gpu_name", "price_per_gpu_second", "metered_seconds", "billed_wei"],
    )  # fmt: skip
    frame["wait_s"] = (frame["started_at"] - frame["requested_at"]).astype(float)
    for column in ("requested_at", "started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column].astype(float), unit="s", utc=True)
    return frame.sort_values("requested_at", kind="stable").reset_index(drop=True)


def load_offers(engine: Engine) -> pd.DataFrame:
    """Every offer: created_at, expires_at (unix seconds), num_gpus, gpu_name, status."""
    with Session(engine) as session:
        rows = session.execute(
            select(OfferRow.created_at, OfferRow.expires_at, OfferRow.num_gpus,
                   OfferRow.gpu_name, OfferRow.status)
        ).all()  # fmt: skip
    return pd.DataFrame(
        rows, columns=["created_at", "expires_at", "num_gpus", "gpu_name", "status"]
    )


def last_activity(leases: pd.DataFrame, offers: pd.DataFrame) -> int:
    """The newest time the database records (unix seconds; 0 when it is empty)."""
    times = [int(offers["created_at"].max())] if not offers.empty else [0]
    for column in ("requested_at", "started_at", "ended_at"):
        newest = leases[column].max() if not leases.empty else pd.NaT
        if not pd.isna(newest):
            times.append(int(newest.timestamp()))
    return max(times)


def demand_frame(leases: pd.DataFrame) -> pd.DataFrame:
    """GPUs asked for per hour (every lease request counts, whether it ran or not),
    every hour of the span present: columns ``time`` (ISO) and ``gpus_requested``."""
    hourly = leases.set_index("requested_at")["num_gpus"].resample("h").sum()
    return pd.DataFrame(
        {"time": hourly.index.strftime("%Y-%m-%dT%H:%M:%S"), "gpus_requested": hourly.to_numpy()}
    )


def busy_share_hourly(leases: pd.DataFrame, offers: pd.DataFrame, *, now: int) -> pd.Series:
    """Per hour, the share of the GPUs on offer that ran leased jobs (0..1).

    A lease's GPUs count as busy from its job's start for its metered seconds; the
    GPUs on offer in an hour are those of every offer standing then.
    """
    started = leases[leases["started_at"].notna()]
    if started.empty or offers.empty:
        raise L2gpuError("no lease of the market has run yet", "rent something first")
    begin = int(min(started["started_at"].min().timestamp(), offers["created_at"].min()))
    hours = pd.date_range(pd.Timestamp(begin // 3600 * 3600, unit="s", tz="UTC"),
                          pd.Timestamp(now, unit="s", tz="UTC"), freq="h")  # fmt: skip
    starts = (hours.asi8 // 10**9).astype(float)  # each hour is [start, start + 3600)
    ends = starts + 3600.0

    def overlap(lo: float, hi: float) -> Any:
        return ends.clip(lo, hi) - starts.clip(lo, hi)

    busy = pd.Series(0.0, index=hours)
    offered = pd.Series(0.0, index=hours)
    for start, seconds, gpus in zip(
        started["started_at"], started["metered_seconds"], started["num_gpus"], strict=True
    ):
        busy += gpus * overlap(start.timestamp(), start.timestamp() + seconds)
    for created, expires, gpus in zip(
        offers["created_at"], offers["expires_at"], offers["num_gpus"], strict=True
    ):
        offered += gpus * overlap(float(created), float(min(expires, now)))
    share = (busy / offered).where(offered > 0, 0.0)
    return share.clip(0.0, 1.0)


def market_patterns(engine: Engine, *, now: int) -> dict[str, Any]:
    """The market's usage patterns up to ``now`` (unix seconds)."""
    leases = load_leases(engine)
    if leases.empty:
        raise L2gpuError(
            "the market database has no leases yet",
            "point --database-url at a market that has run ('l2gpu market serve'), or rent "
            "something first",
        )
    offers = load_offers(engine)
    # the market's observed life: from its first offer or request to now
    first = int(leases["requested_at"].min().timestamp())
    if not offers.empty:
        first = min(first, int(offers["created_at"].min()))
    span_hours = max(0.0, (now - first) / 3600.0)
    started = leases[leases["started_at"].notna()]
    demand = leases.set_index("requested_at")["num_gpus"].resample("h").sum()
    offered, rented = _gpu_seconds(offers, started, first, now)
    billed = sum(int(v) for v in leases["billed_wei"])
    out: dict[str, Any] = {
        "leases": len(leases),
        "span_hours": round(span_hours, 3),
        "by_status": {k: int(v) for k, v in leases["status"].value_counts().items()},
        "start_failure_share": float((leases["status"] == "failed").mean()),
        "gpus_per_lease": size_distribution(leases["num_gpus"]),
        "duration_s": _quantiles(started["metered_seconds"].astype(float)),
        "wait_s": _quantiles(started["wait_s"]),
        "gpu_hours_billed": float((started["metered_seconds"] * started["num_gpus"]).sum())
        / 3600.0,
        "billed_wei": str(billed),
        "billed_eth": billed / WEI_PER_ETH,
        "offered_gpu_hours": offered / 3600.0,
        "rented_share_of_offered_gpu_time": rented / offered if offered > 0 else None,
        "price_per_gpu_hour_eth": {
            str(name): float(group.median()) * 3600 / WEI_PER_ETH
            for name, group in leases.groupby("gpu_name")["price_per_gpu_second"]
        },
        "gpu_demand_hourly_peak_to_trough": None,
        "gpu_demand_weekly_peak_to_trough": None,
    }
    if span_hours >= MIN_HOURS_FOR_DAILY:
        by_hour = demand.groupby(demand.index.hour).mean().reindex(range(24), fill_value=0.0)
        out["gpus_requested_by_hour_of_day"] = [round(float(v), 6) for v in by_hour]
        out["gpu_demand_hourly_peak_to_trough"] = _finite(peak_to_trough(hourly_profile(demand)))
    if span_hours >= 24 * MIN_DAYS_FOR_WEEKLY:
        out["gpu_demand_weekly_peak_to_trough"] = _finite(peak_to_trough(weekly_profile(demand)))
    return out


def _finite(ratio: float) -> float | None:
    # A young market has hours nobody asks for GPUs: the ratio is then unbounded.
    return ratio if ratio != float("inf") else None


def _quantiles(values: pd.Series) -> dict[str, float] | None:
    values = values.dropna()
    return duration_quantiles(values) if len(values) else None


def _gpu_seconds(
    offers: pd.DataFrame, started: pd.DataFrame, first: int, now: int
) -> tuple[float, float]:
    """GPU-seconds offered (each offer's GPUs over its life inside [first, now]) and
    GPU-seconds rented (metered) in the same window."""
    if offers.empty:
        return 0.0, 0.0
    begin = offers["created_at"].clip(lower=first)
    end = offers["expires_at"].clip(upper=now)
    offered = float(((end - begin).clip(lower=0) * offers["num_gpus"]).sum())
    rented = float((started["metered_seconds"] * started["num_gpus"]).sum())
    return offered, rented
