"""A rollup node: the sequencer, its write-ahead log, the L1 queue follower and the batch poster.

Two locks: ``lock`` guards the L2 state, the queues and the records that the API
reads (held briefly; released while co-signers are asked), and ``l1_lock``
serializes the proposer's L1 transactions (the poster and the node's watcher
share one account, whose nonces must not race). L1 is never called with
``lock`` held, so a slow or absent L1 never stalls the API.

Posting is decoupled from sealing: a sealed batch is logged, queued in
``unposted`` and posted in order; when L1 fails the node keeps sequencing, says
``degraded`` with the reason, and posts the queue when L1 is back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import Batch
from l2gpu.core.l2.envelope import Envelope, rollup_domain
from l2gpu.core.l2.receipts import SequencerReceipt, sign_receipt
from l2gpu.core.l2.state import L2State, RootParts
from l2gpu.core.l2.transactions import L1Operation
from l2gpu.core.types import ChainId, Timestamp
from l2gpu.l1 import Receipt
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.node.cosigning import CoSigners, SilenceBox
from l2gpu.node.group_commit import GroupCommit
from l2gpu.node.outcomes import Outcomes
from l2gpu.node.recovery import Unposted, recover
from l2gpu.node.sequencer import Rejected, SealReport, Sequencer
from l2gpu.node.soft import SoftChannels
from l2gpu.node.wal import (
    IN_DOUBT_LOOKUP,
    WriteAheadLog,
    encode_envelope,
    encode_l1_op,
    seal_records,
)

log = logging.getLogger(__name__)


@dataclass
class Health:
    """Whether the node reaches L1; ``reason`` says why not."""

    degraded: bool = False
    reason: str = ""
    since: float = 0.0


class RollupNode:
    """Everything the operator runs for one rollup; every input goes through the WAL first."""

    def __init__(
        self,
        rollup: RollupClient,
        engine: Engine,
        proposer: LocalAccount,
        *,
        cosigners: CoSigners,
        clock: Callable[[], Timestamp] | None = None,
        fee_recipient: int = 0,
        posting: str = "auto",
        silences: SilenceBox | None = None,
    ) -> None:
        if posting not in ("auto", "calldata", "blob"):
            raise ValueError(f"posting must be auto, calldata or blob, not {posting!r}")
        self.posting = posting
        self.rollup = rollup
        self.wal = WriteAheadLog(engine)
        self.proposer = proposer
        self.lock = threading.Lock()
        self.l1_lock = threading.Lock()
        self.state = L2State(ChainId(rollup.chain.chain_id), rollup.address)
        self.sequencer = Sequencer(
            self.state, fee_recipient=fee_recipient, cosigners=cosigners,
            clock=clock or rollup.chain.timestamp, silences=silences,
        )  # fmt: skip
        self.l1_ops: list[L1Operation] = []
        self.posted: list[int] = []
        # What became of each logged transaction, by its position (the receipt's).
        self.outcomes = Outcomes()
        self.batches_sealed = 0
        # The root's inputs after each posted batch: what exit proofs are built against.
        self.batch_parts: dict[int, RootParts] = {}
        self.post_receipts: dict[int, Receipt] = {}
        self.post_modes: dict[int, str] = {}
        self.unposted: deque[Unposted] = deque()
        # Receipts are signed by the proposer, whose L1 bond backs the rollup's batches.
        self.receipt_key = PrivateKey(bytes(proposer.key))
        self.domain = rollup_domain(ChainId(rollup.chain.chain_id), rollup.address)
        self.soft = SoftChannels()
        self._receipts: dict[int, SequencerReceipt] = {}
        self.group_commit: GroupCommit[Envelope] = GroupCommit(
            self._log_envelopes, self._durable, self._not_logged
        )
        self.health = Health()
        # Called after each seal that sealed or dropped something, with the accounts it
        # touched (co-signers of what it included, senders of what it dropped): the
        # desk ends their long-polls, so that clients waiting for inclusion look at once.
        self.on_sealed: list[Callable[[set[int]], None]] = []
        self.transactions_sealed = 0  # since this process started: for throughput figures
        # A seal undone after its log write raised, while the log may hold it after all:
        # (the log's last record before the write, the records written).
        self._seal_in_doubt: tuple[int, list[tuple[str, bytes]]] | None = None
        self._waiting_since: float | None = None

    # -- inputs ------------------------------------------------------------------------

    def follow_l1(self) -> int:
        """Log and queue new L1 operations; return how many (L1 is read without the lock)."""
        found = self.rollup.new_operations()
        with self.lock:
            return self.take_l1_operations(found)

    def take_l1_operations(self, found: list[L1Operation]) -> int:
        """Log and queue those of ``found`` not seen before (the caller holds the lock)."""
        fresh = [op for op in found if op.queue_index >= len(self.l1_ops)]
        for op in fresh:
            self.wal.append("l1_op", encode_l1_op(op))
            self.l1_ops.append(op)
            self.sequencer.deposit(op)
        return len(fresh)

    def submit(self, envelope: Envelope) -> int:
        """Check, log, then accept a transaction; the returned number is the acknowledgement
        (its position in the log: :meth:`submit_signed` gives the signed receipt)."""
        return self.submit_signed(envelope).position

    def submit_signed(self, envelope: Envelope) -> SequencerReceipt:
        """Check, log, then accept a transaction; answer the sequencer's signed receipt.

        The log write is a group commit shared with concurrent submitters
        (:mod:`l2gpu.node.group_commit`); the sender's nonce is reserved meanwhile, so
        its next transaction is checked against it.
        """
        signer = envelope.signer(self.domain)  # needs no state: not under the lock
        with self.lock:
            self.sequencer.check(envelope, signer=signer)  # raises Rejected: nothing is logged
            self.sequencer.reserve(envelope.tx.sender)
            ticket = self.group_commit.add(encode_envelope(envelope), envelope)
        return self._take_receipt(self.group_commit.wait(ticket))

    def submit_many(self, envelopes: list[Envelope]) -> list[SequencerReceipt | Rejected]:
        """Like :meth:`submit_signed` for each envelope, in order, sharing group commits;
        each result is the receipt or why that envelope was refused."""
        results: list[SequencerReceipt | Rejected | None] = []
        tickets = []
        # Recovering the signers (secp256k1, in C without the GIL) needs no state: done
        # before the lock, so that other requests and the seal are not held meanwhile.
        signers = [envelope.signer(self.domain) for envelope in envelopes]
        with self.lock:
            for envelope, signer in zip(envelopes, signers, strict=True):
                try:
                    self.sequencer.check(envelope, signer=signer)
                except Rejected as exc:
                    results.append(exc)
                    continue
                self.sequencer.reserve(envelope.tx.sender)
                tickets.append((len(results), self.group_commit.add(encode_envelope(envelope),
                                                                    envelope)))  # fmt: skip
                results.append(None)
        for position, ticket in tickets:
            results[position] = self._take_receipt(self.group_commit.wait(ticket))
        return [r for r in results if r is not None]

    def _take_receipt(self, position: int) -> SequencerReceipt:
        with self.lock:  # signed when the log write was durable, taken once by its submitter
            return self._receipts.pop(position)

    def _durable(self, envelopes: list[Envelope], numbers: list[int]) -> None:
        # The receipts depend on the envelopes and their log positions only: signed
        # before the lock, so that other requests and the seal are not held meanwhile.
        now = int(self.sequencer.clock())
        receipts = [sign_receipt(self.receipt_key, self.domain, envelope, number, now)
                    for envelope, number in zip(envelopes, numbers, strict=True)]  # fmt: skip
        with self.lock:  # in log order: the next group waits for this one
            self.outcomes.accepted(numbers)
            for envelope, number, receipt in zip(envelopes, numbers, receipts, strict=True):
                self.sequencer.enqueue(envelope, number, reserved=True)
                self._receipts[number] = receipt
                self.soft.note(self.state, envelope, receipt, self._mempool_envelopes)

    def _mempool_envelopes(self) -> list[Envelope]:
        """The envelopes in the mempool, in order (what runs before a new one)."""
        return [pending.envelope for pending in self.sequencer.mempool]

    def note_recovered(self, envelope: Envelope, position: int) -> None:
        """A logged transaction found waiting at start: show its channel as pending
        again (its receipt is signed anew; the position is the one promised)."""
        now = int(self.sequencer.clock())
        receipt = sign_receipt(self.receipt_key, self.domain, envelope, position, now)
        self.soft.note(self.state, envelope, receipt, self._mempool_envelopes)

    def _log_envelopes(self, payloads: list[bytes]) -> list[int]:
        """Write a group of envelopes; a write that raised but landed (a connection lost
        during COMMIT) is found among the log's last records and counts as written, so
        that its submitters are not told "not logged" of what a restart would run."""
        try:
            return self.wal.append_envelopes(payloads)
        except Exception:
            try:
                found = _numbers_of(payloads, self.wal.latest(len(payloads) + IN_DOUBT_LOOKUP))
            except Exception:
                found = None  # the log cannot say: not logged, as far as anyone can tell
            if found is None:
                raise
            log.warning("a group of %d envelopes was logged although its write raised",
                        len(payloads))  # fmt: skip
            return found

    def _not_logged(self, envelopes: list[Envelope], _error: BaseException) -> None:
        with self.lock:
            for envelope in envelopes:
                self.sequencer.release(envelope.tx.sender)

    def batch_due(self, *, max_transactions: int, max_age: float, now: float) -> bool:
        """Seal now? When enough transactions wait (size) or the oldest waited long (age)."""
        with self.lock:
            waiting = len(self.sequencer.mempool) + len(self.sequencer.deposit_queue)
        if waiting == 0:
            self._waiting_since = None
            return False
        if self._waiting_since is None:
            self._waiting_since = now
        return waiting >= max_transactions or now - self._waiting_since >= max_age

    def seal_and_post(self, *, post: bool = True) -> SealReport:
        """Seal a batch (logged atomically with what it dropped), then post what waits.

        A failure to post leaves the batch queued (see :attr:`health`); the next
        call posts it first.
        """
        with self.lock:
            report = self.sequencer.seal(released=self._released, before_commit=self._log_seal)
            self._waiting_since = None
            self.transactions_sealed += len(report.included_sequences)
            self.outcomes.dropped(report.dropped_sequences, [why for _, why in report.dropped])
            self.soft.prune(self.state, (p.envelope for p in self.sequencer.mempool))
            if report.batch is not None:
                parts = self.state.parts()
                self.unposted.append(Unposted(report.batch, self.state.deposits_processed, parts))
                self.outcomes.included(report.included_sequences, self.batches_sealed)
                self.batches_sealed += 1
        if report.batch is not None or report.dropped:
            touched = {index for index, _ in report.cosigned}
            touched.update(envelope.tx.sender for envelope, _ in report.dropped)
            for listener in self.on_sealed:
                listener(touched)
        if post:
            self.post_pending()
        return report

    @contextlib.contextmanager
    def _released(self) -> Iterator[None]:
        """Let the API run while co-signers are asked (the caller holds :attr:`lock`)."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    def _log_seal(self, report: SealReport) -> None:
        # In the seal's atomic step: if the log cannot be written, the seal is undone.
        # A write that raises may still have landed (a connection lost during COMMIT):
        # if the log holds it, the seal stands; if the log does not (or cannot say), the
        # seal is undone and the write stays in doubt until a later seal looks again.
        self._check_write_in_doubt()
        writes = seal_records(report, self.state.deposits_processed)
        if not writes:
            return
        before = self.wal.last()
        try:
            self.wal.append_many(writes)
        except BaseException:
            if self._in_log(before, writes):
                log.warning("the seal's log write raised but landed: the seal stands")
                return
            self._seal_in_doubt = (before, writes)
            raise

    def _in_log(self, before: int, writes: list[tuple[str, bytes]]) -> bool:
        """Whether ``writes`` are in the log past ``before``; False when the log cannot
        be read."""
        try:
            return self.wal.holds(before, writes)
        except Exception:
            return False

    def _check_write_in_doubt(self) -> None:
        """Refuse to seal while an undone seal's write may be in the log: sealing again
        would log the same transactions twice, which no restart could replay."""
        if self._seal_in_doubt is None:
            return
        before, writes = self._seal_in_doubt
        try:
            landed = self.wal.holds(before, writes)
        except Exception as exc:
            raise L2gpuError("the node's log cannot be read, so it seals nothing",
                             "restore the database connection") from exc  # fmt: skip
        if landed:
            raise L2gpuError(
                "a seal this node undid is in its log after all (its write raised, then landed)",
                "restart the node: it rebuilds its state from the log",
            )
        self._seal_in_doubt = None

    # -- posting -------------------------------------------------------------------------

    def post_pending(self) -> int:
        """Post every sealed batch not yet on L1, in order; return how many were posted.

        On an L1 failure the node is marked degraded and the rest waits for the next
        call; nothing is lost (the batches are in the WAL).
        """
        done = 0
        with self.l1_lock:
            while True:
                with self.lock:
                    if not self.unposted:
                        break
                    waiting = self.unposted[0]
                try:
                    index, receipt, mode = self._post(waiting)
                except Exception as exc:  # any L1 failure: keep the batch, say why, retry
                    self._degrade(f"posting to L1 failed: {exc}")
                    return done
                with self.lock:
                    self.unposted.popleft()
                    self.wal.append("posted", index.to_bytes(8, "big") + mode.encode())
                    self.posted.append(index)
                    self.batch_parts[index] = waiting.parts
                    if receipt is not None:
                        self.post_receipts[index] = receipt
                    self.post_modes[index] = mode
                done += 1
        self.healthy()
        return done

    def _post(self, waiting: Unposted) -> tuple[int, Receipt | None, str]:
        landed = self._landed(waiting)
        if landed is not None:  # sent before a crash or a lost answer: do not post twice
            return landed, None, "calldata"
        mode = self.choose_posting(waiting.batch, waiting.queue_end)
        if mode == "blob":
            # The WAL's batch record is the archive of the blob's contents: L1 keeps only
            # the versioned hash, and an embedded chain drops blob data at once.
            index, receipt, _ = self.rollup.submit_blob(
                waiting.batch, waiting.queue_end, self.proposer
            )
        else:
            index, receipt = self.rollup.submit(waiting.batch, waiting.queue_end, self.proposer)
        return index, receipt, mode

    def _landed(self, waiting: Unposted) -> int | None:
        """The L1 index of ``waiting`` if L1 already holds it as the next batch."""
        expected = (self.posted[-1] if self.posted else 0) + 1
        if int(self.rollup.contract.call("batch_count")) <= expected:
            return None
        root = bytes(self.rollup.contract.call("batch_root", expected))
        return expected if root == waiting.batch.post_root else None

    def _degrade(self, reason: str) -> None:
        import time

        if not self.health.degraded:
            log.error("node degraded: %s", reason)
            self.health = Health(True, reason, time.time())
        else:
            self.health.reason = reason

    def healthy(self) -> None:
        """L1 answered again."""
        if self.health.degraded:
            log.warning("node recovered: L1 answers again")
        self.health = Health()

    def degrade(self, reason: str) -> None:
        """Mark the node degraded (an L1 read failed)."""
        self._degrade(reason)

    # -- recovery -----------------------------------------------------------------------

    def recover(self) -> int:
        """Rebuild from the WAL after a crash; return how many batches were (re)posted."""
        with self.lock:
            recover(self)
        return self.post_pending()

    def choose_posting(self, batch: Batch, queue_end: int) -> str:
        """calldata or blob: ``auto`` is calldata, blob only when asked for by name.

        A calldata batch can be disputed: L1 parses it and a fraud proof reads a
        commitment's bytes from it. A blob batch cannot yet (L1 cannot read a blob;
        each commitment would need a KZG point-evaluation proof), so blobs, cheaper
        for large batches, are an explicit choice that gives up fraud proofs.
        """
        return "calldata" if self.posting == "auto" else self.posting

    def exit_proof(self, exit_index: int) -> tuple[int, RootParts, list[bytes]] | None:
        """The newest final batch holding exit ``exit_index``, its root parts and the proof.

        Takes :attr:`lock` only to copy what it needs; L1 is asked without it.
        """
        from l2gpu.core.l2.merkle import IndexedMerkleTree
        from l2gpu.core.l2.state import TREE_DEPTH

        with self.lock:
            candidates = sorted(self.batch_parts.items(), reverse=True)
            exits = list(self.state.exits)
        for index, parts in candidates:
            if parts.exit_count <= exit_index or not self.rollup.is_final(index):
                continue
            tree = IndexedMerkleTree(TREE_DEPTH)
            for exit_ in exits[: parts.exit_count]:
                tree.set_leaf(exit_.index, exit_.leaf())
            return index, parts, tree.proof(exit_index)
        return None


def _numbers_of(payloads: list[bytes], latest: list[tuple[int, str, bytes]]) -> list[int] | None:
    """The log numbers of ``payloads``, written as one group (consecutive envelope
    records), among ``latest``; None unless every one is there."""
    envelopes = [(seq, payload) for seq, kind, payload in latest if kind == "envelope"]
    for start in range(len(envelopes) - len(payloads), -1, -1):  # the newest match
        window = envelopes[start : start + len(payloads)]
        if [payload for _, payload in window] == payloads:
            return [seq for seq, _ in window]
    return None
