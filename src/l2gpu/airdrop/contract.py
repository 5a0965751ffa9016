"""L1 client of ``Airdrop.vy``: deploy it with the claim circuit's verifying key,
publish the tiers, claim, sweep.

The contract checks Groth16 proofs itself against the verifying key its constructor
was given, so an airdrop is bound to one circuit and one set of keys: a proof made
with other keys does not verify. ``VERIFYING_KEY_HASH`` on chain is
:func:`verifying_key_hash` of those keys, which anyone can compare with the keys a
ceremony published.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import groth16py
from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount

from l2gpu.airdrop.claim_proof import PUBLIC_INPUTS, ClaimProof
from l2gpu.core.airdrop.claims import MAX_TIERS, Tier
from l2gpu.core.airdrop.identity import ClaimTarget
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address
from l2gpu.l1 import Chain, DeployedContract, Receipt, compile_contract
from l2gpu.zk.setup import Keys

CONTRACT_SOURCE = "airdrop/Airdrop.vy"
VERIFYING_KEY_TYPES = (
    "uint256[2]", "uint256[2][2]", "uint256[2][2]", "uint256[2][2]",
    f"uint256[2][{len(PUBLIC_INPUTS) + 1}]",
)  # fmt: skip
"""The constructor's verifying key arguments: alpha, beta, gamma, delta, IC."""


def verifying_key_args(vk: groth16py.VerifyingKey) -> tuple[Any, ...]:
    """``vk`` as ``Airdrop.vy``'s constructor takes it: G1 points ``[x, y]``, G2
    points in the EVM's order ``[[x1, x0], [y1, y0]]`` (EIP-197 reads c1 first)."""
    data = json.loads(vk.to_json())
    if int(data["nPublic"]) != len(PUBLIC_INPUTS):
        raise ValueError(
            f"a claim key has {len(PUBLIC_INPUTS)} public inputs, not {data['nPublic']}"
        )

    def g1(point: list[str]) -> list[int]:
        return [int(point[0]), int(point[1])]

    def g2(point: list[list[str]]) -> list[list[int]]:
        return [[int(point[0][1]), int(point[0][0])], [int(point[1][1]), int(point[1][0])]]

    return (
        g1(data["vk_alpha_1"]), g2(data["vk_beta_2"]), g2(data["vk_gamma_2"]),
        g2(data["vk_delta_2"]), [g1(p) for p in data["IC"]],
    )  # fmt: skip


def verifying_key_hash(vk: groth16py.VerifyingKey) -> bytes:
    """What ``Airdrop.vy`` keeps as ``VERIFYING_KEY_HASH`` for ``vk``:
    ``keccak256(abi_encode(alpha, beta, gamma, delta, IC))``."""
    return keccak256(encode(list(VERIFYING_KEY_TYPES), list(verifying_key_args(vk))))


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
        """Deploy an Airdrop checking proofs against ``keys`` (the claim circuit's),
        whose operator is ``operator``."""
        contract = chain.deploy(
            compile_contract(CONTRACT_SOURCE),
            treasury,
            airdrop_id,
            deadline,
            *verifying_key_args(keys.verifying_key),
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
    def verifying_key_hash(self) -> bytes:
        """The hash of the verifying key the contract checks proofs against."""
        return bytes(self.contract.call("VERIFYING_KEY_HASH"))

    def tier_point(self, root: int) -> tuple[int, int]:
        """The point a claim names the tier of ``root`` by (the contract computes it)."""
        x, y = self.contract.call("tier_point", root)
        return int(x), int(y)

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
        if not 0 < len(tiers) <= MAX_TIERS:
            # The contract's argument decoder would revert without a reason.
            raise L2gpuError(
                f"an airdrop has one to {MAX_TIERS} tiers, not {len(tiers)}",
                "merge tiers that pay the same reward",
            )
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
            "claim", a, b, c, list(self.tier_point(claim.root)), claim.nullifier_hash,
            claim.recipient, claim.fee, sender=relayer,
        )  # fmt: skip

    def sweep(self, sender: LocalAccount) -> Receipt:
        """Return the unclaimed rewards to the treasury (after the deadline)."""
        return self.contract.transact("sweep", sender=sender)
