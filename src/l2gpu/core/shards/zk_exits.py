"""A zk shard's side of the shards' bridge, as a state machine: the specification of
``contracts/zk/_bridged_exits.vy`` and of ZkRollup.vy's ``deposit_for``,
``exit_claimed``, ``bridge_withdraw`` and ``withdraw_credit`` on a shard.

A zk batch is final when its proof verifies, so an exit needs no Merkle proof: exit
``i`` names withdrawal slot ``i % slots`` of batch ``i // slots`` (:func:`exit_index`),
known to its owner as soon as the batch is sealed, minutes before it is proven. Every
withdrawal is credited to its owner on L1 when its batch is accepted
(:class:`Credited`), as on an unsharded zk rollup, and a relayed move takes its
amount from the owner's credit (:class:`Carried`), which the owner authorised by
signing the move; a relay the credit does not cover is refused.

A position is not an identity: any valid batch accepted first takes a batch index,
and the owner's withdrawal then lands in a later slot. So a liquidity provider that
fronted a move is repaid from the owner, not from the slot: while the move has not
landed, the bridge says what the owner owes (``BridgeState.owed_by``), and the owner
pulls only its credit beyond that (:class:`PullCredit`). Wherever its withdrawal
lands, or if the shard freezes and the balance leaves through the escape hatch, the
credit repays the provider first.

An exit of an accepted batch counts as claimed (the bridge refuses to front it): its
owner could pull the credit before the front.

A move that arrives (a deposit with no key) is never refused, which would leave it in
the bridge: it is queued to its recipient's account under the key of that account's
first deposit, or credited to the recipient on L1 when the recipient has no account
there, or the shard is frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address

MAX_AMOUNT = 2**128 - 1
NO_ACCOUNT = "the recipient has no account on the target shard"
FROZEN = "the target shard is frozen"
TOO_LARGE = "more than one deposit may carry"
CREDIT_SHORT = (
    "zk shard: the owner's credit does not cover the move: its withdrawal is not in an "
    "accepted batch yet, or was pulled, or repays a fronted move"
)
OWED = (
    "your credit repays moves a liquidity provider fronted: it leaves when they are "
    "relayed (l2gpu bridge relay)"
)


def exit_index(batch: int, slot: int, withdrawal_slots: int) -> int:
    """The bridge's number of withdrawal ``slot`` of zk batch ``batch``."""
    if not 0 <= slot < withdrawal_slots:
        raise ValueError(f"slot {slot} is not one of the batch's {withdrawal_slots}")
    return batch * withdrawal_slots + slot


def exit_batch(index: int, withdrawal_slots: int) -> int:
    """The batch that holds exit ``index``."""
    return index // withdrawal_slots


ExitKey = tuple[int, Address, int]  # (exit index, owner, amount)


@dataclass(frozen=True)
class ZkShardExits:
    """What a zk shard keeps for the bridge."""

    withdrawal_slots: int
    accepted_batches: int = 0
    carried: frozenset[ExitKey] = frozenset()
    credit: dict[Address, int] = field(default_factory=dict)
    account_keys: dict[Address, tuple[int, int]] = field(default_factory=dict)
    frozen: bool = False

    def exit_claimed(self, index: int) -> bool:
        """Whether the bridge must refuse to front exit ``index``."""
        return index < self.accepted_batches * self.withdrawal_slots


@dataclass(frozen=True, slots=True)
class Accept:
    """A batch's proof verified: its withdrawal slots (None: an empty slot)."""

    withdrawals: tuple[tuple[Address, int] | None, ...]


@dataclass(frozen=True, slots=True)
class Carry:
    """The bridge relays a move of exit ``index`` (in ``batch``) of ``owner``: one a
    provider ``fronted``, or not; the owner's fronted moves owe ``owed`` (the bridge's
    ``owed``)."""

    batch: int
    index: int
    owner: Address
    amount: int
    fronted: bool = False
    owed: int = 0


@dataclass(frozen=True, slots=True)
class FirstDeposit:
    """``account``'s first deposit names its Baby Jubjub key."""

    account: Address
    key: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Arrive:
    """A move's amount arrives from the bridge for ``account`` (a deposit with no key)."""

    account: Address
    amount: int


@dataclass(frozen=True, slots=True)
class PullCredit:
    """``owner`` pulls its L1 credit (``withdraw_credit``); its fronted moves that have
    not landed owe ``owed`` (the bridge's ``owed``)."""

    owner: Address
    owed: int = 0


@dataclass(frozen=True, slots=True)
class Freeze:
    """The shard froze (a deposit waited past the forced-inclusion delay)."""


ZkShardInput = Accept | Carry | FirstDeposit | Arrive | PullCredit | Freeze


