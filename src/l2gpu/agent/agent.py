"""The provider agent: publishes offers, runs leased jobs, meters them, checks vouchers.

One :meth:`ProviderAgent.step` does everything due now, so tests drive the agent
with a simulated clock and the daemon calls it a few times a second:

1. a heartbeat (once per second) with the machine's inventory;
2. new leases: check the channel through the agent's rail (on L1 or inside the
   rollup: :mod:`l2gpu.payments.rails`), accept the lease saying the rail vouched
   for its channel, start the job; a job that cannot start is reported and costs
   nothing;
3. running leases, once per second: sample the job (running or paused), meter
   it, report the seconds, feed them to the :class:`~l2gpu.payments.payee.Payee`
   with the newest voucher; pause the job when unpaid seconds reach the grace
   period, resume when paid, stop after another grace period unpaid; hold it
   (paused) past the grace while its channel is only soft-confirmed (under
   :meth:`~ProviderAgent.run` a thread does this too, so a step waiting on the
   network never leaves a job unmetered: :mod:`l2gpu.agent.metering`);
4. leases the market ended (time up, renter stop, preemption): stop the job, close
   the channel through the rail with the best voucher.

After a restart the agent takes up the leases the market still has running:
re-attaches to their jobs through the backend and starts its payees from the
vouchers stored in the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from l2gpu.agent.backends import Backend, JobSpec, JobStartError
from l2gpu.agent.closing import ChannelClosing, Served, Settlement
from l2gpu.agent.inventory import Inventory
from l2gpu.agent.metering import LeaseMetering
from l2gpu.agent.offering import OfferPublishing
from l2gpu.agent.outputs import DOWNLOAD_POLL_S, RETENTION_EVERY_S, JobOutputs, Retention
from l2gpu.agent.shells import LeaseShells
from l2gpu.client import MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import ChannelRail
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease import AGENT_SHUT_DOWN
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.metering import Meter, start_meter
from l2gpu.core.market.shell import SeenRequests
from l2gpu.core.market.workdir import MAX_ARCHIVE_BYTES, size_text
from l2gpu.core.types import Timestamp
from l2gpu.payments.store import VoucherStore
from l2gpu.wire import AgentLease

log = logging.getLogger(__name__)
GRACE_SECONDS = 5
MAX_UNSENT_LOG_CHARS = 4 * 1024 * 1024  # output kept while the market refuses it


@dataclass
class ProviderAgent(OfferPublishing, LeaseMetering, ChannelClosing, JobOutputs, LeaseShells):
    """One machine's agent."""

    client: MarketClient
    key: PrivateKey
    backend: Backend
    inventory: Inventory
    store: VoucherStore
    clock: Callable[[], int]
    chain_id: int
    grace: int = GRACE_SECONDS
    rail: ChannelRail | None = None
    nvml: Any = None
    memory_bytes: int | None = None
    job_processes: int | None = None
    job_open_files: int | None = None
    job_disk_bytes: int | None = None
    settle_after: int = 2
    served: dict[int, Served] = field(default_factory=dict)
    settlements: list[Settlement] = field(default_factory=list)
    _to_settle: dict[int, tuple[Served, int]] = field(default_factory=dict)
    _close_tries: dict[int, int] = field(default_factory=dict)
    _recovered: bool = False
    _recover_at: int = 0
    background_closes: bool = False
    _closing: dict[int, tuple[Served, Any]] = field(default_factory=dict)
    _pool: Any = None
    _last_beat: int = -1
    _gpu_names: dict[str, str] = field(default_factory=dict)
    _last_info: dict[int, AgentLease] = field(default_factory=dict)
    _unsent_logs: dict[int, list[str]] = field(default_factory=dict)
    _unreported: dict[int, int] = field(default_factory=dict)
    _gpu_active: set[int] = field(default_factory=set)
    _unstarted: set[int] = field(default_factory=set)
    _reaped: bool = False
    kept: Retention | None = None
    """Leases' folders kept after the lease, and downloads from them (None: neither)."""
    _downloads_at: int = -DOWNLOAD_POLL_S
    _retained_at: int = -RETENTION_EVERY_S
    _sending: dict[int, Any] = field(default_factory=dict)
    _polls: dict[int, Any] = field(default_factory=dict)
    _sender: Any = None
    _shells: dict[int, Any] = field(default_factory=dict)
    """Shell sessions (l2gpu ssh) by id: :mod:`l2gpu.agent.shells`."""
    _shell_nonces: SeenRequests = field(default_factory=SeenRequests)
    _shells_polled: float = float("-inf")
    _shell_poll: Any = None
    _shell_pool: Any = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    """Serializes the meter thread with the loop's touches of the served leases (the
    ``Served``, ``served``, usage not yet reported, the jobs' pause, resume and stop);
    never held across a network call."""

    # -- the loop ------------------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Step until ``stop`` is set; a failing step is logged and retried. A thread
        meters the leases meanwhile, every ``interval`` too, and ends with the loop: a
        step stalled on the market or the rail leaves no job running unmetered."""
        meter, halt = self.start_metering(interval)
        try:
            while not stop.is_set():
                try:
                    self.step()
                except L2gpuError as exc:
                    log.warning("agent step failed: %s", exc)
                except Exception:  # a client library's own error: the daemon lives on
                    log.exception("agent step failed")
                stop.wait(interval)
        finally:
            halt.set()
            meter.join(timeout=10)

    def step(self) -> None:
        """Do everything due now.

        The market being unreachable stops nothing that protects the provider: the
        running leases are metered and their payees obeyed with what the market said
        last (vouchers reach the agent through the market, so without it they lag,
        and the job pauses after the grace period). New leases and ends wait.
        """
        now = self.clock()
        # Meter and obey the payees first, with nothing but the local backend: a market
        # or rail call below may take its whole timeout, and a job whose renter stopped
        # paying must not run on meanwhile (seen: 2 s past the grace under load). Under
        # run() the meter thread does so too, while this step waits on the network.
        self.meter_served(now)
        for stopped in list(self.served.values()):
            self._end_stopped(stopped)
        if now != self._last_beat:
            try:
                self.client.heartbeat(self.inventory.to_json())
                self._last_beat = now
            except L2gpuError as exc:
                log.warning("heartbeat failed: %s", exc.what)
        if not self._recovered and now >= self._recover_at:
            try:
                self._recover_closes(now)
            except L2gpuError as exc:  # the market or the rail is down: try again soon
                log.warning("recovering unclosed channels failed, retrying in 5 s: %s", exc)
                self._recover_at = now + 5
        try:
            work: dict[int, AgentLease] | None = {w.id: w for w in self.client.work()}
        except L2gpuError as exc:
            log.warning("the market is unreachable, metering on what it said last: %s", exc.what)
            work = None
        if work is None:  # metering and voucher checks go on; nothing starts or ends
            for lease_id, tended in list(self.served.items()):
                if lease_id in self._last_info:
                    self._tend(tended, self._last_info[lease_id], now)
        else:
            if not self._reaped:
                self._reap(work)
            for lease_id, info in work.items():
                self._last_info[lease_id] = info
                served = self.served.get(lease_id)
                if served is None:
                    self._take(info, now)
                else:
                    self._tend(served, info, now)
            for lease_id in [i for i in self.served if i not in work]:
                self._finish(self.served[lease_id], "the market ended the lease")
            for lease_id in [i for i in self._last_info if i not in work]:
                del self._last_info[lease_id]
        self._flush_reports()
        self._settle_due(now)
        self._tend_outputs(now, set(self.served) | set(self._last_info))
        self._tend_shells()

    def shutdown(self) -> None:
        """Stop every job this agent runs, tell the market each lease is preempted (so
        its renter may go elsewhere at once, rather than after the agent timeout), and
        let a close in flight finish. The channels of the leases stopped are closed by
        the next start of the agent, with the best vouchers in its database."""
        self.end_shells()
        for served in list(self.served.values()):
            with self._lock:
                self.backend.stop(served.lease_id)
            self._send_logs(served.lease_id)
            self._tell(served.lease_id, "preempted", reason=AGENT_SHUT_DOWN)
            self._kept_ended(served.lease_id)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._sender is not None:
            self._sender.shutdown(wait=False, cancel_futures=True)

    # -- leases --------------------------------------------------------------------

    def _reap(self, work: dict[int, AgentLease]) -> None:
        """Once, after a start: stop every job an earlier agent left running whose lease
        is over (ended while this agent was down); the live ones are adopted by
        :meth:`_take`, which meters them from now on. A job nobody meters is never
        left running."""
        for lease_id in self.backend.found():
            if lease_id in work or lease_id in self.served:
                continue
            if self.backend.recover(lease_id):
                log.warning("lease %s is over; stopping the job it left running", lease_id)
                self.backend.stop(lease_id)
        self._reaped = True

    def _adopt(self, info: AgentLease, now: int) -> bool:
        """A job this lease already has (started before a restart, or before the
        market heard "started"): meter it from now on instead of starting another."""
        lease_id = info.id
        if not self.backend.recover(lease_id):
            return False
        log.info("lease %s: its job was running already; metering it from now", lease_id)
        params, payee = self._payee(info)
        started = info.started_at or now
        ends = Timestamp(info.ends_at or started + info.max_seconds)
        meter = start_meter(Timestamp(started), ends, info.num_gpus)
        meter = Meter(meter.started_at, meter.ends_at, meter.num_gpus, Timestamp(now),
                      seconds=info.metered_seconds)  # fmt: skip
        # The payee starts from the best voucher stored; it must also know what was
        # delivered already, or a renter's earlier prepayment would look like credit
        # for seconds to come (the provider would serve past the grace unpaid).
        if meter.seconds:
            payee.delivered(meter.seconds, Timestamp(now))
        # A job the dead-man switch froze stays paused until its payee says run.
        paused = self.backend.status(lease_id).state == "paused"
        with self._lock:  # metered by the meter thread from now on
            self.served[lease_id] = Served(lease_id, params, payee, meter, now,
                                           info.channel.to_core(), paused=paused)  # fmt: skip
        self._kept_started(lease_id, info.renter)
        if info.status != LeaseStatus.RUNNING:
            self._report_started(lease_id)
        return True

    def _report_started(self, lease_id: int) -> None:
        try:
            self.client.report(lease_id, "started")
            self._unstarted.discard(lease_id)
        except L2gpuError as exc:  # the job runs and is metered; the market hears later
            log.warning("lease %s: could not report its start yet: %s", lease_id, exc.what)
            self._unstarted.add(lease_id)

    def _take(self, info: AgentLease, now: int) -> None:
        lease_id, status = info.id, info.status
        if str(info.offer_id) not in self._gpu_names:
            # Another agent with this key published that offer (another machine, or an
            # earlier run whose offers this one withdrew): its GPUs are not these, so
            # the lease, requested or running, is left to the agent that offered them.
            return
        params, payee = self._payee(info)
        if status == LeaseStatus.RUNNING:  # taken over after a restart
            if not self._adopt(info, now):
                self.client.report(lease_id, "exited", exit_code=-1)
                # the job is gone, its vouchers are not: close the channel with them
                meter = start_meter(Timestamp(now), Timestamp(now), info.num_gpus)
                lost = Served(lease_id, params, payee, meter, now, info.channel.to_core())
                self._to_settle[lease_id] = (lost, now)
            return
        if self._adopt(info, now):  # started, but the market never heard it
            return
        # The channel is checked before the lease is accepted, and the acceptance says
        # whether the rail vouched for it: the market counts a lease in this provider's
        # record only then, so leases on made-up channels cannot lower its reliability.
        problem = self._check_channel(info, now)
        if problem is not None:
            self.client.report(lease_id, "start_failed", reason=problem)
            return
        if status == LeaseStatus.REQUESTED:
            self.client.report(lease_id, "accepted", channel_verified=self.rail is not None)
        try:
            spec = self._spec(info)
            if info.job.archive is not None:  # the folder the job starts in
                spec = replace(spec, archive=self._fetch_folder(info))
            self.backend.start(spec)
        except JobStartError as exc:
            self.client.report(lease_id, "start_failed", reason=exc.what[:400])
            self._send_logs(lease_id)
            return
        except Exception as exc:  # a backend bug fails this lease once, never the loop
            log.exception("lease %s: the backend could not start the job", lease_id)
            self.client.report(
                lease_id,
                "start_failed",
                reason=f"the provider's backend failed: {type(exc).__name__}",
            )
            return
        ends = Timestamp(now + info.max_seconds)
        meter = start_meter(Timestamp(now), ends, info.num_gpus)
        # tended from now on, whether or not the market hears of the start at once
        with self._lock:
            self.served[lease_id] = Served(lease_id, params, payee, meter, now,
                                           info.channel.to_core())  # fmt: skip
        self._kept_started(lease_id, info.renter)
        log.info("lease %s started: %s GPU(s) for %s, at most %s s at %s wei per GPU-second",
                 lease_id, info.num_gpus, info.renter, info.max_seconds,
                 info.price_per_gpu_second)  # fmt: skip
        self._report_started(lease_id)

    def _finish(self, s: Served, why: str, *, settle_in: int | None = None) -> None:
        self.end_shells(s.lease_id)
        with self._lock:  # no longer metered once stopped: the meter thread skips it
            if self.backend.status(s.lease_id).state != "exited":
                self.backend.stop(s.lease_id)
            self.served.pop(s.lease_id, None)
        self._send_logs(s.lease_id)
        self._kept_ended(s.lease_id)
        log.info("lease %s finished: %s", s.lease_id, why)
        # The renter's last voucher, for the last metered seconds, may still be on its
        # way: wait a moment for it before closing the channel.
        wait = self.settle_after if settle_in is None else settle_in
        self._to_settle[s.lease_id] = (s, self.clock() + wait)

    # -- helpers -------------------------------------------------------------------

    def _gpu_indices(self, info: AgentLease) -> tuple[int, ...]:
        """The indices of the GPUs that ``info``'s lease runs on (what the meter
        samples every tick: it costs no copy of the job's env, secrets or files)."""
        name = self._gpu_names.get(str(info.offer_id))
        group = self.inventory.groups().get(name or "", []) if name else []
        if not group and self.inventory.gpus:
            group = list(self.inventory.gpus)
        return tuple(g.index for g in group[: info.num_gpus])

    def _spec(self, info: AgentLease) -> JobSpec:
        job = info.job
        indices = self._gpu_indices(info)
        # The lease's share of the machine: CPU cores, memory and disk in proportion
        # to the GPUs it rents (CPU slots where there is no GPU).
        slots = len(self.inventory.gpus) or self.inventory.cpu_cores
        share = info.num_gpus / max(1, slots)
        inventory = self.inventory
        return JobSpec(
            info.id,
            job.command,
            dict(job.env),
            dict(job.secrets),
            dict(job.files),
            indices,
            cpu_cores=max(1, int(inventory.cpu_cores * share)),
            memory_bytes=self.memory_bytes or int(inventory.ram_gb * 2**30 * share) or None,
            processes=self.job_processes,
            open_files=self.job_open_files,
            disk_bytes=self.job_disk_bytes or int(inventory.disk_gb * 2**30 * share) or None,
            image=job.image,
        )

    def _fetch_folder(self, info: AgentLease) -> bytes:
        """The archive of the folder the lease's job starts in, from the market, checked
        against the digest in the lease's job; a refusal fails the start (it costs the
        renter nothing)."""
        archive = info.job.archive
        assert archive is not None
        if archive.size > MAX_ARCHIVE_BYTES:
            raise JobStartError(
                f"the job's folder is {size_text(archive.size)}, above the limit of "
                f"{size_text(MAX_ARCHIVE_BYTES)}",
                "pack a smaller folder",
            )
        try:
            return self.client.archive(info.id, archive)
        except L2gpuError as exc:
            raise JobStartError(f"the job's folder could not be fetched: {exc.what}",
                                exc.fix) from exc  # fmt: skip

    def _send_logs(self, lease_id: int) -> None:
        """Upload new output; a failed upload keeps it (bounded) for the next try and
        never stops metering."""
        waiting = self._unsent_logs.setdefault(lease_id, [])
        waiting.extend(self.backend.read_logs(lease_id))
        while sum(len(c) for c in waiting) > MAX_UNSENT_LOG_CHARS:
            waiting.pop(0)  # the oldest output goes first when the market stays away
        if not waiting:
            return
        try:
            self.client.send_logs(lease_id, waiting)
        except L2gpuError as exc:
            log.warning("lease %s: output not uploaded yet: %s", lease_id, exc.what)
            return
        waiting.clear()
        self.backend.logs_sent(lease_id)  # a restart resumes after this, nothing lost

    def _tell(self, lease_id: int, kind: str, **fields: Any) -> None:
        """Report a job's end; if the market is away, the job ends here all the same
        (a later step finds the lease still live and reports what it finds)."""
        try:
            self.client.report(lease_id, kind, **fields)
        except L2gpuError as exc:
            log.warning("lease %s: could not report %s: %s", lease_id, kind, exc.what)
