"""The zk node's sequencer: the ledger, a mempool of signed transfers, withdrawals and
lease channels' opens and closes, and the sealing of batches of the circuit's shape.

No I/O: the node (``node/zk/node.py``) logs what this decides, reads L1's queue and
L1's clock.

**The ledger** is ``core/l2``'s :class:`L2State` under the zk scheme
(``PoseidonEddsa``): every sealed batch is applied by ``core/l2``'s state transition
(``core/l2/zk_batch.py``), which also builds the circuit's input from the states it
passes through. :attr:`ZkSequencer.state` is that ledger's tree, a ``core/zk``
:class:`ZkState`. Admission and the plan's simulation below run ``core/zk``'s rules
on persistent snapshots of that tree (a pending state costs one path per operation
and no copy of the ledger); they are the same rules, in the same order, checked
against ``core/l2`` by ``tests/l2/test_scheme_differential.py``,
``tests/l2/test_scheme_channels.py`` and ``tests/l2/test_zk_batch.py``. A batch is
applied to the ledger *staged* (:meth:`ZkSequencer.apply`): :meth:`ZkSequencer.sealed`
keeps it once the node has logged it, :meth:`ZkSequencer.discard` undoes it.

**Admission.** An operation is checked by the ledger's own rules
(``core/zk/transfer.py``, ``core/zk/withdrawal.py``, ``core/zk/channel.py``) against
the state that the sealed batches and the pending operations before it leave, so a
sender may queue several in nonce order, and a close may follow its channel's open
before either is sealed; a refusal is the rule's :class:`ZkError`. An open is
checked against the node's clock (its expiry must be after it). The node gives an
open its channel's slot (:meth:`ZkSequencer.free_channel`): the lowest slot of the
channels' half that is empty in the pending state and that no pending operation
names (a slot a pending close empties is not reused before that close is sealed).

**Sealing** (:meth:`ZkSequencer.plan`). A batch applies its sections in a fixed
order: deposits, transfers, withdrawals, opens, closes, reclaims, each in arrival
order; pending operations were admitted in arrival order. The two orders agree on
every pair of operations that touch a common leaf (an account or a channel), and
that is the rule that picks the batch. An operation's leaves are: a transfer's
sender and receiver, a withdrawal's sender, an open's renter and channel, a
close's channel, renter and provider. The next queued deposits (at most the shape's
slots) come first, and the next queued forced exits (likewise) last: L1 writes both
sections from its queues, so they are taken whatever else the batch holds, and a
forced exit pays the whole balance, so it never fails. Between them the
pending operations, in arrival order, each taken when

1. its section has room,
2. no operation before it that touches one of its leaves was left out, and
3. no operation taken before it that touches one of its leaves lies in a later
   section (the batch would apply that one first).

Anything else waits for the next batch, and so does everything after it that
touches one of its leaves: an operation is never dropped because one it relies on
waits. So a transfer of the refund a close pays (the close's section is after the
transfers') waits for the batch after the close's; a withdrawal then a transfer
of the same sender, likewise; a close in the same batch as its channel's open is
fine (closes come after opens). Every batch takes at least the oldest pending
operation, so nothing waits for ever.

**Reclaims** are the sequencer's own: a batch sealed at time ``T`` reclaims, up to
the shape's slots, the channels of the sealed state whose expiry is at or before
``T`` (earliest expiry first), except a channel that a pending close names (the
close, which both parties signed, goes first). The node logs them with the batch,
so a restart replays the same batches.

The plan is simulated in batch order. By the rule above an operation can fail there
only for what changed since its admission without a pending operation: the
deposits the batch takes first, or the batch's time (an open whose expiry has
passed); one that fails is dropped with its reason and the plan is made again
without it. What stays pending is then re-checked against the new state; what
fails is dropped too.

**Bounds.** The mempool is bounded (:meth:`ZkSequencer.require_room`): at most
:data:`MAX_PENDING` operations in all and :data:`MAX_PENDING_PER_ACCOUNT` of one
sender's. Without them one account could queue opens of 1 wei each (an open pays
no fee) without end: every open reserves a channel slot, every admission scans the
pending operations, and every seal re-checks (signatures included) all that stays
pending, under the node's lock. A refusal is ``zk: mempool full`` or ``zk: too many
pending``, and says to wait for the next batch. A close is never refused for room:
a full mempool must not keep a provider from closing before its channel's expiry
(which would hand the renter the whole deposit back), and pending closes are bounded
anyway, one per channel (a second close of a channel finds its slot empty). A node
replaying its log does not apply the bounds: what it logged was admitted.

**Time.** A batch's timestamp is the node's clock at seal time, never before the
previous batch's (L1 refuses a batch dated before the one before it, or after its
own block).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.zk_batch import apply_zk_batch
from l2gpu.core.l2.zk_scheme import PoseidonEddsa, PoseidonTree
from l2gpu.core.types import ZERO_ADDRESS, ChainId
from l2gpu.core.zk.batch import BatchResult
from l2gpu.core.zk.channel import (
    CloseChannelTx,
    OpenChannelTx,
    ReclaimTx,
)
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.forced_exit import ForcedExitRequest
from l2gpu.core.zk.pubdata import BatchShape, DepositSlot
from l2gpu.core.zk.state import ZkError, ZkState, require
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.node.zk.pending import (
    CLOSES,
    OPENS,
    TRANSFERS,
    WITHDRAWALS,
    Pending,
    apply_signed,
    batch_order,
    first_failure,
    leaves_of,
    recheck,
    section_of,
)
from l2gpu.node.zk.records import SignedTx

MAX_PENDING = 4096
"""The most operations the mempool holds (see "Bounds" above)."""
MAX_PENDING_PER_ACCOUNT = 64
"""The most pending operations that use one account's nonce."""