@dataclass(frozen=True, slots=True)
class Rejected:
    """The call reverted with ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Credited:
    """``amount`` credited to ``owner`` on L1."""

    owner: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Carried:
    """The bridge took ``amount`` of ``owner``'s credit for its move of exit ``index``."""

    index: int
    owner: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Queued:
    """An arrival queued as a deposit to ``account`` under ``key``."""

    account: Address
    key: tuple[int, int]
    amount: int


@dataclass(frozen=True, slots=True)
class ArrivalCreditedOnL1:
    """An arrival that could not be queued, credited to ``account`` on L1."""

    account: Address
    amount: int
    reason: str


@dataclass(frozen=True, slots=True)
class Pulled:
    """``owner`` was sent ``amount``."""

    owner: Address
    amount: int


ZkShardEvent = Rejected | Credited | Carried | Queued | ArrivalCreditedOnL1 | Pulled


def _with_credit(state: ZkShardExits, owner: Address, delta: int) -> ZkShardExits:
    return replace(state, credit={**state.credit, owner: state.credit.get(owner, 0) + delta})


def _accept(state: ZkShardExits, call: Accept) -> TransitionResult[ZkShardExits, ZkShardEvent]:
    if len(call.withdrawals) != state.withdrawal_slots:
        raise ValueError("a batch has exactly the shape's withdrawal slots")
    after, events = state, list[ZkShardEvent]()
    for withdrawal in call.withdrawals:
        if withdrawal is not None:
            after = _with_credit(after, *withdrawal)
            events.append(Credited(*withdrawal))
    return TransitionResult(replace(after, accepted_batches=state.accepted_batches + 1), events)


def _available(state: ZkShardExits, call: Carry) -> int:
    """What the move may take: all the credit for a fronted move (what it owes is part
    of it), else only what the owner's fronted moves do not owe, so that none of the
    owner's own moves outruns a provider's repayment."""
    credit = state.credit.get(call.owner, 0)
    return credit if call.fronted else max(0, credit - call.owed)


def _carry(state: ZkShardExits, call: Carry) -> TransitionResult[ZkShardExits, ZkShardEvent]:
    refusal = None
    if exit_batch(call.index, state.withdrawal_slots) != call.batch:
        refusal = "zk shard: the exit is not in that batch"
    elif (call.index, call.owner, call.amount) in state.carried:
        refusal = "zk shard: the exit was carried already"
    elif _available(state, call) < call.amount:
        refusal = CREDIT_SHORT
    if refusal is not None:
        return TransitionResult(state, [Rejected(refusal)])
    after = _with_credit(state, call.owner, -call.amount)
    after = replace(after, carried=after.carried | {(call.index, call.owner, call.amount)})
    return TransitionResult(after, [Carried(call.index, call.owner, call.amount)])


def _pull(state: ZkShardExits, call: PullCredit) -> TransitionResult[ZkShardExits, ZkShardEvent]:
    credit = state.credit.get(call.owner, 0)
    if credit == 0:
        return TransitionResult(state, [Rejected("nothing to withdraw for this address")])
    if call.owed >= credit:
        return TransitionResult(state, [Rejected(OWED)])
    amount = credit - call.owed
    return TransitionResult(_with_credit(state, call.owner, -amount), [Pulled(call.owner, amount)])


def _arrive(state: ZkShardExits, call: Arrive) -> TransitionResult[ZkShardExits, ZkShardEvent]:
    key = state.account_keys.get(call.account)
    reason = (FROZEN if state.frozen else NO_ACCOUNT if key is None
              else TOO_LARGE if call.amount > MAX_AMOUNT else None)  # fmt: skip
    if reason is not None or key is None:
        credited = _with_credit(state, call.account, call.amount)
        return TransitionResult(
            credited, [ArrivalCreditedOnL1(call.account, call.amount, reason or NO_ACCOUNT)]
        )
    return TransitionResult(state, [Queued(call.account, key, call.amount)])


def state_transition(
    state: ZkShardExits, call: ZkShardInput
) -> TransitionResult[ZkShardExits, ZkShardEvent]:
    """Apply one call to a zk shard's bridge records (see the module's docstring)."""
    match call:
        case Accept():
            return _accept(state, call)
        case Carry():
            return _carry(state, call)
        case FirstDeposit():
            if call.account in state.account_keys:
                return TransitionResult(state, [])
            return TransitionResult(
                replace(state, account_keys={**state.account_keys, call.account: call.key}), []
            )
        case Arrive():
            return _arrive(state, call)
        case PullCredit():
            return _pull(state, call)
        case Freeze():
            return TransitionResult(replace(state, frozen=True), [])
