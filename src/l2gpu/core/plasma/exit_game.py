"""``state_transition`` of the Plasma contract (``root_chain`` has its data and the
rules in prose): deposits, block roots, exits, the three challenges, responses,
finalization and the settling of bonds.

Each handler checks in the order ``Plasma.vy`` does and refuses with its revert
reason, so that a differential test can compare the two refusal by refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from l2gpu.core.plasma.root_chain import (
    ANSWERED,
    CANCELED,
    FINALIZED,
    OPEN,
    SETTLED,
    BlockSubmitted,
    ChallengeAnswered,
    ChallengeDoubleSpend,
    ChallengeHistory,
    ChallengeSettled,
    ChallengeSpent,
    DepositCoins,
    Deposited,
    Event,
    Exit,
    ExitCanceled,
    ExitFinalized,
    ExitStarted,
    FinalizeExit,
    FinalizeExits,
    HistoryChallenge,
    HistoryChallenged,
    Included,
    Input,
    Paid,
    Rejected,
    RespondHistory,
    RootChain,
    SettleChallenge,
    StartDepositExit,
    StartExit,
    SubmitBlock,
)
from l2gpu.core.plasma.sumtree import COIN_SPACE, MAX_STEPS, verify
from l2gpu.core.plasma.transactions import Deposit
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address

MAX_PROOF_STEPS = MAX_STEPS  # Plasma.vy's bound on a path: 2^48 leaves per block
MAX_BATCH = 32  # Plasma.vy's bound on the exits one finalize_exits call takes
Result = TransitionResult[RootChain, Event]


class Refusal(Exception):
    """The contract reverts with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def state_transition(state: RootChain, input_: Input) -> Result:
    """Apply one call; a refused call changes nothing and answers :class:`Rejected`."""
    try:
        return _HANDLERS[type(input_)](state, input_)
    except Refusal as refusal:
        return TransitionResult(state, [Rejected(refusal.reason)])


# -- checks shared by the handlers ------------------------------------------------------


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Refusal(reason)


def _included(state: RootChain, evidence: Included) -> None:
    """The transfer's leaf is in block ``evidence.block`` at the coins it names."""
    root = state.roots.get(evidence.block)
    _require(root is not None, "plasma: no such block")
    _require(len(evidence.proof.steps) <= MAX_PROOF_STEPS, "plasma: a path has at most 48 steps")
    assert root is not None
    found = verify(root, evidence.signed.leaf, evidence.proof)
    _require(found is not None, "plasma: the transfer is not in that block")
    transfer = evidence.signed.transfer
    _require(
        found == (transfer.start, transfer.end),
        "plasma: the transfer sits at other coins than it names",
    )


def _signer(state: RootChain, evidence: Included) -> Address | None:
    return evidence.signed.signer(state.domain)


def _open_exit(state: RootChain, exit_id: int) -> Exit:
    _require(0 <= exit_id < len(state.exits), "plasma: no such exit")
    exit_ = state.exits[exit_id]
    _require(exit_.status == OPEN, "plasma: the exit is not open")
    return exit_


def _moves(evidence: Included, coin: int) -> bool:
    transfer = evidence.signed.transfer
    return transfer.start <= coin < transfer.end


def _with_exit(state: RootChain, exit_id: int, exit_: Exit) -> RootChain:
    exits = state.exits
    return replace(state, exits=(*exits[:exit_id], exit_, *exits[exit_id + 1 :]))


def _with_challenge(state: RootChain, challenge_id: int, challenge: HistoryChallenge) -> RootChain:
    cs = state.challenges
    return replace(state, challenges=(*cs[:challenge_id], challenge, *cs[challenge_id + 1 :]))


# -- deposits and blocks ----------------------------------------------------------------


def _deposit(state: RootChain, input_: DepositCoins) -> Result:
    _require(input_.value > 0, "plasma: a deposit must send some wei")
    _require(input_.value <= COIN_SPACE - state.coins, "plasma: the coin space is full")
    deposit = Deposit(state.coins, state.coins + input_.value, input_.sender, state.height)
    deposits = MappingProxyType({**state.deposits, deposit.start: deposit})
    return TransitionResult(
        replace(state, coins=deposit.end, deposits=deposits), [Deposited(deposit)]
    )


