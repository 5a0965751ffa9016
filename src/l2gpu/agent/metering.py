"""How the agent meters a running lease and obeys its payee (mixed into
:class:`~l2gpu.agent.agent.ProviderAgent`, whose fields these are).

Each second a running job is sampled and metered, the seconds fed to the lease's
:class:`~l2gpu.payments.payee.Payee` with the newest voucher, and the job paused,
resumed or stopped as the payee says; it is held (paused) past the grace while its
channel is only soft-confirmed, and from the lease's end until the market ends the
lease. The lease's channel is read on the agent's rail now and then, since a renter
may start closing it mid-lease.

Metering and the payees' verdicts must not wait on the network: a second nobody
observes is never billed (``max_gap``), so a loop step stalled on the market or the
rail would let the job run unpaid (seen: 10 s of 27 lost while the market and the
node restarted). The daemon therefore meters in a thread of its own
(:meth:`LeaseMetering.start_metering`) that touches only the local backend and NVML;
one lock (``_lock``) serializes it with the loop's touches of the served leases, and
the loop never holds it across a network call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from l2gpu.agent.backends import Backend
from l2gpu.agent.closing import Served, receive_voucher
from l2gpu.agent.inventory import gpu_utilization
from l2gpu.client import MarketClient
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.stream import PayeeState, ServiceState
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import ChannelRail
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import voucher_domain
from l2gpu.core.market.metering import UsageSample, record_sample
from l2gpu.core.market.settlement import (
    ONE_CHANNEL_PER_LEASE,
    parties_problem,
    reuse_problem,
    settlement_problem,
)
from l2gpu.core.types import Address, Hash32, Seconds, Timestamp, Wei
from l2gpu.payments.payee import Payee
from l2gpu.payments.store import VoucherStore
from l2gpu.wire import AgentLease, LeasePublic

log = logging.getLogger(__name__)
CHANNEL_CHECK_SECONDS = 5  # how often a running lease's channel is read on the rail
# A soft-confirmed open waits for one batch (seconds) or for a node that restarts; a
# lease held this long on a channel no batch has included is given up.
UNCONFIRMED_LIMIT_SECONDS = 300
GPU_ACTIVE = 0.01
"""A job uses its GPUs in a second when one of them is at least this busy (NVML's
utilisation: the share of the sample period a kernel ran)."""


class LeaseMetering:
    """The agent's metering of running leases and its payees' verdicts."""

    client: MarketClient
    key: PrivateKey
    backend: Backend
    store: VoucherStore
    clock: Callable[[], int]
    grace: int
    rail: ChannelRail | None
    nvml: Any
    served: dict[int, Served]
    _unreported: dict[int, int]
    _gpu_active: set[int]
    _last_info: dict[int, AgentLease]
    _lock: threading.RLock
    _unstarted: set[int]

    def _gpu_indices(self, info: AgentLease) -> tuple[int, ...]:
        raise NotImplementedError  # the agent's

    def _send_logs(self, lease_id: int) -> None:
        raise NotImplementedError  # the agent's

    def _tell(self, lease_id: int, kind: str, **fields: Any) -> None:
        raise NotImplementedError  # the agent's

    def _finish(self, s: Served, why: str, *, settle_in: int | None = None) -> None:
        raise NotImplementedError  # the agent's

    def _report_started(self, lease_id: int) -> None:
        raise NotImplementedError  # the agent's

    # -- the meter: local calls only, under the lock ------------------------------------

    def meter_served(self, now: int) -> None:
        """Meter every served lease up to ``now`` and pause, resume or stop its job as
        its payee says, with nothing but the local backend and NVML: no network call
        may delay it. Safe from any thread (it takes the agent's lock)."""
        with self._lock:
            for lease_id, s in list(self.served.items()):
                known = self._last_info.get(lease_id)
                gpus = self._gpu_indices(known) if known is not None else ()
                self._meter_and_obey(s, self.backend.status(lease_id), now, gpus)

    def start_metering(self, interval: float) -> tuple[threading.Thread, threading.Event]:
        """Run :meth:`meter_served` every ``interval`` seconds in a daemon thread until
        the event returned is set (the agent's loop sets it when it ends)."""
        halt = threading.Event()

        def meter() -> None:
            while not halt.is_set():
                try:
                    self.meter_served(self.clock())
                except Exception:  # a backend's own error: the meter lives on
                    log.exception("metering the served leases failed")
                halt.wait(interval)

        thread = threading.Thread(target=meter, name="l2gpu-meter", daemon=True)
        thread.start()
        return thread, halt

    def _end_stopped(self, s: Served) -> bool:
        """Tell the market why the payee stopped the lease's job, and finish the lease;
        False if the payee has not stopped it. The loop's part: network calls."""
        why = s.stopping
        if why is None:
            return False
        self._tell(s.lease_id, "stopped", reason=why)
        self._finish(s, why)
        return True

    # -- the loop's part: network calls outside the lock ----------------------------------

    def _tend(self, s: Served, info: AgentLease, now: int) -> None:
        with self._lock:
            status = self.backend.status(s.lease_id)
        self._send_logs(s.lease_id)
        # Read after the status: a job the meter stopped for its payee is stopped under
        # the lock with ``stopping`` set first, so its "exited" is never taken as its own.
        if self._end_stopped(s):
            return
        if status.state == "exited":
            code = status.exit_code if status.exit_code is not None else -1
            if status.reason:  # the backend stopped it (a limit): the renter is told why
                self._tell(s.lease_id, "stopped", reason=status.reason[:400])
                self._finish(s, status.reason)
            else:
                self._tell(s.lease_id, "exited", exit_code=code)
                self._finish(s, f"the job exited with code {code}")
            return
        with self._lock:  # the payee and the meter are the meter thread's too
            receive_voucher(s, info.voucher, now)
            # The meter counts until the lease's end on the market's clock, which starts
            # when the market hears "started" (late, if it was slow or down): the job runs
            # until the market ends the lease, and a second it runs unmetered is one the
            # payee never weighs against the vouchers (seen: 9 s served unpaid).
            if info.ends_at is not None and info.ends_at > s.meter.ends_at:
                s.meter = replace(s.meter, ends_at=Timestamp(info.ends_at))
        # A channel only soft-confirmed is read every second: its vouchers are worth
        # nothing if the node drops the open.
        every = CHANNEL_CHECK_SECONDS if s.confirmed else 1
        if self.rail is not None and now - s.channel_checked >= every:
            # A renter may start closing the channel mid-lease, conceding less than it
            # owes: the provider must answer with its best voucher before the deadline.
            s.channel_checked = now
            try:
                state = self.rail.status(s.channel)
            except L2gpuError as exc:  # the rail is unreachable: no verdict either way
                log.warning("lease %s: cannot read its channel: %s", s.lease_id, exc.what)
                state = "open" if s.confirmed else "unknown"
            with self._lock:
                why = self._channel_verdict(s, state, now)
            if why is not None:
                self._tell(s.lease_id, "stopped", reason=why)
                self._finish(s, why, settle_in=0)
                return
        with self._lock:  # obeys the voucher just received, or the channel's verdict
            self._meter_and_obey(s, status, now, self._gpu_indices(info))
        self._end_stopped(s)

    def _flush_reports(self) -> None:
        """Report starts and metered seconds; what the market did not take is reported
        next step."""
        for lease_id in list(self._unstarted):
            if lease_id in self.served:
                self._report_started(lease_id)
            else:
                self._unstarted.discard(lease_id)
        # Read under the lock, reported without it: the meter thread adds seconds
        # meanwhile, so only what the market took is subtracted afterwards.
        with self._lock:
            pending = [(i, n, i in self._gpu_active) for i, n in self._unreported.items()]
        for lease_id, seconds, active in pending:
            try:
                self.client.report(lease_id, "usage", seconds=seconds, gpu_active=active)
            except L2gpuError as exc:
                log.warning("lease %s: usage not reported yet: %s", lease_id, exc.what)
                continue
            with self._lock:
                left = self._unreported.pop(lease_id, 0) - seconds
                if left > 0:
                    self._unreported[lease_id] = left
                if active:
                    self._gpu_active.discard(lease_id)

    def _channel_verdict(self, s: Served, state: str, now: int) -> str | None:
        """Why the lease must stop, given its channel's ``state`` on the rail; else None.

        ``pending``: the node soft-confirmed the open and a batch has not included it
        yet. The job runs meanwhile. On a rail where the open still needs the renter
        (its co-signature: the renter can let it drop), no more than the grace: past
        it the job is held (paused, so not metered) until the channel is open, and
        stopped if that takes ``UNCONFIRMED_LIMIT_SECONDS``. Where it needs only the
        operator (a proof: the zk rail), the node's receipt is its promise.
        """
        if state in ("pending", "unknown"):  # unknown: not confirmed, the rail is silent
            if self.rail is None or not self.rail.pending_needs_renter:
                return None
            waited = now - s.since
            if state == "pending" and waited >= UNCONFIRMED_LIMIT_SECONDS:
                return f"the lease's channel was not opened in the rollup within {waited} s"
            s.held = waited >= max(1, self.grace - 1)  # the payee's own tolerance
            return None
        s.held = False
        if state == "open":
            s.confirmed = True
            return None
        if state == "missing":
            return "the lease's channel never opened: the node dropped it"
        return f"the lease's channel is {state}: the renter started closing it"

    def _meter_and_obey(self, s: Served, status: Any, now: int, gpus: tuple[int, ...]) -> None:
        """Count the seconds delivered up to ``now`` (once per second) and pause, resume
        or stop the job as the payee says; touches only the local backend. The caller
        holds the agent's lock."""
        if status.state == "exited" or s.stopping is not None:
            return  # _tend reports and finishes it
        if now > s.last_tick:
            running = status.state == "running"
            util = gpu_utilization(self.nvml, list(gpus)) if running else ()
            if any(u >= GPU_ACTIVE for u in util):
                self._gpu_active.add(s.lease_id)  # told with the next usage report
            s.meter, added = record_sample(s.meter, UsageSample(Timestamp(now), running, util))
            s.last_tick = now
            if added:
                self._unreported[s.lease_id] = self._unreported.get(s.lease_id, 0) + added
            s.payee.delivered(added, Timestamp(now))
        s.max_unpaid_seconds = max(s.max_unpaid_seconds, s.payee.state.lag_seconds)
        # The loop's ``now`` may be older than the meter thread's last sample: a job held
        # at its lease's end must not be resumed by a step that began a moment before.
        self._obey(s, max(now, s.last_tick))

    def _obey(self, s: Served, now: int) -> None:
        """Pause, resume or stop the job as the payee says; hold it from the lease's
        end until the market ends the lease.

        The market ends a lease whose time is up, and the agent hears it at its next
        successful call; a second the job runs meanwhile is past the meter's end, so
        no voucher ever pays for it (seen: 3 s under load). Held, not stopped: the
        market may still move the end later (it heard "started" late), which resumes
        the job."""
        service = s.payee.service
        if service == ServiceState.STOPPED:
            if s.stopping is None:
                # Stopped here and now with the backend alone; telling the market and
                # closing the channel are network calls, the loop's (_end_stopped).
                s.stopping = (f"vouchers lag {s.payee.state.lag_seconds} s beyond the "
                              f"{self.grace} s grace")  # fmt: skip
                self.backend.stop(s.lease_id)
            return
        hold = service == ServiceState.PAUSED or s.held or now >= s.meter.ends_at
        if hold and not s.paused:
            self.backend.pause(s.lease_id)
            s.paused = True
        elif not hold and s.paused:
            self.backend.resume(s.lease_id)
            s.paused = False

    def _payee(self, info: LeasePublic) -> tuple[ChannelParams, Payee]:
        ch = info.channel.to_core()
        params = ch.params
        manager = ch.manager
        domain = voucher_domain(ch)
        price = Wei(info.price_per_gpu_second * info.num_gpus)
        # The payee pauses when unpaid seconds exceed its tolerance: one less than the
        # grace period, so that no more than `grace` seconds are ever unpaid.
        state = PayeeState(
            Hash32(params.id),
            ch.voucher_signer,
            domain,
            ch.deposit,
            price,
            grace_seconds=Seconds(max(1, self.grace - 1)),
        )
        return params, Payee(state, self.store, manager=manager)

    def _check_channel(self, info: LeasePublic, now: int) -> str | None:
        if self.rail is None:
            return None
        channel = info.channel.to_core()
        wrong = settlement_problem(channel, self.rail.settlement)
        if wrong is not None:
            return wrong
        if parties_problem(channel, Address.from_hex(info.renter), self.key.address):
            return "the lease's channel is not from its renter to this provider"
        # What this provider knows of the channel's other leases: vouchers it stored
        # for the channel, or a lease it serves on it.
        in_use = self.store.best(channel.channel_id) is not None or any(
            s.params.id == channel.channel_id for s in self.served.values()
        )
        reused = reuse_problem(channel.channel_id, in_use=in_use)
        if reused is not None:
            return f"{reused}; {ONE_CHANNEL_PER_LEASE}"
        ends_by = self.rail.now() + info.max_seconds
        return self.rail.check(channel, max_cost=info.max_cost, ends_by=ends_by)
