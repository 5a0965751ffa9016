"""Matching a renter's request to the best offers by price and performance.

A request is turned into filter conditions (the offers that qualify), then the
qualifying offers are ranked by *cost per unit of work*
(:func:`.performance.cost_per_work`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from l2gpu.core.market.fields import fold
from l2gpu.core.market.index import OfferIndex
from l2gpu.core.market.performance import cost_per_work
from l2gpu.core.market.query import Condition, matches
from l2gpu.core.market.view import OfferView
from l2gpu.core.types import Seconds, Wei


@dataclass(frozen=True, slots=True)
class RentalRequest:
    """What a renter needs."""

    num_gpus: int = 1
    duration: Seconds = Seconds(3600)
    gpu_name: str | None = None
    min_gpu_ram_gb: int = 0
    max_price_per_gpu_second: Wei | None = None
    min_reliability: float = 0.0


def request_conditions(request: RentalRequest) -> list[Condition]:
    """The filter conditions an offer must meet to serve ``request``."""
    conditions = [
        Condition("num_gpus", "ge", request.num_gpus),
        Condition("gpu_ram", "ge", request.min_gpu_ram_gb),
        Condition("max_duration", "ge", request.duration),
        Condition("min_duration", "le", request.duration),
        Condition("reliability", "ge", request.min_reliability),
    ]
    if request.gpu_name:
        conditions.append(Condition("gpu_name", "eq", fold(request.gpu_name)))
    if request.max_price_per_gpu_second is not None:
        conditions.append(Condition("price", "le", request.max_price_per_gpu_second))
    return conditions


def match(
    offers: Sequence[OfferView], request: RentalRequest, *, now: int, limit: int = 5
) -> list[OfferView]:
    """The clear version: qualifying offers, cheapest per unit of work first (ties by id)."""
    conditions = request_conditions(request)
    found = [o for o in offers if o.expires_at > now and matches(conditions, o)]
    found.sort(key=lambda o: (cost_per_work(o), o.offer_id))
    return found[:limit]


def match_indexed(
    index: OfferIndex, request: RentalRequest, *, now: int, limit: int = 5
) -> list[OfferView]:
    """The fast version over an :class:`OfferIndex`; same result as :func:`match`."""
    chosen = np.flatnonzero(index.mask(request_conditions(request), now))
    if chosen.size == 0:
        return []
    costs = index.cost_per_work[chosen]
    ids = index.offer_ids[chosen]
    if chosen.size > limit:
        # Keep every offer tied with the limit-th cost, so the tie-break by id is exact.
        kth = np.partition(costs, limit - 1)[limit - 1]
        keep = costs <= kth
        chosen, costs, ids = chosen[keep], costs[keep], ids[keep]
    order = chosen[np.lexsort((ids, costs))][:limit]
    return [index.offers[i] for i in order.tolist()]
