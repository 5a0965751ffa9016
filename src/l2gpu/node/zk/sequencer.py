"""The zk node's sequencer: a mempool of signed transfers and withdrawals over
``core/zk``, and the sealing of batches of the circuit's shape.

No I/O: the node (``node/zk/node.py``) logs what this decides and reads L1's queue.

**Admission.** A transaction is checked by the ledger's own rules
(``core/zk/transfer.py``, ``core/zk/withdrawal.py``) against the state that the
sealed batches and the pending transactions before it leave, so a sender may queue
several in nonce order; a refusal is the rule's :class:`ZkError`.

**Sealing** (:meth:`ZkSequencer.plan`). The next queued deposits (at most the
shape's slots), then pending transactions in arrival order, up to the shape's
transfer and withdrawal slots. A batch applies all its transfers before its
withdrawals, so a sender whose withdrawal is taken has no later transfer taken in
the same batch, and a sender with a transaction left out has none of its later
ones taken (either would reorder its nonces). The plan is simulated in batch
order; a transaction that fails (it was valid against the pending state, but a
transaction it relied on was left out or dropped) is dropped with its reason and
the plan is made again without it. What stays pending is then re-checked against
the new state; what fails is dropped too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from l2gpu.core.zk.batch import BatchResult, apply_batch
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.pubdata import BatchShape, DepositSlot
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.core.zk.transfer import TransferTx, transfer_steps
from l2gpu.core.zk.withdrawal import apply_withdrawal
from l2gpu.node.zk.records import SignedTx


def apply_signed(state: ZkState, signed: SignedTx) -> ZkState:
    """The state after one signed transaction; raises :class:`ZkError`."""
    if isinstance(signed.tx, TransferTx):
        return transfer_steps(state, signed.tx, signed.signature).after
    return apply_withdrawal(state, signed.tx, signed.signature).after


@dataclass(frozen=True, slots=True)
class Pending:
    """An accepted transaction not sealed yet, by its position in the log."""

    position: int
    signed: SignedTx


@dataclass(frozen=True, slots=True)
class SealPlan:
    """A batch ready to be logged: what it takes, what it drops, and what stays.
    ``result`` is None for a plan that only drops transactions (nothing to seal)."""

    result: BatchResult | None
    positions: tuple[int, ...]
    deposit_count: int
    dropped: tuple[tuple[int, str], ...]
    remaining: tuple[Pending, ...]
    remaining_state: ZkState


@dataclass
class ZkSequencer:
    """The sealed state, the mempool over it, and the sealing rules."""

    shape: BatchShape
    fee_account: int
    state: ZkState
    pending: list[Pending] = field(default_factory=list)
    pending_state: ZkState | None = None
    deposits_taken: int = 0
    """How many of L1's queued deposits the sealed batches took."""

    def __post_init__(self) -> None:
        if self.pending_state is None:
            self.pending_state = self.state

    def check(self, signed: SignedTx) -> ZkState:
        """The pending state after ``signed``; raises :class:`ZkError` if it does not
        apply there (bad signature, nonce out of order, balance, ranges)."""
        assert self.pending_state is not None
        return apply_signed(self.pending_state, signed)

    def add(self, position: int, signed: SignedTx, after: ZkState) -> None:
        """Queue an admitted transaction (``after`` is what :meth:`check` returned)."""
        self.pending.append(Pending(position, signed))
        self.pending_state = after

    def pending_of(self, index: int) -> int:
        """How many pending transactions account ``index`` signed."""
        return sum(1 for p in self.pending if p.signed.sender == index)

    def plan(self, queued: Sequence[DepositSlot]) -> SealPlan | None:
        """The next batch over ``queued`` (L1's deposits not taken yet, in order), or
        None when there is nothing to seal. Raises :class:`ZkError` when the batch
        cannot be built at all (the fee account holds no account yet)."""
        deposits = list(queued[: self.shape.deposits])
        after_deposits = self.state
        for slot in deposits:
            after_deposits = apply_deposit(after_deposits, slot).after
        if after_deposits.account(self.fee_account) is None:
            raise ZkError(
                "zk: unknown fee account",
                f"the fee account {self.fee_account} must exist before a batch is sealed: "
                "deposit into it on L1 first",
            )
        candidates = list(self.pending)
        dropped: list[tuple[int, str]] = []
        while True:
            chosen = self._choose(candidates)
            failed = _first_failure(after_deposits, chosen)
            if failed is None:
                break
            position, reason = failed
            dropped.append((position, reason))
            candidates = [p for p in candidates if p.position != position]
        if not deposits and not chosen:
            return None if not dropped else self._empty_plan(dropped, candidates)
        ordered = _batch_order(chosen)
        signatures = [p.signed.signature for p in ordered]
        result = apply_batch(
            self.state, self.shape, self.fee_account, deposits,
            [p.signed.tx for p in ordered if isinstance(p.signed.tx, TransferTx)],
            [p.signed.tx for p in ordered if not isinstance(p.signed.tx, TransferTx)],
            signatures,
        )  # fmt: skip
        taken = {p.position for p in chosen}
        rest = [p for p in candidates if p.position not in taken]
        remaining, remaining_state = _recheck(result.new_state, rest, dropped)
        return SealPlan(result, tuple(p.position for p in ordered), len(deposits),
                        tuple(dropped), tuple(remaining), remaining_state)  # fmt: skip

    def commit(self, plan: SealPlan) -> None:
        """Make ``plan`` the sealed state (after the node logged it)."""
        if plan.result is not None:
            self.state = plan.result.new_state
            self.deposits_taken += plan.deposit_count
        self.pending = list(plan.remaining)
        self.pending_state = plan.remaining_state

    def _choose(self, candidates: Sequence[Pending]) -> list[Pending]:
        transfers = withdrawals = 0
        held: set[int] = set()  # senders with a transaction left out: keep their order
        withdrew: set[int] = set()
        chosen: list[Pending] = []
        for p in candidates:
            sender = p.signed.sender
            is_transfer = isinstance(p.signed.tx, TransferTx)
            room = transfers < self.shape.transfers if is_transfer else (
                withdrawals < self.shape.withdrawals)  # fmt: skip
            if sender in held or not room or (is_transfer and sender in withdrew):
                held.add(sender)
                continue
            chosen.append(p)
            if is_transfer:
                transfers += 1
            else:
                withdrawals += 1
                withdrew.add(sender)
        return chosen

    def _empty_plan(self, dropped: list[tuple[int, str]], candidates: list[Pending]) -> SealPlan:
        remaining, state = _recheck(self.state, candidates, dropped)
        return SealPlan(None, (), 0, tuple(dropped), tuple(remaining), state)


def _batch_order(chosen: Sequence[Pending]) -> list[Pending]:
    """Transfers, then withdrawals, each in arrival order: the batch's sections."""
    transfers = [p for p in chosen if isinstance(p.signed.tx, TransferTx)]
    return transfers + [p for p in chosen if not isinstance(p.signed.tx, TransferTx)]


def _first_failure(state: ZkState, chosen: Sequence[Pending]) -> tuple[int, str] | None:
    """The first transaction of ``chosen`` that fails in batch order, with its reason."""
    for p in _batch_order(chosen):
        try:
            state = apply_signed(state, p.signed)
        except ZkError as exc:
            return p.position, exc.reason
    return None


def _recheck(
    state: ZkState, rest: Sequence[Pending], dropped: list[tuple[int, str]]
) -> tuple[list[Pending], ZkState]:
    """The pending transactions that still apply in order over ``state``; the others
    are added to ``dropped``."""
    kept: list[Pending] = []
    for p in rest:
        try:
            state = apply_signed(state, p.signed)
        except ZkError as exc:
            dropped.append((p.position, exc.reason))
            continue
        kept.append(p)
    return kept, state
