"""A lease's data: its status, its terms and what it has billed, and how one opens.

:mod:`l2gpu.core.market.lease` is the machine that changes it; this module holds
only what the machine, the shells and the renter's SDK share.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.offers import OfferTerms
from l2gpu.core.types import Address, GpuSeconds, LeaseId, OfferId, Seconds, Timestamp, Wei


class LeaseStatus(Enum):
    """Where a lease is in its life."""

    REQUESTED = "requested"
    STARTING = "starting"
    RUNNING = "running"
    ENDED = "ended"
    FAILED = "failed"
    PREEMPTED = "preempted"

    @property
    def is_final(self) -> bool:
        """True for ended, failed and preempted: nothing changes a lease any more."""
        return self in (LeaseStatus.ENDED, LeaseStatus.FAILED, LeaseStatus.PREEMPTED)


START_TIMEOUT = Seconds(120)
"""A lease whose job has not started this long after the request fails."""


class LeaseError(L2gpuError):
    """A lease cannot be opened on these terms."""


@dataclass(frozen=True, slots=True)
class Lease:
    """One renter's lease of one offer (all of its GPUs)."""

    lease_id: LeaseId
    offer_id: OfferId
    renter: Address
    provider: Address
    num_gpus: int
    price_per_gpu_second: Wei
    max_seconds: Seconds
    requested_at: Timestamp
    status: LeaseStatus = LeaseStatus.REQUESTED
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    metered_seconds: int = 0
    paid: Wei = Wei(0)
    reason: str = ""
    channel_verified: bool = False
    """The provider's agent found the lease's channel open and funded on its rail:
    only such a lease counts in the provider's record (anyone can make up a channel)."""
    gpu_active_at: Timestamp | None = None
    """When the agent last saw the job use its GPUs (``rent --idle-stop`` reads it)."""

    @property
    def ends_at(self) -> Timestamp | None:
        """When the lease must end: the job's start plus the duration bought."""
        return None if self.started_at is None else Timestamp(self.started_at + self.max_seconds)

    @property
    def price_per_second(self) -> Wei:
        """Wei per second of service: every leased GPU at the offer's price."""
        return Wei(self.price_per_gpu_second * self.num_gpus)

    @property
    def max_cost(self) -> Wei:
        """The most the lease can cost: the deposit its channel needs."""
        return Wei(self.price_per_second * self.max_seconds)

    @property
    def billed_gpu_seconds(self) -> GpuSeconds:
        """GPU-seconds delivered and billable."""
        return GpuSeconds(self.metered_seconds * self.num_gpus)

    @property
    def amount_due(self) -> Wei:
        """What the renter owes for the service delivered."""
        return Wei(self.metered_seconds * self.price_per_second)


def open_lease(
    lease_id: LeaseId,
    offer_id: OfferId,
    terms: OfferTerms,
    renter: Address,
    duration: Seconds,
    now: Timestamp,
    *,
    max_price_per_gpu_second: Wei | None = None,
) -> Lease:
    """A new lease of the whole offer for ``duration`` seconds, checked against its terms."""
    if terms.expires_at <= now:
        raise LeaseError(
            f"offer {offer_id} expired at {terms.expires_at} (now {now})",
            "search again with 'l2gpu offers search' and rent a current offer",
        )
    if not terms.min_duration <= duration <= terms.max_duration:
        raise LeaseError(
            f"offer {offer_id} takes leases of {terms.min_duration} to {terms.max_duration} s, "
            f"not {duration} s",
            "choose a duration inside that range",
        )
    if (
        max_price_per_gpu_second is not None
        and terms.price_per_gpu_second > max_price_per_gpu_second
    ):
        raise LeaseError(
            f"offer {offer_id} costs {terms.price_per_gpu_second} wei per GPU-second, above your "
            f"limit of {max_price_per_gpu_second}",
            "raise --max-price or choose a cheaper offer",
        )
    if renter == terms.provider:
        raise LeaseError("a provider cannot rent its own offer", "rent with another account")
    return Lease(
        lease_id,
        offer_id,
        renter,
        terms.provider,
        terms.num_gpus,
        terms.price_per_gpu_second,
        duration,
        now,
    )
