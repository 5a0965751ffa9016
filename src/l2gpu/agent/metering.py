"""How the agent meters a running lease and obeys its payee (mixed into
:class:`~l2gpu.agent.agent.ProviderAgent`, whose fields these are).

Each second a running job is sampled and metered, the seconds fed to the lease's
:class:`~l2gpu.payments.payee.Payee` with the newest voucher, and the job paused,
resumed or stopped as the payee says; it is held (paused) past the grace while its
channel is only soft-confirmed, and from the lease's end until the market ends the
lease. The lease's channel is read on the agent's rail now and then, since a renter
may start closing it mid-lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from l2gpu.agent.backends import Backend, JobSpec
from l2gpu.agent.closing import Served, receive_voucher
from l2gpu.agent.inventory import gpu_utilization
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

    def _spec(self, info: AgentLease) -> JobSpec:
        raise NotImplementedError  # the agent's

    def _send_logs(self, lease_id: int) -> None:
        raise NotImplementedError  # the agent's

    def _tell(self, lease_id: int, kind: str, **fields: Any) -> None:
        raise NotImplementedError  # the agent's

    def _finish(self, s: Served, why: str, *, settle_in: int | None = None) -> None:
        raise NotImplementedError  # the agent's

    def _tend(self, s: Served, info: AgentLease, now: int) -> None:
        status = self.backend.status(s.lease_id)
        self._send_logs(s.lease_id)
        if status.state == "exited":
            code = status.exit_code if status.exit_code is not None else -1
            if status.reason:  # the backend stopped it (a limit): the renter is told why
                self._tell(s.lease_id, "stopped", reason=status.reason[:400])
                self._finish(s, status.reason)
            else:
                self._tell(s.lease_id, "exited", exit_code=code)
                self._finish(s, f"the job exited with code {code}")
            return
        receive_voucher(s, info.voucher, now)
        # The meter counts until the lease's end on the market's clock, which starts when
        # the market hears "started" (late, if it was slow or down): the job runs until
        # the market ends the lease, and a second it runs unmetered is one the payee
        # never weighs against the vouchers (seen: 9 s served unpaid).
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
            why = self._channel_verdict(s, state, now)
            if why is not None:
                self._tell(s.lease_id, "stopped", reason=why)
                self._finish(s, why, settle_in=0)
                return
        self._meter_and_obey(s, status, now, tuple(self._spec(info).gpu_indices))

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
        or stop the job as the payee says; touches only the local backend."""
        if status.state == "exited":
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
        self._obey(s, now)

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
            why = f"vouchers lag {s.payee.state.lag_seconds} s beyond the {self.grace} s grace"
            self._tell(s.lease_id, "stopped", reason=why)
            self._finish(s, why)
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
            params.renter,
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
