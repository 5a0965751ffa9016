"""A small scenario language for Plasma's exit games, after the Plasma Cash
features: each line is ``given``, ``when``, ``then`` or ``and`` and one step, run on
a :class:`~l2gpu.scenarios.plasma_arena.PlasmaArena` (the contract and its
specification in lockstep)::

    given alice deposits 100
    and the operator seals a block
    when alice pays bob coins 0-100
    and the operator seals a block
    and alice exits
    and bob watches
    then exit 0 is canceled

Steps (``A-B`` is the coin range ``[A, B)``):

- ``NAME deposits N``; ``NAME pays NAME coins A-B`` (the operator must accept it);
  ``NAME tries to pay NAME coins A-B`` (it must refuse)
- ``the operator seals a block`` (``and withholds it``)
- ``NAME double-spends coins A-B to NAME naming block K``: NAME signs, and a dishonest
  operator includes it in the next block although the rules refuse it
- ``the operator forges coins A-B from NAME to NAME naming block K``: the same with a
  transfer signed by the first NAME, who does not hold the coins
- ``NAME exits`` (every coin its history shows it holds); ``NAME exits with block K``
  (with its transfer in block K and that transfer's parent, as the operator shows them)
- ``NAME challenges exit K with the deposit`` / ``with block B``: a history
  challenge naming the depositor of the exit's first coin, or the recipient of the
  transfer of it in block B (rightly or not)
- ``NAME watches`` (``for NAME, NAME``: speaking for those holders across withheld
  blocks); ``NAME answers the challenges`` (each open challenge of its exits);
  ``NAME cannot answer the challenges``; ``NAME settles the challenges``
- ``the exit period passes``; ``N days pass``; ``NAME finalizes the exits``
- ``exit K is open|canceled|finalized``; ``NAME was paid N`` (all payments of the
  story, bonds included); ``NAME exited N coins``; ``the contract holds N``;
  ``the last step was refused: TEXT``

An unknown step, or a ``then`` that does not hold, raises :class:`StoryError` naming
the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from l2gpu.core.errors import L2gpuError
from l2gpu.core.plasma.root_chain import ChallengeHistory, Paid, StartExit
from l2gpu.scenarios.plasma_arena import DAY, Outcome, PlasmaArena


class StoryError(L2gpuError):
    """A scenario line that is not a step, or a ``then`` that does not hold."""


class Story:
    """Runs scenario text on one arena, keeping every L1 call's outcome."""

    def __init__(self, arena: PlasmaArena) -> None:
        self.arena = arena
        self.last_refusal: str | None = None
        self.outcomes: list[Outcome] = []
        self.steps: list[tuple[re.Pattern[str], Callable[..., Any]]] = [
            (re.compile(p), f) for p, f in self._grammar()
        ]

    def run(self, text: str) -> Story:
        """Run every line of ``text``; blank lines and ``#`` comments are skipped."""
        for number, raw in enumerate(text.strip().splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keyword, _, step = line.partition(" ")
            if keyword not in ("given", "when", "then", "and"):
                raise StoryError(
                    f"line {number}: '{line}' does not start with given, when, then or and",
                    "start each line with one of them",
                )
            for pattern, action in self.steps:
                match = pattern.fullmatch(step)
                if match:
                    try:
                        action(*match.groups())
                    except AssertionError as failed:
                        raise StoryError(
                            f"line {number}: '{line}' does not hold: {failed}", "see the scenario"
                        ) from failed
                    break
            else:
                raise StoryError(
                    f"line {number}: '{step}' is not a step",
                    "see the steps in l2gpu.scenarios.plasma_story",
                )
        return self

    def _record(self, outcomes: list[Outcome] | Outcome) -> None:
        self.outcomes.extend(outcomes if isinstance(outcomes, list) else [outcomes])

    # -- the steps ---------------------------------------------------------------------------

    def _grammar(self) -> list[tuple[str, Callable[..., Any]]]:
        a = self.arena
        name, coins = r"(\w+)", r"(\d+)-(\d+)"
        return [
            (rf"{name} deposits (\d+)", lambda n, v: a.deposit(n, int(v))),
            (rf"{name} pays {name} coins {coins}", self._pay),
            (rf"{name} tries to pay {name} coins {coins}", self._pay_refused),
            (r"the operator seals a block", lambda: a.seal()),
            (r"the operator seals a block and withholds it", lambda: a.seal(withhold=True)),
            (
                rf"{name} double-spends coins {coins} to {name} naming block (\d+)",
                lambda s, x, y, t, k: a.forge(s, t, int(x), int(y), int(k)),
            ),
            (
                rf"the operator forges coins {coins} from {name} to {name} naming block (\d+)",
                lambda x, y, s, t, k: a.forge(s, t, int(x), int(y), int(k)),
            ),
            (rf"{name} exits", lambda n: self._record(a.exit(n))),
            (rf"{name} exits with block (\d+)", self._exit_with_block),
            (rf"{name} watches", lambda n: self._record(a.watch(n))),
            (
                rf"{name} watches for ([\w, ]+)",
                lambda n, ps: self._record(a.watch(n, protects=[p.strip() for p in ps.split(",")])),
            ),
            (rf"{name} challenges exit (\d+) with the deposit", self._challenge_history),
            (rf"{name} challenges exit (\d+) with block (\d+)", self._challenge_history),
            (rf"{name} answers the challenges", lambda n: self._answer(n, can=True)),
            (rf"{name} cannot answer the challenges", lambda n: self._answer(n, can=False)),
            (rf"{name} settles the challenges", self._settle),
            (r"the exit period passes", lambda: a.pass_time(a.spec.rules.exit_period + 1)),
            (r"(\d+) days pass", lambda d: a.pass_time(int(d) * DAY)),
            (rf"{name} finalizes the exits", self._finalize_all),
            (r"exit (\d+) is (open|canceled|finalized)", self._exit_is),
            (rf"{name} was paid (\d+)", self._was_paid),
            (rf"{name} exited (\d+) coins", self._exited),
            (r"the contract holds (\d+)", self._holds),
            (r"the last step was refused: (.+)", self._refused),
        ]

    def _pay(self, sender: str, to: str, start: str, end: str) -> None:
        refusal = self.arena.pay(sender, to, int(start), int(end))
        assert refusal is None, f"the operator refused: {refusal}"

    def _pay_refused(self, sender: str, to: str, start: str, end: str) -> None:
        refusal = self.arena.pay(sender, to, int(start), int(end))
        assert refusal is not None, "the operator accepted it"
        self.last_refusal = refusal

    def _exit_with_block(self, who: str, block: str) -> None:
        """Exit every transfer of the block that paid ``who``, with its parent as the
        operator shows it (honest or not)."""
        a, party = self.arena, self.arena[who]
        paid = [
            e for e in a.evidence_in(int(block)) if e.signed.transfer.recipient == party.address
        ]
        assert paid, f"no transfer of block {block} paid {who}"
        for exiting in paid:
            t = exiting.signed.transfer
            signer = exiting.signed.signer(a.client.domain)
            deposit = next(d for d in a.deposits if d.start <= t.start < d.end)
            start, end, parent = t.start, min(t.end, deposit.end), None
            if not (t.prev_block == deposit.block and deposit.owner == signer):
                parent = next(
                    e
                    for e in a.evidence_in(t.prev_block)
                    if e.signed.transfer.recipient == signer
                    and e.signed.transfer.start <= t.start < e.signed.transfer.end
                )
                start = max(start, parent.signed.transfer.start)
                end = min(end, parent.signed.transfer.end)
            outcome = a.start_exit(
                StartExit(
                    party.address,
                    a.tick(),
                    a.spec.rules.exit_bond,
                    exiting,
                    parent,
                    deposit.start,
                    start,
                    end,
                ),
                party,
            )
            self._record(outcome)
            self.last_refusal = outcome.refused

    def _challenge_history(self, who: str, exit_id: str, block: str | None = None) -> None:
        """Claim exit ``exit_id``'s history skips the depositor of its first coin, or
        the recipient of the transfer of it in ``block`` (rightly or not)."""
        a = self.arena
        exit_ = a.spec.exits[int(exit_id)]
        earlier = None
        if block is not None:
            earlier = next(
                e
                for e in a.evidence_in(int(block))
                if e.signed.transfer.start <= exit_.start < e.signed.transfer.end
            )
        outcome = a.call(
            ChallengeHistory(
                a[who].address,
                a.tick(),
                a.spec.rules.challenge_bond,
                int(exit_id),
                exit_.start,
                earlier,
            ),
            a[who],
        )
        self._record(outcome)
        self.last_refusal = outcome.refused

    def _answer(self, who: str, *, can: bool) -> None:
        a = self.arena
        mine = {i for i, e in enumerate(a.spec.exits) if e.owner == a[who].address}
        open_ = [
            c
            for c, ch in enumerate(a.spec.challenges)
            if ch.status == "open" and ch.exit_id in mine
        ]
        assert open_, f"no open challenge of {who}'s exits"
        for cid in open_:
            outcome = a.respond(who, cid)
            assert (outcome is not None) == can, (
                f"{who} {'has no' if can else 'has an'} answer to challenge {cid}"
            )
            if outcome is not None:
                assert outcome.refused is None, outcome.refused
                self._record(outcome)

    def _settle(self, who: str) -> None:
        a = self.arena
        for cid, challenge in enumerate(a.spec.challenges):
            if (
                challenge.status == "open"
                and challenge.challenger == a[who].address
                and a.spec.exits[challenge.exit_id].status == "canceled"
            ):
                self._record(a.settle(cid, who))

    def _finalize_all(self, who: str) -> None:
        a = self.arena
        for exit_id, exit_ in enumerate(a.spec.exits):
            if exit_.status == "open":
                self._record(a.finalize(exit_id, by=who))

    def _exit_is(self, exit_id: str, status: str) -> None:
        exits = self.arena.spec.exits
        assert int(exit_id) < len(exits), f"there are {len(exits)} exits"
        found = exits[int(exit_id)].status
        assert found == status, f"exit {exit_id} is {found}"
        assert self.arena.client.exit(int(exit_id))["status"] == status, "L1 disagrees"

    def _was_paid(self, who: str, amount: str) -> None:
        address = self.arena[who].address
        got = sum(
            e.amount
            for o in self.outcomes
            for e in o.events
            if isinstance(e, Paid) and e.to == address
        )
        assert got == int(amount), f"{who} was paid {got}"

    def _exited(self, who: str, amount: str) -> None:
        address = self.arena[who].address
        got = sum(
            e.end - e.start
            for e in self.arena.spec.exits
            if e.owner == address and e.status == "finalized"
        )
        assert got == int(amount), f"{who} exited {got} coins"

    def _holds(self, amount: str) -> None:
        held = int(self.arena.chain.balance(self.arena.client.address))
        assert held == int(amount), f"the contract holds {held}"

    def _refused(self, text: str) -> None:
        refusal = self.last_refusal
        assert refusal is not None, "the last step was not refused"
        assert text in refusal, f"the last refusal was {refusal!r}"


__all__ = ["Story", "StoryError"]
