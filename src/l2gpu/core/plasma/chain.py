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
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address


@dataclass(frozen=True)
class Segment:
    """``owner`` holds coins ``[start, end)``, received in block ``received``."""

    start: int
    end: int
    owner: Address
    received: int


@dataclass(frozen=True)
class ChildChain:
    """The operator's state. ``segments`` are sorted and tile ``[0, coins)``."""

    domain: Eip712Domain
    height: int = 0
    coins: int = 0
    segments: tuple[Segment, ...] = ()
    pending: tuple[SignedTransfer, ...] = ()
    roots: tuple[bytes, ...] = ()  # roots[b - 1] is block b's

    def owners(self, start: int, end: int) -> tuple[Segment, ...]:
        """The segments that hold any of the coins ``[start, end)``, clipped to them."""
        return clip(self.segments, start, end)


@dataclass(frozen=True)
class RecordDeposit:
    """L1 logged a deposit of ``amount`` wei by ``owner``."""

    owner: Address
    amount: int


@dataclass(frozen=True)
class SubmitTransfer:
    """A signed transfer for the next block."""

    signed: SignedTransfer


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
class Sealed:
    """Block ``number`` with root ``root`` holds ``transfers`` (possibly none)."""

    number: int
    root: bytes
    transfers: tuple[SignedTransfer, ...]


Input = RecordDeposit | SubmitTransfer | SealBlock
Event = Deposited | Accepted | Refused | Sealed


def state_transition(state: ChildChain, input_: Input) -> TransitionResult[ChildChain, Event]:
    """Apply one input; return the new state and its events."""
    if isinstance(input_, RecordDeposit):
        return _deposit(state, input_)
    if isinstance(input_, SubmitTransfer):
        return _submit(state, input_.signed)
    return _seal(state)


def _deposit(state: ChildChain, deposit: RecordDeposit) -> TransitionResult[ChildChain, Event]:
    if not 0 < deposit.amount <= COIN_SPACE - state.coins:
        return TransitionResult(state, [])  # L1 refuses such a deposit: never logged
    coins = Deposit(state.coins, state.coins + deposit.amount, deposit.owner, state.height)
    segment = Segment(coins.start, coins.end, coins.owner, coins.block)
    new = replace(state, coins=coins.end, segments=(*state.segments, segment))
    return TransitionResult(new, [Deposited(coins)])


def _submit(state: ChildChain, signed: SignedTransfer) -> TransitionResult[ChildChain, Event]:
    reason = refusal(state, signed)
    if reason is not None:
        return TransitionResult(state, [Refused(signed.leaf, reason)])
    return TransitionResult(replace(state, pending=(*state.pending, signed)),
                            [Accepted(signed.leaf)])  # fmt: skip


def refusal(state: ChildChain, signed: SignedTransfer) -> str | None:
    """Why the next block cannot hold ``signed``; None if it can."""
    transfer = signed.transfer
    signer = signed.signer(state.domain)
    if signer is None:
        return "the signature does not parse"
    if transfer.end > state.coins:
        return "some of these coins were never deposited"
    held = state.owners(transfer.start, transfer.end)
    if any(segment.owner != signer for segment in held):
        return "the signer does not own all of these coins"
    if len(held) != 1:
        # One parent per transfer (a deposit, or one transfer's coins): an exit then
        # names one parent, and a challenge one spend of it.
        return "these coins came in separate deposits or transfers: send one transfer each"
    if held[0].received != transfer.prev_block:
        return (f"these coins were received in block {held[0].received}, "
                f"not {transfer.prev_block}")  # fmt: skip
    for other in state.pending:
        if other.transfer.start < transfer.end and transfer.start < other.transfer.end:
            return "another transfer of the next block moves some of these coins"
    return None


def _seal(state: ChildChain) -> TransitionResult[ChildChain, Event]:
    number = state.height + 1
    tree = SumTree([Moved(s.transfer.start, s.transfer.end, s.leaf) for s in state.pending])
    segments = state.segments
    for signed in state.pending:
        t = signed.transfer
        segments = reassign(segments, t.start, t.end, t.recipient, number)
    new = replace(state, height=number, segments=segments, pending=(),
                  roots=(*state.roots, tree.root))  # fmt: skip
    return TransitionResult(new, [Sealed(number, tree.root, state.pending)])


def clip(segments: tuple[Segment, ...], start: int, end: int) -> tuple[Segment, ...]:
    """The parts of sorted ``segments`` inside ``[start, end)``."""
    first = max(0, bisect_right([s.start for s in segments], start) - 1)
    out = []
    for segment in segments[first:]:
        if segment.start >= end:
            break
        if segment.end > start:
            out.append(replace(segment, start=max(start, segment.start),
                               end=min(end, segment.end)))  # fmt: skip
    return tuple(out)


def reassign(segments: tuple[Segment, ...], start: int, end: int, owner: Address,
             received: int) -> tuple[Segment, ...]:  # fmt: skip
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
