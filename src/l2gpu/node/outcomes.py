"""What became of each logged transaction: included in a batch, or dropped and why.

A client holds the sequencer's receipt for its transaction, which names the
transaction's position in the node's log. Asking by that position is the only
sound way to learn its fate: a rise of the sender's nonce says that *some*
transaction of the account was included, which may be another process's
transaction at the same nonce after this one was dropped (two programs using one
account: a ``rent`` refusing to co-sign a ``withdraw`` it did not send).

The table is bounded (the newest ``limit`` outcomes); a position older than what
it keeps is reported as unknown, never guessed. A restarted node rebuilds it from
its write-ahead log, whose seal records name the positions each seal included or
dropped (the reason of a drop is not logged, so it reads "dropped before the node
restarted").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_LIMIT = 200_000
RESTARTED = "dropped before the node restarted (the reason is not kept)"


@dataclass(frozen=True, slots=True)
class Outcome:
    """``pending``, ``included`` (in the node's ``batch``-th sealed batch) or ``dropped``
    (``reason``)."""

    status: str
    batch: int | None = None
    reason: str | None = None

    def to_json(self, position: int) -> dict[str, object]:
        """The API's answer for the transaction at ``position``."""
        out: dict[str, object] = {"position": position, "status": self.status}
        if self.batch is not None:
            out["batch"] = self.batch
        if self.reason is not None:
            out["reason"] = self.reason
        return out


PENDING = Outcome("pending")


class Outcomes:
    """The newest ``limit`` outcomes by log position; thread-safe."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._table: OrderedDict[int, Outcome] = OrderedDict()
        # Logged and acknowledged, not sealed yet: in the mempool or in a seal's round
        # (bounded as the mempool is).
        self._pending: set[int] = set()
        self._lock = threading.Lock()

    def accepted(self, positions: list[int]) -> None:
        """Record that ``positions`` were logged and wait to be sealed."""
        with self._lock:
            self._pending.update(positions)

    def included(self, positions: list[int], batch: int) -> None:
        """Record that ``positions`` were sealed into sealed batch number ``batch``."""
        self._record([(p, Outcome("included", batch=batch)) for p in positions])

    def dropped(self, positions: list[int], reasons: list[str]) -> None:
        """Record that ``positions`` were dropped, each for its reason."""
        self._record(
            [(p, Outcome("dropped", reason=r)) for p, r in zip(positions, reasons, strict=True)]
        )

    def get(self, position: int) -> Outcome | None:
        """The outcome (``pending`` while it waits to be sealed), or None: not a logged
        transaction, or older than the table keeps."""
        with self._lock:
            if position in self._pending:
                return PENDING
            return self._table.get(position)

    def _record(self, items: list[tuple[int, Outcome]]) -> None:
        with self._lock:
            for position, outcome in items:
                self._pending.discard(position)
                self._table[position] = outcome
            while len(self._table) > self.limit:
                self._table.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._table)
