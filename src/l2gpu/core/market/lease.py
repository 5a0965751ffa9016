"""The lease as a state machine: requested -> starting -> running -> ended | failed | preempted.

One entry point, :func:`state_transition`, dispatches to one ``handle_*`` per
input. Inputs and events are frozen dataclasses; time is passed in. An input
that does not apply in the current status is not a crash: it returns the state
unchanged and an :class:`InputIgnored` event saying why.

Billing rules, each enforced here and checked by the tests:

- only metered seconds are billed (:mod:`.metering`), so undelivered seconds are
  never paid;
- a lease never bills past its end: metered seconds are capped at the duration
  bought and at the time elapsed since the job started;
- a lease that fails before its job runs bills nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.offers import OfferTerms
from l2gpu.core.transition import TransitionResult
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


# -- inputs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentAccepted:
    """The provider's agent took the lease and is starting the job."""

    now: Timestamp


@dataclass(frozen=True, slots=True)
class JobStarted:
    """The job's process is running: billing may begin."""

    now: Timestamp


@dataclass(frozen=True, slots=True)
class StartFailed:
    """The job could not start (bad command, no GPU, agent refused)."""

    now: Timestamp
    reason: str


@dataclass(frozen=True, slots=True)
class UsageMetered:
    """The meter found ``seconds`` more seconds of service."""

    now: Timestamp
    seconds: int


@dataclass(frozen=True, slots=True)
class VoucherRecorded:
    """The provider holds a voucher for ``amount`` in total."""

    now: Timestamp
    amount: Wei


@dataclass(frozen=True, slots=True)
class StopRequested:
    """Someone ends the lease early: ``by`` is renter, provider or payment."""

    now: Timestamp
    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class JobExited:
    """The job's process exited with ``exit_code``."""

    now: Timestamp
    exit_code: int


@dataclass(frozen=True, slots=True)
class AgentLost:
    """The provider's agent stopped sending heartbeats."""

    now: Timestamp


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: the lease may have reached its end or its start timeout."""

    now: Timestamp


LeaseInput = (
    AgentAccepted
    | JobStarted
    | StartFailed
    | UsageMetered
    | VoucherRecorded
    | StopRequested
    | JobExited
    | AgentLost
    | Tick
)

# -- events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The lease moved from ``old`` to ``new``."""

    lease_id: LeaseId
    old: LeaseStatus
    new: LeaseStatus
    reason: str


@dataclass(frozen=True, slots=True)
class StopJob:
    """The agent must stop the job now."""

    lease_id: LeaseId
    reason: str


@dataclass(frozen=True, slots=True)
class Metered:
    """``seconds`` were added to the bill; ``total`` seconds are billed so far."""

    lease_id: LeaseId
    seconds: int
    total: int


@dataclass(frozen=True, slots=True)
class InputIgnored:
    """An input that does not apply now, and why."""

    lease_id: LeaseId
    input_name: str
    reason: str


LeaseEvent = StatusChanged | StopJob | Metered | InputIgnored


def state_transition(lease: Lease, inp: LeaseInput) -> TransitionResult[Lease, LeaseEvent]:
    """Apply one input to a lease; return the new lease and the events the shell carries out."""
    if lease.status.is_final and not isinstance(inp, VoucherRecorded | Tick):
        return _ignore(lease, inp, f"lease is already {lease.status.value}")
    match inp:
        case AgentAccepted():
            return handle_agent_accepted(lease, inp)
        case JobStarted():
            return handle_job_started(lease, inp)
        case StartFailed():
            return handle_start_failed(lease, inp)
        case UsageMetered():
            return handle_usage_metered(lease, inp)
        case VoucherRecorded():
            return handle_voucher_recorded(lease, inp)
        case StopRequested():
            return handle_stop_requested(lease, inp)
        case JobExited():
            return handle_job_exited(lease, inp)
        case AgentLost():
            return handle_agent_lost(lease, inp)
        case Tick():
            return handle_tick(lease, inp)


def handle_agent_accepted(lease: Lease, inp: AgentAccepted) -> TransitionResult[Lease, LeaseEvent]:
    """requested -> starting."""
    if lease.status != LeaseStatus.REQUESTED:
        return _ignore(lease, inp, f"lease is {lease.status.value}, not requested")
    return _move(lease, LeaseStatus.STARTING, "agent accepted")


def handle_job_started(lease: Lease, inp: JobStarted) -> TransitionResult[Lease, LeaseEvent]:
    """requested | starting -> running; the lease's clock starts now."""
    if lease.status not in (LeaseStatus.REQUESTED, LeaseStatus.STARTING):
        return _ignore(lease, inp, f"lease is {lease.status.value}, the job cannot start")
    return _move(replace(lease, started_at=inp.now), LeaseStatus.RUNNING, "job started")


