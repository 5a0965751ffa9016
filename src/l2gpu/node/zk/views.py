"""What the zk node shows of itself: its status, a sealed batch's public data and
its lease channels by name or slot (:class:`NodeViews`, a base of
:class:`~l2gpu.node.zk.node.ZkNode`). Every view reads under the node's lock."""

from __future__ import annotations

import threading
from typing import Any

from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.node.zk.sequencer import ZkSequencer
from l2gpu.node.zk.tracking import ChannelEntry, Outcome, SealedBatch


class NodeViews:
    """The zk node's read-only views over the state :class:`ZkNode` keeps."""

    rollup: ZkRollupClient
    depth: int
    shape: BatchShape
    validium: bool
    keys_origin: str
    keys_label: str
    provers: int
    sequencer: ZkSequencer
    batches: list[SealedBatch]
    outcomes: dict[int, Outcome]
    channels: dict[tuple[int, int], ChannelEntry]
    slot_names: dict[int, list[tuple[int, int]]]
    proven: int
    last_error: str | None
    last_proof_seconds: float | None
    lock: threading.RLock

    def status(self) -> dict[str, Any]:
        """Root, batches sealed/proven/posted, pending transactions, the last error."""
        with self.lock:
            return {
                "rollup": self.rollup.address.checksum,
                "chain_id": self.rollup.chain.chain_id,
                "depth": self.depth,
                "state_root": str(self.sequencer.state.root()),
                "batches_sealed": len(self.batches),
                "batches_proven": self.proven,
                "batches_posted": sum(1 for b in self.batches if b.posted),
                "pending": len(self.sequencer.pending),
                "deposits_taken": self.sequencer.deposits_taken,
                "forced_exits_taken": self.sequencer.forced_exits_taken,
                "fee_account": self.sequencer.fee_account,
                "timestamp": self.sequencer.timestamp,
                "channels": len(self.sequencer.channel_slots),
                "shape": {
                    "deposits": self.shape.deposits,
                    "transfers": self.shape.transfers,
                    "withdrawals": self.shape.withdrawals,
                    "opens": self.shape.opens,
                    "closes": self.shape.closes,
                    "reclaims": self.shape.reclaims,
                    "forced_exits": self.shape.forced_exits,
                },
                "last_proof_seconds": self.last_proof_seconds,
                "provers": self.provers,
                "last_error": self.last_error,
                "validium": self.validium,
                "keys": {"origin": self.keys_origin, "label": self.keys_label},
            }

    def batch_data(self, number: int) -> dict[str, Any] | None:
        """Sealed batch ``number``'s whole public data (hex), its public input and
        whether L1 has it, or None when no such batch was sealed. A validium's users
        need it: L1 holds only the digest of its transfer and channel sections, and
        without these bytes nobody can rebuild the state (``core/zk/replay.py``)."""
        with self.lock:
            if not 0 <= number < len(self.batches):
                return None
            batch = self.batches[number]
            return {
                "number": number,
                "posted": batch.posted,
                "public_input": str(batch.result.public_input),
                "data": "0x" + batch.result.pubdata.hex(),
            }

    def channel(self, renter: int, open_nonce: int) -> dict[str, Any] | None:
        """Channel ``(renter, open_nonce)``'s terms and status (see the module's
        docstring), or None when the node never accepted its open."""
        with self.lock:
            entry = self.channels.get((renter, open_nonce))
            return None if entry is None else self._channel_view(entry)

    def channels_of(self, renter: int) -> list[dict[str, Any]]:
        """Every channel the account at ``renter`` opened as renter, with its status,
        newest first (``l2gpu account show`` sums what they lock)."""
        with self.lock:
            names = sorted((n for n in self.channels if n[0] == renter), reverse=True)
            return [self._channel_view(self.channels[n]) for n in names]

    def channel_at(self, index: int) -> dict[str, Any] | None:
        """The latest channel given slot ``index`` whose open was not dropped, or None."""
        with self.lock:
            for name in reversed(self.slot_names.get(index, [])):
                entry = self.channels[name]
                if entry.index == index and self.outcomes[entry.position].status != "dropped":
                    return self._channel_view(entry)
            return None

    def _channel_view(self, entry: ChannelEntry) -> dict[str, Any]:
        outcome = self.outcomes[entry.position]
        body: dict[str, Any] = {
            "index": entry.index, "renter": entry.renter, "open_nonce": entry.open_nonce,
            "provider": entry.provider, "deposit": str(entry.deposit), "expiry": entry.expiry,
        }  # fmt: skip
        if outcome.status == "dropped":
            return body | {"status": "dropped", "reason": outcome.reason}
        if outcome.status == "pending" or outcome.batch is None:
            return body | {"status": "pending"}
        sealed = self.sequencer.state.channel(entry.index)
        if sealed is None or (sealed.renter, sealed.open_nonce) != (entry.renter,
                                                                    entry.open_nonce):  # fmt: skip
            return body | {"status": "closed", "batch": outcome.batch}
        batch = self.batches[outcome.batch]
        proven = batch.proof is not None or batch.posted
        return body | {"status": "open" if proven else "pending", "batch": outcome.batch}
