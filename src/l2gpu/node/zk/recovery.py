"""Start a zk node from its write-ahead log: the restart rule.

:func:`open_node` replays the log in order:

- ``zk_tx`` records are the accepted operations, by position (an open with the
  channel slot the node gave it when it accepted it);
- each ``zk_sealed`` batch is applied again to the ledger by ``core/l2``'s
  ``apply_zk_batch`` (the deposits from its own public data, the operations by
  position, the reclaims and the timestamp the record names), and must give the
  public data the record holds byte for byte, else the log is damaged;
- ``zk_dropped`` and ``zk_posted`` mark positions dropped and batches L1 accepted.

Then accepted transactions neither sealed nor dropped go back to the mempool in
their order, checked at the node's clock now (one that no longer applies, an open
whose expiry passed while the node was down, is dropped and logged as such), and the node
is compared with L1: batches numbered below ``ZkRollup.batch_count`` that the log
does not call posted were accepted before a crash (logged posted now, never sent
again); the rest are proven and posted by :meth:`ZkNode.prove_and_post`. L1 ahead of
the log, or a root that differs, is a :class:`DivergedFromL1` error: the database is
not the one that posted the rollup's batches.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from l2gpu.core.errors import L2gpuError
from l2gpu.core.zk.channel import OpenChannelTx, ReclaimTx
from l2gpu.core.zk.state import ZkError
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.node.wal import DamagedRecord
from l2gpu.node.zk import records
from l2gpu.node.zk.node import Clock, Prover, ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.node.zk.tracking import Outcome, SealedBatch
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

_RESTORE = "restore the zk node's database from a backup, or start a new one"


class DivergedFromL1(L2gpuError):
    """L1's batches are not the ones this node's log sealed."""


def open_node(
    rollup: ZkRollupClient,
    engine: Engine,
    operator: LocalAccount,
    circuit: CompiledCircuit,
    keys: Keys,
    *,
    fee_account: int,
    toolchain: Toolchain | None = None,
    prover: Prover | None = None,
    clock: Clock | None = None,
    provers: int = 1,
) -> ZkNode:
    """A node over ``rollup`` whose state is replayed from the log in ``engine``.
    Raises :class:`~l2gpu.node.zk.node.CircuitMismatch` for keys of another circuit
    than the contract's, :class:`DamagedRecord` and :class:`DivergedFromL1`.
    ``provers``: how many batches it proves at once (:class:`ZkNode`)."""
    node = ZkNode(rollup, engine, operator, circuit, keys, fee_account=fee_account,
                  toolchain=toolchain, prover=prover, clock=clock, provers=provers)  # fmt: skip
    if node.sequencer.state.root() != rollup.state_root() and rollup.batch_count() == 0:
        raise DivergedFromL1(
            f"ZkRollup {rollup.address}'s genesis root is not the empty tree's",
            "deploy the rollup with ZkState.empty(depth).root() as its genesis root",
        )
    replay(node)
    reconcile(node)
    return node


def replay(node: ZkNode) -> None:
    """Rebuild ``node``'s state, batches, outcomes and mempool from its log."""
    txs: dict[int, SignedTx] = {}
    posted: set[int] = set()
    seq = node.sequencer
    for position, kind, payload in node.wal.records():
        if kind == records.TX:
            txs[position] = records.decode_tx(payload)
            node.accepted(position, txs[position])
        elif kind == records.DROPPED:
            dropped, reason = records.decode_dropped(payload)
            node.outcomes[dropped] = Outcome("dropped", reason=reason)
        elif kind == records.SEALED:
            sealed = records.decode_sealed(payload)
            _apply_sealed(node, sealed, txs)
        elif kind == records.POSTED:
            posted.add(records.decode_posted(payload))
        else:
            raise DamagedRecord(f"record {position} is a {kind!r} record: this database is "
                                "not a zk node's", _RESTORE)  # fmt: skip
    for batch in node.batches:
        batch.posted = batch.number in posted
    stale: list[tuple[int, str]] = []
    with node.l1_lock:
        now = node.clock()
    for position, signed in sorted(txs.items()):
        if node.outcomes[position].status != "pending":
            continue
        try:
            after = seq.check(signed, now)
        except ZkError as exc:
            stale.append((position, exc.reason))
            continue
        seq.add(position, signed, after)
    if stale:  # logged, so that the next restart agrees
        node.wal.append_many([(records.DROPPED, records.encode_dropped(p, r)) for p, r in stale])
        for position, reason in stale:
            node.outcomes[position] = Outcome("dropped", reason=reason)


