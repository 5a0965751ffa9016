"""The zk node: admits signed transactions, seals batches, and has them proven and
posted in order by a worker thread; every decision is logged before it counts.

Proving is the node's bottleneck (seconds to minutes a batch, on one core: groth16py
proves on one thread). With ``provers`` above 1 the worker proves up to that many
sealed batches at once, one thread each, sharing the loaded proving key (groth16py
releases the GIL while it proves), and posts each once it and every batch sealed
ahead of it are proven; a prover that ends takes the next sealed batch.

The write-ahead log's records are :mod:`l2gpu.node.zk.records`. The order of writes
makes a crash at any point safe:

- a transaction is logged before its position is returned (the acknowledgement);
- a sealed batch (with the transactions the seal drops) is logged, in one database
  transaction, before the state moves and before it is proven;
- a posted batch is logged after L1 accepted it. A crash between L1's acceptance
  and that record is harmless: at restart L1's ``batch_count`` says it was taken.

The restart rule is :mod:`l2gpu.node.zk.recovery`'s. Proofs are not logged: a sealed
batch not posted is proven again after a restart (its witness comes from the state
the replay rebuilds).

The node's clock is L1's: the latest block's timestamp, read when an open is
admitted (its expiry must be after it) and when a batch is sealed (the batch's
timestamp, which L1 checks is not after the block that takes it). Tests inject
their own ``clock``.

Lease channels are followed by name, ``(renter, open_nonce)``
(:meth:`ZkNode.channel`): ``pending`` from the open's acceptance until a proven
batch holds it, then ``open``, and ``closed`` once a sealed batch emptied its slot
(a close or a reclaim); ``dropped`` (with the reason) for an open dropped at seal.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from l2gpu.core.errors import L2gpuError
from l2gpu.core.zk.batch_input import BatchInput
from l2gpu.core.zk.channel import OpenChannelTx
from l2gpu.core.zk.forced_exit import check_queued_owner
from l2gpu.core.zk.state import ZkError
from l2gpu.l1 import ContractRevert
from l2gpu.l1.contracts.zk_rollup import (
    Groth16Proof,
    ZkRollupClient,
    pubdata_sections,
    pubdata_timestamp,
)
from l2gpu.node.wal import WriteAheadLog
from l2gpu.node.zk import records
from l2gpu.node.zk.records import SealedRecord, SignedTx
from l2gpu.node.zk.sequencer import SealPlan, ZkSequencer
from l2gpu.node.zk.startup import check_circuit
from l2gpu.node.zk.tracking import ChannelEntry, Outcome, SealedBatch
from l2gpu.node.zk.views import NodeViews
from l2gpu.zk.prover import Proof, prove
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

log = logging.getLogger(__name__)


Prover = Callable[[BatchInput], Proof]
"""Proves one batch's circuit input (the node's default: ``zk.prover.prove``)."""
Clock = Callable[[], int]
"""The node's now in unix seconds (the node's default: L1's latest block's timestamp)."""


_FIXES = {
    "zk: amount not representable": "a transfer's amount must be m * 10**e with m below "
    "2^35 and e below 32 (float40): round it, or send the rest in another transfer",
    "zk: amount out of range": "amounts are whole numbers of wei below 2^128",
}
"""What to do, for the refusals whose ``core/zk`` error carries no fix."""


def _with_fix(error: ZkError) -> ZkError:
    if error.fix:
        return error
    fix = _FIXES.get(error.reason, "correct the transaction, sign it again and resend it")
    return ZkError(error.reason, fix)


class ZkNode(NodeViews):
    """The zk rollup's node over one ZkRollup and one database.

    ``lock`` guards the sequencer, the batches and the outcomes; ``l1_lock`` every
    call to L1 (the embedded chain is not thread safe). Build it with
    :func:`l2gpu.node.zk.recovery.open_node`, which replays the log.
    """

    def __init__(
        self,
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
    ) -> None:
        check_circuit(rollup, circuit, keys)
        if provers < 1:
            raise ValueError(f"provers must be at least 1, not {provers}")
        self.provers = provers
        """How many sealed batches are proven at once (a thread and a witness each)."""
        self.rollup = rollup
        self.keys_origin, self.keys_label = keys.origin, keys.label
        self.wal = WriteAheadLog(engine)
        self.operator = operator
        self.shape = rollup.shape()
        self.depth = rollup.depth()
        self.validium = rollup.validium()
        self.sequencer = ZkSequencer.empty(self.shape, fee_account, self.depth,
                                           validium=self.validium)  # fmt: skip
        self.batches: list[SealedBatch] = []
        self.outcomes: dict[int, Outcome] = {}
        self.channels: dict[tuple[int, int], ChannelEntry] = {}
        """Every channel accepted, by name (the latest open of a name, if one was
        dropped and its nonce used again)."""
        self.slot_names: dict[int, list[tuple[int, int]]] = {}
        """The names of the channels given each slot, oldest first."""
        self.open_slots: dict[int, int] = {}
        """The slot each accepted open was given, by the open's position."""
        self.clock: Clock = clock or (lambda: int(rollup.chain.timestamp()))
        self.proven = 0
        self._in_doubt: tuple[SealPlan, int, int, list[tuple[str, bytes]]] | None = None
        """A batch whose log write raised: (plan, number, the log's last record before
        it, the records written), until the log says whether they landed."""
        self.last_error: str | None = None
        self.last_proof_seconds: float | None = None
        self.lock = threading.RLock()
        self.l1_lock = threading.Lock()
        self._estimate_gas = False  # posts take submit_gas_bound's limit until one fails
        self._prove: Prover = prover or (
            lambda inputs: prove(circuit, inputs, keys=keys, toolchain=toolchain))  # fmt: skip
        self._proving = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # -- transactions ------------------------------------------------------------------

    def submit(self, signed: SignedTx) -> int:
        """Admit ``signed`` and log it; return its position. An open gets its
        channel's slot here (:meth:`channel_of` the position gives it). Raises
        :class:`ZkError` with the rule it breaks against the pending state."""
        with self.l1_lock:
            now = self.clock()
        with self.lock:
            self._settle_in_doubt()  # before anything is logged after that write
            try:
                self.sequencer.require_room(signed)
                signed = self.sequencer.assign(signed)
                after = self.sequencer.check(signed, now)
            except ZkError as exc:
                raise _with_fix(exc) from None
            position = self.wal.append(records.TX, records.encode_tx(signed))
            self.accepted(position, signed)
            self.sequencer.add(position, signed, after)
            return position

    def accepted(self, position: int, signed: SignedTx) -> None:
        """Track an operation logged at ``position`` (a restart replays through here)."""
        self.outcomes[position] = Outcome("pending")
        if isinstance(signed.tx, OpenChannelTx):
            entry = ChannelEntry.of(signed.tx, position)
            name = (entry.renter, entry.open_nonce)
            self.channels[name] = entry
            self.slot_names.setdefault(entry.index, []).append(name)
            self.open_slots[position] = entry.index

    def channel_of(self, position: int) -> int:
        """The slot the open at ``position`` was given."""
        with self.lock:
            return self.open_slots[position]

    def seal(self) -> int | None:
        """Seal the next batch (L1's next queued deposits and forced exits, pending
        transactions) and
        log it; return its number, or None when there was nothing to seal. The prover
        thread, if started, is woken."""
        with self.l1_lock:
            queued, queued_exits = self.rollup.queues()
            now = self.clock()
        with self.lock:
            earlier = self._settle_in_doubt()  # a batch logged although its write raised
            waiting = [q.slot for q in queued[self.sequencer.deposits_taken :]]
            fresh = queued_exits[self.sequencer.forced_exits_taken :]
            for q in fresh[: self.shape.forced_exits]:
                check_queued_owner(self.sequencer.state, q.index, q.eth_address)
            exits = [q.request for q in fresh]
            plan = self.sequencer.plan(waiting, now, exits)
            if plan is None:
                return earlier
            number = len(self.batches)
            try:
                writes = self._records_of(plan, number)
                before = self.wal.last()
            except BaseException:
                self.sequencer.discard()  # nothing written: not sealed
                raise
            try:
                self.wal.append_many(writes)
            except BaseException:
                # The write may have landed (a connection lost during COMMIT, whose end
                # the server may still be writing): the batch stays staged, and the next
                # seal or submission reads the log to settle it (_settle_in_doubt).
                self._in_doubt = (plan, number, before, writes)
                log.warning("the log write of batch %d failed: it may have landed", number)
                raise
            return self._sealed(plan, number)

    def _settle_in_doubt(self) -> int | None:
        """After a log write that raised: seal its plan if the log holds it (the
        batch's number; None for a plan that only drops), undo it if not (None);
        raise while the log cannot be read (a node without its log seals nothing)."""
        if self._in_doubt is None:
            return None
        plan, number, before, writes = self._in_doubt
        try:
            # Past ``before``: this write's records and at most the prover thread's
            # POSTED records, which it logs without node.lock (submissions settle this
            # first, so none is in between).
            landed = self.wal.holds(before, writes)
        except Exception:
            log.warning("the log cannot be read: batch %d stays in doubt", number)
            raise
        self._in_doubt = None
        if landed:
            log.warning("batch %d was logged although its write raised: it is sealed", number)
            return self._sealed(plan, number)
        self.sequencer.discard()  # not logged: not sealed
        return None

    def _sealed(self, plan: SealPlan, number: int) -> int | None:
        """Make the logged ``plan`` (batch ``number``, if it seals one) the node's."""
        with self.lock:
            self.sequencer.commit(plan)
            for position, reason in plan.dropped:
                self.outcomes[position] = Outcome("dropped", reason=reason)
            if plan.result is None:
                return None
            for position in plan.positions:
                self.outcomes[position] = Outcome("included", batch=number)
            self.batches.append(SealedBatch(number, plan.positions, plan.deposit_count,
                                            plan.result, timestamp=plan.timestamp,
                                            reclaims=plan.reclaims,
                                            exit_count=plan.exit_count))  # fmt: skip
        self._wake.set()
        return number

    @staticmethod
    def _records_of(plan: SealPlan, number: int) -> list[tuple[str, bytes]]:
        """The log records of ``plan``, batch ``number``: what it drops, and the batch."""
        writes = [(records.DROPPED, records.encode_dropped(p, r)) for p, r in plan.dropped]
        if plan.result is not None:
            sealed = SealedRecord(number, plan.positions, plan.deposit_count,
                                  plan.result.pubdata, plan.timestamp, plan.reclaims,
                                  plan.exit_count)  # fmt: skip
            writes.append((records.SEALED, records.encode_sealed(sealed)))
        return writes

    # -- proving and posting -----------------------------------------------------------

    def prove_and_post(self) -> int:
        """Prove and post every sealed batch L1 has not accepted, in order; return how
        many were posted. Proves up to :attr:`provers` batches at once, and posts each
        once it and every batch before it are proven. Stops at the first failure, which
        it raises (a batch that cannot be proven is never posted, nor any batch after
        it; the batches proven before it are posted, and the proofs made after it are
        kept for the next try)."""
        with self._proving:  # the worker and a direct caller never prove side by side
            return self._prove_and_post()

    def _prove_and_post(self, stop: threading.Event | None = None) -> int:
        """:meth:`prove_and_post` as a pipeline: up to :attr:`provers` proofs run at
        once, a thread each. Whenever the oldest batch not on L1 is proven it is posted,
        with every proven batch after it, in order, and a freed prover takes the next
        sealed batch. After a failure no proof starts; the running ones end, the
        proven batches before the failed one are posted, and the earliest failure is
        raised. The worker passes its ``stop`` event: once it is set no proof starts
        either (a restart proves the rest)."""
        running: dict[int, threading.Thread] = {}
        ended: queue.SimpleQueue[tuple[int, Exception | None]] = queue.SimpleQueue()
        failures: dict[int, Exception] = {}
        posted = 0
        try:
            while True:
                # Provers freed by the last proof start before the posts (an L1
                # transaction each), so that proving and posting overlap.
                if not failures and (stop is None or not stop.is_set()):
                    self._start_proofs(running, ended)
                posted += self._post_proven()
                if not running:
                    break
                number, error = ended.get()
                running.pop(number).join()
                if error is not None:
                    failures[number] = error
        finally:
            # A post that raised leaves proofs running: end them here, so that the next
            # call does not prove their batches a second time beside them.
            for thread in running.values():
                thread.join()
        if failures:
            for number in sorted(failures)[1:]:
                log.warning("batch %d was not proven either: %s", number, failures[number])
            raise failures[min(failures)]
        return posted

    def _post_proven(self) -> int:
        """Post the oldest batches not on L1 while they are proven; how many."""
        posted = 0
        while True:
            with self.lock:
                head = next((b for b in self.batches if not b.posted), None)
            if head is None or head.proof is None:
                return posted
            started = time.perf_counter()
            self._post(head)
            log.info("batch %d posted to L1 in %.1f s", head.number,
                     time.perf_counter() - started)  # fmt: skip
            posted += 1

    def _start_proofs(
        self,
        running: dict[int, threading.Thread],
        ended: queue.SimpleQueue[tuple[int, Exception | None]],
    ) -> None:
        """Start proving the oldest unproven batches, up to :attr:`provers` at once.

        Plain daemon threads, not a thread pool: a pool's threads are joined when the
        interpreter exits, so a node stopped without waiting would hang on its proofs.
        """
        with self.lock:
            waiting = [b for b in self.batches
                       if not b.posted and b.proof is None and b.number not in running]  # fmt: skip
        for batch in waiting[: max(0, self.provers - len(running))]:
            thread = threading.Thread(target=self._prove_into, args=(batch, ended),
                                      name=f"zk-prover-{batch.number}", daemon=True)  # fmt: skip
            thread.start()  # before it is counted: a thread that did not start is never joined
            running[batch.number] = thread

    def _prove_into(
        self, batch: SealedBatch, ended: queue.SimpleQueue[tuple[int, Exception | None]]
    ) -> None:
        """Prove ``batch`` (a prover thread), then say so on ``ended``, failure or not."""
        error: Exception | None = None
        try:
            self._prove_one(batch)
        except Exception as exc:  # reported by the pipeline, in batch order
            error = exc
        except BaseException as exc:  # SystemExit in a thread: not a proof to retry
            error = RuntimeError(f"the prover of batch {batch.number} ended: {exc!r}")
            raise
        finally:
            ended.put((batch.number, error))

    def _prove_one(self, batch: SealedBatch) -> None:
        started = time.perf_counter()
        proof = self._prove(batch.result.circuit_input)
        with self.lock:
            batch.proof = proof
            self.proven += 1
            self.last_proof_seconds = round(time.perf_counter() - started, 3)
        log.info("batch %d proven in %.1f s", batch.number, time.perf_counter() - started)

    def _post(self, batch: SealedBatch) -> None:
        assert batch.proof is not None
        a, b, c, _ = batch.proof.calldata()
        evm = Groth16Proof((a[0], a[1]), ((b[0][0], b[0][1]), (b[1][0], b[1][1])), (c[0], c[1]))
        with self.l1_lock:
            if self.rollup.batch_count() > batch.number:
                tx_hash = ""  # L1 took it already (posted before a crash)
            else:
                try:
                    receipt = self.rollup.submit_batch(
                        new_root=batch.result.new_state.root(),
                        fee_account=self.sequencer.fee_account,
                        timestamp=pubdata_timestamp(batch.result.pubdata),
                        deposit_count=batch.deposit_count, exit_count=batch.exit_count,
                        sections=pubdata_sections(self.shape, batch.result.pubdata),
                        proof=evm, sender=self.operator, estimate=self._estimate_gas,
                    )  # fmt: skip
                except ContractRevert:
                    # Had the bound been too low, the retry must not fail the same way.
                    self._estimate_gas = True
                    raise
                tx_hash = str(receipt.tx_hash)
        self.wal.append(records.POSTED, records.encode_posted(batch.number, tx_hash))
        with self.lock:
            batch.posted = True

    def start(self, poll_seconds: float = 5.0) -> None:
        """Start the prover thread: :attr:`provers` batches proven at a time, posted in
        order, woken by each seal (and every ``poll_seconds``, to retry after a
        failure)."""
        if self._worker is not None:
            return
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, args=(poll_seconds,),
                                        name="zk-prover", daemon=True)  # fmt: skip
        self._worker.start()
        self._wake.set()

    def stop(self) -> None:
        """Stop the prover thread once the proofs it is running end and are posted in
        order (the batches after them stay sealed: a restart proves them)."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def _run(self, poll_seconds: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                with self._proving:
                    self._prove_and_post(self._stop)
            except L2gpuError as exc:
                with self.lock:
                    self.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug must not kill the thread silently
                with self.lock:
                    self.last_error = f"unexpected {type(exc).__name__}: {exc}"
            else:
                with self.lock:
                    self.last_error = None
