"""Deploying the fraud-proof contracts next to a Rollup.

The Rollup trusts one DisputeGame to revert batches and slash bonds, and the game
must know the Rollup: neither can be changed later (no owner could swap in a
friendlier judge). So the game is deployed first with the Rollup's address
*predicted* from the deployer's nonce (CREATE addresses are
``keccak256(rlp([sender, nonce]))[12:]``), and the Rollup's constructor checks
that the game names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import rlp
from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.types import Address
from l2gpu.l1.build import compile_contract
from l2gpu.l1.chain import Chain, DeployedContract

ONE_DAY = 24 * 3600


@dataclass(frozen=True)
class DisputeTerms:
    """The game's economics and clocks (see docs/rollup.md, "Bonds")."""

    challenge_bond: int = 10**17
    response_period: int = ONE_DAY
    proof_period: int = ONE_DAY


def create_address(sender: Address, nonce: int) -> Address:
    """The address a CREATE from ``sender`` at ``nonce`` deploys to."""
    return Address(keccak256(rlp.encode([bytes(sender), nonce]))[12:])


def deploy_verifiers_and_game(
    chain: Chain,
    sender: LocalAccount,
    terms: DisputeTerms,
    *,
    cache_dir: Path | None = None,
) -> tuple[DeployedContract, Address, Address]:
    """Deploy BlsVerifier, StepVerifier, SignatureVerifier and DisputeGame.

    Returns the game, the address the Rollup must be deployed at (the very next
    contract ``sender`` creates) and the BlsVerifier's address.
    """
    bls = chain.deploy(compile_contract("rollup/BlsVerifier.vy", cache_dir=cache_dir),
                       sender=sender)  # fmt: skip
    step = chain.deploy(compile_contract("rollup/StepVerifier.vy", cache_dir=cache_dir),
                        bls.address, sender=sender)  # fmt: skip
    signature = chain.deploy(
        compile_contract("rollup/SignatureVerifier.vy", cache_dir=cache_dir), bls.address,
        sender=sender,
    )  # fmt: skip
    me = Address.from_hex(sender.address)
    nonce = chain.w3.eth.get_transaction_count(sender.address, "pending")
    rollup_address = create_address(me, nonce + 1)
    game = chain.deploy(
        compile_contract("rollup/DisputeGame.vy", cache_dir=cache_dir),
        rollup_address, step.address, signature.address, terms.challenge_bond,
        terms.response_period, terms.proof_period, sender=sender,
    )  # fmt: skip
    return game, rollup_address, bls.address
