"""The sequencer: admits signed transactions, orders them, and seals co-signed commitments.

Flow: ``submit`` checks an envelope (signature, nonce, encodability) and queues it;
``deposit`` queues an L1 deposit; ``seal`` applies queued deposits, then forms
commitments of up to ``max_per_commitment`` (at most 32) transactions of one kind
in arrival order: it applies them to the state under a checkpoint, asks every
signer to co-sign the commitment's message, and keeps the commitment only when all
did.
A signer that refuses or is offline has its transactions dropped (it is told
why) and the commitment is formed again without them. Each ``seal`` returns the batch
(deposits first, then commitments) for the batch poster.

Co-signers are reached through the :class:`CoSigner` interface: in process for
tests and benchmarks, over the API for real users.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from l2gpu.core.crypto.bls import aggregate, verify_aggregate_same_message
from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.l2.codec import (
    MAX_CLOSES,
    MAX_COMMITMENT_TXS,
    Batch,
    CodecError,
    Commitment,
    encode_tx,
    kind_of,
)
from l2gpu.core.l2.commitment import MAX_SIGNERS, signing_message
from l2gpu.core.l2.envelope import Envelope, rollup_domain
from l2gpu.core.l2.segments import MAX_L1_OPS, MAX_SEGMENTS
from l2gpu.core.l2.state import NO_BLS_KEY, L2State
from l2gpu.core.l2.stf import L2Error, signers, state_transition
from l2gpu.core.l2.transactions import BlockContext, CloseChannel, L1Operation, UserTx
from l2gpu.core.types import Timestamp

log = logging.getLogger(__name__)


class Rejected(L2gpuError):
    """The sequencer refused a transaction at admission; ``reason`` says why."""

    def __init__(self, reason: str, fix: str = "") -> None:
        self.reason = reason
        super().__init__(reason, fix)


class CoSigner(Protocol):
    """An account's agent that co-signs commitments holding its transactions."""

    def cosign(
        self, message: bytes, commitment: Commitment, mine: tuple[UserTx, ...]
    ) -> bytes | None:
        """A BLS signature of ``message``, or None to refuse; ``mine``: what needs this signer."""


@dataclass
class _Pending:
    envelope: Envelope
    sequence: int


@dataclass
class SealReport:
    """What one ``seal`` did; ``batch`` is what goes to L1."""

    commitments: list[Commitment] = field(default_factory=list)
    deposits: int = 0
    dropped: list[tuple[Envelope, str]] = field(default_factory=list)
    batch: Batch | None = None


