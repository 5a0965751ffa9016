"""The lease machine under any order of inputs (a Hypothesis state machine): it never
bills past the lease's end, never bills a second the job was not running, never
leaves a final status, remembers only the highest voucher, and names every change it
makes in an event (the market's shell writes the events, never a diff of states)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from l2gpu.core.market import lease as lm
from l2gpu.core.types import LeaseId, OfferId, Seconds, Timestamp, Wei
from tests.market.helpers import RENTER, T0, terms


class LeaseMachine(RuleBasedStateMachine):
    """One lease driven by an agent, a renter and the market's clock in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.lease = lm.open_lease(LeaseId(1), OfferId(1), terms(), RENTER.address,
                                   Seconds(600), Timestamp(self.now))  # fmt: skip
        self.final_status: lm.LeaseStatus | None = None
        self.highest_voucher = 0

    def _apply(self, inp: lm.LeaseInput) -> None:
        before = self.lease
        self.lease, events = lm.state_transition(self.lease, inp)
        for event in events:
            if isinstance(event, lm.Metered):  # each Metered says what it added
                assert event.seconds > 0
        if before.status.is_final:
            assert self.lease.status == before.status
            assert self.lease.metered_seconds == before.metered_seconds
        if self.lease.status.is_final and self.final_status is None:
            self.final_status = self.lease.status
        assert _as_the_events_say(before, self.lease, events) == self.lease

    @rule(seconds=st.integers(0, 400))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @rule(verified=st.booleans())
    def agent_accepts(self, verified: bool) -> None:
        self._apply(lm.AgentAccepted(Timestamp(self.now), verified))

    @rule()
    def job_starts(self) -> None:
        self._apply(lm.JobStarted(Timestamp(self.now)))

    @rule(reason=st.sampled_from(["no GPU", "bad spec"]))
    def start_fails(self, reason: str) -> None:
        self._apply(lm.StartFailed(Timestamp(self.now), reason))

    @rule(seconds=st.integers(-5, 700))
    def agent_meters(self, seconds: int) -> None:
        self._apply(lm.UsageMetered(Timestamp(self.now), seconds))

    @rule(seconds=st.integers(0, 3))
    def agent_meters_gpu_use(self, seconds: int) -> None:
        self._apply(lm.UsageMetered(Timestamp(self.now), seconds, gpu_active=True))

    @rule(amount=st.integers(0, 10**20))
    def voucher_arrives(self, amount: int) -> None:
        self.highest_voucher = max(self.highest_voucher, amount)
        self._apply(lm.VoucherRecorded(Timestamp(self.now), Wei(amount), b"\x01" * 65))

    @rule(by=st.sampled_from(["renter", "provider"]))
    def someone_stops(self, by: str) -> None:
        self._apply(lm.StopRequested(Timestamp(self.now), by))

    @rule(code=st.integers(-9, 2))
    def job_exits(self, code: int) -> None:
        self._apply(lm.JobExited(Timestamp(self.now), code))

    @rule()
    def agent_goes_silent(self) -> None:
        self._apply(lm.AgentLost(Timestamp(self.now)))

    @rule()
    def provider_preempts(self) -> None:
        self._apply(lm.ProviderPreempted(Timestamp(self.now)))

    @rule()
    def clock_ticks(self) -> None:
        self._apply(lm.Tick(Timestamp(self.now)))

    @invariant()
    def never_billed_past_its_end(self) -> None:
        lease = self.lease
        assert lease.metered_seconds <= lease.max_seconds
        assert lease.metered_seconds * lease.price_per_second <= lease.max_cost
        if lease.ended_at is not None and lease.ends_at is not None:
            assert lease.ended_at <= lease.ends_at

    @invariant()
    def never_billed_an_undelivered_second(self) -> None:
        lease = self.lease
        if lease.started_at is None:
            assert lease.metered_seconds == 0  # the job never ran: nothing to bill
            return
        until = lease.ended_at if lease.ended_at is not None else self.now
        ran = max(0, min(until, lease.started_at + lease.max_seconds) - lease.started_at)
        assert lease.metered_seconds <= ran

    @invariant()
    def a_final_status_is_for_good(self) -> None:
        if self.final_status is not None:
            assert self.lease.status == self.final_status

    @invariant()
    def paid_is_the_highest_voucher(self) -> None:
        assert self.lease.paid == self.highest_voucher


def _as_the_events_say(before: lm.Lease, after: lm.Lease, events: list[lm.LeaseEvent]) -> lm.Lease:
    """``before`` changed only as ``events`` say, the way ``api/lease_effects.py`` writes
    them (a status change carries the times and reason the lease has after it)."""
    lease = before
    for event in events:
        match event:
            case lm.StatusChanged():
                assert event.old == lease.status
                lease = replace(lease, status=event.new, reason=after.reason,
                                started_at=after.started_at, ended_at=after.ended_at)  # fmt: skip
            case lm.Metered():
                lease = replace(lease, metered_seconds=event.total)
            case lm.VoucherKept():
                assert event.amount > lease.paid
                lease = replace(lease, paid=event.amount)
            case lm.ChannelVerified():
                lease = replace(lease, channel_verified=True)
            case lm.GpuSeen():
                lease = replace(lease, gpu_active_at=event.at)
    return lease


LeaseMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                          deadline=None)  # fmt: skip
test_the_lease_machine = LeaseMachine.TestCase
