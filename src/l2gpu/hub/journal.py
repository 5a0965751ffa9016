"""The hub's journal: what it must not forget across a crash.

A hub that signed a voucher to a provider must still hold the renter's voucher that
paid for it after ``kill -9``, or it pays the provider and cannot claim from the
renter. Every route and every renter voucher the hub takes is appended here and
fsynced *before* the hub signs onward; a restart replays the file.

One JSON object per line; a torn last line (a crash mid-write) is dropped, since
the hub never acted on it. Hand-written rather than a database: it is three kinds of
append-only record read once at start, and each must be on disk before the hub
answers.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription


@dataclass(frozen=True)
class RouteRecord:
    """A route as the hub took it."""

    inbound: ChannelDescription
    outbound: ChannelDescription
    fee_ppm: int
    inbound_shard: int
    outbound_shard: int
    outbound_expires_at: int = 0  # when the lease is over at the latest (L1 time)

    def to_json(self) -> dict[str, Any]:
        """As one journal line holds it."""
        return {"inbound": self.inbound.to_json(), "outbound": self.outbound.to_json(),
                "fee_ppm": self.fee_ppm, "inbound_shard": self.inbound_shard,
                "outbound_shard": self.outbound_shard,
                "outbound_expires_at": self.outbound_expires_at}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouteRecord:
        """Back from a journal line."""
        return cls(ChannelDescription.from_json(data["inbound"]),
                   ChannelDescription.from_json(data["outbound"]), int(data["fee_ppm"]),
                   int(data["inbound_shard"]), int(data["outbound_shard"]),
                   int(data.get("outbound_expires_at", 0)))  # fmt: skip


class Journal:
    """Append-only, fsynced lines at ``path`` (``owner`` names whose, in its errors:
    the liquidity provider keeps one too)."""

    def __init__(self, path: Path, owner: str = "hub") -> None:
        self.path = path
        self.owner = owner
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def replay(self) -> list[dict[str, Any]]:
        """Every record written so far, in order. Only the last line may be torn (a
        crash mid-write, cut off the file so the next record starts on its own line);
        a damaged line before it stops the hub, which must not forget what it took."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.splitlines(keepends=True)
        records, whole = [], 0
        for number, line in enumerate(lines, start=1):
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("torn")
                records.append(json.loads(line))
            except ValueError as exc:
                if number < len(lines):
                    raise L2gpuError(
                        f"the {self.owner}'s journal {self.path} is damaged at line {number}",
                        f"restore it from a copy: the {self.owner} does not start without "
                        "what it took",
                    ) from exc
                break  # a torn last line: the hub never acted on it
            whole += len(line)
        if whole < len(data):
            os.truncate(self.path, whole)
        return records

    def size(self) -> int:
        """The journal's size in bytes."""
        return self.path.stat().st_size if self.path.exists() else 0

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the journal with ``records`` at once (a new file, fsynced, renamed)."""
        fresh = self.path.with_suffix(".compacting")
        body = b"".join((json.dumps(r, separators=(",", ":")) + "\n").encode() for r in records)
        with self._lock:
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, body)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(fresh, self.path)
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` and wait until it is on disk."""
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
