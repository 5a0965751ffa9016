"""Client of the Plasma contract (``contracts/plasma/Plasma.vy``) on L1.

It turns the calls of the specification (``core/plasma/root_chain``) into contract
calls (:meth:`PlasmaClient.apply`) and reads the contract's storage and logs back in
the specification's terms, so that the same inputs can be given to both and their
answers compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.plasma.root_chain import (
    ChallengeDoubleSpend,
    ChallengeHistory,
    ChallengeSpent,
    DepositCoins,
    FinalizeExit,
    FinalizeExits,
    Included,
    Input,
    RespondHistory,
    Rules,
    SettleChallenge,
    StartDepositExit,
    StartExit,
    SubmitBlock,
)
from l2gpu.core.plasma.transactions import Deposit, plasma_domain
from l2gpu.core.types import Address, ChainId
from l2gpu.l1 import Chain, DeployedContract, L1Error, Receipt, compile_contract
from l2gpu.l1.chain import checksum

CONTRACT_SOURCE = "plasma/Plasma.vy"
STATUS = {1: "open", 2: "canceled", 3: "finalized", 4: "answered", 5: "settled"}
_NO_PARENT: tuple[Any, ...] = ((0, 0, Address(bytes(20)), 0), b"", 0, [])


def included_tuple(evidence: Included | None) -> tuple[Any, ...]:
    """A transfer with its block and path as the contract's ``Included`` struct."""
    if evidence is None:
        return _NO_PARENT
    t = evidence.signed.transfer
    steps = [(step.hash, step.size, step.left) for step in evidence.proof.steps]
    return (
        (t.start, t.end, t.recipient, t.prev_block),
        evidence.signed.signature,
        evidence.block,
        steps,
    )


class PlasmaClient:
    """Typed access to one deployed Plasma contract."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address

    @classmethod
    def deploy(
        cls, chain: Chain, sender: LocalAccount, rules: Rules, cache_dir: Path | None = None
    ) -> PlasmaClient:
        """Deploy a Plasma contract with ``rules``; return its client."""
        compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
        contract = chain.deploy(
            compiled,
            rules.operator,
            rules.exit_period,
            rules.response_period,
            rules.exit_bond,
            rules.challenge_bond,
            sender=sender,
        )
        return cls(chain, contract)

    @classmethod
    def at(cls, chain: Chain, address: Address, cache_dir: Path | None = None) -> PlasmaClient:
        """The Plasma contract already deployed at ``address``."""
        if not chain.w3.eth.get_code(checksum(address)):
            raise L1Error(
                f"no contract at {address} on {chain.description}",
                "pass the address 'l2gpu plasma deploy' printed",
            )
        return cls(
            chain, chain.attach(compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir), address)
        )

    # -- reading ---------------------------------------------------------------------

    @property
    def domain(self) -> Eip712Domain:
        """The EIP-712 domain transfers on this child chain are signed under."""
        return plasma_domain(ChainId(self.chain.chain_id), self.address)

    def rules(self) -> Rules:
        """What the contract was deployed with."""
        call = self.contract.call
        return Rules(
            call("operator"),
            call("EXIT_PERIOD"),
            call("RESPONSE_PERIOD"),
            call("EXIT_BOND"),
            call("CHALLENGE_BOND"),
        )

    def height(self) -> int:
        """The number of blocks the operator has submitted."""
        return int(self.contract.call("height"))

    def root(self, number: int) -> bytes:
        """Block ``number``'s root (zero bytes if there is none)."""
        return bytes(self.contract.call("roots", number))

    def deposit_at(self, start: int) -> Deposit | None:
        """The deposit whose first coin is ``start``."""
        end, owner, block = self.contract.call("deposits", start)
        if owner == Address(bytes(20)):
            return None
        return Deposit(start, int(end), owner, int(block))

    def exit(self, exit_id: int) -> dict[str, Any]:
        """Exit ``exit_id`` as the contract stores it, its status by name."""
        names = (
            "owner",
            "start",
            "end",
            "block",
            "prev_block",
            "parent_owner",
            "is_deposit",
            "deposit_start",
            "deadline",
            "finalizable_at",
            "bond",
            "open_challenges",
            "status",
        )
        exit_ = dict(zip(names, self.contract.call("exits", exit_id), strict=True))
        exit_["status"] = STATUS.get(exit_["status"], "none")
        return exit_

    def exited(self) -> list[tuple[int, int]]:
        """The exited ranges in order (walks the list: for tests and tools, not L1)."""
        out, key = [], int(self.contract.call("exited_next", 0))
        while key:
            out.append((key - 1, int(self.contract.call("exited_end", key))))
            key = int(self.contract.call("exited_next", key))
        return out

    # -- writing ---------------------------------------------------------------------

    def apply(self, input_: Input, sender: LocalAccount) -> Receipt:
        """Carry out a specification call as the matching contract call from ``sender``."""
        send = self.contract.transact
        match input_:
            case DepositCoins():
                return send("deposit", sender=sender, value=input_.value)
            case SubmitBlock():
                return send("submit_block", input_.root, sender=sender)
            case StartDepositExit():
                return send(
                    "start_deposit_exit",
                    input_.deposit_start,
                    input_.start,
                    input_.end,
                    sender=sender,
                    value=input_.value,
                )
            case StartExit():
                return send(
                    "start_exit",
                    included_tuple(input_.exiting),
                    included_tuple(input_.parent),
                    input_.parent is None,
                    input_.deposit_start,
                    input_.start,
                    input_.end,
                    sender=sender,
                    value=input_.value,
                )
            case ChallengeSpent():
                return send(
                    "challenge_spent",
                    input_.exit_id,
                    input_.coin,
                    included_tuple(input_.spend),
                    sender=sender,
                )
            case ChallengeDoubleSpend():
                return send(
                    "challenge_double_spend",
                    input_.exit_id,
                    input_.coin,
                    included_tuple(input_.spend),
                    sender=sender,
                )
            case ChallengeHistory():
                return send(
                    "challenge_history",
                    input_.exit_id,
                    input_.coin,
                    included_tuple(input_.earlier),
                    input_.earlier is None,
                    sender=sender,
                    value=input_.value,
                )
            case RespondHistory():
                return send(
                    "respond_history",
                    input_.challenge_id,
                    included_tuple(input_.spend),
                    sender=sender,
                )
            case FinalizeExit():
                return send("finalize_exit", input_.exit_id, input_.hint, sender=sender)
            case FinalizeExits():
                return send(
                    "finalize_exits", list(input_.exit_ids), list(input_.hints), sender=sender
                )
            case SettleChallenge():
                return send("settle_challenge", input_.challenge_id, sender=sender)
        raise L1Error(f"no contract call for {type(input_).__name__}")
