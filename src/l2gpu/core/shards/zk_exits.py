"""A zk shard's side of the shards' bridge, as a state machine: the specification of
``contracts/zk/bridged_exits.vy`` and of ZkRollup.vy's ``deposit_for``,
``exit_claimed`` and ``bridge_withdraw``.

A zk batch is final when its proof verifies, so an exit needs no Merkle proof: exit
``i`` is withdrawal slot ``i % slots`` of batch ``i // slots`` (:func:`exit_index`),
known to its owner as soon as the batch is sealed, minutes before it is proven. That
is when a liquidity provider fronts it; at the batch's acceptance each withdrawal is
then either

- *held for the bridge* (:class:`Held`), when a move of it was fronted: its owner is
  not credited, and only the bridge's relay takes it out, repaying the provider; or
- credited to its owner (:class:`Credited`), as on an unsharded zk rollup. A signed
  move of it may still be relayed (the slow path): the bridge takes the amount
  from the owner's L1 credit, which the owner authorised by signing the move. An
  owner that pulled its credit first has its wei already; the relay is refused.

An exit of an accepted batch therefore counts as claimed (the bridge refuses to front
it) unless it is held and not carried yet: a provider fronting it after acceptance
could be outrun by the owner pulling its credit.

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
    held: dict[int, tuple[Address, int]] = field(default_factory=dict)
    carried: frozenset[ExitKey] = frozenset()
    credit: dict[Address, int] = field(default_factory=dict)
    account_keys: dict[Address, tuple[int, int]] = field(default_factory=dict)
    frozen: bool = False

    def exit_claimed(self, index: int) -> bool:
        """Whether the bridge must refuse to front exit ``index``."""
        return index < self.accepted_batches * self.withdrawal_slots and index not in self.held


@dataclass(frozen=True, slots=True)
class Accept:
    """A batch's proof verified: its withdrawal slots (None: an empty slot), and which
    ``(exit index, owner, amount)`` the bridge says were fronted."""

    withdrawals: tuple[tuple[Address, int] | None, ...]
    fronted: frozenset[ExitKey] = frozenset()


@dataclass(frozen=True, slots=True)
class Carry:
    """The bridge relays a move of exit ``index`` (in ``batch``) of ``owner``."""

    batch: int
    index: int
    owner: Address
    amount: int


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
    """``owner`` pulls its L1 credit (``withdraw_credit``)."""

    owner: Address


@dataclass(frozen=True, slots=True)
class Freeze:
    """The shard froze (a deposit waited past the forced-inclusion delay)."""


ZkShardInput = Accept | Carry | FirstDeposit | Arrive | PullCredit | Freeze


@dataclass(frozen=True, slots=True)
class Rejected:
    """The call reverted with ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Held:
    """Exit ``index`` is held for the bridge."""

    index: int
    owner: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Credited:
    """``amount`` credited to ``owner`` on L1."""

    owner: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Carried:
    """The bridge took exit ``index``: from the hold, or from the owner's credit."""

    index: int
    owner: Address
    amount: int
    was_held: bool


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


ZkShardEvent = Rejected | Held | Credited | Carried | Queued | ArrivalCreditedOnL1 | Pulled


def _with_credit(state: ZkShardExits, owner: Address, delta: int) -> ZkShardExits:
    return replace(state, credit={**state.credit, owner: state.credit.get(owner, 0) + delta})


def _accept(state: ZkShardExits, call: Accept) -> TransitionResult[ZkShardExits, ZkShardEvent]:
    if len(call.withdrawals) != state.withdrawal_slots:
        raise ValueError("a batch has exactly the shape's withdrawal slots")
    batch, events = state.accepted_batches, list[ZkShardEvent]()
    held, after = dict(state.held), state
    for slot, withdrawal in enumerate(call.withdrawals):
        if withdrawal is None:
            continue
        owner, amount = withdrawal
        index = exit_index(batch, slot, state.withdrawal_slots)
        if (index, owner, amount) in call.fronted:
            held[index] = (owner, amount)
            events.append(Held(index, owner, amount))
        else:
            after = _with_credit(after, owner, amount)
            events.append(Credited(owner, amount))
    return TransitionResult(replace(after, held=held, accepted_batches=batch + 1), events)


def _carry_refusal(state: ZkShardExits, call: Carry) -> str | None:
    if exit_batch(call.index, state.withdrawal_slots) != call.batch:
        return "zk shard: the exit is not in that batch"
    if call.index >= state.accepted_batches * state.withdrawal_slots:
        return "zk shard: the exit's batch is not proven yet"
    if (call.index, call.owner, call.amount) in state.carried:
        return "zk shard: the exit was carried already"
    if call.index in state.held:
        if state.held[call.index] != (call.owner, call.amount):
            return "zk shard: the held exit has another owner or amount"
    elif state.credit.get(call.owner, 0) < call.amount:
        return "zk shard: the exit's owner pulled its credit on L1 already"
    return None


def _carry(state: ZkShardExits, call: Carry) -> TransitionResult[ZkShardExits, ZkShardEvent]:
    refusal = _carry_refusal(state, call)
    if refusal is not None:
        return TransitionResult(state, [Rejected(refusal)])
    was_held = call.index in state.held
    if was_held:
        after = replace(state, held={k: v for k, v in state.held.items() if k != call.index})
    else:
        after = _with_credit(state, call.owner, -call.amount)
    after = replace(after, carried=after.carried | {(call.index, call.owner, call.amount)})
    return TransitionResult(after, [Carried(call.index, call.owner, call.amount, was_held)])


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
            amount = state.credit.get(call.owner, 0)
            if amount == 0:
                return TransitionResult(state, [Rejected("nothing to withdraw for this address")])
            return TransitionResult(
                _with_credit(state, call.owner, -amount), [Pulled(call.owner, amount)]
            )
        case Freeze():
            return TransitionResult(replace(state, frozen=True), [])
