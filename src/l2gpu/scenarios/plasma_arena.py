"""An arena for Plasma's exit games: the Plasma contract on a real L1, its
specification run in lockstep, an operator that may forge or withhold blocks,
users who keep their coins' histories, and watchers. Used by the scenario tests,
the differential tests and ``l2gpu bench plasma``.

Every L1 call goes to both the contract and ``core/plasma/exit_game``; if they
disagree (one refuses and the other does not, a different reason, different
events or payments), :class:`SpecDivergence` is raised. Simulated time: each call
is mined at the arena's clock, which :meth:`PlasmaArena.pass_time` moves on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.plasma import exit_game
from l2gpu.core.plasma.chain import (
    ChildChain,
    RecordDeposit,
    Refused,
    SealBlock,
    Sealed,
    SubmitTransfer,
)
from l2gpu.core.plasma.chain import state_transition as child_transition
from l2gpu.core.plasma.provenance import View, exit_call, follow, included_in
from l2gpu.core.plasma.root_chain import (
    DepositCoins,
    Deposited,
    ExitStarted,
    FinalizeExit,
    FinalizeExits,
    HistoryChallenged,
    Included,
    Input,
    Paid,
    Rejected,
    RespondHistory,
    RootChain,
    Rules,
    SettleChallenge,
    StartDepositExit,
    StartExit,
    SubmitBlock,
    exited_hint,
)
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer, Transfer, sign_transfer
from l2gpu.core.plasma.watch import judge
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, ContractRevert, Receipt
from l2gpu.l1.contracts.plasma import PlasmaClient

DAY = 86_400
ETHER = 10**18


class SpecDivergence(AssertionError):
    """The contract and its specification answered one call differently."""


@dataclass
class Party:
    """A user of the arena: an L1 account and the key it signs transfers with."""

    name: str
    account: LocalAccount
    signed: list[SignedTransfer] = field(default_factory=list)

    @property
    def address(self) -> Address:
        """The party's address (on L1 and on the child chain)."""
        return Address.from_hex(self.account.address)

    @property
    def key(self) -> PrivateKey:
        """The party's signing key."""
        return PrivateKey(bytes(self.account.key))


@dataclass(frozen=True)
class Outcome:
    """One L1 call: the specification's events, or the shared refusal, and its gas."""

    events: tuple[Any, ...]
    refused: str | None
    gas: int
    tx_bytes: int

    def one(self, kind: type) -> Any:
        """The call's one event of ``kind``."""
        found = [e for e in self.events if isinstance(e, kind)]
        if len(found) != 1:
            raise AssertionError(f"expected one {kind.__name__} in {self.events}")
        return found[0]


