"""The Plasma contract on L1, as data: its storage, the calls it takes and the
events they make. ``exit_game.state_transition`` applies the calls; together they
are the specification ``Plasma.vy`` is tested against, call by call, with the same
refusals.

L1 holds the deposits (coins numbered in deposit order), one root per child block,
and the exit games, through which every coin leaves:

- **An exit** names a transfer included in some block ``b`` that paid the exitor,
  and its parent (the transfer that paid the transfer's signer, included in the
  block the transfer names, or the deposit that made the coins), and the coins
  ``[start, end)`` of both that it takes out. Coins never moved exit with their
  deposit alone. The exitor posts ``exit_bond``.
- **Three challenges** can cancel it, each about one coin of the exit:

  1. *spent*: a transfer signed by the exitor that spends the coins received in
     ``b``, included after ``b``; it cancels at once.
  2. *double spend*: a transfer signed by the parent's recipient that spends the
     coins of the parent again, included between the parent and ``b``; it cancels
     at once.
  3. *history*: an earlier transfer of the coin (after its deposit and before ``b``),
     or the deposit itself, whose owner the exit's history skips. It needs
     ``challenge_bond``, and stands unless someone *responds* with a transfer
     signed by that owner spending it, included after it and no later than ``b``.
     An honest exitor can always respond: its history holds such a transfer.

- **Finalizing** is one exit per input (no queue to walk): after ``exit_period``
  (extended by a late history challenge to at least ``response_period``, never
  past the period's end plus one response period), an exit without an open
  challenge pays its coins and its bond, unless some of its coins already left.
  Exited ranges are kept sorted; the caller names the exited range just before
  the exit's coins (``hint``), so the check costs the same however many there are.

Bonds: a cancelled exit's bond goes to whoever cancelled it (the first settler of
an unanswered history challenge, or the spent or double-spend challenger); an
answered history challenge's bond goes to the exitor. Payments are
:class:`Paid` events: the contract pushes them (or credits a refusing receiver).

A refused input leaves the state unchanged and answers :class:`Rejected` with the
contract's revert reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.plasma.sumtree import SumProof
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer
from l2gpu.core.types import Address

OPEN, CANCELED, FINALIZED, ANSWERED, SETTLED = (
    "open",
    "canceled",
    "finalized",
    "answered",
    "settled",
)


@dataclass(frozen=True)
class Rules:
    """What the contract was deployed with."""

    operator: Address
    exit_period: int
    response_period: int
    exit_bond: int
    challenge_bond: int


@dataclass(frozen=True)
class Exit:
    """Coins ``[start, end)`` leaving for ``owner``, received in block ``block``; the
    parent was received in ``prev_block`` by ``parent_owner`` (for a deposit exit both
    are the deposit's height and owner)."""

    owner: Address
    start: int
    end: int
    block: int
    prev_block: int
    parent_owner: Address
    is_deposit: bool
    deposit_start: int
    deadline: int  # history challenges until then
    finalizable_at: int
    bond: int
    open_challenges: int = 0
    status: str = OPEN


@dataclass(frozen=True)
class HistoryChallenge:
    """Exit ``exit_id``'s history skips ``owner``, who held ``coin`` as of ``block``."""

    exit_id: int
    coin: int
    block: int
    owner: Address
    challenger: Address
    bond: int
    status: str = OPEN


@dataclass(frozen=True)
class Included:
    """A signed transfer and the path that shows it in block ``block``."""

    signed: SignedTransfer
    block: int
    proof: SumProof


@dataclass(frozen=True)
class RootChain:
    """The contract's storage."""

    domain: Eip712Domain
    rules: Rules
    height: int = 0
    coins: int = 0
    roots: Mapping[int, bytes] = field(default_factory=lambda: MappingProxyType({}))
    deposits: Mapping[int, Deposit] = field(  # by first coin
        default_factory=lambda: MappingProxyType({})
    )
    exits: tuple[Exit, ...] = ()
    challenges: tuple[HistoryChallenge, ...] = ()
    exited: tuple[tuple[int, int], ...] = ()  # sorted, disjoint


# -- inputs: each is one call to the contract by ``sender`` at time ``now`` ------------


@dataclass(frozen=True)
class DepositCoins:
    sender: Address
    value: int


@dataclass(frozen=True)
class SubmitBlock:
    sender: Address
    root: bytes


@dataclass(frozen=True)
class StartDepositExit:
    sender: Address
    now: int
    value: int
    deposit_start: int
    start: int
    end: int


@dataclass(frozen=True)
class StartExit:
    """Exit with ``exiting``; ``parent`` is None when it spends the deposit itself."""

    sender: Address
    now: int
    value: int
    exiting: Included
    parent: Included | None
    deposit_start: int
    start: int
    end: int


@dataclass(frozen=True)
class ChallengeSpent:
    sender: Address
    exit_id: int
    coin: int
    spend: Included


@dataclass(frozen=True)
class ChallengeDoubleSpend:
    sender: Address
    exit_id: int
    coin: int
    spend: Included


@dataclass(frozen=True)
class ChallengeHistory:
    """``earlier`` None: the coin's deposit is the owner the exit skips."""

    sender: Address
    now: int
    value: int
    exit_id: int
    coin: int
    earlier: Included | None


@dataclass(frozen=True)
class RespondHistory:
    sender: Address
    challenge_id: int
    spend: Included


@dataclass(frozen=True)
class FinalizeExit:
    """``hint``: 0, or 1 + the first coin of the exited range just before the exit's."""

    sender: Address
    now: int
    exit_id: int
    hint: int


@dataclass(frozen=True)
class FinalizeExits:
    """:class:`FinalizeExit` for up to 32 exits in order, each hint as the exited ranges
    stand after the exits before it; one refusal refuses them all."""

    sender: Address
    now: int
    exit_ids: tuple[int, ...]
    hints: tuple[int, ...]


@dataclass(frozen=True)
class SettleChallenge:
    sender: Address
    challenge_id: int


Input = (
    DepositCoins
    | SubmitBlock
    | StartDepositExit
    | StartExit
    | ChallengeSpent
    | ChallengeDoubleSpend
    | ChallengeHistory
    | RespondHistory
    | FinalizeExit
    | FinalizeExits
    | SettleChallenge
)


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Deposited:
    deposit: Deposit


@dataclass(frozen=True)
class BlockSubmitted:
    number: int
    root: bytes


@dataclass(frozen=True)
class ExitStarted:
    exit_id: int
    exit: Exit


@dataclass(frozen=True)
class ExitCanceled:
    exit_id: int
    why: str  # "spent", "double spend", "history" or "already exited"


@dataclass(frozen=True)
class ExitFinalized:
    exit_id: int


@dataclass(frozen=True)
class HistoryChallenged:
    challenge_id: int
    challenge: HistoryChallenge


@dataclass(frozen=True)
class ChallengeAnswered:
    challenge_id: int


@dataclass(frozen=True)
class ChallengeSettled:
    challenge_id: int


@dataclass(frozen=True)
class Paid:
    to: Address
    amount: int


Event = (
    Rejected
    | Deposited
    | BlockSubmitted
    | ExitStarted
    | ExitCanceled
    | ExitFinalized
    | HistoryChallenged
    | ChallengeAnswered
    | ChallengeSettled
    | Paid
)


def exited_hint(state: RootChain, start: int) -> int:
    """The ``hint`` a :class:`FinalizeExit` of coins starting at ``start`` needs now."""
    before = [s for s, _ in state.exited if s <= start]
    return 0 if not before else before[-1] + 1
