"""Metering: usage samples from the agent -> seconds of service -> billable GPU-seconds.

The agent samples a job every second. A second is billable only if the job was
running (not paused, not stopped) and it lies inside the lease, between the
start of the job and the lease's end. A gap between samples longer than
``max_gap`` seconds (the agent was gone, or could not see the job) is billed as
``max_gap`` at most: seconds nobody observed are not charged to the renter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.types import GpuSeconds, Timestamp


@dataclass(frozen=True, slots=True)
class UsageSample:
    """What the agent saw at ``at``: whether the job ran, and each leased GPU's use (0..1)."""

    at: Timestamp
    running: bool
    gpu_utilization: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Meter:
    """The meter of one lease."""

    started_at: Timestamp
    ends_at: Timestamp
    num_gpus: int
    last_at: Timestamp
    seconds: int = 0
    max_gap: int = 2
    samples: int = 0
    utilization_sum: float = 0.0

    @property
    def gpu_seconds(self) -> GpuSeconds:
        """Billable GPU-seconds so far: seconds of service times the GPUs leased."""
        return GpuSeconds(self.seconds * self.num_gpus)

    @property
    def mean_utilization(self) -> float:
        """Mean GPU utilisation over the samples that reported one (0 if none)."""
        return self.utilization_sum / self.samples if self.samples else 0.0


def start_meter(started_at: Timestamp, ends_at: Timestamp, num_gpus: int) -> Meter:
    """A meter for a job that started at ``started_at`` and must end by ``ends_at``."""
    return Meter(started_at, ends_at, num_gpus, last_at=started_at)


def record_sample(meter: Meter, sample: UsageSample) -> tuple[Meter, int]:
    """Fold one sample into the meter; return it and the seconds newly billable."""
    if sample.at <= meter.last_at:
        return meter, 0  # a late or repeated sample adds nothing
    upto = min(sample.at, meter.ends_at)
    span = max(0, upto - meter.last_at)
    added = min(span, meter.max_gap) if sample.running else 0
    has_util = bool(sample.gpu_utilization)
    util = sum(sample.gpu_utilization) / len(sample.gpu_utilization) if has_util else 0.0
    return (
        replace(
            meter,
            last_at=Timestamp(max(meter.last_at, upto)),
            seconds=meter.seconds + added,
            samples=meter.samples + (1 if has_util else 0),
            utilization_sum=meter.utilization_sum + (util if has_util else 0.0),
        ),
        added,
    )
