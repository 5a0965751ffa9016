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
account's transaction. Bytes that are no curve point are refused at once (400);
a well-formed signature is kept as a candidate (at most four per request; when
they are full, the four are checked at once and the wrong ones dropped, so a
forger cannot crowd out the owner) and checked when the round closes: all the
first candidates of a commitment in one aggregate check (two pairings for up to
32 signers, instead of a pairing per answer), and one by one only when that
fails. A wrong candidate is dropped and the request waits for a right one until
the deadline. Refusals are rare and checked when they arrive.

Waiting agents are bounded (in all and per account); a long-poll over the bound
ends the oldest one (answered with what is open) instead of queueing without end.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from l2gpu.core.crypto.bls import aggregate, is_signature, verify_aggregate_same_message
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.node.cosigning import REFUSED, Answer, Ask, check_answer

MAX_WAITERS = 512
MAX_WAITERS_PER_ACCOUNT = 4

AnswerOutcome = Literal["accepted", "gone", "invalid", "busy"]


MAX_CANDIDATES = 4


@dataclass
class CoSignRequest:
    """One pending request for one account's co-signature."""

    id: str
    ask: Ask
    answer: Answer = None
    answered: bool = False
    candidates: list[bytes] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)
    _json: dict[str, object] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, object]:
        """What the agent sees: the message and the transactions it authorizes (built
        once: an agent long-polling again is shown the same request)."""
        if self._json is None:
            self._json = self._build_json()
        return self._json

    def _build_json(self) -> dict[str, object]:
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


@dataclass(eq=False)  # compared by identity: each long-poll is its own
class _Waiter:
    account: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class CoSignDesk:
    """Pending co-signature requests, and the agents waiting for them."""

    # Every answer collect() returns verified against the asker's key and message
    # (_check_candidates) or is a refusal checked when it came (see Collector).
    answers_verified = True

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
        """Post a request per ask; return the answers (None where none verified in time)."""
        requests = [CoSignRequest(secrets.token_hex(16), ask) for ask in asks]
        deadline = time.monotonic() + self.timeout
        with self._lock:
            for request in requests:
                self._pending[request.id] = request
            self._wake({request.ask.account for request in requests})
        try:
            while True:
                with self._lock:
                    while not all(r.answered or r.candidates for r in requests):
                        left = deadline - time.monotonic()
                        if left <= 0 or not self._answered.wait(left):
                            break
                    unchecked = [(r, list(r.candidates)) for r in requests
                                 if not r.answered and r.candidates]  # fmt: skip
                if not unchecked:
                    break
                verdicts = _check_candidates(unchecked)  # pairings, outside the lock
                with self._lock:
                    for request, good, bad in verdicts:
                        request.candidates = [c for c in request.candidates if c not in bad]
                        if good is not None and not request.answered:
                            request.answer, request.answered = good, True
                if all(r.answered for r in requests) or time.monotonic() >= deadline:
                    break
        finally:
            with self._lock:
                for request in requests:
                    self._pending.pop(request.id, None)
        return [r.answer if r.answered else None for r in requests]

    def wake_sealed(self, accounts: set[int]) -> None:
        """End the long-polls of ``accounts`` now: a seal included or dropped their
        transactions, so those waiting for inclusion look. Only theirs: waking every
        waiter at every seal cost each of them a request per seal for nothing."""
        with self._lock:
            self._wake(accounts)

    def _evict(self, waiter: _Waiter) -> None:
        self._waiters.remove(waiter)
        waiter.loop.call_soon_threadsafe(_resolve, waiter.future)

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

        Over the desk's bounds (in all, or for this account), the oldest waiter is
        answered at once to make room.
        """
        found = self.requests_for(account)
        if found or wait <= 0:
            return found
        loop = asyncio.get_running_loop()
        waiter = _Waiter(account, loop, loop.create_future())
        with self._lock:
            # Over a bound, the oldest waiter (of this account, else of all) is answered
            # now with what is open, instead of this one being refused: anyone may poll
            # any account, so refusing would let a stranger holding an account's slots
            # keep its owner from ever seeing its requests. The owner still sees them,
            # however often it is cut short.
            mine = [w for w in self._waiters if w.account == account]
            if len(mine) >= self.max_waiters_per_account:
                self._evict(mine[0])
            elif len(self._waiters) >= self.max_waiters:
                self._evict(self._waiters[0])
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
                if waiter in self._waiters:  # not evicted meanwhile
                    self._waiters.remove(waiter)
        return self.requests_for(account)

    def waiting(self) -> int:
        """How many agents are long-polling now."""
        with self._lock:
            return len(self._waiters)

    def answer(
        self, request_id: str, signature: bytes, *, refuse: bool = False, account: int | None = None
    ) -> AnswerOutcome:
        """Take an agent's signature (checked when the round closes) or signed refusal
        (checked now).

        ``gone``: no such open request for ``account``; ``invalid``: not a signature
        (or a refusal that does not verify); ``busy``: the request already holds its
        most candidates.
        """
        with self._lock:
            request = self._pending.get(request_id)
        if request is None or (account is not None and request.ask.account != account):
            return "gone"
        if refuse:
            # A pairing check (about 2 ms) outside the lock.
            if not check_answer(request.ask, signature, refuse=True):
                return "invalid"
        elif not is_signature(signature):
            return "invalid"
        with self._lock:
            full = list(request.candidates) if len(request.candidates) >= MAX_CANDIDATES else []
        if full:  # someone is filling the slots: check them now and drop the wrong ones
            wrong = [c for c in full if not check_answer(request.ask, c, refuse=False)]
            with self._lock:
                request.candidates = [c for c in request.candidates if c not in wrong]
        with self._lock:
            if request.answered or request_id not in self._pending:
                return "gone"
            if refuse:
                request.answer, request.answered = REFUSED, True
            elif len(request.candidates) >= MAX_CANDIDATES:
                return "busy"
            else:
                request.candidates.append(bytes(signature))
            self._answered.notify_all()
        return "accepted"


def _check_candidates(
    unchecked: list[tuple[CoSignRequest, list[bytes]]],
) -> list[tuple[CoSignRequest, bytes | None, list[bytes]]]:
    """For each request, its first candidate that verifies (or None) and the wrong ones
    seen: per message one aggregate check of every request's first candidate, and
    one by one only when that fails."""
    by_message: dict[bytes, list[tuple[CoSignRequest, list[bytes]]]] = {}
    for request, candidates in unchecked:
        by_message.setdefault(request.ask.message, []).append((request, candidates))
    verdicts: list[tuple[CoSignRequest, bytes | None, list[bytes]]] = []
    for message, group in by_message.items():
        firsts = [candidates[0] for _, candidates in group]
        keys = [request.ask.bls_key for request, _ in group]
        if verify_aggregate_same_message(keys, message, aggregate(firsts)):
            verdicts.extend(
                (request, first, []) for (request, _), first in zip(group, firsts, strict=True)
            )
            continue
        for request, candidates in group:
            good, bad = None, []
            for signature in candidates:
                if check_answer(request.ask, signature, refuse=False):
                    good = signature
                    break
                bad.append(signature)
            verdicts.append((request, good, bad))
    return verdicts


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
