"""A provider's earnings and GPU use over time: leases spread over time buckets.

A lease uses its GPUs from the start of its job for its metered seconds, and pays
what its best voucher says. Both are spread over the buckets the lease overlaps, in
proportion to the seconds it spent in each: a lease of 90 s from 23:59:00 counts
60 s and two thirds of its pay on one day, 30 s and a third on the next.

Rounding, written out: a bucket's share of a lease's pay is the floor of the pay
times the lease's seconds up to the bucket's end over all its seconds, less the same
up to the bucket's start; so the shares of every bucket a lease lies in sum to its
pay exactly, and no bucket is credited a wei that was not paid. A lease paid before
it metered a second (a voucher for its first second) counts at its start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from l2gpu.core.types import Timestamp, Wei


@dataclass(frozen=True, slots=True)
class LeaseUse:
    """One lease as its provider's earnings see it."""

    start: Timestamp
    """When its job started."""
    seconds: int
    """Seconds metered since then."""
    gpus: int
    paid: Wei
    """The renter's best voucher: what the provider can close the channel with."""

    @property
    def end(self) -> int:
        """When its metered seconds end."""
        return self.start + self.seconds


@dataclass(frozen=True, slots=True)
class Bucket:
    """What the provider's GPUs did from ``start`` until ``end``."""

    start: int
    end: int
    gpu_seconds: int
    earned: Wei

    def utilization(self, gpus: int) -> float:
        """The share (0..1) of ``gpus`` GPUs' seconds in the bucket that were leased."""
        capacity = gpus * (self.end - self.start)
        return 0.0 if capacity <= 0 else min(1.0, self.gpu_seconds / capacity)


class BadBuckets(ValueError):
    """Bucket boundaries that do not rise strictly."""


def spread_use(uses: Iterable[LeaseUse], boundaries: Sequence[int]) -> list[Bucket]:
    """The buckets between consecutive ``boundaries`` (rising), each with the GPU-seconds
    and the pay of ``uses`` that fall in it. Raises :class:`BadBuckets`."""
    check_boundaries(boundaries)
    spans = list(pairwise(boundaries))
    gpu_seconds = [0] * len(spans)
    earned = [0] * len(spans)
    for use in uses:
        for i, (start, end) in enumerate(spans):
            gpu_seconds[i] += _overlap(use, start, end) * use.gpus
            earned[i] += share_of_pay(use, start, end)
    return [
        Bucket(start, end, gpu_seconds[i], Wei(earned[i])) for i, (start, end) in enumerate(spans)
    ]


def share_of_pay(use: LeaseUse, start: int, end: int) -> int:
    """The wei of ``use``'s pay that falls between ``start`` and ``end`` (see the module
    for the rounding)."""
    if use.seconds <= 0:
        return int(use.paid) if start <= use.start < end else 0
    return _paid_by(use, end) - _paid_by(use, start)


def check_boundaries(boundaries: Sequence[int]) -> None:
    """Refuse boundaries that name no bucket or do not rise strictly."""
    if len(boundaries) < 2:
        raise BadBuckets("buckets need at least two boundaries")
    for before, after in pairwise(boundaries):
        if after <= before:
            raise BadBuckets(f"boundary {after} does not come after {before}")


def _paid_by(use: LeaseUse, moment: int) -> int:
    """The floor of the pay for the lease's seconds before ``moment``."""
    elapsed = min(max(moment - use.start, 0), use.seconds)
    return int(use.paid) * elapsed // use.seconds


def _overlap(use: LeaseUse, start: int, end: int) -> int:
    return max(0, min(use.end, end) - max(use.start, start))
