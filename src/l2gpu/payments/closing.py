"""The renter's closes still to finish: channels whose close ``rent`` started.

A lease that fails, or whose provider went away, leaves a channel that ``rent``
starts closing (conceding the best voucher it signed); the deposit comes back
only when someone settles it after the challenge period. ``rent`` records each
such close here, in the renter's data folder, and ``l2gpu settle`` (once, or as a
daemon with ``--daemon``; ``rent`` also tries at its start) settles the ones whose
deadline has passed, so no deposit waits on the renter remembering a command.

Only designs whose channels need a settle are recorded: ``channel-l1`` and
``hybrid``. A zk channel and a Plasma lock return their deposit by themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.types import Hash32
from l2gpu.payments.json_records import JsonRecords

FILE_NAME = "closing-channels.json"
NEEDS_SETTLE = ("channel-l1", "hybrid")


@dataclass(frozen=True)
class PendingClose:
    """A close ``rent`` started: the channel, and where to reach its rail."""

    channel: ChannelDescription
    node: str | None
    """The rollup node's URL for a ``hybrid`` channel; None on L1."""
    started_at: int

    def to_json(self) -> dict[str, Any]:
        """The record as stored."""
        return {"channel": self.channel.to_json(), "node": self.node,
                "started_at": self.started_at}  # fmt: skip


class ClosingChannels:
    """The pending closes of one renter, in a JSON file of its data folder.

    Each change is a read-modify-write under an exclusive lock (``flock`` on a lock
    file beside it), so ``rent`` and a running ``settle --daemon`` never lose each
    other's records; a record this version cannot read is kept as it is through
    every write (a newer version's, or a damaged one: its deposit still waits)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        self._records = JsonRecords(self.path)

    def pending(self) -> list[PendingClose]:
        """Every readable recorded close, oldest first; the others are skipped."""
        return [p for p in (_parse(item) for item in self._raw()) if p is not None]

    def add(self, channel: ChannelDescription, node: str | None, now: int) -> bool:
        """Record a started close (once per channel); False for a design that needs none."""
        if channel.settlement not in NEEDS_SETTLE:
            return False
        record = PendingClose(channel, node, now).to_json()
        self._update(lambda items: [*_without(items, channel.channel_id), record])
        return True

    def remove(self, channel_id: Hash32) -> None:
        """Forget a close that is finished."""
        self._update(lambda items: _without(items, channel_id))

    def _raw(self) -> list[Any]:
        return self._records.read()

    def _update(self, change: Callable[[list[Any]], list[Any]]) -> None:
        self._records.update(change)


def _parse(item: Any) -> PendingClose | None:
    """A stored record, or None for one this version cannot read."""
    try:
        channel = ChannelDescription.from_json(item["channel"])
        return PendingClose(channel, item.get("node"), int(item.get("started_at", 0)))
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
        return None


def _without(items: list[Any], channel_id: Hash32) -> list[Any]:
    """``items`` less the readable record of ``channel_id`` (unreadable ones kept)."""
    return [i for i in items if (p := _parse(i)) is None or p.channel.channel_id != channel_id]
