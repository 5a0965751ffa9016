"""The lease state machine: each handler, billing bounds, and a stateful fuzz of invariants."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.market import lease as lm
from l2gpu.core.market.billing import amount_to_sign
from l2gpu.core.market.lease import (
    Lease,
    LeaseError,
    LeaseStatus,
    Metered,
    StatusChanged,
    StopJob,
    open_lease,
    state_transition,
)
from l2gpu.core.types import LeaseId, OfferId, Seconds, Timestamp, Wei
from tests.market.helpers import RENTER, T0, terms


def new_lease(duration: int = 60) -> Lease:
    return open_lease(
        LeaseId(1),
        OfferId(5),
        terms(min_duration=Seconds(1)),
        RENTER.address,
        Seconds(duration),
        T0,
    )


def run(lease: Lease, *inputs: lm.LeaseInput) -> tuple[Lease, list[lm.LeaseEvent]]:
    events: list[lm.LeaseEvent] = []
    for inp in inputs:
        lease, more = state_transition(lease, inp)
        events += more
    return lease, events


def at(seconds: int) -> Timestamp:
    return Timestamp(T0 + seconds)


def test_the_happy_path_bills_metered_seconds_and_ends_at_time_up() -> None:
    lease, events = run(new_lease(10), lm.AgentAccepted(at(0)), lm.JobStarted(at(1)))
    assert lease.status == LeaseStatus.RUNNING
    assert lease.ends_at == at(11)
    for s in range(2, 12):
        lease, more = state_transition(lease, lm.UsageMetered(at(s), 1))
        events += more
    assert lease.status == LeaseStatus.ENDED
    assert lease.reason == "time up"
    assert lease.metered_seconds == 10
    assert lease.billed_gpu_seconds == 20
    assert lease.amount_due == 10 * 2 * 10**12 == lease.max_cost
    assert StopJob(LeaseId(1), "time up") in events


def test_billing_never_passes_the_elapsed_time_or_the_end() -> None:
    lease, _ = run(new_lease(10), lm.JobStarted(at(0)))
    lease, events = state_transition(lease, lm.UsageMetered(at(3), 50))
    assert lease.metered_seconds == 3
    assert events == [Metered(LeaseId(1), 3, 3)]
    lease, _ = state_transition(lease, lm.UsageMetered(at(100), 50))
    assert lease.metered_seconds == 10
    assert lease.status == LeaseStatus.ENDED
    assert lease.ended_at == at(10)
    lease, events = state_transition(lease, lm.UsageMetered(at(101), 1))
    assert lease.metered_seconds == 10
    assert isinstance(events[0], lm.InputIgnored)


def test_a_failed_start_bills_nothing() -> None:
    lease, _ = run(new_lease(), lm.AgentAccepted(at(0)), lm.StartFailed(at(1), "no such file"))
    assert lease.status == LeaseStatus.FAILED
    assert lease.amount_due == 0
    assert "no such file" in lease.reason
    lease, _ = run(new_lease(), lm.AgentAccepted(at(0)), lm.JobExited(at(1), 127))
    assert lease.status == LeaseStatus.FAILED
    assert lease.amount_due == 0


def test_stop_exit_agent_loss_and_start_timeout() -> None:
    running, _ = run(new_lease(), lm.JobStarted(at(0)), lm.UsageMetered(at(5), 5))
    stopped, events = state_transition(running, lm.StopRequested(at(6), "renter"))
    assert stopped.status == LeaseStatus.ENDED
    assert stopped.reason == "stopped by renter"
    assert isinstance(events[-1], StopJob)
    exited, events = state_transition(running, lm.JobExited(at(6), 0))
    assert exited.status == LeaseStatus.ENDED
    assert not any(isinstance(e, StopJob) for e in events)
    lost, _ = state_transition(running, lm.AgentLost(at(20)))
    assert lost.status == LeaseStatus.PREEMPTED
    assert lost.amount_due == 5 * lost.price_per_second
    never, _ = state_transition(new_lease(), lm.Tick(at(lm.START_TIMEOUT)))
    assert never.status == LeaseStatus.FAILED
    again, events = state_transition(stopped, lm.JobStarted(at(7)))
    assert again == stopped
    assert isinstance(events[0], lm.InputIgnored)


def test_vouchers_only_raise_what_is_paid() -> None:
    lease, _ = run(
        new_lease(), lm.VoucherRecorded(at(0), Wei(50)), lm.VoucherRecorded(at(0), Wei(20))
    )
    assert lease.paid == 50


def test_opening_checks_the_offer() -> None:
    t = terms()
    with pytest.raises(LeaseError, match="expired"):
        open_lease(LeaseId(1), OfferId(1), t, RENTER.address, Seconds(60), t.expires_at)
    with pytest.raises(LeaseError, match="takes leases of 60 to 86400 s"):
        open_lease(LeaseId(1), OfferId(1), t, RENTER.address, Seconds(5), T0)
    with pytest.raises(LeaseError, match="above your limit"):
        open_lease(
            LeaseId(1),
            OfferId(1),
            t,
            RENTER.address,
            Seconds(60),
            T0,
            max_price_per_gpu_second=Wei(1),
        )
    with pytest.raises(LeaseError, match="own offer"):
        open_lease(LeaseId(1), OfferId(1), t, t.provider, Seconds(60), T0)


def test_the_renter_signs_only_for_seconds_both_sides_saw() -> None:
    lease, _ = run(new_lease(10), lm.JobStarted(at(0)))
    price = lease.price_per_second
    assert amount_to_sign(lease, 4, at(10), Wei(10**30)) == 4 * price  # the meter lags: 4
    assert amount_to_sign(lease, 8, at(3), Wei(10**30)) == 3 * price  # the meter runs ahead
    assert amount_to_sign(lease, 99, at(99), Wei(10**30)) == 10 * price  # never past the end
    assert amount_to_sign(lease, 9, at(9), Wei(5)) == 5  # nor past the deposit
    assert amount_to_sign(new_lease(), 9, at(9), Wei(10**30)) == 0  # not started: nothing


_inputs = st.one_of(
    st.builds(lm.AgentAccepted, st.just(0)),
    st.builds(lm.JobStarted, st.just(0)),
    st.builds(lm.StartFailed, st.just(0), st.just("x")),
    st.builds(lm.UsageMetered, st.just(0), st.integers(-2, 5)),
    st.builds(lm.VoucherRecorded, st.just(0), st.integers(0, 10**16)),
    st.builds(lm.StopRequested, st.just(0), st.sampled_from(["renter", "payment"])),
    st.builds(lm.JobExited, st.just(0), st.integers(0, 2)),
    st.builds(lm.AgentLost, st.just(0)),
    st.builds(lm.ProviderPreempted, st.just(0)),
    st.builds(lm.Tick, st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), _inputs), max_size=40), st.integers(1, 30))
def test_invariants_hold_for_any_history(steps: list, duration: int) -> None:
    lease = new_lease(duration)
    now = T0
    for gap, inp in steps:
        now = Timestamp(now + gap)
        before = lease
        lease, events = state_transition(lease, replace(inp, now=now))
        # A lease never bills past its end, nor for time that has not passed.
        assert lease.metered_seconds <= lease.max_seconds
        if lease.started_at is None:
            assert lease.metered_seconds == 0
        else:
            assert lease.metered_seconds <= max(0, now - lease.started_at)
        # Billing only grows; a final status never changes.
        assert lease.metered_seconds >= before.metered_seconds
        if before.status.is_final:
            assert lease.status == before.status
        for e in events:
            if isinstance(e, StatusChanged):
                assert e.old != e.new
        if lease.status.is_final:
            assert lease.ended_at is not None
