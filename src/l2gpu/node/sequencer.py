"""The sequencer: admits signed transactions, orders them, and seals co-signed commitments.

Flow: ``submit`` checks an envelope (signature, nonce, encodability, the sender
not benched for silence) and queues it; ``deposit`` queues an L1 operation;
``seal`` applies queued L1 operations, then seals queued transactions into
commitments of up to ``max_per_commitment`` (at most 32) transactions of one
kind, in arrival order, round by round:

1. **Draft** (under the node's lock): chain draft commitments on the state, each
   applied under a checkpoint; a transaction the rules refuse is dropped with its
   reason, one that needs a benched signer is dropped without asking.
2. **Ask** (the lock released, see ``released``): every required signer of every
   draft at once, with one deadline (:mod:`l2gpu.node.cosigning`).
3. **Finish** (under the lock): keep the longest prefix of drafts that every signer
   signed; at the first draft someone refused or was silent for, drop the
   transactions needing that signer, bench the silent ones, and put the rest back
   in the queue for the next round.

A seal is atomic: if anything raises, the state is rolled back to where the seal
began and every transaction and L1 operation it took goes back in its queue, so a
failure never leaves a transaction applied that is in no batch. ``before_commit``
lets the node log the batch in the same atomic step.

Co-signers are in process (tests, the arena, the demo) or reached through the
node's co-sign desk (real users); see :mod:`l2gpu.node.cosigning`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from l2gpu.core.crypto.bls import aggregate, verify_aggregate_same_message
from l2gpu.core.errors import InvalidValue, L2gpuError, SignatureError
from l2gpu.core.l2.codec import (
    MAX_COMMITMENT_TXS,
    Batch,
    CodecError,
    Commitment,
    encode_tx,
    kind_of,
)
from l2gpu.core.l2.envelope import Envelope, rollup_domain
from l2gpu.core.l2.segments import MAX_L1_OPS, MAX_SEGMENTS
from l2gpu.core.l2.state import NO_BLS_KEY, L2State
from l2gpu.core.l2.stf import state_transition
from l2gpu.core.l2.transactions import BlockContext, L1Operation, UserTx
from l2gpu.core.types import Address, Timestamp
from l2gpu.node.cosigning import (
    REFUSED,
    Answer,
    CoSigner,
    CoSigners,
    Silence,
    SilenceBox,
    collect,
    notify_included,
)
from l2gpu.node.drafting import Draft, Pending, draft_one

__all__ = ["CoSigner", "Rejected", "SealReport", "Sequencer", "SignerSilent"]

log = logging.getLogger(__name__)
NOT_COSIGNED = "a required signer did not co-sign"


class Rejected(L2gpuError):
    """The sequencer refused a transaction at admission; ``reason`` says why."""

    def __init__(self, reason: str, fix: str = "") -> None:
        self.reason = reason
        super().__init__(reason, fix)


class SignerSilent(Rejected):
    """The sender did not answer a co-signature request in time and is benched until
    ``until`` (``retry_after`` seconds from now)."""

    status = 429  # the HTTP answer: too many requests, retry after

    def __init__(self, account: int, until: int, now: int) -> None:
        self.until, self.retry_after = until, max(1, until - now)
        super().__init__(
            f"account {account} did not answer a co-signature request in time; "
            f"its transactions are refused for {self.retry_after} s",
            "keep the client running (it answers co-signature requests) until each "
            "transaction is included, then send again",
        )


@dataclass
class SealReport:
    """What one ``seal`` did; ``batch`` is what goes to L1.

    ``included_sequences``, ``dropped_sequences`` and ``silenced`` are what the node
    logs with the batch,
    so that a restarted node rebuilds the same queue and bench.
    """

    commitments: list[Commitment] = field(default_factory=list)
    deposits: int = 0
    dropped: list[tuple[Envelope, str]] = field(default_factory=list)
    batch: Batch | None = None
    dropped_sequences: list[int] = field(default_factory=list)
    included_sequences: list[int] = field(default_factory=list)
    cosigned: list[tuple[int, list[UserTx]]] = field(default_factory=list)
    silenced: dict[int, Silence] = field(default_factory=dict)


class Sequencer:
    """Orders transactions into co-signed commitments over an L2 state."""

    def __init__(
        self,
        state: L2State,
        *,
        fee_recipient: int,
        cosigners: CoSigners,
        clock: Callable[[], Timestamp],
        max_per_commitment: int = MAX_COMMITMENT_TXS,
        silences: SilenceBox | None = None,
        max_commitments_per_round: int = 64,
    ) -> None:
        if not 1 <= max_per_commitment <= MAX_COMMITMENT_TXS:
            raise ValueError(f"a commitment holds 1 to {MAX_COMMITMENT_TXS} transactions")
        self.state = state
        self.fee_recipient = fee_recipient
        self._cosigners = cosigners
        self.clock = clock
        self.max_per_commitment = max_per_commitment
        self.silences = silences or SilenceBox()
        # Drafting holds the node's lock: a round of at most 64 commitments (2,048
        # transfers) keeps that hold near half a second.
        self.max_commitments_per_round = max_commitments_per_round
        self.domain = rollup_domain(state.chain_id, state.rollup)
        self.mempool: deque[Pending] = deque()
        self.pending_per_sender: dict[int, int] = {}
        self.deposit_queue: deque[L1Operation] = deque()
        self._sequence = 0
        self._last_timestamp = 0

    # -- admission ---------------------------------------------------------------

    def check(self, envelope: Envelope, *, signer: Address | None = None) -> None:
        """Raise :class:`Rejected` unless ``envelope`` may be queued now. ``signer``: who
        signed it, when the caller recovered it already from this very envelope (outside
        the node's lock)."""
        tx = envelope.tx
        account = self.state.account(tx.sender)
        if account is None:
            raise Rejected("unknown sender", "deposit on L1 first to create the account")
        if account.bls_key == NO_BLS_KEY:
            raise Rejected("the sender has no BLS key", "deposit again with a key and its proof")
        if (signer or envelope.signer(self.domain)) != account.address:
            raise Rejected("the envelope is not signed by the sender's key")
        # The clock is the L1's latest block (a JSON-RPC call): read only for an account
        # with a silence on record, not for every transaction admitted.
        if tx.sender in self.silences.benched:
            now = int(self.clock())
            until = self.silences.benched_until(tx.sender, now)
            if until is not None:
                raise SignerSilent(tx.sender, until, now)
        expected = account.nonce + self.pending_per_sender.get(tx.sender, 0)
        if envelope.nonce != expected:
            raise Rejected(f"nonce {envelope.nonce} is not the next one ({expected})",
                           "ask the sequencer for the account's next nonce")  # fmt: skip
        try:
            encode_tx(kind_of(tx), tx)
        except (CodecError, InvalidValue) as exc:
            raise Rejected(f"the transaction cannot be encoded: {exc}") from exc

    def enqueue(
        self, envelope: Envelope, sequence: int | None = None, *, reserved: bool = False
    ) -> int:
        """Queue an envelope already checked (or logged before a restart); return its
        sequence number (``sequence`` if given: the node passes its log's). ``reserved``:
        its sender's nonce was already counted by :meth:`reserve`."""
        self._sequence = max(self._sequence + 1, sequence or 0)
        self.mempool.append(Pending(envelope, self._sequence))
        if not reserved:
            self.reserve(envelope.tx.sender)
        return self._sequence

    def reserve(self, sender: int) -> None:
        """Count one more pending transaction of ``sender`` (its next nonce moves on)."""
        self.pending_per_sender[sender] = self.pending_per_sender.get(sender, 0) + 1

    def release(self, sender: int) -> None:
        """Undo :meth:`reserve` for a transaction that was never queued."""
        self._settle_pending_of(sender)

    def submit(self, envelope: Envelope) -> int:
        """Check and queue a transaction; return its sequence number."""
        self.check(envelope)
        return self.enqueue(envelope)

    def resume_after(self, timestamp: Timestamp) -> None:
        """Never seal a commitment older than ``timestamp`` (the last one sealed)."""
        self._last_timestamp = max(self._last_timestamp, int(timestamp))

    def deposit(self, deposit: L1Operation) -> None:
        """Queue an L1 operation (a deposit or a forced withdrawal), in L1 queue order."""
        self.deposit_queue.append(deposit)

    # -- sealing -----------------------------------------------------------------

    def seal(
        self,
        *,
        released: Callable[[], AbstractContextManager[object]] | None = None,
        before_commit: Callable[[SealReport], None] | None = None,
    ) -> SealReport:
        """Apply queued L1 operations, then seal queued transactions into commitments.

        ``released`` is entered while waiting for co-signers (the node releases its
        lock there); the state is rolled back to the seal's start first (L1 operations
        included, applied again after), so that readers never see what is not
        committed, and a seal is then one round: what a round puts back waits for the
        next seal. In process (no ``released``) rounds repeat until the queue is empty.
        ``before_commit`` runs last, inside the atomic step.
        """
        report = SealReport()
        state = self.state
        mark = state.checkpoint()
        taken_ops: list[L1Operation] = []
        out: dict[int, Pending] = {}  # taken from the queue and not put back
        settled: list[Pending] = []
        try:
            while self.deposit_queue and report.deposits < MAX_L1_OPS:
                taken_ops.append(self.deposit_queue.popleft())
                state_transition(state, taken_ops[-1], self._block())
                report.deposits += 1
            deposits_root = state.root() if report.deposits else b""
            # L1 takes at most MAX_SEGMENTS - 1 commitments per batch; the rest waits.
            while self.mempool and len(report.commitments) < MAX_SEGMENTS - 1:
                self._round(report, out, settled, released, (mark, taken_ops))
                if released is not None:
                    break
            if report.deposits or report.commitments:
                report.batch = Batch(self.fee_recipient, report.deposits,
                                     tuple(report.commitments), deposits_root)  # fmt: skip
            if before_commit is not None:
                before_commit(report)
        except BaseException:
            state.rollback(mark)
            state.commit()
            self.deposit_queue.extendleft(reversed(taken_ops))
            self.mempool = deque(sorted([*out.values(), *self.mempool], key=lambda p: p.sequence))
            raise
        state.commit()
        for item in settled:
            self._settle_pending(item)
        self.silences.benched.update(report.silenced)
        for index, txs in report.cosigned:  # in-process co-signers forget what was sealed
            notify_included(self._cosigners, index, txs)
        return report

    def _round(
        self,
        report: SealReport,
        out: dict[int, Pending],
        settled: list[Pending],
        released: Callable[[], AbstractContextManager[object]] | None,
        seal_start: tuple[int, list[L1Operation]],
    ) -> None:
        """Draft, ask and finish one round of commitments."""
        state = self.state
        round_mark = state.checkpoint()
        drafts: list[Draft] = []
        room = min(MAX_SEGMENTS - 1 - len(report.commitments), self.max_commitments_per_round)
        now = int(self.clock())
        while self.mempool and len(drafts) < room:
            draft, dropped = draft_one(
                state, self.mempool, self._block(), self.max_per_commitment,
                lambda who: who in report.silenced
                or self.silences.benched_until(who, now) is not None,
            )  # fmt: skip
            for item, reason in dropped:
                out[item.sequence] = item
                self._drop(report, settled, item, reason)
            if draft is not None:
                out.update((item.sequence, item) for item in draft.items)
                drafts.append(draft)
        if not drafts:
            state.rollback(round_mark)
            return
        asks = [ask for draft in drafts for ask in draft.asks]
        if released is None:
            answers = collect(self._cosigners, asks)
            applied = True
        else:
            mark, taken_ops = seal_start
            state.rollback(mark)  # readers see nothing uncommitted while the lock is free
            with released():
                answers = collect(self._cosigners, asks)
            for op in taken_ops:
                state_transition(state, op, self._block())
            round_mark = state.checkpoint()
            applied = False
        self._finish(drafts, answers, report, out, settled, round_mark, applied, now)

    def _finish(
        self,
        drafts: list[Draft],
        answers: list[Answer],
        report: SealReport,
        out: dict[int, Pending],
        settled: list[Pending],
        round_mark: int,
        applied: bool,
        now: int,
    ) -> None:
        state = self.state
        position = 0
        # The node's desk checks every answer against its signer's key before handing
        # it over (one pairing per message): checking the aggregate again doubles it.
        verified = bool(getattr(self._cosigners, "answers_verified", False))
        kept: list[tuple[Draft, bytes]] = []
        failed: tuple[Draft, set[int], set[int]] | None = None
        for draft in drafts:
            mine = answers[position : position + len(draft.asks)]
            position += len(draft.asks)
            silent = {a.account for a, got in zip(draft.asks, mine, strict=True) if got is None}
            refused = {a.account for a, got in zip(draft.asks, mine, strict=True)
                       if got is REFUSED}  # fmt: skip
            signature = None if silent or refused else _aggregate_checked(draft, mine, verified)
            if signature is None:
                refused |= _bad_signers(draft, mine) if not (silent or refused) else set()
                failed = (draft, silent, refused)
                break
            kept.append((draft, signature))
        if failed is not None or not applied:
            state.rollback(round_mark)
            for draft, _ in kept:
                draft.apply(state)  # the same state as when drafted: same roots
        for draft, signature in kept:
            report.commitments.append(draft.sealed(signature))
            report.included_sequences.extend(item.sequence for item in draft.items)
            settled.extend(draft.items)
            report.cosigned.extend(draft.needs.items())
        if failed is None:
            return
        draft, silent, refused = failed
        for account in sorted(silent):
            report.silenced[account] = self.silences.missed(account, now)
            log.warning("account %d did not co-sign in time: benched until %d",
                        account, report.silenced[account].until)  # fmt: skip
        later = [item for d in drafts[drafts.index(draft) + 1 :] for item in d.items]
        pairs = list(zip(draft.items, draft.signers_of, strict=True))
        # An account that answered with a refusal is alive and said no to something
        # it was asked to co-sign for someone else (a cooperative close it did not
        # agree to): drop those, not its own transactions, which its envelopes
        # authorize; it is asked again for them alone. Refusing only its own drops
        # them; silence drops everything that needs the silent account.
        refused_others = {a for a in refused for item, who in pairs
                          if a in who and item.envelope.tx.sender != a}  # fmt: skip
        back: list[Pending] = []
        for item, who in pairs:
            blocking = silent.intersection(who) | {
                a for a in refused.intersection(who)
                if not (a in refused_others and item.envelope.tx.sender == a)
            }  # fmt: skip
            if blocking:
                self._drop(report, settled, item, NOT_COSIGNED)
            else:
                back.append(item)
        for item in back + later:
            out.pop(item.sequence, None)
        self.mempool.extendleft(reversed(back + later))

    def _drop(self, report: SealReport, settled: list[Pending], item: Pending, why: str) -> None:
        report.dropped.append((item.envelope, why))
        report.dropped_sequences.append(item.sequence)
        settled.append(item)

    def _block(self) -> BlockContext:
        # L1 refuses a commitment older than the one before it: a clock that steps
        # back (a wall clock corrected by NTP) must not make a batch unpostable.
        self._last_timestamp = max(self._last_timestamp, self.clock())
        return BlockContext(Timestamp(self._last_timestamp), self.fee_recipient)

    def _settle_pending(self, item: Pending) -> None:
        self._settle_pending_of(item.envelope.tx.sender)

    def _settle_pending_of(self, sender: int) -> None:
        left = self.pending_per_sender.get(sender, 1) - 1
        if left:
            self.pending_per_sender[sender] = left
        else:
            self.pending_per_sender.pop(sender, None)


def _aggregate_checked(draft: Draft, answers: list[Answer], verified: bool) -> bytes | None:
    """The aggregate of the signers' answers if it verifies, else None (``verified``:
    each answer was already checked against its signer's key for this message)."""
    signatures = [a for a in answers if isinstance(a, bytes)]
    try:
        combined = aggregate(signatures)
    except SignatureError:
        return None
    if verified:
        return combined
    keys = [ask.bls_key for ask in draft.asks]
    return combined if verify_aggregate_same_message(keys, draft.message, combined) else None


def _bad_signers(draft: Draft, answers: list[Answer]) -> set[int]:
    """The signers whose own signature does not verify (an in-process co-signer's bug;
    the desk checks every remote answer when it arrives)."""
    bad = {
        ask.account for ask, answer in zip(draft.asks, answers, strict=True)
        if not (isinstance(answer, bytes)
                and verify_aggregate_same_message([ask.bls_key], draft.message, answer))
    }  # fmt: skip
    return bad or {ask.account for ask in draft.asks}
