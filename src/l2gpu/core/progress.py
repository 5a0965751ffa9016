"""How long work reports how far it got, without knowing who is watching.

Analytics and core code take an ``on_progress`` argument of type :data:`OnProgress`
and call it as work gets done; the CLI passes one that draws a bar
(:mod:`l2gpu.cli.live`), tests pass one that records the calls, and everyone else
gets :func:`no_progress`. Nothing here draws or imports a terminal library.
"""

from __future__ import annotations

from collections.abc import Callable

OnProgress = Callable[[int, int, str], None]
"""``on_progress(done, total, label)``: ``done`` of ``total`` units of the work named
``label`` are finished; ``done`` only grows for one label and ends at ``total``."""


def no_progress(done: int, total: int, label: str) -> None:
    """The default :data:`OnProgress`: nobody watches, so nothing happens."""


def every(total: int, parts: int = 100) -> int:
    """How many units to finish between two reports so that ``total`` units make about
    ``parts`` reports (at least 1): a loop of a million events reports 100 times."""
    return max(1, total // max(1, parts))
