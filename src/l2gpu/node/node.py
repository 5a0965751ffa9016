"""A rollup node: the sequencer, its write-ahead log, the L1 queue follower and the batch poster."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from l2gpu.core.l2.codec import Batch, decode_batch
from l2gpu.core.l2.commitment import apply_commitment
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.state import L2State, RootParts
from l2gpu.core.l2.stf import state_transition
from l2gpu.core.l2.transactions import BlockContext, L1Operation
from l2gpu.core.types import ChainId, Timestamp
from l2gpu.l1 import Receipt
from l2gpu.node.rollup_client import RollupClient
from l2gpu.node.sequencer import CoSigner, SealReport, Sequencer
from l2gpu.node.wal import (
    WriteAheadLog,
    decode_envelope,
    decode_l1_op,
    encode_envelope,
    encode_l1_op,
)

log = logging.getLogger(__name__)


class RollupNode:
    """Everything the operator runs for one rollup; every input goes through the WAL first."""

    def __init__(
        self,
        rollup: RollupClient,
        engine: Engine,
        proposer: LocalAccount,
        *,
        cosigners: Mapping[int, CoSigner] | Callable[[int], CoSigner | None],
        clock: Callable[[], Timestamp] | None = None,
        fee_recipient: int = 0,
        posting: str = "auto",
    ) -> None:
        if posting not in ("auto", "calldata", "blob"):
            raise ValueError(f"posting must be auto, calldata or blob, not {posting!r}")
        self.posting = posting
        self.rollup = rollup
        self.wal = WriteAheadLog(engine)
        self.proposer = proposer
        self.state = L2State(ChainId(rollup.chain.chain_id), rollup.address)
        self.sequencer = Sequencer(
            self.state, fee_recipient=fee_recipient, cosigners=cosigners,
            clock=clock or rollup.chain.timestamp,
        )  # fmt: skip
        self.l1_ops: list[L1Operation] = []
        self.posted: list[int] = []
        # The root's inputs after each posted batch: what exit proofs are built against.
        self.batch_parts: dict[int, RootParts] = {}
        self.post_receipts: dict[int, Receipt] = {}
        self.post_modes: dict[int, str] = {}
        self._waiting_since: float | None = None

    # -- inputs ------------------------------------------------------------------------

    def follow_l1(self) -> int:
        """Log and queue new L1 operations; return how many."""
        fresh = [op for op in self.rollup.new_operations() if op.queue_index >= len(self.l1_ops)]
        for op in fresh:
            self.wal.append("l1_op", encode_l1_op(op))
            self.l1_ops.append(op)
            self.sequencer.deposit(op)
        return len(fresh)

    def submit(self, envelope: Envelope) -> int:
        """Check, log, then accept a transaction; the returned number is the acknowledgement."""
        self.sequencer.submit(envelope)  # raises Rejected: nothing is logged
        return self.wal.append("envelope", encode_envelope(envelope))

    def batch_due(self, *, max_transactions: int, max_age: float, now: float) -> bool:
        """Seal now? When enough transactions wait (size) or the oldest waited long (age)."""
        waiting = len(self.sequencer.mempool) + len(self.sequencer.deposit_queue)
        if waiting == 0:
            self._waiting_since = None
            return False
        if self._waiting_since is None:
            self._waiting_since = now
        return waiting >= max_transactions or now - self._waiting_since >= max_age

    def seal_and_post(self, *, post: bool = True) -> SealReport:
        """Seal a batch, log it, post it to L1 and log the batch index."""
        report = self.sequencer.seal()
        self._waiting_since = None
        if report.batch is not None:
            payload = self.state.deposits_processed.to_bytes(8, "big") + report.batch.encode()
            self.wal.append("batch", payload)
            if post:
                self._post(report.batch, self.state.deposits_processed, self.state.parts())
        return report

    def _post(self, batch: Batch, queue_end: int, parts: RootParts) -> int:
        mode = self.choose_posting(batch, queue_end)
        if mode == "blob":
            # The WAL's batch record is the archive of the blob's contents: L1 keeps only
            # the versioned hash, and an embedded chain drops blob data at once.
            index, receipt, _ = self.rollup.submit_blob(batch, queue_end, self.proposer)
        else:
            index, receipt = self.rollup.submit(batch, queue_end, self.proposer)
        self.post_receipts[index] = receipt
        self.post_modes[index] = mode
        self.wal.append("posted", index.to_bytes(8, "big") + mode.encode())
        self.posted.append(index)
        self.batch_parts[index] = parts
        return index

    # -- recovery -----------------------------------------------------------------------

    def recover(self) -> int:
        """Rebuild from the WAL after a crash; return how many batches were re-posted."""
        envelopes: list[tuple[int, Envelope]] = []
        sealed: list[tuple[Batch, int]] = []
        posted = 0
        for seq, kind, payload in self.wal.records():
            if kind == "l1_op":
                self.l1_ops.append(decode_l1_op(payload))
            elif kind == "envelope":
                envelopes.append((seq, decode_envelope(payload)))
            elif kind == "batch":
                sealed.append((decode_batch(payload[8:]), int.from_bytes(payload[:8], "big")))
            elif kind == "posted":
                posted += 1
                self.posted.append(int.from_bytes(payload[:8], "big"))
        in_batches, parts_after = self._replay(sealed)
        for k, index in enumerate(self.posted):
            self.batch_parts[index] = parts_after[k]
        # Accepted transactions not in any sealed batch go back into the mempool.
        for _, envelope in envelopes:
            if envelope.tx in in_batches:
                in_batches.remove(envelope.tx)
                continue
            self.sequencer.submit(envelope)
        for op in self.l1_ops[self.state.deposits_processed :]:
            self.sequencer.deposit(op)
        self.rollup.new_operations()  # skip the queue entries already in the log
        reposted = 0
        on_l1 = int(self.rollup.contract.call("batch_count")) - 1
        for k, (batch, queue_end) in enumerate(sealed[posted:], start=posted):
            if on_l1 > len(self.posted):  # L1 got it before the crash, the log did not
                index = len(self.posted) + 1
                self.wal.append("posted", index.to_bytes(8, "big"))
                self.posted.append(index)
                self.batch_parts[index] = parts_after[k]
                continue
            self._post(batch, queue_end, parts_after[k])
            reposted += 1
        return reposted

    def choose_posting(self, batch: Batch, queue_end: int) -> str:
        """calldata or blob: ``auto`` is calldata, blob only when asked for by name.

        A calldata batch can be disputed: L1 parses it and a fraud proof reads a
        commitment's bytes from it. A blob batch cannot yet (L1 cannot read a blob;
        each commitment would need a KZG point-evaluation proof), so blobs, cheaper
        for large batches, are an explicit choice that gives up fraud proofs.
        """
        return "calldata" if self.posting == "auto" else self.posting

    def _replay(self, sealed: list[tuple[Batch, int]]) -> tuple[list[object], list[RootParts]]:
        included: list[object] = []
        parts: list[RootParts] = []
        operations = iter(self.l1_ops)
        for batch, _ in sealed:
            for _ in range(batch.deposits):
                state_transition(self.state, next(operations), BlockContext(Timestamp(0), 0))
            for commitment in batch.commitments:
                apply_commitment(self.state, commitment, batch.fee_recipient)
                included.extend(commitment.txs)
            parts.append(self.state.parts())
        return included, parts

    def exit_proof(self, exit_index: int) -> tuple[int, RootParts, list[bytes]] | None:
        """The newest final batch holding exit ``exit_index``, its root parts and the proof."""
        from l2gpu.core.l2.merkle import IndexedMerkleTree
        from l2gpu.core.l2.state import TREE_DEPTH

        for index in sorted(self.batch_parts, reverse=True):
            parts = self.batch_parts[index]
            if parts.exit_count <= exit_index or not self.rollup.is_final(index):
                continue
            tree = IndexedMerkleTree(TREE_DEPTH)
            for exit_ in self.state.exits[: parts.exit_count]:
                tree.set_leaf(exit_.index, exit_.leaf())
            return index, parts, tree.proof(exit_index)
        return None
