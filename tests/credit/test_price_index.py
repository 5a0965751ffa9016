"""The GPU-hour price index: what it takes, and what it takes to move it."""

from __future__ import annotations

import random

import pytest

from l2gpu.core.credit.price_index import (
    HOUR,
    IndexRule,
    LeaseSample,
    NoIndex,
    lower_median,
    price_index,
    weighted_median,
)
from l2gpu.core.types import Address

T = 1_800_000_000
GWEI = 10**9
PROVIDERS = [Address(bytes([i]) * 20) for i in range(1, 8)]
RENTER = Address(b"\xee" * 20)


def honest_market(hours: int = 24, seed: int = 20) -> list[LeaseSample]:
    """Seven providers leasing H100s every hour at 700-760 gwei per GPU-second."""
    rng = random.Random(seed)
    out = []
    for hour in range(hours):
        for i, provider in enumerate(PROVIDERS):
            out.append(
                LeaseSample("H100", provider, RENTER, (700 + 10 * i) * GWEI,
                            rng.randrange(600, 20_000), T - (hour + 1) * HOUR + 60, True)
            )  # fmt: skip
    return out


def test_the_index_is_the_median_price_of_an_honest_market() -> None:
    value = price_index(honest_market(), "H100", T)
    assert value.wei_per_gpu_hour == 730 * GWEI * HOUR  # the fourth of seven providers
    assert value.priced_hours == 24
    assert value.providers == 7


def test_one_provider_leasing_a_lot_at_a_high_price_moves_nothing() -> None:
    market = honest_market()
    loud = PROVIDERS[6]
    for hour in range(24):
        for _ in range(50):
            market.append(
                LeaseSample("H100", loud, RENTER, 100_000 * GWEI, 100_000,
                            T - (hour + 1) * HOUR + 120, True)
            )  # fmt: skip
    assert price_index(market, "H100", T).wei_per_gpu_hour == 730 * GWEI * HOUR


def test_buying_one_hour_with_many_providers_moves_nothing() -> None:
    market = honest_market()
    sybils = [Address(bytes([0x80 + i]) * 20) for i in range(20)]
    for sybil in sybils:
        market.append(LeaseSample("H100", sybil, RENTER, 100_000 * GWEI, 10_000, T - 30, True))
    assert price_index(market, "H100", T).wei_per_gpu_hour == 730 * GWEI * HOUR


def test_a_majority_of_providers_in_most_hours_does_move_it() -> None:
    """The bound, shown: the index resists less than this, not more."""
    market = honest_market()
    sybils = [Address(bytes([0x80 + i]) * 20) for i in range(8)]
    for hour in range(13):
        for sybil in sybils:
            market.append(
                LeaseSample("H100", sybil, RENTER, 100_000 * GWEI, 10_000,
                            T - (hour + 1) * HOUR + 300, True)
            )  # fmt: skip
    assert price_index(market, "H100", T).wei_per_gpu_hour == 100_000 * GWEI * HOUR


def test_unverified_self_dealt_and_short_leases_do_not_count() -> None:
    market = honest_market()
    fake = []
    for hour in range(24):
        for i in range(10):
            who = Address(bytes([0x40 + i]) * 20)
            at = T - (hour + 1) * HOUR + 90
            fake += [
                LeaseSample("H100", who, RENTER, 10**6 * GWEI, 10_000, at, False),
                LeaseSample("H100", who, who, 10**6 * GWEI, 10_000, at, True),
                LeaseSample("H100", who, RENTER, 10**6 * GWEI, 10, at, True),
            ]
    assert price_index(market + fake, "H100", T).wei_per_gpu_hour == 730 * GWEI * HOUR


def test_a_thin_market_has_no_index() -> None:
    few = [s for s in honest_market() if s.provider in PROVIDERS[:2]]
    with pytest.raises(NoIndex, match="0 priced hours"):
        price_index(few, "H100", T)
    with pytest.raises(NoIndex, match="6 priced hours"):
        price_index(honest_market(hours=6), "H100", T)
    with pytest.raises(NoIndex):
        price_index(honest_market(), "A100", T)


def test_leases_outside_the_window_do_not_count() -> None:
    old = honest_market()
    assert price_index(old, "H100", T).priced_hours == 24
    with pytest.raises(NoIndex):
        price_index(old, "H100", T + 25 * HOUR, IndexRule())


def test_the_medians() -> None:
    assert lower_median([5, 1, 3, 2]) == 2
    assert weighted_median([(10, 1), (20, 1), (30, 5)]) == 30
    assert weighted_median([(10, 3), (20, 1), (30, 2)]) == 10
