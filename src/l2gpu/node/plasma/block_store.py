"""A user's own copy of the child chain's blocks, kept on disk.

Plasma's users must keep their coins' history: once the operator withholds data,
what a client did not save is gone, and without it there is no exit. The watcher
and the client save every block they have checked against L1's root here, and
read it back before asking the operator, so a restart after the operator stopped
serving still finds every block it had.

SQLite through the standard library: one table, one row per block, each written in
its own transaction (a crash leaves whole rows only). A row is trusted only as far
as it was checked: the root it was checked against is stored with it, and a reader
compares it with L1's again.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from l2gpu.core.plasma.transactions import ENCODED_SIZE, SignedTransfer

_SIZE = ENCODED_SIZE + 65


class BlockStore:
    """Blocks by number, each with the L1 root it was checked against."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, "
            "root BLOB NOT NULL, transfers BLOB NOT NULL)"
        )

    def put(self, number: int, root: bytes, transfers: tuple[SignedTransfer, ...]) -> None:
        """Keep block ``number``, checked against L1's ``root``."""
        data = b"".join(t.encode() for t in transfers)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?, ?)", (number, root, data))

    def get(self, number: int) -> tuple[bytes, tuple[SignedTransfer, ...]] | None:
        """Block ``number``'s root and transfers, if kept."""
        with self._lock:
            row = self._db.execute(
                "SELECT root, transfers FROM blocks WHERE number = ?", (number,)
            ).fetchone()
        if row is None:
            return None
        root, data = bytes(row[0]), bytes(row[1])
        transfers = tuple(
            SignedTransfer.decode(data[i : i + _SIZE]) for i in range(0, len(data), _SIZE)
        )
        return root, transfers

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
