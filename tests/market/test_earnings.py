"""A provider's earnings and use spread over time buckets (core.market.earnings)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.market.earnings import BadBuckets, LeaseUse, spread_use
from l2gpu.core.types import Timestamp, Wei

DAY = 86_400


def test_a_lease_across_midnight_counts_on_both_days_in_proportion() -> None:
    use = LeaseUse(Timestamp(DAY - 60), 90, 2, Wei(900))  # 23:59:00 for 90 s
    first, second = spread_use([use], [0, DAY, 2 * DAY])
    assert (first.gpu_seconds, first.earned) == (120, 600)
    assert (second.gpu_seconds, second.earned) == (60, 300)
    assert first.utilization(2) == pytest.approx(120 / (2 * DAY))


def test_a_lease_paid_before_its_first_metered_second_counts_at_its_start() -> None:
    use = LeaseUse(Timestamp(DAY + 5), 0, 1, Wei(7))
    assert [b.earned for b in spread_use([use], [0, DAY, 2 * DAY])] == [0, 7]


def test_boundaries_must_rise() -> None:
    with pytest.raises(BadBuckets):
        spread_use([], [0])
    with pytest.raises(BadBuckets):
        spread_use([], [0, 10, 10])


@settings(max_examples=100, deadline=None)
@given(
    uses=st.lists(
        st.builds(
            LeaseUse,
            st.integers(0, 5000),
            st.integers(0, 3000),
            st.integers(1, 8),
            st.integers(0, 10**20),
        ),
        max_size=8,
    ),
    cuts=st.sets(st.integers(1, 7999), max_size=6),
)
def test_every_wei_paid_inside_the_buckets_is_counted_once(uses, cuts) -> None:
    boundaries = [0, *sorted(cuts), 8000]  # every use lies inside these
    buckets = spread_use(uses, boundaries)
    assert sum(b.earned for b in buckets) == sum(u.paid for u in uses)
    assert sum(b.gpu_seconds for b in buckets) == sum(u.seconds * u.gpus for u in uses)
