"""Clocks for the shells: the system clock, L1's clock, and a simulated one for demos
and tests.

The core never reads a clock; shells pass time in. A payer or payee takes any
``Callable[[], Timestamp]``, so tests and the demo drive time by hand instead of
sleeping through it. The shells read the time through this module alone: the wall
clock (:func:`system_clock`) for what people and the market see, L1's clock
(:func:`l1_clock`) for what contracts compare deadlines to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from l2gpu.core.types import Timestamp


def format_timestamp(timestamp: int) -> str:
    """Render a unix time for people, in the local time zone: ``'2026-12-04 08:12:05 UTC'``."""
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(timestamp))


def system_clock() -> Timestamp:
    """Whole seconds since the Unix epoch, now."""
    return Timestamp(int(time.time()))


class HasTimestamp(Protocol):
    """Anything that tells L1's time (an :class:`l2gpu.l1.Chain`)."""

    def timestamp(self) -> Timestamp:
        """The latest block's time."""
        ...


def l1_clock(chain: HasTimestamp) -> Callable[[], Timestamp]:
    """L1's clock: the latest block's time on ``chain``, read afresh on each call. A
    channel's expiry and deadlines are compared with it, not with the wall clock."""
    return chain.timestamp


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


class RecentClock:
    """Another clock's reading, reused for up to ``max_age`` seconds.

    The node's clock is L1's latest block time, one JSON-RPC call per reading; the
    node reads it on every seal and every group commit. Reused for a fraction of a
    second it is never ahead of L1 (a block's time only grows), so a batch stamped
    with it is never refused as from the future.
    """

    def __init__(
        self,
        read: Callable[[], Timestamp],
        max_age: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Wrap ``read``; ``monotonic`` measures the reading's age (injected in tests)."""
        self._read, self.max_age, self._monotonic = read, max_age, monotonic
        self._value: Timestamp | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()
        self.failure: str | None = None
        """Why the last reading failed (L1 unreachable), or None."""

    def __call__(self) -> Timestamp:
        """The reading, fresh or at most ``max_age`` old; while the other clock cannot be
        read (L1 unreachable), the last reading: the node keeps sequencing on a time
        that stands still, never ahead of L1, until L1 answers again (then
        :attr:`failure` is None). With no reading yet, the failure is raised."""
        with self._lock:
            now = self._monotonic()
            if self._value is None or now - self._read_at >= self.max_age:
                try:
                    value = self._read()
                except Exception as exc:  # any transport error of the reader
                    if self._value is None:
                        raise
                    self.failure = f"{type(exc).__name__}: {exc}"[:300]
                    self._read_at = now  # try again after max_age, not on every call
                    return self._value
                self._value, self._read_at, self.failure = value, now, None
            return self._value
