"""Scheduling policies for the trace-driven simulator.

A policy gives each waiting job a priority key (lower runs first) and says whether
the head of the queue blocks the others (``strict``) and whether running jobs may
be preempted (``preemptive``). A hybrid policy may also send a job to the market
(``rent``) instead of the owned cluster.

    fifo          arrival order, strict: a big job at the head waits and blocks
    fifo_backfill arrival order; a job that does not fit lets later ones that fit
                  start (greedy backfilling, as Slurm's without reservations)
    sjf           shortest *estimated* run time first, backfilling what fits
    srtf          shortest *estimated* remaining time first, preemptive: the
                  estimate (median of earlier jobs of the same kind) less the
                  service already given
    las           Tiresias-style discretized least attained service: preemptive,
                  jobs drop a priority level after each threshold of GPU-seconds
    price         ours: the cheapest estimated bill first, with waiting priced in
    hybrid        ours on the owned GPUs; a job whose expected wait outweighs its
                  run time is rented from the market instead
"""

from __future__ import annotations

from l2gpu.analytics.allocation.trace import Trace
from l2gpu.core.errors import L2gpuError

# Tiresias' discretized LAS: priority levels end at these attained GPU-seconds.
LAS_THRESHOLDS = (3_600.0, 36_000.0)
_LEVEL_SPAN = 1e12  # keys of a lower level sort after every key of a higher one


class Policy:
    """Base policy: FIFO order, no blocking rule, no preemption, never rents."""

    name = "base"
    strict = False
    preemptive = False
    provisioning_s = 0.0

    def reset(self, trace: Trace, capacity: int) -> None:
        """Called once before a replay."""
        self.trace = trace
        self.capacity = capacity

    def key(self, job: int, level: int, attained: float = 0.0) -> float:
        """Priority of a waiting job at ``level`` that has had ``attained``
        unit-seconds of service (lower runs first)."""
        return float(self.trace.submit[job])

    def demotion_time(self, job: int, level: int, attained: float) -> float | None:
        """Unit-seconds of service until the job leaves ``level`` (None: never)."""
        return None

    def rent(self, job: int, now: float, free: int) -> bool:
        """Whether an arriving job runs on rented GPUs instead of the owned cluster."""
        return False

    def finished(self, job: int) -> None:
        """Called when a job on the owned cluster finishes."""


class Fifo(Policy):
    """First in, first out; the head of the queue blocks the rest."""

    name = "fifo"
    strict = True


class FifoBackfill(Policy):
    """First in, first out, with backfilling: the strongest simple baseline of
    batch schedulers (a job that fits never waits behind one that does not)."""

    name = "fifo_backfill"


class Srtf(Policy):
    """Shortest estimated remaining time first, preemptive (after SRTF, with the
    causal estimates of the trace instead of the true run times).

    A running job's key is the estimate left when it last started, so it may be
    preempted by a job whose estimate is shorter than that, even if the running one
    has since come closer to its end: preemption is decided at events only.
    """

    name = "srtf"
    preemptive = True

    def key(self, job: int, level: int, attained: float = 0.0) -> float:
        """Estimated seconds left (never below 0); ties by arrival."""
        t = self.trace
        left = max(float(t.estimate[job]) - attained / float(t.demand[job]), 0.0)
        return left + float(t.submit[job]) * 1e-12


class Sjf(Policy):
    """Shortest estimated job first (non-preemptive, backfilling)."""

    name = "sjf"

    def key(self, job: int, level: int, attained: float = 0.0) -> float:
        """Estimated run time; ties by arrival."""
        return float(self.trace.estimate[job])


