"""The Plasma operator's child chain as a state machine: who owns which coins, what
waits for the next block, and the roots of the blocks so far.

``state_transition(state, input)`` takes one of three inputs:

- :class:`RecordDeposit` — L1 logged a deposit; its coins are the next ``amount``
  numbers (the contract numbers them the same way) and belong to the depositor as of
  the current height.
- :class:`SubmitTransfer` — a signed transfer for the next block. It is refused
  (an event, the state unchanged) unless its signer owns every coin it moves,
  received in ``prev_block``, and no other transfer of the block moves them.
- :class:`SealBlock` — the waiting transfers become block ``height + 1``: their sum
  tree's root is what the operator posts to L1, and the coins change hands.

The operator's word is checked by nobody here: this is the honest operator. What
protects users from a dishonest one is that each keeps its coins' history
(:mod:`l2gpu.core.plasma.history`) and can exit with it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.plasma.sumtree import COIN_SPACE, Moved, SumTree
from l2gpu.core.plasma.transactions import Deposit, SignedLock, SignedTransfer, claim_signer
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address

MAX_BLOCK_TRANSFERS = 2048  # transfers one block holds: sealing and serving stay bounded
MAX_LOCKS_PER_OWNER = 256  # live lease locks one owner may hold
MAX_LOCK_SECONDS = 366 * 86_400  # the longest a lock may hold coins


@dataclass(frozen=True)
class Segment:
    """``owner`` holds coins ``[start, end)``, received in block ``received``."""

    start: int
    end: int
    owner: Address
    received: int


@dataclass(frozen=True)
class HeldLock:
    """A lease's lock as the operator holds it: ``owner``'s coins ``[start, end)`` move
    only to ``provider`` (from ``start`` up) until ``until``; ``start`` advances as the
    lease's transfers are sealed."""

    owner: Address
    start: int
    end: int
    provider: Address
    until: int


@dataclass(frozen=True)
class ChildChain:
    """The operator's state. ``segments`` are sorted and tile ``[0, coins)``."""

    domain: Eip712Domain
    height: int = 0
    coins: int = 0
    segments: tuple[Segment, ...] = ()
    pending: tuple[SignedTransfer, ...] = ()
    roots: tuple[bytes, ...] = ()  # roots[b - 1] is block b's
    locks: tuple[HeldLock, ...] = ()

    def owners(self, start: int, end: int) -> tuple[Segment, ...]:
        """The segments that hold any of the coins ``[start, end)``, clipped to them."""
        return clip(self.segments, start, end)


@dataclass(frozen=True)
class RecordDeposit:
    """L1 logged a deposit of ``amount`` wei by ``owner`` at child height ``block``
    (L1's count of block roots then; None: the chain's own height, for tests). The
    operator must take L1's: it may have sealed a block whose root L1 does not hold
    yet, and a deposit mined in between belongs to L1's height, not the operator's."""

    owner: Address
    amount: int
    block: int | None = None


@dataclass(frozen=True)
class SubmitTransfer:
    """A signed transfer for the next block, at time ``now`` (locks expire by it);
    ``claim``: for coins a lease's lock holds, the provider's signed claim of it."""

    signed: SignedTransfer
    now: int = 0
    claim: bytes = b""


@dataclass(frozen=True)
class LockCoins:
    """A renter locks coins it holds for a lease (see ``transactions.Lock``)."""

    signed: SignedLock
    now: int = 0


@dataclass(frozen=True)
class RecordExit:
    """L1 paid an exit of coins ``[start, end)``: they are gone from the child chain."""

    start: int
    end: int


@dataclass(frozen=True)
class SealBlock:
    """Make the waiting transfers the next block."""


@dataclass(frozen=True)
class Deposited:
    """New coins and their owner."""

    deposit: Deposit


@dataclass(frozen=True)
class Accepted:
    """A transfer waits for the next block."""

    leaf: bytes


@dataclass(frozen=True)
class Refused:
    """A transfer the rules refuse, and why."""

    leaf: bytes
    reason: str


@dataclass(frozen=True)
class Locked:
    """A lease's lock holds."""

    lock: HeldLock


@dataclass(frozen=True)
class LockRefused:
    """A lock the rules refuse, and why."""

    reason: str


