"""``rent --idle-stop MINUTES``: the renter's client stops a lease whose job has done
nothing visible for that long, so an idle job does not run up the bill.

A job is *active* at a moment when it printed something (a chunk of its output reached
the market then) or used its GPUs (the provider's agent saw one of the lease's GPUs at
least 1 % busy in a second, from NVML, and said so with its usage report). It is idle
once neither happened for ``MINUTES``, counted from the job's start. Where the agent
has no NVML (declared GPUs, CPU slots) it never reports GPU use, so only output
counts: a job that computes silently there is stopped; let it print now and then, or
do not use ``--idle-stop``. Pure: every time is the market's, in whole seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.wire import LeasePublic, LogChunk

MAX_IDLE_MINUTES = 525_600  # a year: longer than any lease


class IdleStopError(L2gpuError):
    """An idle limit that is not a number of minutes in (0, a year]."""


def idle_limit_s(
    minutes: object, *, name: str = "--idle-stop", example: str = "--idle-stop 15"
) -> int:
    """The idle limit ``minutes`` (as ``--idle-stop`` or a task's ``idle_stop`` gives it)
    in whole seconds, at least one. Raises :class:`IdleStopError` for anything but a
    number of minutes above 0 and at most a year."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise IdleStopError(f"{name} {minutes!r} is not a number of minutes",
                            f"give minutes above 0, e.g. {example}")  # fmt: skip
    if not 0 < minutes <= MAX_IDLE_MINUTES:
        raise IdleStopError(f"{name} {minutes:g} is not a number of minutes above 0",
                            f"give minutes above 0 and at most {MAX_IDLE_MINUTES}, "
                            f"e.g. {example}")  # fmt: skip
    return max(1, round(minutes * 60))


def idle_reason(
    *,
    now: int,
    started_at: int,
    last_output_at: int | None,
    gpu_active_at: int | None,
    limit_s: int,
    rule: str = "--idle-stop",
) -> str | None:
    """Why the job counts as idle at ``now`` (nothing printed and no GPU used for
    ``limit_s`` seconds since its last activity or its start); None while it is not.
    ``rule`` names the setting in the reason (the flag, or a task's key)."""
    last = max(t for t in (started_at, last_output_at, gpu_active_at) if t is not None)
    quiet = now - last
    if quiet < limit_s:
        return None
    return (f"the job printed nothing and used no GPU for {quiet} s, at least the "
            f"{limit_s} s of {rule}")  # fmt: skip


class IdleStop:
    """The paying loop's watch for ``rent --idle-stop``: the last output it saw, and the
    lease's last GPU use, against the limit."""

    def __init__(self, limit_s: int, clock: Callable[[], int], rule: str = "--idle-stop") -> None:
        self.limit_s = limit_s
        self.clock = clock
        self.rule = rule
        self.last_output_at: int | None = None

    def watch(self, info: LeasePublic, chunks: Sequence[LogChunk]) -> str | None:
        """A reason to stop the lease now, or None."""
        for chunk in chunks:
            if chunk.text.strip():
                self.last_output_at = max(self.last_output_at or 0, chunk.at)
        if info.status is not LeaseStatus.RUNNING or info.started_at is None:
            return None
        return idle_reason(now=self.clock(), started_at=info.started_at,
                           last_output_at=self.last_output_at,
                           gpu_active_at=info.gpu_active_at, limit_s=self.limit_s,
                           rule=self.rule)  # fmt: skip
