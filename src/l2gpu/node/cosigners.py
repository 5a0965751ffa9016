"""In-process co-signers: an account's agent that signs commitments holding its transactions."""

from __future__ import annotations

from collections import Counter

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.transactions import UserTx


class LocalCoSigner:
    """Co-signs a commitment only if it authorizes nothing this account did not ask for."""

    def __init__(self, index: int, key: BlsSecretKey) -> None:
        self.index = index
        self.key = key
        self.expected: Counter[UserTx] = Counter()

    def expect(self, tx: UserTx) -> None:
        """Remember a transaction this account agreed to."""
        self.expected[tx] += 1

    def included(self, tx: UserTx) -> None:
        """A transaction this account agreed to has been sealed: forget it."""
        self.expected[tx] -= 1
        if self.expected[tx] <= 0:
            del self.expected[tx]

    def cosign(
        self, message: bytes, commitment: Commitment, mine: tuple[UserTx, ...]
    ) -> bytes | None:
        """Sign if every transaction needing this account's approval was agreed to.

        ``mine`` is what the sequencer says needs this account; the agent also checks
        every transaction sent in its name, in case the sequencer left one out.
        """
        own = [tx for tx in commitment.txs if tx.sender == self.index]
        wanted = Counter(mine) + Counter(tx for tx in own if tx not in mine)
        if any(count > self.expected[tx] for tx, count in wanted.items()):
            return None
        return self.key.sign(message)
