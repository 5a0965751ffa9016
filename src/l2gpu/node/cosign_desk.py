"""Co-signing over the API: the sequencer asks, account agents answer.

The sequencer runs in its own thread and calls :meth:`RemoteCoSigner.cosign`,
which posts a request on the desk and waits (up to ``timeout`` seconds) for the
account's agent to fetch it (``GET /l2/cosign/{index}``), check that it only
authorizes what the account asked for, and answer with its BLS signature
(``POST /l2/cosign/{request}``). An agent that does not answer in time is treated
as refusing: its transactions are dropped and the commitment is formed without
them.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from l2gpu.core.l2.codec import Commitment, encode_tx, kind_of
from l2gpu.core.l2.transactions import UserTx


@dataclass
class CoSignRequest:
    """One pending request for one account's co-signature."""

    id: int
    account: int
    message: bytes
    commitment: Commitment
    mine: tuple[UserTx, ...]
    answered: threading.Event = field(default_factory=threading.Event)
    signature: bytes | None = None

    def to_json(self) -> dict[str, object]:
        """What the agent sees: the message and the transactions it authorizes."""
        return {
            "request": self.id,
            "account": self.account,
            "message": "0x" + self.message.hex(),
            "mine": [
                {"kind": kind_of(tx), "body": "0x" + encode_tx(kind_of(tx), tx).hex()}
                for tx in self.mine
            ],
            "transactions": len(self.commitment.txs),
        }


class CoSignDesk:
    """Pending co-signature requests by account."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: dict[int, CoSignRequest] = {}
        self._ids = itertools.count(1)

    def cosigner(self, account: int) -> RemoteCoSigner:
        """The co-signer the sequencer uses for ``account``."""
        return RemoteCoSigner(self, account)

    def ask(self, account: int, message: bytes, commitment: Commitment,
            mine: tuple[UserTx, ...]) -> bytes | None:  # fmt: skip
        """Post a request and wait for its answer; None on timeout."""
        with self._lock:
            request = CoSignRequest(next(self._ids), account, message, commitment, mine)
            self._pending[request.id] = request
            self._changed.notify_all()
        request.answered.wait(self.timeout)
        with self._lock:
            self._pending.pop(request.id, None)
        return request.signature

    def requests_for(self, account: int, wait: float = 0.0) -> list[CoSignRequest]:
        """Pending requests for ``account``, waiting up to ``wait`` seconds for one."""
        with self._lock:
            found = [r for r in self._pending.values() if r.account == account]
            if not found and wait > 0:
                self._changed.wait_for(
                    lambda: any(r.account == account for r in self._pending.values()), wait
                )
                found = [r for r in self._pending.values() if r.account == account]
            return found

    def answer(self, request_id: int, signature: bytes) -> bool:
        """Record an agent's signature; False if the request is gone (timed out)."""
        with self._lock:
            request = self._pending.get(request_id)
        if request is None:
            return False
        request.signature = signature
        request.answered.set()
        return True


class RemoteCoSigner:
    """The sequencer's handle on one account's remote agent."""

    def __init__(self, desk: CoSignDesk, account: int) -> None:
        self.desk = desk
        self.account = account

    def cosign(
        self, message: bytes, commitment: Commitment, mine: tuple[UserTx, ...]
    ) -> bytes | None:
        """Ask the agent and wait for its answer."""
        return self.desk.ask(self.account, message, commitment, mine)