@dataclass(frozen=True, slots=True)
class SealPlan:
    """A batch ready to be logged: what it takes, what it drops, and what stays.
    ``result`` is None for a plan that only drops operations (nothing to seal)."""

    result: BatchResult | None
    positions: tuple[int, ...]
    deposit_count: int
    dropped: tuple[tuple[int, str], ...]
    remaining: tuple[Pending, ...]
    remaining_state: ZkState
    timestamp: int = 0
    reclaims: tuple[int, ...] = ()
    opened: tuple[int, ...] = ()
    """The channel slots the batch's opens fill."""
    exit_count: int = 0
    """How many of L1's queued forced exits the batch takes."""


@dataclass
class ZkSequencer:
    """The sealed ledger, the mempool over it, and the sealing rules."""

    shape: BatchShape
    fee_account: int
    ledger: L2State
    """``core/l2``'s state under the zk scheme: every sealed batch, applied."""
    pending: list[Pending] = field(default_factory=list)
    pending_state: ZkState | None = None
    deposits_taken: int = 0
    """How many of L1's queued deposits the sealed batches took."""
    forced_exits_taken: int = 0
    """How many of L1's queued forced exits the sealed batches took."""
    timestamp: int = 0
    """The last sealed batch's timestamp: the next one is not before it."""
    channel_slots: set[int] = field(default_factory=set)
    """The slots that hold a channel in the sealed state (reclaims look there)."""
    max_pending: int = MAX_PENDING
    max_pending_per_account: int = MAX_PENDING_PER_ACCOUNT
    validium: bool = False
    """Whether batches keep their transfer and channel sections off L1 (their public
    input is ``pubdata.validium_public_input``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.ledger.commitment, PoseidonTree):
            raise ZkError(
                "zk: not a zk ledger", "the zk node's ledger has the poseidon-eddsa scheme"
            )
        if self.pending_state is None:
            self.pending_state = self.state

    @classmethod
    def empty(
        cls, shape: BatchShape, fee_account: int, depth: int, *, validium: bool = False
    ) -> ZkSequencer:
        """A sequencer over an empty ledger of ``depth``. Its chain and rollup address
        are not read: the zk scheme runs no ChannelManager channel, the only rule
        that names them."""
        ledger = L2State(ChainId(0), ZERO_ADDRESS, PoseidonEddsa(depth))
        return cls(shape, fee_account, ledger, validium=validium)

    @property
    def state(self) -> ZkState:
        """The sealed ledger's tree (a staged batch's, between :meth:`apply` and
        :meth:`sealed`)."""
        tree = self.ledger.commitment
        assert isinstance(tree, PoseidonTree)
        return tree.tree

    def now(self, clock: int) -> int:
        """The time a batch sealed at ``clock`` carries: never before the last one's."""
        return max(clock, self.timestamp)

    def free_channel(self) -> int:
        """The slot the next open gets (see the module's docstring). Raises
        :class:`ZkError` when every channel slot is taken."""
        assert self.pending_state is not None
        state = self.pending_state
        named: set[int] = set().union(*(p.leaves for p in self.pending))
        taken = named | self.channel_slots
        # The lowest slot that is neither sealed nor named: at most len(taken) + 1 looks,
        # not a scan of the 2^(depth-1) channel slots.
        index = state.channel_base
        while index < state.capacity:
            if index not in taken and state.leaf(index) == 0:
                return index
            index += 1
        raise ZkError("zk: no free channel slot",
                      "every channel slot is taken: wait for channels to close")  # fmt: skip

    def require_room(self, signed: SignedTx) -> None:
        """Raise :class:`ZkError` when the mempool, or ``signed``'s sender's share of
        it, is full (see "Bounds" in the module's docstring). A close always has
        room."""
        sender = signed.sender
        if sender is None:
            return
        require(
            len(self.pending) < self.max_pending,
            "zk: mempool full",
            f"the node holds {len(self.pending)} unsealed operations: resend after the next batch",
        )
        require(
            self.pending_of(sender) < self.max_pending_per_account,
            "zk: too many pending",
            f"account {sender} has {self.max_pending_per_account} unsealed operations: "
            "resend after the next batch",
        )

    def assign(self, signed: SignedTx) -> SignedTx:
        """``signed`` with its channel's slot, for an open (anything else unchanged)."""
        if isinstance(signed.tx, OpenChannelTx):
            return replace(signed, tx=replace(signed.tx, channel_index=self.free_channel()))
        return signed

    def check(self, signed: SignedTx, clock: int = 0) -> ZkState:
        """The pending state after ``signed`` at the node's ``clock``; raises
        :class:`ZkError` if it does not apply there (signatures, nonce out of order,
        balance, ranges, an expiry that has passed)."""
        assert self.pending_state is not None
        return apply_signed(self.pending_state, signed, self.now(clock))

    def add(self, position: int, signed: SignedTx, after: ZkState) -> None:
        """Queue an admitted operation (``after`` is what :meth:`check` returned)."""
        assert self.pending_state is not None
        self.pending.append(Pending(position, signed, leaves_of(self.pending_state, signed)))
        self.pending_state = after

    def pending_of(self, index: int) -> int:
        """How many pending operations use account ``index``'s nonce."""
        return sum(1 for p in self.pending if p.signed.sender == index)

    def plan(
        self,
        queued: Sequence[DepositSlot],
        clock: int = 0,
        exits: Sequence[ForcedExitRequest] = (),
    ) -> SealPlan | None:
        """The next batch over ``queued`` (L1's deposits not taken yet, in order) and
        ``exits`` (L1's forced exits not taken yet, in order) at the node's ``clock``,
        or None when there is nothing to seal. Raises :class:`ZkError` when the batch
        cannot be built at all (the fee account holds no account yet)."""
        timestamp = self.now(clock)
        deposits = list(queued[: self.shape.deposits])
        forced = list(exits[: self.shape.forced_exits])
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
        stuck: set[int] = set()  # expired channels whose reclaim fails (never expected)
        while True:
            chosen = self._choose(candidates)
            reclaims = self._reclaims(candidates, timestamp, stuck)
            failed = first_failure(after_deposits, chosen, reclaims, timestamp, self.fee_account)
            if failed is None:
                break
            if isinstance(failed, ReclaimTx):
                stuck.add(failed.channel_index)
                continue
            position, reason = failed
            dropped.append((position, reason))
            candidates = [p for p in candidates if p.position != position]
        if not deposits and not chosen and not reclaims and not forced:
            return None if not dropped else self._empty_plan(dropped, candidates, timestamp)
        ordered = batch_order(chosen)
        result = self.apply(deposits, [p.signed for p in ordered], reclaims, timestamp, forced)
        try:  # staged from here: whatever fails undoes it
            return self._staged_plan(result, candidates, chosen, ordered, dropped, reclaims,
                                     (len(deposits), len(forced)), timestamp)  # fmt: skip
        except BaseException:
            self.discard()
            raise

    def _staged_plan(
        self,
        result: BatchResult,
        candidates: Sequence[Pending],
        chosen: Sequence[Pending],
        ordered: Sequence[Pending],
        dropped: list[tuple[int, str]],
        reclaims: Sequence[ReclaimTx],
        counts: tuple[int, int],
        timestamp: int,
    ) -> SealPlan:
        taken = {p.position for p in chosen}
        rest = [p for p in candidates if p.position not in taken]
        remaining, remaining_state = recheck(result.new_state, rest, dropped, timestamp)
        opened = tuple(p.signed.tx.channel_index for p in ordered
                       if isinstance(p.signed.tx, OpenChannelTx))  # fmt: skip
        deposit_count, exit_count = counts  # L1's deposits and forced exits it takes
        return SealPlan(result, tuple(p.position for p in ordered), deposit_count,
                        tuple(dropped), tuple(remaining), remaining_state, timestamp,
                        tuple(r.channel_index for r in reclaims), opened,
                        exit_count)  # fmt: skip

    def apply(
        self,
        deposits: Sequence[DepositSlot],
        ordered: Sequence[SignedTx],
        reclaims: Sequence[ReclaimTx],
        timestamp: int,
        exits: Sequence[ForcedExitRequest] = (),
    ) -> BatchResult:
        """``core/l2``'s ``apply_zk_batch`` on the sealed ledger, staged (kept by
        :meth:`sealed`, undone by :meth:`discard`): ``ordered`` are the batch's signed
        operations in batch order, ``exits`` L1's forced exits it takes. Raises
        :class:`ZkError` and stages nothing."""
        opens = [(s.tx, s.owner_signature) for s in ordered if isinstance(s.tx, OpenChannelTx)]
        if self.ledger.recording:  # a bug, not an input: refuse rather than stage twice
            raise ZkError("zk: a batch is staged already", "restart the node: it replays its log")
        self.ledger.checkpoint()
        try:
            return self._apply(deposits, ordered, reclaims, timestamp, opens, exits)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Undo the staged batch, if any: the ledger is the last sealed batch's again."""
        if self.ledger.recording:
            self.ledger.rollback(0)
            self.ledger.commit()

    def _apply(
        self,
        deposits: Sequence[DepositSlot],
        ordered: Sequence[SignedTx],
        reclaims: Sequence[ReclaimTx],
        timestamp: int,
        opens: list[tuple[OpenChannelTx, eddsa.Signature]],
        exits: Sequence[ForcedExitRequest],
    ) -> BatchResult:
        return apply_zk_batch(
            self.ledger, self.shape, self.fee_account, deposits,
            [s.tx for s in ordered if isinstance(s.tx, TransferTx)],
            [s.tx for s in ordered if isinstance(s.tx, WithdrawalTx)],
            [s.owner_signature for s in ordered if isinstance(s.tx, TransferTx | WithdrawalTx)],
            opens=opens, closes=[s.tx for s in ordered if isinstance(s.tx, CloseChannelTx)],
            reclaims=reclaims, forced_exits=exits, timestamp=timestamp, validium=self.validium,
        )  # fmt: skip

    def commit(self, plan: SealPlan) -> None:
        """Make ``plan`` the sealed state (after the node logged it)."""
        if plan.result is not None:
            self.sealed(plan.deposit_count, plan.timestamp, plan.opened, plan.exit_count)
        self.pending = list(plan.remaining)
        self.pending_state = plan.remaining_state

    def sealed(
        self, deposit_count: int, timestamp: int, opened: Sequence[int], exit_count: int = 0
    ) -> None:
        """Keep the staged batch, at ``timestamp``, that took ``deposit_count`` deposits
        and ``exit_count`` forced exits and filled the channel slots ``opened`` (a
        restart replays the log's batches through here). Raises :class:`ZkError`, and
        undoes the batch, when the counts are not the ones it applied."""
        assert self.ledger.recording, "a batch is staged"
        taken = self.deposits_taken + deposit_count, self.forced_exits_taken + exit_count
        # core/l2 counts L1's two queues in one counter under the zk scheme
        processed = self.ledger.deposits_processed
        if min(deposit_count, exit_count) < 0 or sum(taken) != processed:
            applied = processed - self.deposits_taken - self.forced_exits_taken
            self.discard()
            raise ZkError("zk: the batch's queue counts are not what it applied",
                          f"{deposit_count} deposits and {exit_count} forced exits, but the "
                          f"batch took {applied} entries of L1's queues: the log is "
                          "damaged")  # fmt: skip
        self.ledger.commit()
        state = self.state
        self.deposits_taken, self.forced_exits_taken = taken
        self.timestamp = max(self.timestamp, timestamp)
        slots = self.channel_slots | set(opened)
        self.channel_slots = {i for i in slots if state.channel(i) is not None}

    def _choose(self, candidates: Sequence[Pending]) -> list[Pending]:
        room = {TRANSFERS: self.shape.transfers, WITHDRAWALS: self.shape.withdrawals,
                OPENS: self.shape.opens, CLOSES: self.shape.closes}  # fmt: skip
        held: set[int] = set()  # leaves of the operations left out
        latest: dict[int, int] = {}  # leaf -> the latest section taken that touches it
        chosen: list[Pending] = []
        for p in candidates:
            section = section_of(p.signed)
            if (
                room[section] == 0
                or not held.isdisjoint(p.leaves)
                or any(latest.get(leaf, 0) > section for leaf in p.leaves)
            ):
                held |= p.leaves
                continue
            chosen.append(p)
            room[section] -= 1
            for leaf in p.leaves:
                latest[leaf] = max(latest.get(leaf, 0), section)
        return chosen

    def reclaimable(self, timestamp: int) -> bool:
        """Whether a sealed channel has expired by ``timestamp`` (a seal would reclaim it)."""
        for index in self.channel_slots:
            channel = self.state.channel(index)
            if channel is not None and channel.expiry <= timestamp:
                return True
        return False

    def _reclaims(
        self, candidates: Sequence[Pending], timestamp: int, stuck: set[int]
    ) -> list[ReclaimTx]:
        named: set[int] = set().union(*(p.leaves for p in candidates))
        expired = []
        for index in self.channel_slots - named - stuck:
            channel = self.state.channel(index)
            if channel is not None and channel.expiry <= timestamp:
                expired.append((channel.expiry, index))
        return [ReclaimTx(index) for _, index in sorted(expired)[: self.shape.reclaims]]

    def _empty_plan(
        self, dropped: list[tuple[int, str]], candidates: list[Pending], timestamp: int
    ) -> SealPlan:
        remaining, state = recheck(self.state, candidates, dropped, timestamp)
        return SealPlan(None, (), 0, tuple(dropped), tuple(remaining), state, timestamp)
