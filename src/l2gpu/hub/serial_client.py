"""The hub's node client: one send at a time, at nonces it counts itself, and the
bodies of what it sent (the hub co-signs only those)."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import UserTx

SENT_KEPT = 4096  # the hub's own sends it remembers, to co-sign only those


def serial_client(url: str, key: PrivateKey) -> Any:
    """A node client that sends the hub's transactions one at a time, at nonces it
    counts itself: the hub sends from many threads (opens, and closes of many
    routes), and its co-signing loop signs all of its own, so a send need not wait
    for the one before to be included (as a lone user's client does). After a
    refused send it reads the account's next nonce again."""
    from l2gpu.core.l2.envelope import Envelope
    from l2gpu.node.client import L2Client, NodeError, TransactionDropped

    class SerialClient(L2Client):
        _sending: ClassVar[threading.Lock] = threading.Lock()
        _next: ClassVar[list[int]] = []  # [index, next nonce] once read from the node
        _sent: ClassVar[dict[bytes, None]] = {}  # bodies the hub sent, oldest first

        def sent(self, tx: UserTx) -> bool:
            """Whether the hub itself sent ``tx`` (one of its last SENT_KEPT sends)."""
            return bytes([kind_of(tx)]) + encode_tx(kind_of(tx), tx) in self._sent

        def send_tx(self, make: Any, *, wait: float = 60.0) -> Any:
            try:
                return super().send_tx(make, wait=wait)
            except TransactionDropped:
                self.forget_nonce()  # the nonces after the dropped one are free again
                raise

        def forget(self, body: bytes) -> None:
            """Co-sign ``body`` no more (the node refused it; a late batch must not hold it)."""
            self._sent.pop(body, None)

        def remember(self, body: bytes) -> None:
            """Co-sign ``body`` (a transaction the hub sent before a restart)."""
            self._sent[body] = None
            while len(self._sent) > SENT_KEPT:
                del self._sent[next(iter(self._sent))]

        def send_soft(self, make: Any, before: Any = None) -> Any:
            with self._sending:
                if not self._next:
                    me = self.account()
                    self._next[:] = [int(me["index"]), int(me["next_nonce"])]
                index, nonce = self._next
                tx = make(index)
                self.remember(bytes([kind_of(tx)]) + encode_tx(kind_of(tx), tx))
                if before is not None:
                    before(tx, nonce)  # e.g. the journal: on disk before the node has it
                try:
                    receipt = self.send_at(tx, nonce)
                except L2gpuError:
                    self._next.clear()
                    raise
                self._next[1] = nonce + 1
                return tx, Envelope(tx, nonce, b""), receipt

        def cosign_until(self, done: Any, *, allowed: Any, wait: float,
                         also: Any = None) -> None:  # fmt: skip
            """The hub's one co-signing loop per shard (``also``: :meth:`Hub.agrees`)
            answers for every transaction of the hub; a send only waits for ``done``:
            a second loop would refuse the hub's other transactions in flight."""
            if also is not None:
                super().cosign_until(done, allowed=allowed, wait=wait, also=also)
                return
            deadline = time.monotonic() + wait
            while not done():
                if time.monotonic() > deadline:
                    raise NodeError("the transaction was not included in time",
                                    "check 'l2gpu l2 status' on the shard's node")  # fmt: skip
                time.sleep(0.1)  # the node's next seal; the hub's loop co-signs it

        def forget_nonce(self) -> None:
            """Read the next nonce from the node at the next send."""
            with self._sending:
                self._next.clear()

    return SerialClient(url, key)