def _submit_block(state: RootChain, input_: SubmitBlock) -> Result:
    _require(input_.sender == state.rules.operator, "plasma: only the operator submits blocks")
    _require(input_.root != bytes(32), "plasma: a block root cannot be zero")
    number = state.height + 1
    roots = MappingProxyType({**state.roots, number: input_.root})
    return TransitionResult(
        replace(state, height=number, roots=roots), [BlockSubmitted(number, input_.root)]
    )


# -- starting exits ---------------------------------------------------------------------


def _exit_deposit(state: RootChain, deposit_start: int, start: int, end: int) -> Deposit:
    deposit = state.deposits.get(deposit_start)
    _require(deposit is not None, "plasma: no deposit starts at that coin")
    assert deposit is not None
    _require(
        deposit.start <= start < end <= deposit.end,
        "plasma: the exit's coins are not all in that deposit",
    )
    return deposit


def _started(state: RootChain, now: int, exit_: Exit) -> Result:
    exit_id = len(state.exits)
    return TransitionResult(
        replace(state, exits=(*state.exits, exit_)), [ExitStarted(exit_id, exit_)]
    )


def _start_deposit_exit(state: RootChain, input_: StartDepositExit) -> Result:
    rules = state.rules
    _require(input_.value == rules.exit_bond, "plasma: send exactly the exit bond")
    deposit = _exit_deposit(state, input_.deposit_start, input_.start, input_.end)
    _require(deposit.owner == input_.sender, "plasma: only the depositor can exit a deposit")
    deadline = input_.now + rules.exit_period
    return _started(
        state,
        input_.now,
        Exit(
            input_.sender,
            input_.start,
            input_.end,
            deposit.block,
            deposit.block,
            input_.sender,
            True,
            deposit.start,
            deadline,
            deadline,
            input_.value,
        ),
    )


def _start_exit(state: RootChain, input_: StartExit) -> Result:
    rules = state.rules
    _require(input_.value == rules.exit_bond, "plasma: send exactly the exit bond")
    deposit = _exit_deposit(state, input_.deposit_start, input_.start, input_.end)
    exiting = input_.exiting
    transfer = exiting.signed.transfer
    _require(
        transfer.recipient == input_.sender,
        "plasma: only the transfer's recipient can exit its coins",
    )
    _require(
        transfer.start <= input_.start and input_.end <= transfer.end,
        "plasma: the exit's coins are not all in the transfer",
    )
    _included(state, exiting)
    _require(
        exiting.block > transfer.prev_block,
        "plasma: a transfer comes after the block its coins were received in",
    )
    signer = _signer(state, exiting)
    _require(signer is not None, "plasma: the transfer's signature does not parse")
    assert signer is not None
    parent = input_.parent
    if parent is None:
        _require(
            transfer.prev_block == deposit.block and deposit.owner == signer,
            "plasma: the transfer does not spend that deposit",
        )
    else:
        paid = parent.signed.transfer
        _require(
            parent.block == transfer.prev_block,
            "plasma: the parent is not in the block the transfer names",
        )
        _require(paid.recipient == signer, "plasma: the parent did not pay the transfer's signer")
        _require(
            paid.start <= input_.start and input_.end <= paid.end,
            "plasma: the exit's coins are not all in the parent",
        )
        _require(
            parent.block > deposit.block,
            "plasma: the parent moved the coins before they were deposited",
        )
        _included(state, parent)
    deadline = input_.now + rules.exit_period
    return _started(
        state,
        input_.now,
        Exit(
            input_.sender,
            input_.start,
            input_.end,
            exiting.block,
            transfer.prev_block,
            signer,
            False,
            deposit.start,
            deadline,
            deadline,
            input_.value,
        ),
    )


# -- challenges that cancel at once -----------------------------------------------------


def _cancel(state: RootChain, exit_id: int, exit_: Exit, why: str, to: Address) -> Result:
    new = _with_exit(state, exit_id, replace(exit_, status=CANCELED, bond=0))
    return TransitionResult(new, [ExitCanceled(exit_id, why), Paid(to, exit_.bond)])