def _apply_sealed(node: ZkNode, sealed: records.SealedRecord, txs: dict[int, SignedTx]) -> None:
    seq = node.sequencer
    if sealed.number != len(node.batches) or any(p not in txs for p in sealed.positions):
        raise DamagedRecord(f"sealed batch {sealed.number} does not follow the log", _RESTORE)
    signed = [txs[p] for p in sealed.positions]
    if not (0 <= sealed.deposit_count <= seq.shape.deposits
            and 0 <= sealed.exit_count <= seq.shape.forced_exits):  # fmt: skip
        raise DamagedRecord(f"sealed batch {sealed.number} takes {sealed.deposit_count} "
                            f"deposits and {sealed.exit_count} forced exits, which do not fit "
                            f"{seq.shape}", _RESTORE)  # fmt: skip
    deposits = records.deposit_slots(sealed.pubdata, sealed.deposit_count)
    reclaims = [ReclaimTx(index) for index in sealed.reclaims]
    exits = records.forced_exit_requests(seq.shape, sealed.pubdata, sealed.exit_count)
    try:
        result = seq.apply(deposits, signed, reclaims, sealed.timestamp, exits)
    except ZkError as exc:
        raise DamagedRecord(f"sealed batch {sealed.number} no longer applies: {exc}",
                            _RESTORE) from exc  # fmt: skip
    if result.pubdata != sealed.pubdata:
        seq.discard()
        raise DamagedRecord(f"sealed batch {sealed.number} replays to other public data "
                            "(another fee account or shape?)", _RESTORE)  # fmt: skip
    opened = [s.tx.channel_index for s in signed if isinstance(s.tx, OpenChannelTx)]
    try:
        seq.sealed(sealed.deposit_count, sealed.timestamp, opened, sealed.exit_count)
    except ZkError as exc:
        raise DamagedRecord(f"sealed batch {sealed.number}: {exc}", _RESTORE) from exc
    seq.pending_state = seq.state
    for position in sealed.positions:
        node.outcomes[position] = Outcome("included", batch=sealed.number)
    node.batches.append(SealedBatch(sealed.number, sealed.positions, sealed.deposit_count, result,
                                    timestamp=sealed.timestamp,
                                    reclaims=sealed.reclaims,
                                    exit_count=sealed.exit_count))  # fmt: skip


def reconcile(node: ZkNode) -> None:
    """Compare the replayed batches with L1 (see the module's docstring)."""
    accepted, l1_root = node.rollup.batch_count(), node.rollup.state_root()
    if accepted > len(node.batches):
        raise DivergedFromL1(
            f"ZkRollup {node.rollup.address} accepted {accepted} batches, this node's log "
            f"sealed {len(node.batches)}",
            "start the node on the database that sealed the rollup's batches",
        )
    if accepted and node.batches[accepted - 1].result.new_state.root() != l1_root:
        raise DivergedFromL1(
            f"L1's state root after batch {accepted - 1} is not the one this node sealed",
            "start the node on the database that sealed the rollup's batches",
        )
    for batch in node.batches[:accepted]:
        if not batch.posted:  # accepted, then a crash before the zk_posted record
            node.wal.append(records.POSTED, records.encode_posted(batch.number, ""))
            batch.posted = True
