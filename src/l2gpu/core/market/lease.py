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

from l2gpu.core.market.lease_state import (
    START_TIMEOUT,
    Lease,
    LeaseError,
    LeaseStatus,
    open_lease,
)
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import LeaseId, Timestamp, Wei

__all__ = [
    "START_TIMEOUT",
    "AgentAccepted",
    "AgentLost",
    "ChannelVerified",
    "GpuSeen",
    "InputIgnored",
    "JobExited",
    "JobStarted",
    "Lease",
    "LeaseError",
    "LeaseEvent",
    "LeaseInput",
    "LeaseStatus",
    "Metered",
    "ProviderPreempted",
    "StartFailed",
    "StatusChanged",
    "StopJob",
    "StopRequested",
    "Tick",
    "UsageMetered",
    "VoucherKept",
    "VoucherRecorded",
    "open_lease",
    "state_transition",
]

AGENT_SILENT = "the provider's agent went silent"
"""Why a lease whose agent stopped sending heartbeats ended."""
AGENT_SHUT_DOWN = "the provider's agent shut down"
"""Why an agent that stops (SIGTERM, Ctrl-C) preempts the leases it serves."""


# -- inputs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentAccepted:
    """The provider's agent took the lease and is starting the job; ``channel_verified``:
    it found the lease's channel open and funded on its rail first."""

    now: Timestamp
    channel_verified: bool = False


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
    """The meter found ``seconds`` more seconds of service; ``gpu_active``: the job used
    its GPUs in them (an observation for the renter, never billed)."""

    now: Timestamp
    seconds: int
    gpu_active: bool = False


@dataclass(frozen=True, slots=True)
class VoucherRecorded:
    """The renter sent a voucher for ``amount`` in total, signed with ``signature``
    (checked by the shell: the core does not know the channel's domain)."""

    now: Timestamp
    amount: Wei
    signature: bytes = b""


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
class ProviderPreempted:
    """The provider's agent takes the lease back before its end (it shuts down, the
    machine is reclaimed): the renter pays for the seconds metered and may go elsewhere
    at once instead of waiting for the agent to go silent."""

    now: Timestamp
    reason: str = AGENT_SHUT_DOWN


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
    | ProviderPreempted
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
class VoucherKept:
    """A voucher for ``amount``, higher than any before, is the one to relay to the
    provider and to close the channel with."""

    lease_id: LeaseId
    amount: Wei
    signature: bytes
    at: Timestamp


@dataclass(frozen=True, slots=True)
class ChannelVerified:
    """The provider's agent vouched for the lease's channel: the lease counts in the
    provider's record when it ends."""

    lease_id: LeaseId


@dataclass(frozen=True, slots=True)
class GpuSeen:
    """The agent saw the running job use its GPUs at ``at``."""

    lease_id: LeaseId
    at: Timestamp


@dataclass(frozen=True, slots=True)
class InputIgnored:
    """An input that does not apply now, and why."""

    lease_id: LeaseId
    input_name: str
    reason: str


LeaseEvent = (
    StatusChanged | StopJob | Metered | VoucherKept | ChannelVerified | GpuSeen | InputIgnored
)


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
        case ProviderPreempted():
            return handle_provider_preempted(lease, inp)
        case Tick():
            return handle_tick(lease, inp)


def handle_agent_accepted(lease: Lease, inp: AgentAccepted) -> TransitionResult[Lease, LeaseEvent]:
    """requested -> starting. A live lease's channel counts as verified once the agent
    says so, even when the acceptance itself comes late (the job already running)."""
    events: list[LeaseEvent] = []
    if inp.channel_verified and not lease.channel_verified:
        lease = replace(lease, channel_verified=True)
        events.append(ChannelVerified(lease.lease_id))
    if lease.status != LeaseStatus.REQUESTED:
        lease, ignored = _ignore(lease, inp, f"lease is {lease.status.value}, not requested")
        return TransitionResult(lease, events + ignored)
    lease, moved = _move(lease, LeaseStatus.STARTING, "agent accepted")
    return TransitionResult(lease, events + moved)


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
    if inp.gpu_active and (lease.gpu_active_at is None or inp.now > lease.gpu_active_at):
        lease = replace(lease, gpu_active_at=inp.now)
        events.append(GpuSeen(lease.lease_id, inp.now))
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
    kept = VoucherKept(lease.lease_id, inp.amount, inp.signature, inp.now)
    return TransitionResult(replace(lease, paid=inp.amount), [kept])


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
        return _end(lease, LeaseStatus.PREEMPTED, inp.now, AGENT_SILENT, stop=False)
    return _end(lease, LeaseStatus.FAILED, inp.now, AGENT_SILENT, stop=False)


def handle_provider_preempted(
    lease: Lease, inp: ProviderPreempted
) -> TransitionResult[Lease, LeaseEvent]:
    """running -> preempted, as when the agent goes silent but at once and with its
    reason; earlier -> failed (the job never ran: nothing is billed). The agent stops
    the job itself."""
    why = f"preempted by the provider: {inp.reason}"
    status = LeaseStatus.PREEMPTED if lease.status == LeaseStatus.RUNNING else LeaseStatus.FAILED
    return _end(lease, status, inp.now, why, stop=False)


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