def _challenge_spent(state: RootChain, input_: ChallengeSpent) -> Result:
    exit_ = _open_exit(state, input_.exit_id)
    coin, spend = input_.coin, input_.spend
    _require(exit_.start <= coin < exit_.end, "plasma: the coin is not in the exit")
    _require(_moves(spend, coin), "plasma: the spend does not move that coin")
    _included(state, spend)
    _require(spend.block > exit_.block, "plasma: the spend must come after the exit's transfer")
    _require(
        spend.signed.transfer.prev_block == exit_.block,
        "plasma: the spend does not spend the exit's coins",
    )
    _require(
        _signer(state, spend) == exit_.owner, "plasma: the exit's owner did not sign the spend"
    )
    return _cancel(state, input_.exit_id, exit_, "spent", input_.sender)


def _challenge_double_spend(state: RootChain, input_: ChallengeDoubleSpend) -> Result:
    exit_ = _open_exit(state, input_.exit_id)
    coin, spend = input_.coin, input_.spend
    _require(not exit_.is_deposit, "plasma: a deposit exit has no parent to spend twice")
    _require(exit_.start <= coin < exit_.end, "plasma: the coin is not in the exit")
    _require(_moves(spend, coin), "plasma: the spend does not move that coin")
    _included(state, spend)
    _require(
        exit_.prev_block < spend.block < exit_.block,
        "plasma: the spend is not between the exit's parent and its transfer",
    )
    _require(
        spend.signed.transfer.prev_block == exit_.prev_block,
        "plasma: the spend does not spend the exit's parent",
    )
    _require(
        _signer(state, spend) == exit_.parent_owner,
        "plasma: the parent's recipient did not sign the spend",
    )
    return _cancel(state, input_.exit_id, exit_, "double spend", input_.sender)


# -- the history challenge and its response ---------------------------------------------


def _challenge_history(state: RootChain, input_: ChallengeHistory) -> Result:
    exit_ = _open_exit(state, input_.exit_id)
    rules = state.rules
    _require(input_.value == rules.challenge_bond, "plasma: send exactly the challenge bond")
    _require(input_.now < exit_.deadline, "plasma: the exit's challenge period is over")
    coin = input_.coin
    _require(exit_.start <= coin < exit_.end, "plasma: the coin is not in the exit")
    deposit = state.deposits[exit_.deposit_start]
    earlier = input_.earlier
    # The history before the exit's parent is challenged here: the window between the
    # parent and the exit's transfer is the double-spend challenge's, and coins that
    # came straight from their deposit (a deposit exit, or its first spend) have none.
    _require(
        exit_.prev_block > deposit.block,
        "plasma: the exit's coins came straight from their deposit: no history to skip",
    )
    if earlier is None:
        owner, block = deposit.owner, deposit.block
    else:
        _require(_moves(earlier, coin), "plasma: the earlier transfer does not move that coin")
        _included(state, earlier)
        _require(
            deposit.block < earlier.block < exit_.prev_block,
            "plasma: the earlier transfer is not between the coin's deposit and the exit's parent",
        )
        owner, block = earlier.signed.transfer.recipient, earlier.block
    challenge = HistoryChallenge(input_.exit_id, coin, block, owner, input_.sender, input_.value)
    challenge_id = len(state.challenges)
    exit_ = replace(
        exit_,
        open_challenges=exit_.open_challenges + 1,
        finalizable_at=max(exit_.finalizable_at, input_.now + rules.response_period),
    )
    new = replace(
        _with_exit(state, input_.exit_id, exit_), challenges=(*state.challenges, challenge)
    )
    return TransitionResult(new, [HistoryChallenged(challenge_id, challenge)])


def _open_challenge(state: RootChain, challenge_id: int) -> HistoryChallenge:
    _require(0 <= challenge_id < len(state.challenges), "plasma: no such challenge")
    challenge = state.challenges[challenge_id]
    _require(challenge.status == OPEN, "plasma: the challenge is not open")
    return challenge


def _respond_history(state: RootChain, input_: RespondHistory) -> Result:
    challenge = _open_challenge(state, input_.challenge_id)
    exit_ = _open_exit(state, challenge.exit_id)
    spend = input_.spend
    _require(
        _moves(spend, challenge.coin), "plasma: the response does not move the challenged coin"
    )
    _included(state, spend)
    _require(
        challenge.block < spend.block <= exit_.prev_block,
        "plasma: the response is not between the challenged owner's coins and the exit's parent",
    )
    _require(
        spend.signed.transfer.prev_block == challenge.block,
        "plasma: the response does not spend the challenged owner's coins",
    )
    signer = _signer(state, spend)
    _require(
        signer is not None and signer == challenge.owner,
        "plasma: the challenged owner did not sign the response",
    )
    new = _with_challenge(state, input_.challenge_id, replace(challenge, status=ANSWERED))
    new = _with_exit(
        new, challenge.exit_id, replace(exit_, open_challenges=exit_.open_challenges - 1)
    )
    return TransitionResult(
        new, [ChallengeAnswered(input_.challenge_id), Paid(exit_.owner, challenge.bond)]
    )


