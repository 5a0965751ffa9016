"""What the zk node tracks of its batches, channels and accepted transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l2gpu.core.zk.batch import BatchResult
from l2gpu.core.zk.channel import OpenChannelTx
from l2gpu.zk.prover import Proof


@dataclass
class SealedBatch:
    """A sealed batch as the node tracks it until L1 accepts it."""

    number: int
    positions: tuple[int, ...]
    deposit_count: int
    result: BatchResult
    proof: Proof | None = None
    posted: bool = False
    timestamp: int = 0
    reclaims: tuple[int, ...] = ()
    exit_count: int = 0


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """A channel the node accepted an open for: its name ``(renter, open_nonce)``,
    its slot, its terms, and the open's position."""

    index: int
    renter: int
    open_nonce: int
    provider: int
    deposit: int
    expiry: int
    position: int

    @classmethod
    def of(cls, tx: OpenChannelTx, position: int) -> ChannelEntry:
        """The entry of an accepted open."""
        return cls(tx.channel_index, tx.renter, tx.nonce, tx.provider, tx.deposit, tx.expiry,
                   position)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an accepted transaction."""

    status: str  # "pending", "included" or "dropped"
    batch: int | None = None
    reason: str | None = None

    def to_json(self, position: int) -> dict[str, Any]:
        """The API's view."""
        body: dict[str, Any] = {"position": position, "status": self.status}
        if self.batch is not None:
            body["batch"] = self.batch
        if self.reason is not None:
            body["reason"] = self.reason
        return body
