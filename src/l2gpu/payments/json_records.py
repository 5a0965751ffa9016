"""A list of JSON records in one file of a party's data folder, shared between its
processes: the renter's closes to finish (:mod:`l2gpu.payments.closing`) and its
routes through hubs (:mod:`l2gpu.payments.route_records`).

Each change is a read-modify-write under an exclusive lock (``flock`` on a lock file
beside it), so two processes of one renter (``rent`` and ``settle --daemon``) never
lose each other's records. The new list is written whole to a temporary file,
flushed to the disk and renamed over the old one: a crash leaves the old list or the
new one, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class JsonRecords:
    """The records in ``path`` (a JSON list); an unreadable file reads as no records."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[Any]:
        """The stored list as it is (records unknown to the caller included)."""
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return raw if isinstance(raw, list) else []

    def update(self, change: Callable[[list[Any]], list[Any]]) -> None:
        """Replace the list by ``change(list)``, under the lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (self.path.parent / f".{self.path.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            self._write(change(self.read()))

    def _write(self, items: list[Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}-")
        with os.fdopen(fd, "w") as out:
            json.dump(items, out, indent=1)
            out.flush()
            # On the disk before it replaces the old list: a record is written before
            # the renter acts on it, so it must outlive a power cut too.
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