class Sequencer:
    """Orders transactions into co-signed commitments over an L2 state."""

    def __init__(
        self,
        state: L2State,
        *,
        fee_recipient: int,
        cosigners: Mapping[int, CoSigner] | Callable[[int], CoSigner | None],
        clock: Callable[[], Timestamp],
        max_per_commitment: int = MAX_COMMITMENT_TXS,
    ) -> None:
        if not 1 <= max_per_commitment <= MAX_COMMITMENT_TXS:
            raise ValueError(f"a commitment holds 1 to {MAX_COMMITMENT_TXS} transactions")
        self.state = state
        self.fee_recipient = fee_recipient
        self._cosigners = cosigners
        self.clock = clock
        self.max_per_commitment = max_per_commitment
        self.domain = rollup_domain(state.chain_id, state.rollup)
        self.mempool: deque[_Pending] = deque()
        self.pending_per_sender: dict[int, int] = {}
        self.deposit_queue: deque[L1Operation] = deque()
        self._sequence = 0
        self._last_timestamp = 0

    # -- admission ---------------------------------------------------------------

    def submit(self, envelope: Envelope) -> int:
        """Check and queue a transaction; return its sequence number."""
        tx = envelope.tx
        account = self.state.account(tx.sender)
        if account is None:
            raise Rejected("unknown sender", "deposit on L1 first to create the account")
        if account.bls_key == NO_BLS_KEY:
            raise Rejected("the sender has no BLS key", "deposit again with a key and its proof")
        if envelope.signer(self.domain) != account.address:
            raise Rejected("the envelope is not signed by the sender's key")
        expected = account.nonce + self.pending_per_sender.get(tx.sender, 0)
        if envelope.nonce != expected:
            raise Rejected(f"nonce {envelope.nonce} is not the next one ({expected})",
                           "ask the sequencer for the account's next nonce")  # fmt: skip
        try:
            encode_tx(kind_of(tx), tx)
        except (CodecError, InvalidValue) as exc:
            raise Rejected(f"the transaction cannot be encoded: {exc}") from exc
        self._sequence += 1
        self.mempool.append(_Pending(envelope, self._sequence))
        self.pending_per_sender[tx.sender] = self.pending_per_sender.get(tx.sender, 0) + 1
        return self._sequence

    def deposit(self, deposit: L1Operation) -> None:
        """Queue an L1 operation (a deposit or a forced withdrawal), in L1 queue order."""
        self.deposit_queue.append(deposit)

    # -- sealing -----------------------------------------------------------------

    def seal(self) -> SealReport:
        """Apply queued deposits, then seal every queued transaction into commitments."""
        report = SealReport()
        # L1 takes at most MAX_L1_OPS operations per batch; the rest waits for the next.
        while self.deposit_queue and report.deposits < MAX_L1_OPS:
            state_transition(self.state, self.deposit_queue.popleft(), self._block())
            report.deposits += 1
        deposits_root = self.state.root() if report.deposits else b""
        # L1 takes at most MAX_SEGMENTS - 1 commitments per batch; the rest waits.
        while self.mempool and len(report.commitments) < MAX_SEGMENTS - 1:
            commitment = self._seal_one(report)
            if commitment is not None:
                report.commitments.append(commitment)
        if report.deposits or report.commitments:
            report.batch = Batch(self.fee_recipient, report.deposits,
                                 tuple(report.commitments), deposits_root)  # fmt: skip
        return report

    def _block(self) -> BlockContext:
        # L1 refuses a commitment older than the one before it: a clock that steps
        # back (a wall clock corrected by NTP) must not make a batch unpostable.
        self._last_timestamp = max(self._last_timestamp, self.clock())
        return BlockContext(Timestamp(self._last_timestamp), self.fee_recipient)

    def _seal_one(self, report: SealReport) -> Commitment | None:
        kind = kind_of(self.mempool[0].envelope.tx)
        chosen: list[_Pending] = []
        while self.mempool and len(chosen) < self.max_per_commitment:
            if kind_of(self.mempool[0].envelope.tx) != kind:
                break
            chosen.append(self.mempool.popleft())
        block = self._block()
        while chosen:
            commitment, refused = self._try(chosen, kind, block, report)
            if commitment is not None:
                for item in chosen:
                    self._settle_pending(item)
                return commitment
            # Each round drops at least one transaction, so the loop ends.
            for item in refused:
                report.dropped.append((item.envelope, "a required signer did not co-sign"))
                self._settle_pending(item)
                chosen.remove(item)
        return None

    def _try(
        self, chosen: list[_Pending], kind: int, block: BlockContext, report: SealReport
    ) -> tuple[Commitment | None, list[_Pending]]:
        state = self.state
        mark = state.checkpoint()
        pre_root = state.root()
        applied: list[UserTx] = []
        signer_set: list[int] = []
        needs: dict[int, list[UserTx]] = {}
        signers_of: list[tuple[_Pending, tuple[int, ...]]] = []
        snapshot = list(chosen)
        for position, item in enumerate(snapshot):
            tx = item.envelope.tx
            tx_signers = signers(state, tx)
            closes = sum(isinstance(a.envelope.tx, CloseChannel) for a in snapshot[:position])
            too_many_closes = isinstance(tx, CloseChannel) and closes >= MAX_CLOSES
            if too_many_closes or len(set(signer_set).union(tx_signers)) > MAX_SIGNERS:
                # The rest waits for the next commitment (commitment.MAX_SIGNERS,
                # codec.MAX_CLOSES).
                rest = snapshot[position:]
                for waiting in rest:
                    chosen.remove(waiting)
                self.mempool.extendleft(reversed(rest))
                break
            try:
                state_transition(state, tx, block)
            except L2Error as exc:
                chosen.remove(item)
                report.dropped.append((item.envelope, exc.reason))
                self._settle_pending(item)
                continue
            applied.append(tx)
            signers_of.append((item, tx_signers))
            signer_set.extend(i for i in tx_signers if i not in signer_set)
            for i in tx_signers:
                needs.setdefault(i, []).append(tx)
        if not applied:
            state.rollback(mark)
            state.commit()
            return None, []
        draft = Commitment(kind, block.timestamp, tuple(applied))
        message = signing_message(state, pre_root, draft)
        signatures, refused = [], set()
        for index in signer_set:
            cosigner = self._cosigner(index)
            mine = tuple(needs[index])
            signature = cosigner.cosign(message, draft, mine) if cosigner is not None else None
            if signature is None:
                refused.add(index)
            else:
                signatures.append(signature)
        if not refused:
            # A bad co-signature would make the commitment provably invalid and cost
            # the sequencer its bond: check the aggregate, and on failure find who.
            keys = [state.accounts[i].bls_key for i in signer_set]
            combined = aggregate(signatures)
            if not verify_aggregate_same_message(keys, message, combined):
                refused = {
                    i for i, s in zip(signer_set, signatures, strict=True)
                    if not verify_aggregate_same_message([state.accounts[i].bls_key], message, s)
                } or set(signer_set)  # fmt: skip
        if refused:
            state.rollback(mark)
            state.commit()
            return None, [item for item, who in signers_of if refused.intersection(who)]
        sealed = Commitment(kind, block.timestamp, tuple(applied), combined, state.root())
        state.commit()
        for index, txs in needs.items():
            cosigner = self._cosigner(index)
            if cosigner is not None and hasattr(cosigner, "included"):
                for tx in txs:
                    cosigner.included(tx)
        return sealed, []

    def _cosigner(self, index: int) -> CoSigner | None:
        if callable(self._cosigners) and not isinstance(self._cosigners, Mapping):
            return self._cosigners(index)
        return self._cosigners.get(index)

    def _settle_pending(self, item: _Pending) -> None:
        sender = item.envelope.tx.sender
        left = self.pending_per_sender.get(sender, 1) - 1
        if left:
            self.pending_per_sender[sender] = left
        else:
            self.pending_per_sender.pop(sender, None)
