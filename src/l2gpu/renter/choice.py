"""Which offer ``launch`` rents, and what it does after an attempt.

:func:`rank_offers` keeps the offers that can run a task (its GPU model, at least its
GPUs, a duration range that holds the lease, under its price cap, not expired, from a
provider not tried already; for a task with an ``image``, a container backend that
allows it) and ranks them by what a reliable hour costs: the whole
offer's price per hour over the provider's reliability (so a provider that delivers
half its leases costs twice its price), then fewer GPUs, then the offer's id.

:func:`after_attempt` says what follows an attempt: done (the job ran and ended),
another offer (the lease failed before the job started, the market refused it, or
the provider was preempted: the job resumes from its checkpoint), or give up (no
attempt left). Pure: the CLI does the renting.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction

from l2gpu.core.market.images import image_refusal
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.renter.task import Task
from l2gpu.wire import OfferPublic

MIN_RELIABILITY = Fraction(1, 100)


def launch_query(task: Task) -> str:
    """The filter the market searches with for ``task`` (ranking is done here)."""
    query = f"gpu_name={task.gpu} num_gpus>={task.count}"
    if task.image is not None:  # the allowed images are checked here, in rank_offers
        query += " backend=container"
    cap = task.max_price_per_gpu_second
    return query if cap is None else f"{query} price<={cap}"


def runs_image(offer: OfferPublic, image: str | None) -> bool:
    """Whether ``offer`` can run a job in ``image`` (any offer can run one without)."""
    return image_refusal(int(offer.id), offer.backend, offer.images, image) is None


def rank_offers(
    offers: Sequence[OfferPublic],
    task: Task,
    *,
    now: int,
    tried_providers: Collection[str] = (),
    tried_offers: Collection[int] = (),
) -> list[OfferPublic]:
    """The offers that can run ``task``, best first."""
    cap = task.max_price_per_gpu_second
    tried = {p.lower() for p in tried_providers}
    fit = [
        o
        for o in offers
        if o.gpu_name == task.gpu
        and o.num_gpus >= task.count
        and o.min_duration <= task.duration <= o.max_duration
        and (cap is None or o.price_per_gpu_second <= cap)
        and o.expires_at > now
        and o.provider.lower() not in tried
        and o.id not in tried_offers
        and runs_image(o, task.image)
    ]

    def cost(o: OfferPublic) -> tuple[Fraction, int, int]:
        reliability = max(Fraction(o.reliability).limit_denominator(10**6), MIN_RELIABILITY)
        return Fraction(o.price_per_gpu_second * o.num_gpus) / reliability, o.num_gpus, o.id

    return sorted(fit, key=cost)


@dataclass(frozen=True)
class Next:
    """What follows an attempt: ``done``, ``retry`` (on another offer; ``resume``: from
    the checkpoint) or ``give up``; ``why`` for the user."""

    action: str
    why: str
    resume: bool = False


def after_attempt(status: LeaseStatus | None, reason: str, *, started: bool, left: int) -> Next:
    """What ``launch`` does after an attempt that ended in ``status`` (None: the market
    refused the lease, ``reason`` says why), with ``left`` attempts still allowed."""
    if status is LeaseStatus.ENDED:
        return Next("done", reason)
    if status is not None and not status.is_final:
        return Next("give up", f"the lease is still {status.value}: {reason}")
    if status is LeaseStatus.PREEMPTED:
        why = f"preempted: {reason}"
    elif status is LeaseStatus.FAILED:
        why = f"failed {'after' if started else 'before'} the job started: {reason}"
    else:
        why = f"refused by the market: {reason}"
    if left <= 0:
        return Next("give up", f"{why}; no attempt left (raise 'retries' to try more offers)")
    return Next("retry", why, resume=started)
