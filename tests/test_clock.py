"""The shells' clocks."""

from __future__ import annotations

from l2gpu.clock import RecentClock, SimulatedClock, l1_clock, system_clock
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


def test_l1_clock_reads_the_chain_each_time_and_the_system_clock_is_whole_seconds() -> None:
    class Chain:
        def __init__(self) -> None:
            self.time = SimulatedClock(1_000)

        def timestamp(self) -> Timestamp:
            return self.time()

    chain = Chain()
    clock = l1_clock(chain)
    assert clock() == 1_000
    chain.time.advance(12)
    assert clock() == 1_012
    assert isinstance(system_clock(), int)
