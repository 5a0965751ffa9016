"""The GPU-hour index read from the market's own database: what a feed posts.

:func:`lease_samples` turns the market's started leases (joined with their offers
for the GPU model) into the index's :class:`~l2gpu.core.credit.price_index.LeaseSample`;
:func:`market_index` applies the rule of :mod:`l2gpu.core.credit.price_index` at a
time. ``l2gpu forwards index --market-db URL --gpu MODEL`` computes it and posts it.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from l2gpu.core.credit.price_index import HOUR, IndexRule, IndexValue, LeaseSample, price_index
from l2gpu.core.types import Address
from l2gpu.db.market_models import LeaseRow, OfferRow


def lease_samples(
    engine: Engine, *, since: int = 0, gpu_model: str | None = None
) -> list[LeaseSample]:
    """Every lease whose job started at or after ``since`` (of ``gpu_model`` only, when
    given), as the index sees it: the offer's GPU model, the provider, the renter, the
    price, the GPU-seconds metered, the start, and whether its channel was verified
    on its rail."""
    query = (
        select(
            OfferRow.gpu_name,
            LeaseRow.provider,
            LeaseRow.renter,
            LeaseRow.price_per_gpu_second,
            LeaseRow.num_gpus,
            LeaseRow.metered_seconds,
            LeaseRow.started_at,
            LeaseRow.channel_verified,
        )
        .join(OfferRow, OfferRow.offer_id == LeaseRow.offer_id)
        .where(LeaseRow.started_at.is_not(None), LeaseRow.started_at >= since)
    )
    if gpu_model is not None:  # in SQL: an API request reads one model's leases only
        query = query.where(OfferRow.gpu_name == gpu_model)
    with Session(engine) as session:
        rows = session.execute(query).all()
    return [
        LeaseSample(
            gpu_model=str(gpu),
            provider=Address(bytes(provider)),
            renter=Address(bytes(renter)),
            price_per_gpu_second=int(price),
            gpu_seconds=int(metered) * int(gpus),
            started_at=int(started or 0),
            channel_verified=bool(verified),
        )
        for gpu, provider, renter, price, gpus, metered, started, verified in rows
    ]


def market_index(
    engine: Engine, gpu_model: str, at: int, rule: IndexRule | None = None
) -> IndexValue:
    """The index of ``gpu_model`` at ``at`` from the market's leases; raises
    :class:`~l2gpu.core.credit.price_index.NoIndex` where the market is too thin."""
    rule = rule or IndexRule()
    since = at - rule.window_hours * HOUR
    return price_index(lease_samples(engine, since=since, gpu_model=gpu_model), gpu_model, at, rule)