class Las(Policy):
    """Discretized two-dimensional least attained service (after Tiresias, NSDI'19).

    Service is counted in GPU-seconds (time x GPUs), so wide jobs drop levels
    sooner; inside a level, arrival order.
    """

    name = "las"
    preemptive = True

    def __init__(self, thresholds: tuple[float, ...] = LAS_THRESHOLDS) -> None:
        self.thresholds = thresholds

    def reset(self, trace: Trace, capacity: int) -> None:
        """Thresholds are in GPU-seconds; the trace may count demand in smaller units."""
        super().reset(trace, capacity)
        self.unit_thresholds = [t * trace.units_per_gpu for t in self.thresholds]

    def key(self, job: int, level: int, attained: float = 0.0) -> float:
        """Level first, then arrival."""
        return level * _LEVEL_SPAN + float(self.trace.submit[job])

    def demotion_time(self, job: int, level: int, attained: float) -> float | None:
        """Unit-seconds left before the next threshold."""
        if level >= len(self.unit_thresholds):
            return None
        return max(self.unit_thresholds[level] - attained, 0.0)


class PriceAware(Policy):
    """Ours: order by estimated bill plus the price of the time already waited.

    The key is ``submit + estimate * demand / delay_gpus``: a job's estimated bill
    (GPU-seconds at the cluster's price) competes with waiting, priced at
    ``delay_gpus`` GPUs per second of delay. Small bills go first, as in
    shortest-job-first, but a big job's place improves as it waits, so nothing
    starves. ``delay_gpus`` defaults to a tenth of the cluster.
    """

    name = "price"

    def __init__(self, delay_share: float = 0.1) -> None:
        self.delay_share = delay_share

    def reset(self, trace: Trace, capacity: int) -> None:
        """Fix the price of delay for this cluster."""
        super().reset(trace, capacity)
        self.delay_units = max(self.delay_share * capacity, 1.0)

    def key(self, job: int, level: int, attained: float = 0.0) -> float:
        """Arrival time plus the estimated bill in seconds of delay."""
        t = self.trace
        return float(t.submit[job] + t.estimate[job] * t.demand[job] / self.delay_units)


class Hybrid(PriceAware):
    """Ours: price-aware on the owned GPUs; rent from the market when waiting costs more.

    On arrival a job's expected wait is the outstanding estimated work on the
    owned cluster divided by its size. If the job does not fit now and that wait
    is longer than ``patience`` times its estimated run time (and at least
    ``min_wait_s``), it runs on rented GPUs after ``provisioning_s``.
    """

    name = "hybrid"

    def __init__(
        self,
        patience: float = 1.0,
        min_wait_s: float = 600.0,
        provisioning_s: float = 120.0,
        delay_share: float = 0.1,
    ) -> None:
        super().__init__(delay_share)
        self.patience = patience
        self.min_wait_s = min_wait_s
        self.provisioning_s = provisioning_s

    def reset(self, trace: Trace, capacity: int) -> None:
        """Start with no outstanding work."""
        super().reset(trace, capacity)
        self.outstanding = 0.0
        self.work = trace.estimate * trace.demand

    def rent(self, job: int, now: float, free: int) -> bool:
        """Rent when the expected wait outweighs the job's own run time."""
        if self.trace.demand[job] <= free:
            self.outstanding += self.work[job]
            return False
        expected_wait = self.outstanding / self.capacity
        if expected_wait > max(self.min_wait_s, self.patience * self.trace.estimate[job]):
            return True
        self.outstanding += self.work[job]
        return False

    def finished(self, job: int) -> None:
        """The job's estimated work leaves the backlog."""
        self.outstanding = max(self.outstanding - self.work[job], 0.0)


POLICIES = {
    "fifo": Fifo,
    "fifo_backfill": FifoBackfill,
    "sjf": Sjf,
    "srtf": Srtf,
    "las": Las,
    "price": PriceAware,
    "hybrid": Hybrid,
}
BASELINES = ("fifo", "fifo_backfill", "sjf", "srtf", "las")
"""Policies of the literature that every policy of ours is measured against."""
RENTING = ("hybrid",)
"""Policies that add rented GPUs: reported apart, with the GPU-hours rented and their cost."""


def make_policy(name: str) -> Policy:
    """A fresh policy by name."""
    if name not in POLICIES:
        raise L2gpuError(f"unknown policy '{name}'", f"choose from: {', '.join(POLICIES)}")
    policy: Policy = POLICIES[name]()
    return policy
