"""What a search sees of an offer: its terms, its id and its provider's reliability.

Reliability is not part of the signed terms (a provider cannot vouch for itself);
the market computes it from the provider's record (:mod:`.reputation`).
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.market.offers import SignedOffer
from l2gpu.core.types import OfferId, Wei

SECONDS_PER_HOUR = 3600
WEI_PER_ETH = 10**18


@dataclass(frozen=True, slots=True)
class OfferView:
    """One searchable offer. Money is integer wei; memory, disk in GB; durations in s."""

    offer_id: OfferId
    provider: str  # lower-case 0x hex, so that comparisons ignore the checksum's case
    gpu_name: str
    num_gpus: int
    gpu_ram_gb: int
    cpu_cores: int
    ram_gb: int
    disk_gb: int
    bandwidth_mbps: int
    location: str
    price_per_gpu_second: Wei
    min_duration: int
    max_duration: int
    expires_at: int
    declared: bool
    reliability: float = 1.0
    backend: str = "local"
    images: str = ""

    @property
    def price_per_gpu_hour(self) -> int:
        """Wei per GPU-hour."""
        return self.price_per_gpu_second * SECONDS_PER_HOUR

    @property
    def price_per_hour(self) -> int:
        """Wei per hour for every GPU of the offer."""
        return self.price_per_gpu_second * SECONDS_PER_HOUR * self.num_gpus


def view_of(offer: SignedOffer, reliability: float = 1.0) -> OfferView:
    """The searchable view of a signed offer."""
    t = offer.terms
    return OfferView(
        offer_id=offer.offer_id,
        provider="0x" + t.provider.hex(),
        gpu_name=t.gpu_name,
        num_gpus=t.num_gpus,
        gpu_ram_gb=t.gpu_ram_gb,
        cpu_cores=t.cpu_cores,
        ram_gb=t.ram_gb,
        disk_gb=t.disk_gb,
        bandwidth_mbps=t.bandwidth_mbps,
        location=t.location,
        price_per_gpu_second=t.price_per_gpu_second,
        min_duration=t.min_duration,
        max_duration=t.max_duration,
        expires_at=t.expires_at,
        declared=t.declared,
        reliability=reliability,
        backend=t.backend,
        images=t.images,
    )
