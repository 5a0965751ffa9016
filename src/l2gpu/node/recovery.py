"""Rebuilding a rollup node from its write-ahead log after a crash.

The log is replayed in order: sealed batches rebuild the state (and the root
parts that exit proofs use), accepted envelopes that no seal included or dropped
go back to the mempool in their order, the bench of silent co-signers comes
back, and sealed batches that L1 has not seen are queued for posting. The
envelopes were checked when they were accepted, so they are queued again
without the admission checks: the mempool is the one the node had, even when a
dropped transaction left a gap in a sender's nonces.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from l2gpu.core.l2.codec import Batch, decode_batch
from l2gpu.core.l2.commitment import apply_commitment
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.state import RootParts
from l2gpu.core.l2.stf import state_transition
from l2gpu.core.l2.transactions import BlockContext, UserTx
from l2gpu.core.types import Timestamp
from l2gpu.node.outcomes import RESTARTED
from l2gpu.node.wal import (
    decode_envelope,
    decode_l1_op,
    decode_sealed,
    decode_silence,
    decode_u64s,
)

if TYPE_CHECKING:
    from l2gpu.node.node import RollupNode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unposted:
    """A sealed, logged batch waiting to be posted to L1."""

    batch: Batch
    queue_end: int
    parts: RootParts


def recover(node: RollupNode) -> None:
    """Rebuild ``node`` from its log (the caller holds ``node.lock``); logs how many
    records and batches it replayed, and how long that took."""
    started, records = time.perf_counter(), 0
    waiting: dict[int, Envelope] = {}  # accepted, not yet included or dropped; in order
    sealed: list[tuple[Batch, int]] = []
    by_value: list[UserTx] = []  # included by older logs' batch records
    for seq, kind, payload in node.wal.records():
        records += 1
        if kind == "l1_op":
            node.l1_ops.append(decode_l1_op(payload))
        elif kind == "envelope":
            waiting[seq] = decode_envelope(payload)
        elif kind == "dropped":
            positions = decode_u64s(payload)
            node.outcomes.dropped(positions, [RESTARTED] * len(positions))
            for gone in positions:
                waiting.pop(gone, None)
        elif kind == "silenced":
            node.sequencer.silences.restore(*decode_silence(payload))
        elif kind == "sealed":
            queue_end, included, data = decode_sealed(payload)
            node.outcomes.included(included, len(sealed))
            sealed.append((decode_batch(data), queue_end))
            for gone in included:
                waiting.pop(gone, None)
        elif kind == "batch":
            batch = decode_batch(payload[8:])
            sealed.append((batch, int.from_bytes(payload[:8], "big")))
            by_value.extend(tx for c in batch.commitments for tx in c.txs)
        elif kind == "posted":
            node.posted.append(int.from_bytes(payload[:8], "big"))
    node.batches_sealed = len(sealed)
    parts_after = _replay(node, sealed)
    for k, index in enumerate(node.posted):
        node.batch_parts[index] = parts_after[k]
    for seq, envelope in waiting.items():
        if envelope.tx in by_value:  # an older log: included, matched by value
            by_value.remove(envelope.tx)
            continue
        node.sequencer.enqueue(envelope, seq)
        node.outcomes.accepted([seq])
        node.note_recovered(envelope, seq)
    for op in node.l1_ops[node.state.deposits_processed :]:
        node.sequencer.deposit(op)
    # L1 queue entries the log has not seen (the node died before logging them).
    node.take_l1_operations(node.rollup.new_operations())
    for k in range(len(node.posted), len(sealed)):
        batch, queue_end = sealed[k]
        node.unposted.append(Unposted(batch, queue_end, parts_after[k]))
    log.info("replayed the log: %d record(s), %d batch(es) (%.1f s)",
             records, len(sealed), time.perf_counter() - started)  # fmt: skip


def _replay(node: RollupNode, sealed: list[tuple[Batch, int]]) -> list[RootParts]:
    parts: list[RootParts] = []
    operations = iter(node.l1_ops)
    latest = 0
    for batch, _ in sealed:
        for _ in range(batch.deposits):
            state_transition(node.state, next(operations), BlockContext(Timestamp(0), 0))
        for commitment in batch.commitments:
            apply_commitment(node.state, commitment, batch.fee_recipient)
            latest = max(latest, commitment.timestamp)
        parts.append(node.state.parts())
    node.sequencer.resume_after(Timestamp(latest))
    return parts
