"""The shells' clocks."""

from __future__ import annotations

import pytest

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


def test_a_recent_clock_keeps_its_last_reading_while_the_source_fails() -> None:
    """L1 unreachable: the node's clock stands still at the last reading (never ahead of
    L1) instead of failing every request; it says why, and reads again after max_age."""
    mono, calls = [0.0], []

    def read() -> Timestamp:
        calls.append(mono[0])
        if 1.0 <= mono[0] < 3.0:
            raise ConnectionError("L1 is down")
        return Timestamp(1000 + int(mono[0]))

    clock = RecentClock(read, max_age=0.25, monotonic=lambda: mono[0])
    assert clock() == 1000
    mono[0] = 1.0
    assert clock() == 1000  # the last reading
    assert clock.failure is not None
    assert "L1 is down" in clock.failure
    mono[0] = 1.1
    assert clock() == 1000
    assert calls == [0.0, 1.0]  # not re-read on every call while failing
    mono[0] = 3.0
    assert clock() == 1003
    assert clock.failure is None
    with pytest.raises(ConnectionError):  # no reading at all: nothing to fall back on
        RecentClock(lambda: (_ for _ in ()).throw(ConnectionError("down")), max_age=1)()
