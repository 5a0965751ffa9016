"""An event-driven, trace-driven simulator of a GPU cluster (optionally renting overflow).

Jobs arrive at their trace submit times and need all their GPUs at once (gang
scheduling). Events (arrival, completion, demotion) sit in one heap; waiting jobs
sit in one heap per demand size, so "the best waiting job that fits in the free
GPUs" is a look at a handful of heap tops, not a scan of the queue. That keeps a
replay of the whole Philly trace to a second or two per policy.

Policies (see :mod:`policies`) differ in the priority key of a waiting job, in
whether a job that does not fit blocks those behind it (strict FIFO), and in
whether running jobs can be preempted (least attained service).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from l2gpu.analytics.allocation.policies import Policy
from l2gpu.analytics.allocation.trace import Trace
from l2gpu.core.progress import OnProgress, every, no_progress

ARRIVE, FINISH, DEMOTE = 0, 1, 2
IDLE = -1.0  # run_start / first_start / end of a job that has none yet


@dataclass(frozen=True)
class Replay:
    """Per-job outcome of one replay, and the cluster it ran on."""

    policy: str
    trace: str
    capacity: int
    units_per_gpu: int
    submit: np.ndarray
    first_start: np.ndarray
    end: np.ndarray
    duration: np.ndarray
    demand: np.ndarray
    rented: np.ndarray
    preemptions: int

    @property
    def jct(self) -> np.ndarray:
        """Job completion time: end minus submit (seconds)."""
        return self.end - self.submit

    @property
    def wait(self) -> np.ndarray:
        """Time a job spent not running: JCT minus run time (queueing and preemption)."""
        return self.jct - self.duration

    @property
    def makespan(self) -> float:
        """From the first submission to the last completion (seconds)."""
        return float(np.max(self.end) - np.min(self.submit))

    @property
    def utilization(self) -> float:
        """Busy share of the owned GPUs over the makespan (rented work excluded)."""
        owned = ~self.rented
        work = float(np.sum(self.duration[owned] * self.demand[owned]))
        return work / (self.capacity * self.makespan)


class _Waiting:
    """Waiting jobs, one heap per demand size, ordered by (key, job index)."""

    def __init__(self) -> None:
        self.heaps: dict[int, list[tuple[float, int]]] = {}
        self.count = 0

    def push(self, demand: int, key: float, job: int) -> None:
        heapq.heappush(self.heaps.setdefault(demand, []), (key, job))
        self.count += 1

    def best(self, free: int | None) -> tuple[float, int, int] | None:
        """(key, job, demand) of the best job with demand <= free (any demand if None)."""
        best: tuple[float, int, int] | None = None
        for demand, heap in self.heaps.items():
            if heap and (free is None or demand <= free):
                key, job = heap[0]
                if best is None or (key, job) < (best[0], best[1]):
                    best = (key, job, demand)
        return best

    def pop(self, demand: int) -> None:
        heapq.heappop(self.heaps[demand])
        self.count -= 1


def replay(
    trace: Trace,
    policy: Policy,
    capacity: int | None = None,
    *,
    on_progress: OnProgress = no_progress,
) -> Replay:
    """Replay ``trace`` on ``capacity`` units under ``policy``; return per-job outcomes.
    ``on_progress(done, total, label)`` hears of the jobs that arrived, about 100 times
    in all (labelled with the policy's name), and of the last."""
    capacity = int(capacity or trace.capacity)
    n = len(trace)
    submit, duration = trace.submit, trace.duration
    # Plain lists: the loop touches one job at a time, where numpy scalars are slow.
    size = [int(d) for d in trace.demand]
    remaining = [float(d) for d in duration]
    attained = [0.0] * n  # unit-seconds of service so far (least attained service)
    level = [0] * n
    run_start = [IDLE] * n
    first_start = [IDLE] * n
    end = [IDLE] * n
    rented = [False] * n
    run_id = [0] * n  # bumps on preemption, so that stale events are skipped
    running: list[tuple[float, int, int]] = []  # (-priority key, job, run id): worst on top
    waiting = _Waiting()
    events: list[tuple[float, int, int, int]] = [(float(submit[i]), ARRIVE, i, 0) for i in range(n)]
    heapq.heapify(events)
    free = capacity
    preemptions = 0
    policy.reset(trace, capacity)
    key_of = policy.key

    def schedule_demotion(job: int, now: float) -> None:
        left = policy.demotion_time(job, level[job], attained[job])
        if left is not None and left / size[job] < remaining[job]:
            heapq.heappush(events, (now + left / size[job], DEMOTE, job, run_id[job]))

    def start(job: int, now: float) -> None:
        nonlocal free
        free -= size[job]
        run_start[job] = now
        if first_start[job] == IDLE:
            first_start[job] = now
        heapq.heappush(events, (now + remaining[job], FINISH, job, run_id[job]))
        if policy.preemptive:
            heapq.heappush(running, (-key_of(job, level[job], attained[job]), job, run_id[job]))
            schedule_demotion(job, now)

    def stop(job: int, now: float) -> None:
        nonlocal free, preemptions
        ran = now - run_start[job]
        remaining[job] -= ran
        attained[job] += ran * size[job]
        run_start[job] = IDLE
        run_id[job] += 1
        free += size[job]
        preemptions += 1
        waiting.push(size[job], key_of(job, level[job], attained[job]), job)

    def live(neg_key: float, job: int, rid: int) -> bool:
        # current run, still running, and not an entry from before a demotion
        return (
            rid == run_id[job]
            and run_start[job] != IDLE
            and -neg_key == key_of(job, level[job], attained[job])
        )

    def preempt_for(key: float, need: int, now: float) -> bool:
        # Drop stale entries from the top, then the cheap case first: if the worst
        # running job is not worse than the waiting one, nothing can be preempted.
        while running and not live(*running[0]):
            heapq.heappop(running)
        if not running or -running[0][0] <= key:
            return False
        victims: list[int] = []
        freed = free
        for neg_key, job, rid in sorted(running):
            if freed >= need or -neg_key <= key:
                break
            if live(neg_key, job, rid) and job not in victims:
                victims.append(job)
                freed += size[job]
        if freed < need:
            return False
        for job in victims:
            stop(job, now)
        if len(running) > 2 * (capacity - free) + 64:
            # stale entries pile up under lazy deletion; compact now and then
            running[:] = [e for e in running if live(*e)]
            heapq.heapify(running)
        return True

    def dispatch(now: float) -> None:
        while waiting.count:
            top = waiting.best(None)
            assert top is not None
            key, job, need = top
            if need <= free:
                waiting.pop(need)
                start(job, now)
                continue
            if policy.preemptive and preempt_for(key, need, now):
                continue
            if policy.strict:
                break  # strict FIFO: the head blocks everyone behind it
            fitting = waiting.best(free)
            if fitting is None:
                break
            waiting.pop(fitting[2])
            start(fitting[1], now)

    arrived, report_every, label = 0, every(n), f"replay {trace.name} under {policy.name}"
    on_progress(0, n, label)
    while events:
        now, kind, job, rid = heapq.heappop(events)
        if kind == ARRIVE:
            arrived += 1
            if arrived % report_every == 0 or arrived == n:
                on_progress(arrived, n, label)
            if policy.rent(job, now, free):
                rented[job] = True
                first_start[job] = now + policy.provisioning_s
                end[job] = first_start[job] + float(duration[job])
                continue
            waiting.push(size[job], key_of(job, 0, 0.0), job)
        elif rid != run_id[job]:
            continue  # the job was preempted after this event was scheduled
        elif kind == FINISH:
            end[job] = now
            run_start[job] = IDLE
            free += size[job]
            policy.finished(job)
        else:  # DEMOTE: the job used up its level's service; it keeps running, lower
            ran = now - run_start[job]
            attained[job] += ran * size[job]
            remaining[job] -= ran
            run_start[job] = now
            level[job] += 1
            heapq.heappush(running, (-key_of(job, level[job], attained[job]), job, rid))
            if len(running) > 2 * (capacity - free) + 64:
                running[:] = [e for e in running if live(*e)]
                heapq.heapify(running)
            schedule_demotion(job, now)
        dispatch(now)
    return Replay(
        policy.name,
        trace.name,
        capacity,
        trace.units_per_gpu,
        submit,
        np.array(first_start),
        np.array(end),
        duration,
        trace.demand,
        np.array(rented),
        preemptions,
    )