def handle_start_failed(lease: Lease, inp: StartFailed) -> TransitionResult[Lease, LeaseEvent]:
    """requested | starting -> failed, billing nothing."""
    if lease.status == LeaseStatus.RUNNING:
        return _ignore(lease, inp, "the job is already running")
    return _end(lease, LeaseStatus.FAILED, inp.now, f"start failed: {inp.reason}", stop=False)


def handle_usage_metered(lease: Lease, inp: UsageMetered) -> TransitionResult[Lease, LeaseEvent]:
    """running: add metered seconds, capped by the duration bought and the time elapsed."""
    if lease.status != LeaseStatus.RUNNING or lease.started_at is None:
        return _ignore(lease, inp, f"lease is {lease.status.value}, not running")
    if inp.seconds < 0:
        return _ignore(lease, inp, "negative seconds")
    elapsed = max(0, min(inp.now, lease.started_at + lease.max_seconds) - lease.started_at)
    cap = min(lease.max_seconds, elapsed)
    total = min(cap, lease.metered_seconds + inp.seconds)
    added = max(0, total - lease.metered_seconds)
    lease = replace(lease, metered_seconds=lease.metered_seconds + added)
    events: list[LeaseEvent] = (
        [Metered(lease.lease_id, added, lease.metered_seconds)] if added else []
    )
    if lease.metered_seconds >= lease.max_seconds:
        lease, more = _end(lease, LeaseStatus.ENDED, inp.now, "time up")
        events += more
    return TransitionResult(lease, events)


def handle_voucher_recorded(
    lease: Lease, inp: VoucherRecorded
) -> TransitionResult[Lease, LeaseEvent]:
    """Any status: remember the highest voucher (a late one may still arrive at the end)."""
    if inp.amount <= lease.paid:
        return TransitionResult(lease, [])
    return TransitionResult(replace(lease, paid=inp.amount), [])


def handle_stop_requested(lease: Lease, inp: StopRequested) -> TransitionResult[Lease, LeaseEvent]:
    """Any live status -> ended, with who stopped it in the reason."""
    why = f"stopped by {inp.by}" + (f": {inp.reason}" if inp.reason else "")
    return _end(lease, LeaseStatus.ENDED, inp.now, why)


def handle_job_exited(lease: Lease, inp: JobExited) -> TransitionResult[Lease, LeaseEvent]:
    """running -> ended; an exit before the job ran (starting) is a failed start."""
    if lease.status != LeaseStatus.RUNNING:
        why = f"job exited with code {inp.exit_code} before it started"
        return _end(lease, LeaseStatus.FAILED, inp.now, why, stop=False)
    return _end(
        lease, LeaseStatus.ENDED, inp.now, f"job exited with code {inp.exit_code}", stop=False
    )


def handle_agent_lost(lease: Lease, inp: AgentLost) -> TransitionResult[Lease, LeaseEvent]:
    """running -> preempted (the renter pays only metered seconds); earlier -> failed."""
    if lease.status == LeaseStatus.RUNNING:
        return _end(
            lease, LeaseStatus.PREEMPTED, inp.now, "the provider's agent went silent", stop=False
        )
    return _end(lease, LeaseStatus.FAILED, inp.now, "the provider's agent went silent", stop=False)


def handle_tick(lease: Lease, inp: Tick) -> TransitionResult[Lease, LeaseEvent]:
    """Ends a running lease at its end, and fails one that did not start in time."""
    if lease.status.is_final:
        return TransitionResult(lease, [])
    ends_at = lease.ends_at
    if lease.status == LeaseStatus.RUNNING and ends_at is not None and inp.now >= ends_at:
        return _end(lease, LeaseStatus.ENDED, inp.now, "time up")
    if lease.status != LeaseStatus.RUNNING and inp.now - lease.requested_at >= START_TIMEOUT:
        return _end(
            lease, LeaseStatus.FAILED, inp.now, f"the job did not start within {START_TIMEOUT} s"
        )
    return TransitionResult(lease, [])


# -- helpers --------------------------------------------------------------------


def _move(lease: Lease, new: LeaseStatus, reason: str) -> TransitionResult[Lease, LeaseEvent]:
    changed = StatusChanged(lease.lease_id, lease.status, new, reason)
    return TransitionResult(replace(lease, status=new), [changed])


def _end(
    lease: Lease, status: LeaseStatus, now: Timestamp, reason: str, *, stop: bool = True
) -> TransitionResult[Lease, LeaseEvent]:
    ended_at = now if lease.ends_at is None else Timestamp(min(now, lease.ends_at))
    lease, events = _move(replace(lease, ended_at=ended_at, reason=reason), status, reason)
    if stop:
        events.append(StopJob(lease.lease_id, reason))
    return TransitionResult(lease, events)


def _ignore(lease: Lease, inp: LeaseInput, reason: str) -> TransitionResult[Lease, LeaseEvent]:
    return TransitionResult(lease, [InputIgnored(lease.lease_id, type(inp).__name__, reason)])
