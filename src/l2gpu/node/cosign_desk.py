"""Co-signing over the API: the sequencer asks, account agents answer.

The sealing thread calls :meth:`CoSignDesk.collect` with every ask of a round. It
posts one request per ask, under an unguessable id, and waits (at most
``timeout`` seconds, one deadline for all) until each is answered. Agents fetch
their account's requests (``GET /l2/cosign/{index}``, a long-poll served on the
event loop, so waiting agents hold no worker thread) and answer
(``POST /l2/cosign/{request}``) with a BLS signature of the request's message,
or a signed refusal.

An answer counts only if it verifies against the key the account registered on
L1, for that request's exact message: anyone may read the requests, but only the
account can answer them, so nobody can make the sequencer drop or blame another
account's transaction. A wrong answer is refused and the request stays open.

Waiting agents are bounded (in all and per account); a long-poll over the bound
is refused with 429 instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.node.cosigning import REFUSED, Answer, Ask, check_answer

MAX_WAITERS = 512
MAX_WAITERS_PER_ACCOUNT = 4

AnswerOutcome = Literal["accepted", "gone", "invalid"]


class TooManyWaiters(Exception):
    """More agents long-poll than the desk serves at once."""


@dataclass
class CoSignRequest:
    """One pending request for one account's co-signature."""

    id: str
    ask: Ask
    answer: Answer = None
    answered: bool = False
    created: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, object]:
        """What the agent sees: the message and the transactions it authorizes."""
        ask = self.ask
        return {
            "request": self.id,
            "account": ask.account,
            "message": "0x" + ask.message.hex(),
            "mine": [
                {"kind": kind_of(tx), "body": "0x" + encode_tx(kind_of(tx), tx).hex()}
                for tx in ask.mine
            ],
            "transactions": len(ask.commitment.txs),
        }


@dataclass
class _Waiter:
    account: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class CoSignDesk:
    """Pending co-signature requests, and the agents waiting for them."""

    def __init__(
        self,
        timeout: float = 5.0,
        *,
        max_waiters: int = MAX_WAITERS,
        max_waiters_per_account: int = MAX_WAITERS_PER_ACCOUNT,
    ) -> None:
        self.timeout = timeout
        self.max_waiters = max_waiters
        self.max_waiters_per_account = max_waiters_per_account
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self._pending: dict[str, CoSignRequest] = {}
        self._waiters: list[_Waiter] = []

    # -- the sequencer's side -----------------------------------------------------

    def collect(self, asks: Sequence[Ask]) -> list[Answer]:
        """Post a request per ask; return the answers (None where none came in time)."""
        requests = [CoSignRequest(secrets.token_hex(16), ask) for ask in asks]
        with self._lock:
            for request in requests:
                self._pending[request.id] = request
            self._wake({request.ask.account for request in requests})
            deadline = time.monotonic() + self.timeout
            while not all(r.answered for r in requests):
                left = deadline - time.monotonic()
                if left <= 0 or not self._answered.wait(left):
                    break
            for request in requests:
                self._pending.pop(request.id, None)
            return [r.answer if r.answered else None for r in requests]

    def _wake(self, accounts: set[int]) -> None:
        for waiter in self._waiters:
            if waiter.account in accounts:
                waiter.loop.call_soon_threadsafe(_resolve, waiter.future)

    # -- the agents' side ------------------------------------------------------------

    def requests_for(self, account: int) -> list[CoSignRequest]:
        """Open requests for ``account``."""
        with self._lock:
            return [r for r in self._pending.values() if r.ask.account == account]

    async def wait_for_requests(self, account: int, wait: float) -> list[CoSignRequest]:
        """Open requests for ``account``, waiting up to ``wait`` seconds for one.

        Raises :class:`TooManyWaiters` when the desk already serves its bound of
        waiting agents (in all, or for this account).
        """
        found = self.requests_for(account)
        if found or wait <= 0:
            return found
        loop = asyncio.get_running_loop()
        waiter = _Waiter(account, loop, loop.create_future())
        with self._lock:
            mine = sum(w.account == account for w in self._waiters)
            if len(self._waiters) >= self.max_waiters or mine >= self.max_waiters_per_account:
                raise TooManyWaiters
            self._waiters.append(waiter)
            # A request posted between the first look and now must not be missed.
            if any(r.ask.account == account for r in self._pending.values()):
                _resolve(waiter.future)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), wait)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.remove(waiter)
        return self.requests_for(account)

    def waiting(self) -> int:
        """How many agents are long-polling now."""
        with self._lock:
            return len(self._waiters)

    def answer(
        self, request_id: str, signature: bytes, *, refuse: bool = False, account: int | None = None
    ) -> AnswerOutcome:
        """Record an agent's signature (or signed refusal) if it verifies.

        ``gone``: no such request for ``account`` (never posted, answered, or timed
        out); ``invalid``: the signature is not the account's over the request's message.
        """
        with self._lock:
            request = self._pending.get(request_id)
        if request is None or (account is not None and request.ask.account != account):
            return "gone"
        # A pairing check (about 2 ms): outside the lock, so the sealing thread and
        # other agents do not wait on it.
        if not check_answer(request.ask, signature, refuse=refuse):
            return "invalid"
        with self._lock:
            if request.answered or request_id not in self._pending:
                return "gone"
            request.answer = REFUSED if refuse else bytes(signature)
            request.answered = True
            self._answered.notify_all()
        return "accepted"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
