"""An airdrop to the early adopters of a simulated market, end to end, in one process.

The steps are the ones a real airdrop takes, each through the code a user runs:

1. **history**: a simulated market history (Bass adoption) in a market database;
2. **eligibility**: the adoption curve fitted to it, Rogers' innovators and early
   adopters found and their rewards recorded, encrypted per user;
3. **register**: every eligible account makes secrets and registers their
   commitment, signed with its own key;
4. **publish**: the tiers' trees, the Airdrop contract and its verifier on L1, the
   rewards paid in, ``published.json`` written;
5. **claim**: claimers prove membership and are paid at fresh addresses, their
   transactions sent by a relayer that takes a fee;
6. **erase**: one user asks to be forgotten; their personal data is unreadable after.

L1 is the embedded EVM unless a chain is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from sqlalchemy import create_engine

from l2gpu.airdrop.claim_proof import compile_claim, generate_identity, prove_claim
from l2gpu.airdrop.contract import AirdropClient
from l2gpu.airdrop.eligibility import (
    eligibility_report,
    simulate_market_history,
    simulated_account_keys,
)
from l2gpu.airdrop.operator import AirdropOperator
from l2gpu.airdrop.vault import Erased
from l2gpu.core.airdrop.registration import sign_registration
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address
from l2gpu.l1 import Chain
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.l1.keys import embedded_dev_accounts
from l2gpu.zk.setup import dev_setup

REWARDS = (("innovators", 5 * 10**17), ("early_adopters", 10**17))
MIN_GPU_SECONDS = 3600
RELAYER_FEE = 10**15
CLAIM_PERIOD = 30 * 86400


@dataclass
class AirdropDemoResult:
    """What the demo did and measured."""

    accounts: int = 0
    leases: int = 0
    eligible: dict[str, int] = field(default_factory=dict)
    registered: int = 0
    airdrop: str = ""
    anonymity_sets: dict[str, int] = field(default_factory=dict)
    claims: int = 0
    claim_gas: list[int] = field(default_factory=list)
    prove_seconds: list[float] = field(default_factory=list)
    paid_wei: int = 0
    erased_fields: int = 0
    erased_unreadable: bool = False


def run_airdrop_demo(
    folder: Path,
    *,
    accounts: int = 200,
    claims: int = 3,
    seed: int = 0,
    chain: Chain | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> AirdropDemoResult:
    """Run the airdrop's six steps in ``folder``; ``say`` hears one line per step."""
    result = AirdropDemoResult(accounts=accounts)
    chain = chain if chain is not None else start_embedded_chain()
    market = create_engine(f"sqlite:///{folder / 'market.db'}")
    result.leases = simulate_market_history(market, accounts=accounts, seed=seed)
    say(f"history: {accounts} simulated adopters, {result.leases} leases")

    report = eligibility_report(market, rewards=REWARDS, min_gpu_seconds=MIN_GPU_SECONDS)
    operator = AirdropOperator(folder / "airdrop", name="early adopters", chain_id=chain.chain_id)
    operator.record_eligibility(report.eligible)
    for tier_name, (count, total) in report.totals.items():
        result.eligible[tier_name] = count
        say(f"eligible: {count} {tier_name}, {total} wei")

    keys_by_address = {
        str(Address.from_hex(k.address)).lower(): k for k in simulated_account_keys(accounts, seed)
    }
    secrets = {}
    for e in report.eligible:
        identity = generate_identity()
        key = PrivateKey(keys_by_address[e.account].key)
        commitment = identity.commitment()
        signature = sign_registration(key, operator.domain, operator.airdrop_id, commitment)
        operator.register(Address.from_hex(e.account), commitment, signature)
        secrets[e.account] = identity
        result.registered += 1
    say(f"register: {result.registered} commitments, each signed by its account")

    circuit = compile_claim()
    keys = dev_setup(circuit)
    deployer, relayer, treasury = embedded_dev_accounts()[:3]
    published = operator.publish(
        chain, deployer, keys=keys, treasury=Address.from_hex(treasury.address),
        deadline=chain.timestamp() + CLAIM_PERIOD,
    )  # fmt: skip
    result.airdrop = str(published.address)
    result.anonymity_sets = {t.name: len(t.leaves) for t in published.tiers}
    say(f"publish: Airdrop at {published.address}, anonymity sets {result.anonymity_sets}")

    client = AirdropClient.at(chain, published.address)
    for n, identity in enumerate(list(secrets.values())[:claims]):
        # The last claim keeps no fee: the gas of a claimer that pays its own way.
        fee = 0 if n == claims - 1 and claims > 1 else RELAYER_FEE
        tier = published.tier_of(identity.commitment())
        recipient = Address.from_hex(Account.create().address)
        timings: dict[str, float] = {}
        claim = prove_claim(
            identity, tier.tree(), target=published.target(), recipient=recipient,
            relayer=Address.from_hex(relayer.address), fee=fee, keys=keys,
            circuit=circuit, timings=timings,
        )  # fmt: skip
        receipt = client.claim(relayer, claim)
        result.claims += 1
        result.claim_gas.append(receipt.gas_used)
        result.prove_seconds.append(timings["witness"] + timings["groth16"] + timings["check"])
        result.paid_wei += chain.balance(recipient)
        say(
            f"claim: {tier.name} (one of {len(tier.leaves)}) paid {chain.balance(recipient)} "
            f"wei to a fresh address, {receipt.gas_used} gas"
        )

    forgotten = next(iter(secrets))
    result.erased_fields = operator.erase(Address.from_hex(forgotten))
    try:
        operator.vault.get(forgotten, "usage")
    except Erased:
        result.erased_unreadable = True
    say(f"erase: {result.erased_fields} fields of one account, unreadable now")
    (folder / "airdrop-demo.json").write_text(json.dumps(result.__dict__, indent=1))
    return result
