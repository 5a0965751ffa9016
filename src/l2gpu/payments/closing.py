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

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.types import Hash32

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
    """The pending closes of one renter, in a JSON file of its data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def pending(self) -> list[PendingClose]:
        """Every recorded close, oldest first; an unreadable file is none (and kept)."""
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        out = []
        for item in raw if isinstance(raw, list) else []:
            try:
                channel = ChannelDescription.from_json(item["channel"])
            except (KeyError, TypeError, ValueError):
                continue  # a record this version cannot read is skipped, not fatal
            out.append(PendingClose(channel, item.get("node"), int(item.get("started_at", 0))))
        return out

    def add(self, channel: ChannelDescription, node: str | None, now: int) -> bool:
        """Record a started close (once per channel); False for a design that needs none."""
        if channel.settlement not in NEEDS_SETTLE:
            return False
        kept = [p for p in self.pending() if p.channel.channel_id != channel.channel_id]
        self._write([*kept, PendingClose(channel, node, now)])
        return True

    def remove(self, channel_id: Hash32) -> None:
        """Forget a close that is finished."""
        self._write([p for p in self.pending() if p.channel.channel_id != channel_id])

    def _write(self, items: list[PendingClose]) -> None:
        # Written whole to a temporary file and renamed: a crash leaves the old list
        # or the new one, never half of one.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".closing-")
        with os.fdopen(fd, "w") as out:
            json.dump([p.to_json() for p in items], out, indent=1)
        os.replace(tmp, self.path)