@dataclass(frozen=True)
class Exited:
    """Coins that left through an exit."""

    start: int
    end: int


@dataclass(frozen=True)
class Sealed:
    """Block ``number`` with root ``root`` holds ``transfers`` (possibly none)."""

    number: int
    root: bytes
    transfers: tuple[SignedTransfer, ...]


Input = RecordDeposit | SubmitTransfer | SealBlock | LockCoins | RecordExit
Event = Deposited | Accepted | Refused | Sealed | Locked | LockRefused | Exited


def state_transition(state: ChildChain, input_: Input) -> TransitionResult[ChildChain, Event]:
    """Apply one input; return the new state and its events."""
    if isinstance(input_, RecordDeposit):
        return _deposit(state, input_)
    if isinstance(input_, SubmitTransfer):
        return _submit(state, input_.signed, input_.now, input_.claim)
    if isinstance(input_, LockCoins):
        return _lock(state, input_)
    if isinstance(input_, RecordExit):
        return _exit(state, input_)
    return _seal(state)


def _deposit(state: ChildChain, deposit: RecordDeposit) -> TransitionResult[ChildChain, Event]:
    if not 0 < deposit.amount <= COIN_SPACE - state.coins:
        return TransitionResult(state, [])  # L1 refuses such a deposit: never logged
    block = state.height if deposit.block is None else deposit.block
    coins = Deposit(state.coins, state.coins + deposit.amount, deposit.owner, block)
    segment = Segment(coins.start, coins.end, coins.owner, coins.block)
    new = replace(state, coins=coins.end, segments=(*state.segments, segment))
    return TransitionResult(new, [Deposited(coins)])


def _submit(
    state: ChildChain, signed: SignedTransfer, now: int, claim: bytes = b""
) -> TransitionResult[ChildChain, Event]:
    reason = refusal(state, signed, now, claim)
    if reason is not None:
        return TransitionResult(state, [Refused(signed.leaf, reason)])
    return TransitionResult(
        replace(state, pending=(*state.pending, signed)), [Accepted(signed.leaf)]
    )


def refusal(
    state: ChildChain, signed: SignedTransfer, now: int = 0, claim: bytes = b""
) -> str | None:
    """Why the next block cannot hold ``signed`` at time ``now`` (with the provider's
    ``claim`` for locked coins); None if it can."""
    transfer = signed.transfer
    signer = signed.signer(state.domain)
    if signer is None:
        return "the signature does not parse"
    if transfer.end > state.coins:
        return "some of these coins were never deposited"
    held = state.owners(transfer.start, transfer.end)
    if sum(s.end - s.start for s in held) < transfer.end - transfer.start:
        return "some of these coins left the child chain through an exit on L1"
    if any(segment.owner != signer for segment in held):
        return "the signer does not own all of these coins"
    if len(held) != 1:
        # One parent per transfer (a deposit, or one transfer's coins): an exit then
        # names one parent, and a challenge one spend of it.
        return "these coins came in separate deposits or transfers: send one transfer each"
    if held[0].received != transfer.prev_block:
        return f"these coins were received in block {held[0].received}, not {transfer.prev_block}"
    for other in state.pending:
        if other.transfer.start < transfer.end and transfer.start < other.transfer.end:
            return "another transfer of the next block moves some of these coins"
    if len(state.pending) >= MAX_BLOCK_TRANSFERS:
        return f"the next block is full ({MAX_BLOCK_TRANSFERS} transfers): send it again after it"
    for lock in state.locks:
        touches = lock.until > now and lock.start < transfer.end and transfer.start < lock.end
        if not touches:
            continue
        prefix = transfer.start == lock.start and transfer.end <= lock.end
        if transfer.recipient != lock.provider or not prefix:
            return (
                f"coins {lock.start}-{lock.end} are locked for a lease to "
                f"{lock.provider} until {lock.until}: they move only to it, "
                "from the lock's first coin up"
            )
        if claim_signer(state.domain, signed, claim) != lock.provider:
            return (
                f"coins {lock.start}-{lock.end} are locked for a lease: only its provider "
                "sends their transfer (with its signed claim)"
            )
    return None


