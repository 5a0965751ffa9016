"""A GPU-hour price index per GPU model, from the market's own accepted leases.

The index is what forwards settle against and what a lender values compute-backed
collateral at, so it must be hard to move by someone who wants it moved. The rule:

1. **What counts.** A lease counts once it started, its channel was found open and
   funded on its rail by the provider's agent (``channel_verified``: a made-up
   channel costs nobody anything), it ran at least :attr:`IndexRule.min_gpu_seconds`,
   and its renter is not its provider (self-dealing).
2. **One provider, one voice.** Within each hour of the window, every provider's
   leases of the model give one price: their median weighted by GPU-seconds. The
   hour's price is the median over providers, so a provider's volume buys it no more
   weight; an hour with fewer than :attr:`IndexRule.min_providers` providers has no
   price.
3. **Time-weighted.** The index is the median of the hourly prices over the window
   (``window_hours``), and needs at least ``min_hours`` priced hours.

Moving the index therefore takes more than half of the providers in more than half
of the window's hours, each with real, paid, verified leases: buying one hour, or
running many leases from one provider, moves it by nothing (the tests show both).
Prices are integer wei per GPU-hour; a median of an even count takes the lower
middle, so the index is always a price someone paid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

HOUR = 3_600


@dataclass(frozen=True, slots=True)
class LeaseSample:
    """One accepted lease as the index sees it."""

    gpu_model: str
    provider: Address
    renter: Address
    price_per_gpu_second: int
    gpu_seconds: int
    started_at: int
    channel_verified: bool


@dataclass(frozen=True, slots=True)
class IndexRule:
    """The index's parameters."""

    window_hours: int = 24
    min_providers: int = 3
    min_hours: int = 12
    min_gpu_seconds: int = 600


@dataclass(frozen=True, slots=True)
class IndexValue:
    """The index of one model at one time, with what it stands on."""

    gpu_model: str
    at: int
    wei_per_gpu_hour: int
    priced_hours: int
    providers: int


class NoIndex(L2gpuError):
    """Too few providers or hours to price the model: a thin market has no index."""


def lower_median(values: list[int]) -> int:
    """The middle value (the lower of the two middles for an even count)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def weighted_median(pairs: list[tuple[int, int]]) -> int:
    """The value at which half the total weight is reached, from (value, weight)."""
    ordered = sorted(pairs)
    total = sum(weight for _, weight in ordered)
    running = 0
    for value, weight in ordered:
        running += weight
        if 2 * running >= total:
            return value
    raise ValueError("no weight")


def counts(sample: LeaseSample, rule: IndexRule) -> bool:
    """Whether ``sample`` is a lease the index takes (rule 1)."""
    return (
        sample.channel_verified
        and sample.gpu_seconds >= rule.min_gpu_seconds
        and sample.renter != sample.provider
        and sample.price_per_gpu_second > 0
    )


def hourly_prices(
    samples: Iterable[LeaseSample], gpu_model: str, at: int, rule: IndexRule
) -> dict[int, tuple[int, int]]:
    """Each priced hour of the window ending at ``at``: its start -> (median price in
    wei per GPU-hour over providers, number of providers)."""
    start = at - rule.window_hours * HOUR
    by_hour: dict[int, dict[Address, list[tuple[int, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for sample in samples:
        if sample.gpu_model != gpu_model or not start <= sample.started_at < at:
            continue
        if not counts(sample, rule):
            continue
        hour = sample.started_at - (sample.started_at - start) % HOUR
        by_hour[hour][sample.provider].append(
            (sample.price_per_gpu_second * HOUR, sample.gpu_seconds)
        )
    out = {}
    for hour, providers in by_hour.items():
        if len(providers) < rule.min_providers:
            continue
        per_provider = [weighted_median(leases) for leases in providers.values()]
        out[hour] = (lower_median(per_provider), len(providers))
    return out


def price_index(
    samples: Iterable[LeaseSample], gpu_model: str, at: int, rule: IndexRule | None = None
) -> IndexValue:
    """The index of ``gpu_model`` at ``at``; raises :class:`NoIndex` for a thin market."""
    rule = rule or IndexRule()
    samples = list(samples)
    hours = hourly_prices(samples, gpu_model, at, rule)
    if len(hours) < rule.min_hours:
        raise NoIndex(
            f"{gpu_model} has {len(hours)} priced hours in the last {rule.window_hours}, "
            f"{rule.min_hours} needed (each with {rule.min_providers} providers or more)",
            "post no index for it (a thin market has none), or wait for more leases",
        )
    providers = {
        s.provider
        for s in samples
        if s.gpu_model == gpu_model
        and at - rule.window_hours * HOUR <= s.started_at < at
        and counts(s, rule)
    }
    return IndexValue(
        gpu_model, at, lower_median([price for price, _ in hours.values()]), len(hours),
        len(providers),
    )  # fmt: skip
