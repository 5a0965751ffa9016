"""Clocks for the shells: the system clock, and a simulated one for demos and tests.

The core never reads a clock; shells pass time in. A payer or payee takes any
``Callable[[], Timestamp]``, so tests and the demo drive time by hand instead of
sleeping through it.
"""

from __future__ import annotations

import time

from l2gpu.core.types import Timestamp


def system_clock() -> Timestamp:
    """Whole seconds since the Unix epoch, now."""
    return Timestamp(int(time.time()))


class SimulatedClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: int) -> None:
        """Start at ``start`` (Unix seconds)."""
        self.now = Timestamp(start)

    def __call__(self) -> Timestamp:
        return self.now

    def advance(self, seconds: int) -> None:
        """Move forward by ``seconds``."""
        self.now = Timestamp(self.now + seconds)