class PlasmaArena:
    """See the module's docstring. ``names``: the users, each a funded L1 account."""

    def __init__(
        self,
        chain: Chain,
        names: Sequence[str],
        *,
        exit_period: int = 7 * DAY,
        response_period: int = DAY,
        exit_bond: int = ETHER // 100,
        challenge_bond: int = ETHER // 100,
    ) -> None:
        self.chain = chain
        self.operator = Party("operator", chain.accounts[0])
        self.parties = {name: Party(name, self._account(i)) for i, name in enumerate(names)}
        rules = Rules(
            self.operator.address, exit_period, response_period, exit_bond, challenge_bond
        )
        self.client = PlasmaClient.deploy(chain, self.operator.account, rules)
        self.spec = RootChain(self.client.domain, rules)
        self.child = ChildChain(self.client.domain)
        self.blocks: dict[int, tuple[SignedTransfer, ...]] = {}
        self.withheld: set[int] = set()
        self.deposits: list[Deposit] = []
        self.exit_evidence: dict[int, tuple[Included, ...]] = {}
        self.gas: dict[str, list[int]] = {}
        self.value_in = self.value_out = 0  # wei the calls sent in, and were paid out
        self.now = self._pending_time()

    def _account(self, index: int) -> LocalAccount:
        if index + 1 < len(self.chain.accounts):
            account: LocalAccount = self.chain.accounts[index + 1]
            return account
        account = Account.from_key((0xA11CE000 + index).to_bytes(32, "big"))
        self.chain.send_ether(
            Address.from_hex(account.address), 10 * ETHER, sender=self.chain.accounts[-1]
        )
        return account

    def __getitem__(self, name: str) -> Party:
        return self.parties[name]

    # -- L1 calls, in lockstep with the specification ------------------------------------

    def tick(self) -> int:
        """The time the next L1 call is mined at."""
        self.now = max(self.now, self._pending_time()) + 1
        return self.now

    def _pending_time(self) -> int:
        # eth-tester's pending block may already be ahead of the latest one.
        return int(self.chain.w3.eth.get_block("pending")["timestamp"])

    def call(self, input_: Input, party: Party) -> Outcome:
        """Give ``input_`` to the contract and the specification; check they agree."""
        now = getattr(input_, "now", None)
        self.chain.set_next_block_timestamp(now if now is not None else self.tick())
        spec, events = exit_game.state_transition(self.spec, input_)
        refused_spec = events[0].reason if events and isinstance(events[0], Rejected) else None
        receipt: Receipt | None = None
        try:
            receipt = self.client.apply(input_, party.account)
            refused_l1 = None
        except ContractRevert as revert:
            refused_l1 = revert.reason
        if refused_spec != refused_l1:
            raise SpecDivergence(
                f"{type(input_).__name__}: the specification answered "
                f"{refused_spec!r}, the contract {refused_l1!r}"
            )
        if receipt is None:
            return Outcome(tuple(events), refused_spec, 0, 0)
        self._compare(input_, events, receipt)
        self.spec = spec
        self.value_in += getattr(input_, "value", 0)
        self.value_out += sum(e.amount for e in events if isinstance(e, Paid))
        name = type(input_).__name__
        self.gas.setdefault(name, []).append(receipt.gas_used)
        return Outcome(tuple(events), None, receipt.gas_used, receipt.tx_bytes)

    def _compare(self, input_: Input, events: Sequence[Any], receipt: Receipt) -> None:
        paid_spec = [(e.to, e.amount) for e in events if isinstance(e, Paid) and e.amount]
        paid_l1 = [
            (e.args["recipient"], e.args["amount"])
            for e in receipt.events
            if e.name == "Paid" and e.args["amount"]
        ]
        names_spec = sorted(type(e).__name__ for e in events if not isinstance(e, Paid))
        names_l1 = sorted(e.name for e in receipt.events if e.name not in ("Paid",))
        if paid_spec != paid_l1 or names_spec != names_l1:
            raise SpecDivergence(
                f"{type(input_).__name__}: the specification did {events}, "
                f"the contract logged {receipt.events}"
            )

    # -- the child chain -----------------------------------------------------------------

    def deposit(self, name: str, amount: int) -> Deposit:
        """``name`` deposits ``amount`` wei on L1; the operator records it."""
        party = self.parties[name]
        outcome = self.call(DepositCoins(party.address, amount), party)
        if outcome.refused:
            raise AssertionError(outcome.refused)
        deposit: Deposit = outcome.one(Deposited).deposit
        self.deposits.append(deposit)
        self.child, _ = child_transition(
            self.child, RecordDeposit(party.address, amount, deposit.block)
        )
        return deposit

    def pay(self, name: str, to: str, start: int, end: int) -> str | None:
        """``name`` signs a transfer of coins ``[start, end)`` it holds to ``to`` and sends
        it to the operator; the operator's refusal, or None."""
        party = self.parties[name]
        held = self.child.owners(start, end)
        prev = held[0].received if held else 0
        signed = sign_transfer(
            party.key, self.client.domain, Transfer(start, end, self.parties[to].address, prev)
        )
        party.signed.append(signed)
        self.child, events = child_transition(self.child, SubmitTransfer(signed))
        return events[0].reason if isinstance(events[0], Refused) else None

    def forge(
        self, signer: str, to: str, start: int, end: int, prev_block: int
    ) -> SignedTransfer | None:
        """A dishonest operator puts a transfer in the next block that its rules refuse
        (``signer`` does not hold the coins, or spends them twice). Even it cannot put
        two transfers of one coin in one block (a sum tree has one leaf per coin):
        None then."""
        if any(p.transfer.start < end and start < p.transfer.end for p in self.child.pending):
            return None
        signed = sign_transfer(
            self.parties[signer].key,
            self.client.domain,
            Transfer(start, end, self.parties[to].address, prev_block),
        )
        self.child = replace(self.child, pending=(*self.child.pending, signed))
        return signed

    def seal(self, *, withhold: bool = False) -> int:
        """The operator makes the next block and posts its root; ``withhold``: it serves
        no one the block's transfers."""
        self.child, events = child_transition(self.child, SealBlock())
        sealed = next(e for e in events if isinstance(e, Sealed))
        outcome = self.call(SubmitBlock(self.operator.address, sealed.root), self.operator)
        if outcome.refused:
            raise AssertionError(outcome.refused)
        self.blocks[sealed.number] = sealed.transfers
        if withhold:
            self.withheld.add(sealed.number)
        return sealed.number

    def served(self) -> dict[int, tuple[SignedTransfer, ...]]:
        """The blocks whose transfers the operator served."""
        return {n: b for n, b in self.blocks.items() if n not in self.withheld}

    def view(self) -> View:
        """What an honest client knows from the served blocks."""
        return follow(
            self.client.domain, self.deposits, self.served(), self.child.height, self.spec.exited
        )

    def evidence_in(self, block: int) -> list[Included]:
        """Every transfer of ``block`` with its path (the operator's data, served or not)."""
        return list(included_in(block, self.blocks.get(block, ())).values())

    # -- exits -----------------------------------------------------------------------------

    def exit(self, name: str) -> list[Outcome]:
        """``name`` exits every coin its history shows it holds, one exit per holding."""
        party = self.parties[name]
        outcomes = []
        for holding in self.view().of(party.address):
            input_ = exit_call(holding, self.tick(), self.spec.rules.exit_bond)
            outcomes.append(self.start_exit(input_, party))
        return outcomes

    def start_exit(self, input_: StartExit | StartDepositExit, party: Party) -> Outcome:
        """Start an exit (any evidence, honest or not) and remember what it showed."""
        outcome = self.call(input_, party)
        if outcome.refused is None:
            exit_id = outcome.one(ExitStarted).exit_id
            shown = (
                (input_.exiting,) + ((input_.parent,) if input_.parent else ())
                if isinstance(input_, StartExit)
                else ()
            )
            self.exit_evidence[exit_id] = shown
        return outcome

    def watch(self, name: str, *, protects: Sequence[str] = ()) -> list[Outcome]:
        """``name`` challenges every open exit it can prove invalid; it speaks for the
        holders in ``protects`` even across withheld blocks."""
        me = self.parties[name]
        guarded = {self.parties[n].address: self.parties[n] for n in protects}

        def protected(owner: Address, coin: int, received: int) -> bool:
            holder = guarded.get(owner)
            return holder is not None and not any(
                s.transfer.prev_block == received and s.transfer.start <= coin < s.transfer.end
                for s in holder.signed
            )

        outcomes = []
        for exit_id, exit_ in enumerate(self.spec.exits):
            if exit_.status != "open":
                continue
            challenge = judge(
                self.client.domain,
                exit_id,
                exit_,
                self.deposits,
                self.served(),
                self.child.height,
                me=me.address,
                now=self.tick(),
                challenge_bond=self.spec.rules.challenge_bond,
                protected=protected,
            )
            if challenge is not None:
                outcomes.append(self.call(challenge, me))
        return outcomes

    def respond(self, name: str, challenge_id: int) -> Outcome | None:
        """``name`` answers a history challenge with the challenged owner's spend, found
        in the served blocks or in what the exit itself showed; None if there is none."""
        challenge = self.spec.challenges[challenge_id]
        exit_ = self.spec.exits[challenge.exit_id]
        candidates = [
            e
            for n in range(challenge.block + 1, exit_.prev_block + 1)
            for e in (included_in(n, self.served()[n]).values() if n in self.served() else ())
        ]
        candidates += [
            e for e in self.exit_evidence.get(challenge.exit_id, ()) if e.block <= exit_.prev_block
        ]
        for evidence in candidates:
            t = evidence.signed.transfer
            if (
                t.prev_block == challenge.block
                and t.start <= challenge.coin < t.end
                and evidence.signed.signer(self.client.domain) == challenge.owner
            ):
                return self.call(
                    RespondHistory(self.parties[name].address, challenge_id, evidence),
                    self.parties[name],
                )
        return None

    def pass_time(self, seconds: int) -> None:
        """Let ``seconds`` of simulated time pass."""
        self.now = max(self.now, self._pending_time()) + seconds

    def finalize(self, exit_id: int, by: str | None = None) -> Outcome:
        """Finalize exit ``exit_id`` (by its owner unless ``by``), with the right hint."""
        exit_ = self.spec.exits[exit_id]
        party = (
            self.parties[by]
            if by
            else next(p for p in self.parties.values() if p.address == exit_.owner)
        )
        hint = exited_hint(self.spec, exit_.start)
        return self.call(FinalizeExit(party.address, self.tick(), exit_id, hint), party)

    def finalize_many(self, exit_ids: Sequence[int], by: str) -> Outcome:
        """Finalize up to 32 exits in one call, each hint computed as the exited ranges
        will stand after the ones before it."""
        party = self.parties[by]
        state, hints = self.spec, []
        for exit_id in exit_ids:
            hint = exited_hint(state, state.exits[exit_id].start)
            hints.append(hint)
            state, _ = exit_game.state_transition(
                state, FinalizeExit(party.address, self.now + 1, exit_id, hint)
            )
        return self.call(
            FinalizeExits(party.address, self.tick(), tuple(exit_ids), tuple(hints)), party
        )

    def settle(self, challenge_id: int, by: str) -> Outcome:
        """Settle an unanswered history challenge of a cancelled exit."""
        party = self.parties[by]
        return self.call(SettleChallenge(party.address, challenge_id), party)

    def challenges_of(self, exit_id: int) -> list[int]:
        """The ids of the history challenges of ``exit_id``."""
        return [i for i, c in enumerate(self.spec.challenges) if c.exit_id == exit_id]

    def paid(self, name: str, outcomes: Sequence[Outcome]) -> int:
        """What ``outcomes`` paid ``name`` in all."""
        who = self.parties[name].address
        return sum(
            e.amount for o in outcomes for e in o.events if isinstance(e, Paid) and e.to == who
        )


__all__ = ["HistoryChallenged", "Outcome", "Party", "PlasmaArena", "SpecDivergence"]
