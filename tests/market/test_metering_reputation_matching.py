"""Metering, reputation and matching."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.market import lease as lm
from l2gpu.core.market.index import OfferIndex
from l2gpu.core.market.matching import RentalRequest, match, match_indexed
from l2gpu.core.market.metering import UsageSample, record_sample, start_meter
from l2gpu.core.market.performance import cost_per_work, throughput
from l2gpu.core.market.reputation import ProviderRecord, record_heartbeats, record_lease
from l2gpu.core.types import LeaseId, OfferId, Seconds, Timestamp, Wei
from tests.market.helpers import RENTER, T0, random_views, terms


def test_meter_counts_running_seconds_inside_the_lease_only() -> None:
    meter = start_meter(T0, Timestamp(T0 + 10), num_gpus=2)
    added = []
    for t, running in [
        (1, True),
        (2, True),
        (3, False),
        (4, True),
        (4, True),
        (9, True),
        (10, True),
        (15, True),
    ]:
        meter, n = record_sample(meter, UsageSample(Timestamp(T0 + t), running, (0.5, 1.0)))
        added.append(n)
    # 1, 1, paused, 1, repeated, a 5 s gap billed as 2, 1, past the end 0
    assert added == [1, 1, 0, 1, 0, 2, 1, 0]
    assert meter.seconds == 6
    assert meter.gpu_seconds == 12
    assert meter.mean_utilization == 0.75


def test_reputation_counts_failed_starts_and_preempted_seconds() -> None:
    fresh = ProviderRecord()
    assert fresh.reliability == 1.0
    assert fresh.uptime == 1.0
    base = lm.open_lease(
        LeaseId(1), OfferId(1), terms(min_duration=Seconds(1)), RENTER.address, Seconds(600), T0
    )
    failed, _ = lm.state_transition(base, lm.StartFailed(T0, "x"))
    record = record_lease(fresh, failed)
    assert record.failed_starts == 1
    assert record.reliability == 0.5
    running, _ = lm.state_transition(base, lm.JobStarted(T0))
    running, _ = lm.state_transition(running, lm.UsageMetered(Timestamp(T0 + 60), 60))
    lost, _ = lm.state_transition(running, lm.AgentLost(Timestamp(T0 + 70)))
    record = record_lease(fresh, lost)
    assert record.seconds_promised == 600
    assert record.seconds_delivered == 60
    assert record.reliability == (60 + 600) / (600 + 600)
    assert record_lease(fresh, running) == fresh  # not final: not counted
    assert record_heartbeats(fresh, 10, 9).uptime == 0.9


def test_throughput_table() -> None:
    assert throughput("H100") == 1.0
    assert throughput("rtx_4090") < 1
    assert throughput("zz") == 0.1
    view = random_views(1)[0]
    assert cost_per_work(replace(view, reliability=0.5)) == 2 * cost_per_work(view)


VIEWS = random_views(500, seed=3)
INDEX = OfferIndex(VIEWS)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 8),
    st.sampled_from([None, "H100", "rtx_4090"]),
    st.sampled_from([0, 24, 80]),
    st.sampled_from([None, 10**12, 10**13]),
    st.sampled_from([60, 3600, 10**6]),
    st.sampled_from([0.0, 0.99]),
    st.integers(1, 10),
)
def test_indexed_matching_agrees_with_the_clear_one(
    gpus: int, name: str | None, ram: int, price: int | None, duration: int, rel: float, limit: int
) -> None:
    request = RentalRequest(
        gpus, Seconds(duration), name, ram, None if price is None else Wei(price), rel
    )
    clear = match(VIEWS, request, now=T0, limit=limit)
    fast = match_indexed(INDEX, request, now=T0, limit=limit)
    assert [o.offer_id for o in fast] == [o.offer_id for o in clear]
    for offer in clear:
        assert offer.num_gpus >= gpus
        assert offer.expires_at > T0


def test_matching_prefers_cheaper_work() -> None:
    cheap_fast = replace(
        VIEWS[0],
        offer_id=OfferId(1),
        gpu_name="H100",
        price_per_gpu_second=Wei(100),
        expires_at=T0 + 10,
    )
    pricey_slow = replace(cheap_fast, offer_id=OfferId(2), gpu_name="T4")
    found = match(
        [pricey_slow, cheap_fast], RentalRequest(1, Seconds(cheap_fast.min_duration)), now=T0
    )
    assert [o.offer_id for o in found] == [1, 2]