def _lock(state: ChildChain, input_: LockCoins) -> TransitionResult[ChildChain, Event]:
    lock = input_.signed.lock
    signer = input_.signed.signer(state.domain)
    held = state.owners(lock.start, lock.end)
    reason = None
    if signer is None:
        reason = "the lock's signature does not parse"
    elif lock.end > state.coins or len(held) != 1 or held[0].owner != signer:
        reason = "the signer does not hold all of these coins, received in one block"
    elif lock.until <= input_.now:
        reason = f"the lock expired at {lock.until}, before now ({input_.now})"
    elif lock.until > input_.now + MAX_LOCK_SECONDS:
        reason = f"a lock lasts at most {MAX_LOCK_SECONDS} s"
    elif sum(1 for k in state.locks if k.owner == signer and k.until > input_.now) >= (
        MAX_LOCKS_PER_OWNER
    ):
        reason = f"you hold {MAX_LOCKS_PER_OWNER} live locks already: let one end first"
    elif any(p.transfer.start < lock.end and lock.start < p.transfer.end for p in state.pending):
        reason = "a transfer of the next block moves some of these coins"
    elif any(
        k.until > input_.now and k.start < lock.end and lock.start < k.end for k in state.locks
    ):
        reason = "some of these coins are locked for another lease"
    if reason is not None:
        return TransitionResult(state, [LockRefused(reason)])
    assert signer is not None
    held_lock = HeldLock(signer, lock.start, lock.end, lock.provider, lock.until)
    live = tuple(k for k in state.locks if k.until > input_.now)  # expired ones go
    return TransitionResult(replace(state, locks=(*live, held_lock)), [Locked(held_lock)])


def _exit(state: ChildChain, input_: RecordExit) -> TransitionResult[ChildChain, Event]:
    kept = tuple(s for s in state.segments if s.end <= input_.start or s.start >= input_.end)
    cut = state.segments
    parts = [replace(s, end=input_.start) for s in cut if s.start < input_.start < s.end]
    parts += [replace(s, start=input_.end) for s in cut if s.start < input_.end < s.end]
    segments = tuple(sorted((*kept, *parts), key=lambda s: s.start))
    locks = tuple(k for k in state.locks if k.end <= input_.start or k.start >= input_.end)
    return TransitionResult(
        replace(state, segments=segments, locks=locks), [Exited(input_.start, input_.end)]
    )


def _seal(state: ChildChain) -> TransitionResult[ChildChain, Event]:
    number = state.height + 1
    tree = SumTree([Moved(s.transfer.start, s.transfer.end, s.leaf) for s in state.pending])
    segments, locks = state.segments, state.locks
    for signed in state.pending:
        t = signed.transfer
        segments = reassign(segments, t.start, t.end, t.recipient, number)
        # A lease's transfer pays a prefix of its lock: the rest stays locked.
        locks = tuple(
            replace(k, start=t.end) if k.start == t.start and t.end <= k.end else k for k in locks
        )
        locks = tuple(k for k in locks if k.start < k.end)
    new = replace(
        state,
        height=number,
        segments=segments,
        pending=(),
        locks=locks,
        roots=(*state.roots, tree.root),
    )
    return TransitionResult(new, [Sealed(number, tree.root, state.pending)])


def clip(segments: tuple[Segment, ...], start: int, end: int) -> tuple[Segment, ...]:
    """The parts of sorted ``segments`` inside ``[start, end)``."""
    first = max(0, bisect_right([s.start for s in segments], start) - 1)
    out = []
    for segment in segments[first:]:
        if segment.start >= end:
            break
        if segment.end > start:
            out.append(replace(segment, start=max(start, segment.start), end=min(end, segment.end)))
    return tuple(out)


def reassign(
    segments: tuple[Segment, ...], start: int, end: int, owner: Address, received: int
) -> tuple[Segment, ...]:
    """``segments`` with coins ``[start, end)`` now ``owner``'s, received in ``received``
    (a segment of their own: each segment is one parent's coins, never merged)."""
    out: list[Segment] = []
    for segment in segments:
        if segment.end <= start or segment.start >= end:
            out.append(segment)
            continue
        if segment.start < start:
            out.append(replace(segment, end=start))
        if segment.end > end:
            out.append(replace(segment, start=end))
    out.append(Segment(start, end, owner, received))
    return tuple(sorted(out, key=lambda s: s.start))
