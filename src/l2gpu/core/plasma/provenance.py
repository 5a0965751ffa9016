"""What an honest client knows about every coin: who holds it, and the evidence to
exit it or to challenge an exit of it.

:func:`follow` replays the deposits and the blocks whose data the operator served,
in order, keeping for each holding the transfer that paid it and that transfer's
parent (each with its block and path): exactly what an exit names. A transfer that
breaks the rules (its signer did not hold the coins, it names the wrong block, it
spends coins of two parents) moves nothing here, as in ``history.check_history``: the
client notes it as forged. The replay stops before the first block whose data is
missing, since nothing after it can be checked; ``View.through`` says where.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.plasma.root_chain import Included, StartDepositExit, StartExit
from l2gpu.core.plasma.sumtree import Moved, SumTree
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer
from l2gpu.core.types import Address


@dataclass(frozen=True)
class Holding:
    """``owner`` holds coins ``[start, end)`` of ``deposit``, received in block
    ``received`` through ``paid_by`` (None: never moved since the deposit), whose
    signer got them through ``parent`` (None: the deposit)."""

    start: int
    end: int
    owner: Address
    received: int
    deposit: Deposit
    paid_by: Included | None = None
    parent: Included | None = None


@dataclass(frozen=True)
class View:
    """Every coin's holding after block ``through``, sorted by first coin, and the
    transfers that broke the rules (forged by the operator, or double spends)."""

    holdings: tuple[Holding, ...]
    through: int
    forged: tuple[Included, ...] = ()

    def at(self, coin: int) -> Holding | None:
        """The holding of ``coin``; None if it was never deposited."""
        index = bisect_right([h.start for h in self.holdings], coin) - 1
        if index >= 0 and coin < self.holdings[index].end:
            return self.holdings[index]
        return None

    def of(self, owner: Address) -> tuple[Holding, ...]:
        """The holdings of ``owner``."""
        return tuple(h for h in self.holdings if h.owner == owner)


def included_in(number: int, transfers: Sequence[SignedTransfer]) -> dict[bytes, Included]:
    """Each transfer of block ``number`` with its path, by leaf."""
    tree = SumTree([Moved(s.transfer.start, s.transfer.end, s.leaf) for s in transfers])
    by_leaf = {s.leaf: s for s in transfers}
    out = {}
    for index, leaf in enumerate(tree.leaves):
        signed = by_leaf.get(leaf.content)
        if signed is not None:
            out[signed.leaf] = Included(signed, number, tree.proof(index))
    return out


def follow(
    domain: Eip712Domain,
    deposits: Sequence[Deposit],
    blocks: Mapping[int, Sequence[SignedTransfer]],
    height: int,
    exited: Sequence[tuple[int, int]] = (),
) -> View:
    """Replay ``deposits`` and the served ``blocks`` (by number) up to ``height``,
    stopping before the first block that is missing; coins in ``exited`` ranges
    are gone."""
    holdings: list[Holding] = []
    pending = sorted(deposits, key=lambda d: (d.block, d.start))
    forged: list[Included] = []
    through = 0

    def admit(upto: int) -> None:
        while pending and pending[0].block <= upto:
            d = pending.pop(0)
            holdings.append(Holding(d.start, d.end, d.owner, d.block, d))
        holdings.sort(key=lambda h: h.start)

    admit(0)
    for number in range(1, height + 1):
        if number not in blocks:
            break
        for evidence in included_in(number, blocks[number]).values():
            if not _apply(domain, holdings, evidence):
                forged.append(evidence)
        through = number
        admit(number)
    kept = tuple(h for h in holdings if not any(s < h.end and h.start < e for s, e in exited))
    return View(kept, through, tuple(forged))


def _apply(domain: Eip712Domain, holdings: list[Holding], evidence: Included) -> bool:
    """Move the coins the transfer may move; False if it moves none of those it names.

    Per coin, as L1 judges exits: each holding the transfer touches moves (the part of
    it the transfer names) if the signer holds it and received it in ``prev_block``.
    The operator refuses a transfer over two holdings, but a dishonest one may include
    it, and L1 then lets its recipient exit every part that was the signer's to give.
    """
    t = evidence.signed.transfer
    touched = [h for h in holdings if h.start < t.end and t.start < h.end]
    if not touched:
        return True  # coins not deposited yet: it moves nothing (see history._apply_transfer)
    signer = evidence.signed.signer(domain)
    moved = False
    for held in touched:
        if signer != held.owner or held.received != t.prev_block:
            continue
        start, end = max(held.start, t.start), min(held.end, t.end)
        holdings.remove(held)
        if held.start < start:
            holdings.append(replace(held, end=start))
        if end < held.end:
            holdings.append(replace(held, start=end))
        holdings.append(
            Holding(start, end, t.recipient, evidence.block, held.deposit, evidence, held.paid_by)
        )
        moved = True
    holdings.sort(key=lambda h: h.start)
    return moved


def exit_call(holding: Holding, now: int, bond: int) -> StartExit | StartDepositExit:
    """The call that exits ``holding`` for its owner at time ``now`` with ``bond``: a
    deposit exit for coins never moved, else its transfer and that one's parent."""
    if holding.paid_by is None:
        return StartDepositExit(
            holding.owner, now, bond, holding.deposit.start, holding.start, holding.end
        )
    return StartExit(
        holding.owner,
        now,
        bond,
        holding.paid_by,
        holding.parent,
        holding.deposit.start,
        holding.start,
        holding.end,
    )
