"""A watcher's judgement of one exit: the challenge that cancels it, if the watcher
can prove it invalid; else None.

It looks for the three faults in the order their proofs are conclusive:

1. *spent*: a served transfer after the exit's block, signed by the exitor, spending
   the coins it received there;
2. *double spend*: a served transfer between the exit's parent and its block, signed
   by the parent's recipient, spending the parent's coins again;
3. *history*: a coin of the exit whose honest holder, once the parent's block is
   applied, is not the parent's recipient: the parent is forged. The watcher
   challenges with that holder's evidence (the transfer that paid it, before the
   parent, or its deposit), which only the holder's own spend could answer.

When blocks up to the parent's are withheld, the watcher cannot tell a forgery from
a spend it never saw, so it challenges the history only for holders it protects
(``protected``) that signed no spend of the coins it knows of (``signed``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.plasma.provenance import Holding, follow, included_in
from l2gpu.core.plasma.root_chain import (
    ChallengeDoubleSpend,
    ChallengeHistory,
    ChallengeSpent,
    Exit,
    Included,
)
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer
from l2gpu.core.types import Address

Challenge = ChallengeSpent | ChallengeDoubleSpend | ChallengeHistory


def judge(
    domain: Eip712Domain,
    exit_id: int,
    exit_: Exit,
    deposits: Sequence[Deposit],
    blocks: Mapping[int, Sequence[SignedTransfer]],
    height: int,
    *,
    me: Address,
    now: int,
    challenge_bond: int,
    protected: Callable[[Address, int, int], bool] = lambda owner, coin, received: False,
) -> Challenge | None:
    """The challenge that cancels exit ``exit_id``, or None if the watcher sees no
    fault. ``protected(owner, coin, received)``: whether ``owner`` is a holder the
    watcher speaks for that signed no spend of ``coin`` received in ``received``."""
    spend = _find(
        domain, blocks, range(exit_.block + 1, height + 1), exit_, exit_.block, exit_.owner
    )
    if spend is not None:
        return ChallengeSpent(me, exit_id, _first_coin(spend, exit_), spend)
    if not exit_.is_deposit:
        double = _find(
            domain,
            blocks,
            range(exit_.prev_block + 1, exit_.block),
            exit_,
            exit_.prev_block,
            exit_.parent_owner,
        )
        if double is not None:
            return ChallengeDoubleSpend(me, exit_id, _first_coin(double, exit_), double)
    deposit = next((d for d in deposits if d.start == exit_.deposit_start), None)
    if exit_.is_deposit or deposit is None or exit_.prev_block <= deposit.block:
        return None  # coins straight from their deposit: no history before the parent
    # The holder of each coin once the parent's block is applied must be the parent's
    # recipient, since then; else the parent is forged and the holder it skips shows so.
    view = follow(domain, deposits, blocks, exit_.prev_block)
    complete = view.through == exit_.prev_block
    for holding in view.holdings:
        if holding.end <= exit_.start or holding.start >= exit_.end or _consistent(holding, exit_):
            continue
        coin = max(holding.start, exit_.start)
        if complete or protected(holding.owner, coin, holding.received):
            return ChallengeHistory(me, now, challenge_bond, exit_id, coin, holding.paid_by)
    return None


def _consistent(holding: Holding, exit_: Exit) -> bool:
    """Whether the exit's parent paid the coins' honest holder in its block."""
    return holding.owner == exit_.parent_owner and holding.received == exit_.prev_block


def _find(
    domain: Eip712Domain,
    blocks: Mapping[int, Sequence[SignedTransfer]],
    numbers: range,
    exit_: Exit,
    prev_block: int,
    signer: Address,
) -> Included | None:
    """A served transfer in one of ``numbers`` signed by ``signer`` that spends coins
    of the exit received in ``prev_block``."""
    for number in numbers:
        if number not in blocks:
            continue
        for evidence in included_in(number, blocks[number]).values():
            t = evidence.signed.transfer
            if (
                t.prev_block == prev_block
                and t.start < exit_.end
                and exit_.start < t.end
                and evidence.signed.signer(domain) == signer
            ):
                return evidence
    return None


def _first_coin(evidence: Included, exit_: Exit) -> int:
    return max(evidence.signed.transfer.start, exit_.start)
