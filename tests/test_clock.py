"""The shells' clocks."""

from __future__ import annotations

from l2gpu.clock import RecentClock
from l2gpu.core.types import Timestamp


def test_a_recent_clock_reuses_a_reading_only_while_it_is_fresh() -> None:
    readings = iter([100, 105, 107])
    calls: list[int] = []
    mono = [0.0]

    def read() -> Timestamp:
        calls.append(1)
        return Timestamp(next(readings))

    clock = RecentClock(read, max_age=0.25, monotonic=lambda: mono[0])
    assert clock() == 100
    mono[0] = 0.2
    assert clock() == 100  # still fresh: no second reading
    assert len(calls) == 1
    mono[0] = 0.25
    assert clock() == 105
    mono[0] = 10.0
    assert clock() == 107
    assert len(calls) == 3