def _settle_challenge(state: RootChain, input_: SettleChallenge) -> Result:
    challenge = _open_challenge(state, input_.challenge_id)
    exit_ = state.exits[challenge.exit_id]
    _require(exit_.status == CANCELED, "plasma: the exit was not cancelled")
    new = _with_challenge(state, input_.challenge_id, replace(challenge, status=SETTLED))
    new = _with_exit(new, challenge.exit_id, replace(exit_, bond=0))
    return TransitionResult(
        new,
        [
            ChallengeSettled(input_.challenge_id),
            Paid(challenge.challenger, challenge.bond + exit_.bond),
        ],
    )


# -- finalization -----------------------------------------------------------------------


def _finalize_exit(state: RootChain, input_: FinalizeExit) -> Result:
    exit_id = input_.exit_id
    exit_ = _open_exit(state, exit_id)
    _require(
        input_.now >= exit_.finalizable_at, "plasma: the exit is still in its challenge period"
    )
    if exit_.open_challenges > 0:
        # The bond waits for the first challenger to settle (SettleChallenge).
        new = _with_exit(state, exit_id, replace(exit_, status=CANCELED))
        return TransitionResult(new, [ExitCanceled(exit_id, "history")])
    index = _checked_hint(state, input_.hint, exit_.start)
    before = state.exited[index - 1] if index > 0 else None
    after = state.exited[index] if index < len(state.exited) else None
    if (before is not None and before[1] > exit_.start) or (
        after is not None and after[0] < exit_.end
    ):
        return _cancel(state, exit_id, exit_, "already exited", input_.sender)
    exited = (*state.exited[:index], (exit_.start, exit_.end), *state.exited[index:])
    new = replace(
        _with_exit(state, exit_id, replace(exit_, status=FINALIZED, bond=0)), exited=exited
    )
    return TransitionResult(
        new, [ExitFinalized(exit_id), Paid(exit_.owner, exit_.end - exit_.start + exit_.bond)]
    )


def _finalize_exits(state: RootChain, input_: FinalizeExits) -> Result:
    _require(len(input_.exit_ids) == len(input_.hints), "plasma: one hint per exit")
    _require(len(input_.exit_ids) <= MAX_BATCH, "plasma: at most 32 exits per call")
    events: list[Event] = []
    for exit_id, hint in zip(input_.exit_ids, input_.hints, strict=True):
        state, more = _finalize_exit(state, FinalizeExit(input_.sender, input_.now, exit_id, hint))
        events += more
    return TransitionResult(state, events)


def _checked_hint(state: RootChain, hint: int, start: int) -> int:
    """Where the exit's coins go in the sorted exited ranges: just after the range the
    hint names (or first, for hint 0), which must be the last one starting at or
    before ``start``."""
    starts = [s for s, _ in state.exited]
    bad = "plasma: the hint is not the exited range just before the exit's coins"
    if hint == 0:
        index = 0
    else:
        _require(hint - 1 in starts and hint - 1 <= start, bad)
        index = starts.index(hint - 1) + 1
    _require(index == len(starts) or starts[index] > start, bad)
    return index


_HANDLERS: dict[type, Callable[[RootChain, Any], Result]] = {
    DepositCoins: _deposit,
    SubmitBlock: _submit_block,
    StartDepositExit: _start_deposit_exit,
    StartExit: _start_exit,
    ChallengeSpent: _challenge_spent,
    ChallengeDoubleSpend: _challenge_double_spend,
    ChallengeHistory: _challenge_history,
    RespondHistory: _respond_history,
    SettleChallenge: _settle_challenge,
    FinalizeExit: _finalize_exit,
    FinalizeExits: _finalize_exits,
}

__all__ = ["FINALIZED", "Refusal", "Rejected", "state_transition"]
