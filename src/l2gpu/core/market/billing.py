"""What a renter signs for: the seconds both sides saw, at the lease's price."""

from __future__ import annotations

from l2gpu.core.market.lease import Lease
from l2gpu.core.types import Timestamp, Wei


def amount_to_sign(lease: Lease, metered_seconds: int, now: Timestamp, deposit: Wei) -> Wei:
    """What a renter signs for at ``now``: the metered seconds at the lease's price, but never
    more than the wall time since the job started allows, the duration bought, or the deposit.

    Paying on metered seconds (reported by the provider) and capping by wall time
    (observed by the renter) means the renter pays only for service that both
    sides saw: if the agent vanishes, the meter stops and so do the payments.
    """
    if lease.started_at is None:
        return Wei(0)
    elapsed = max(0, now - lease.started_at)
    seconds = min(metered_seconds, elapsed, lease.max_seconds)
    return Wei(min(deposit, seconds * lease.price_per_second))
