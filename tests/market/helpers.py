"""Offers, views and keys shared by the market tests."""

from __future__ import annotations

import random
from dataclasses import replace

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.market.offers import OfferTerms, SignedOffer, sign_offer
from l2gpu.core.market.view import OfferView
from l2gpu.core.types import ChainId, OfferId, Seconds, Timestamp, Wei

PROVIDER = PrivateKey((7).to_bytes(32, "big"))
RENTER = PrivateKey((8).to_bytes(32, "big"))
STRANGER = PrivateKey((9).to_bytes(32, "big"))
CHAIN = ChainId(1337)
T0 = Timestamp(1_800_000_000)
GPU_NAMES = ["RTX_4090", "H100", "A100", "RTX_3090", "L40S", "T4"]
LOCATIONS = ["EU", "US", "ASIA", "SA"]


def terms(**changes: object) -> OfferTerms:
    base = OfferTerms(
        provider=PROVIDER.address,
        gpu_name="RTX_4090",
        num_gpus=2,
        gpu_ram_gb=24,
        price_per_gpu_second=Wei(10**12),
        expires_at=Timestamp(T0 + 3600),
        cpu_cores=16,
        ram_gb=64,
        disk_gb=500,
        bandwidth_mbps=1000,
        location="EU",
        min_duration=Seconds(60),
        max_duration=Seconds(86_400),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def signed(**changes: object) -> SignedOffer:
    return sign_offer(PROVIDER, terms(**changes), CHAIN)


def random_views(count: int, seed: int = 1) -> list[OfferView]:
    """Random offers with realistic spreads, and some huge prices (beyond 64 bits)."""
    rng = random.Random(seed)
    views = []
    for i in range(count):
        price = rng.choice([rng.randrange(10**10, 10**14), rng.randrange(1, 2**100)])
        views.append(
            OfferView(
                offer_id=OfferId(i + 1),
                provider=f"0x{rng.randrange(16):040x}",
                gpu_name=rng.choice(GPU_NAMES),
                num_gpus=rng.choice([1, 1, 2, 4, 8]),
                gpu_ram_gb=rng.choice([16, 24, 40, 80]),
                cpu_cores=rng.choice([4, 8, 16, 32]),
                ram_gb=rng.choice([16, 32, 64, 256]),
                disk_gb=rng.choice([100, 500, 2000]),
                bandwidth_mbps=rng.choice([100, 1000, 10_000]),
                location=rng.choice(LOCATIONS),
                price_per_gpu_second=Wei(price),
                min_duration=rng.choice([1, 60, 3600]),
                max_duration=rng.choice([3600, 86_400, 7 * 86_400]),
                expires_at=T0 + rng.randrange(-600, 7200),
                declared=rng.random() < 0.3,
                reliability=rng.choice([1.0, 0.999, 0.99, 0.95, 0.8]),
            )
        )
    return views
