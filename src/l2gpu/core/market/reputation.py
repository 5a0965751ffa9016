"""Reputation as open data: seconds delivered against seconds promised, uptime, failed starts.

Every figure is derived from lease outcomes and heartbeats that anyone can
recount; the formula is here, not in a database. A provider with no history
scores 1.0 on each (Laplace smoothing with one good pseudo-lease); each failed
start and each preempted second pulls it down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.market.lease import Lease, LeaseStatus

PSEUDO_SECONDS = 600
"""Smoothing: a provider's record starts as if it had delivered 600 s out of 600."""


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    """Counts from which reliability and uptime are computed."""

    leases: int = 0
    failed_starts: int = 0
    preempted: int = 0
    seconds_promised: int = 0
    seconds_delivered: int = 0
    heartbeats_expected: int = 0
    heartbeats_seen: int = 0

    @property
    def delivery_ratio(self) -> float:
        """Seconds delivered over seconds promised (smoothed)."""
        return (self.seconds_delivered + PSEUDO_SECONDS) / (self.seconds_promised + PSEUDO_SECONDS)

    @property
    def start_ratio(self) -> float:
        """Leases whose job started over leases taken (smoothed)."""
        return (self.leases - self.failed_starts + 1) / (self.leases + 1)

    @property
    def uptime(self) -> float:
        """Heartbeats seen over heartbeats expected (1.0 before any is expected)."""
        if self.heartbeats_expected == 0:
            return 1.0
        return min(1.0, self.heartbeats_seen / self.heartbeats_expected)

    @property
    def reliability(self) -> float:
        """The search field ``reliability``: delivery ratio times start ratio, in [0, 1]."""
        return min(1.0, self.delivery_ratio * self.start_ratio)


def record_lease(record: ProviderRecord, lease: Lease) -> ProviderRecord:
    """Count a finished lease. A preempted lease promised its whole duration; a lease the
    renter or the job ended promised only what was delivered; a failed start counts as one."""
    if not lease.status.is_final:
        return record
    if lease.status == LeaseStatus.FAILED and lease.started_at is None:
        return replace(record, leases=record.leases + 1, failed_starts=record.failed_starts + 1)
    promised = lease.max_seconds if lease.status == LeaseStatus.PREEMPTED else lease.metered_seconds
    return replace(
        record,
        leases=record.leases + 1,
        preempted=record.preempted + (lease.status == LeaseStatus.PREEMPTED),
        seconds_promised=record.seconds_promised + promised,
        seconds_delivered=record.seconds_delivered + lease.metered_seconds,
    )


def record_heartbeats(record: ProviderRecord, expected: int, seen: int) -> ProviderRecord:
    """Count heartbeats over a period: ``expected`` by the interval, ``seen`` arrived."""
    return replace(
        record,
        heartbeats_expected=record.heartbeats_expected + expected,
        heartbeats_seen=record.heartbeats_seen + seen,
    )
