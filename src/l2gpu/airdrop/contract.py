"""L1 client of ``Airdrop.vy``: deploy it over the claim circuit's verifier, publish the
tiers, claim, sweep.

The verifier is generated from the claim circuit's verifying key
(``l2gpu.zk.verifier_contract``), so an airdrop is bound to one circuit and one set
of keys: a proof made with other keys does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from l2gpu.airdrop.claim_proof import PUBLIC_INPUTS, ClaimProof
from l2gpu.core.airdrop.claims import Tier
from l2gpu.core.airdrop.identity import ClaimTarget
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, DeployedContract, Receipt, compile_contract
from l2gpu.l1.build import CompiledContract
from l2gpu.zk.setup import Keys
from l2gpu.zk.verifier_contract import compile_verifier

CONTRACT_SOURCE = "airdrop/Airdrop.vy"
AIRDROP_ID_POSITION = PUBLIC_INPUTS.index("airdrop_id")


@dataclass(frozen=True, slots=True)
class TierOnChain:
    """A tier as L1 holds it."""

    index: int
    root: int
    reward: int
    members: int
    claimed: int


class AirdropClient:
    """Typed access to one deployed Airdrop."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        operator: LocalAccount,
        *,
        keys: Keys,
        treasury: Address,
        airdrop_id: int,
        deadline: int,
    ) -> AirdropClient:
        """Deploy the verifier generated from ``keys`` (the claim circuit's) and an
        Airdrop over it, whose operator is ``operator``."""
        built = compile_verifier(
            keys.verifying_key, title=keys.circuit_name, fixed=(AIRDROP_ID_POSITION, airdrop_id)
        )
        verifier = chain.deploy(
            CompiledContract("ClaimVerifier", built.abi, built.bytecode, "generated"),
            sender=operator,
        )
        contract = chain.deploy(
            compile_contract(CONTRACT_SOURCE),
            verifier.address,
            treasury,
            airdrop_id,
            deadline,
            sender=operator,
        )
        return cls(chain, contract)

    @classmethod
    def at(cls, chain: Chain, address: Address) -> AirdropClient:
        """The Airdrop already deployed at ``address``."""
        return cls(chain, chain.attach(compile_contract(CONTRACT_SOURCE), address))

    # -- reading -------------------------------------------------------------------

    @property
    def airdrop_id(self) -> int:
        """The identifier every nullifier hash of this airdrop is made with."""
        return int(self.contract.call("AIRDROP_ID"))

    def target(self) -> ClaimTarget:
        """What a claim for this deployment is bound to."""
        return ClaimTarget(bytes(self.address), self.chain.chain_id, self.airdrop_id)

    @property
    def deadline(self) -> int:
        """The last L1 second a claim is taken."""
        return int(self.contract.call("DEADLINE"))

    def tiers(self) -> list[TierOnChain]:
        """The published tiers (empty before :meth:`publish`)."""
        out = []
        for index in range(int(self.contract.call("tiers"))):
            root = int(self.contract.call("roots", index))
            _, reward, members, claimed = self.contract.call("tier", root)
            out.append(TierOnChain(index, root, int(reward), int(members), int(claimed)))
        return out

    def is_spent(self, nullifier_hash: int) -> bool:
        """Whether a claim with ``nullifier_hash`` was taken."""
        return bool(self.contract.call("spent", nullifier_hash))

    # -- writing -------------------------------------------------------------------

    def publish(self, operator: LocalAccount, tiers: Sequence[Tier]) -> Receipt:
        """Publish ``tiers`` and pay every member's reward with the call."""
        total = sum(t.reward * t.members for t in tiers)
        return self.contract.transact(
            "publish",
            [t.root for t in tiers],
            [t.reward for t in tiers],
            [t.members for t in tiers],
            sender=operator,
            value=total,
        )

    def claim(self, relayer: LocalAccount, claim: ClaimProof) -> Receipt:
        """Send ``claim`` from ``relayer`` (the address the proof was made for)."""
        a, b, c, _ = claim.proof.calldata()
        return self.contract.transact(
            "claim", a, b, c, claim.root, claim.nullifier_hash, claim.recipient, claim.fee,
            sender=relayer,
        )  # fmt: skip

    def sweep(self, sender: LocalAccount) -> Receipt:
        """Return the unclaimed rewards to the treasury (after the deadline)."""
        return self.contract.transact("sweep", sender=sender)
