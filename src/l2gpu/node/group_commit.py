"""Group commit: many accepted envelopes share one durable database commit.

A commit costs a disk flush (about 2 ms here), so writing each envelope in its own
transaction caps a node near 500 transactions per second. Here the first
submitter to find no write in progress becomes the leader: it takes every
envelope queued so far, writes them in one transaction, hands them to the node
(in log order), and wakes the others, whose envelopes were in its group or will
be in the next leader's. No thread of its own; a lone submitter writes alone.

The durability rule: an envelope is acknowledged (its log record number returned)
only after the transaction holding it committed. A crash before that loses the
envelope and its submitter never heard an answer; a crash after it keeps the
envelope, which recovery puts back in the mempool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_GROUP = 1000


@dataclass
class Ticket(Generic[T]):
    """One envelope waiting for its group's commit."""

    payload: bytes
    item: T
    done: bool = False
    sequence: int = 0
    error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Leader/follower group commit of payloads through ``write``.

    ``write(payloads)`` makes them durable in one transaction and returns their
    record numbers; ``durable(items, numbers)`` then runs before anyone hears back
    (the node enqueues the envelopes there), and ``failed(items, error)`` when the
    write raised.
    """

    def __init__(
        self,
        write: Callable[[list[bytes]], list[int]],
        durable: Callable[[list[T], list[int]], None],
        failed: Callable[[list[T], BaseException], None],
        *,
        max_group: int = MAX_GROUP,
    ) -> None:
        self._write, self._durable, self._failed = write, durable, failed
        self.max_group = max_group
        self._changed = threading.Condition()
        self._queue: list[Ticket[T]] = []
        self._writing = False
        self.groups = 0  # commits made, for benchmarks

    def add(self, payload: bytes, item: T) -> Ticket[T]:
        """Queue ``payload``; call :meth:`wait` with the ticket to have it committed."""
        ticket = Ticket(payload, item)
        with self._changed:
            self._queue.append(ticket)
        return ticket

    def wait(self, ticket: Ticket[T]) -> int:
        """Block until ``ticket``'s group is durable; return its record number (or raise
        what the write raised)."""
        while True:
            with self._changed:
                while not ticket.done and self._writing:
                    self._changed.wait()
                if ticket.done:
                    if ticket.error is not None:
                        raise ticket.error
                    return ticket.sequence
                self._writing = True
                group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
            self._lead(group)

    def _lead(self, group: list[Ticket[T]]) -> None:
        try:
            numbers = self._write([t.payload for t in group])
        except BaseException as exc:
            with self._changed:
                for t in group:
                    t.done, t.error = True, exc
            try:
                if not isinstance(exc, Exception):
                    raise  # the process is going away (a test's kill, Ctrl-C): so is this
                self._failed([t.item for t in group], exc)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
            return
        try:
            self._durable([t.item for t in group], numbers)
        finally:
            with self._changed:
                for t, number in zip(group, numbers, strict=True):
                    t.done, t.sequence = True, number
                self._writing = False
                self.groups += 1
                self._changed.notify_all()
