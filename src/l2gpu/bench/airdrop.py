"""The ``airdrop`` suite: what a private airdrop costs, and what it leaves on chain.

It runs the whole airdrop (:func:`l2gpu.scenarios.airdrop_demo.run_airdrop_demo`) on
the embedded EVM: a simulated market of ``L2GPU_BENCH_AIRDROP_ACCOUNTS`` adopters,
eligibility from the fitted adoption curve, a registration per eligible account,
publication, ``L2GPU_BENCH_AIRDROP_CLAIMS`` relayed claims to fresh addresses, one
erasure. Then it reads every L1 transaction back:

- **proving**: seconds per claim proof on this machine (witness under Node, groth16py,
  and the check every proof gets), median, and the claim circuit's constraints;
- **gas**: each claim's gas from its receipt (relayed, so with the relayer's fee
  transfer; the demo's last claim, which keeps no fee, apart), the Airdrop's
  deployment (its verifying key in it), and publication, with the signed
  transactions' bytes;
- **anonymity**: each tier's set size, the number of registered members a claim
  hides among;
- **personal data on chain**: every byte of every transaction's calldata and every
  log is searched for each eligible account's address and each registered
  commitment; the figure is the bytes found (it must be 0).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from l2gpu.airdrop.claim_proof import compile_claim
from l2gpu.airdrop.eligibility import eligibility_report
from l2gpu.airdrop.operator import PUBLISHED, PublishedAirdrop
from l2gpu.bench import environment
from l2gpu.bench.l1_cost import signed_tx_bytes
from l2gpu.l1 import Chain
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.scenarios.airdrop_demo import MIN_GPU_SECONDS, REWARDS, run_airdrop_demo
from l2gpu.zk.r1cs import read_header


def run() -> dict[str, Any]:
    """Measure the suite."""
    accounts = int(os.environ.get("L2GPU_BENCH_AIRDROP_ACCOUNTS", "400"))
    claims = int(os.environ.get("L2GPU_BENCH_AIRDROP_CLAIMS", "10"))
    chain = start_embedded_chain()
    with tempfile.TemporaryDirectory(prefix="l2gpu-bench-airdrop-") as scratch:
        folder = Path(scratch)
        result = run_airdrop_demo(folder, accounts=accounts, claims=claims, chain=chain)
        published = PublishedAirdrop.read(folder / "airdrop" / PUBLISHED)
        report = eligibility_report(
            create_engine(f"sqlite:///{folder / 'market.db'}"), rewards=REWARDS,
            min_gpu_seconds=MIN_GPU_SECONDS,
        )  # fmt: skip
        accounts_seen = [bytes.fromhex(e.account[2:]) for e in report.eligible]
    commitments = [c.to_bytes(32, "big") for t in published.tiers for c in t.leaves]
    txs = _transactions(chain)
    # The fee is claim()'s last argument: the demo's last claim keeps none.
    claims_all = [t for t in txs if t["function"] == "claim"]
    claim_txs = [t for t in claims_all if int.from_bytes(t["calldata"][-32:], "big")]
    unpaid = [t["gas"] for t in claims_all if not int.from_bytes(t["calldata"][-32:], "big")]
    return {
        "suite": "airdrop",
        "accounts_simulated": accounts,
        "leases_simulated": result.leases,
        "eligible": result.eligible,
        "anonymity_set_per_tier": result.anonymity_sets,
        "claims": result.claims,
        "prove_seconds_per_claim_median": round(statistics.median(result.prove_seconds), 3),
        "prove_seconds_per_claim_max": round(max(result.prove_seconds), 3),
        "claim_circuit_constraints": read_header(compile_claim().r1cs).constraints,
        "claim_gas_median": int(statistics.median(t["gas"] for t in claim_txs)),
        "claim_gas_max": max(t["gas"] for t in claim_txs),
        "claim_gas_without_fee": unpaid[0] if unpaid else None,
        "claim_l1_bytes_median": int(statistics.median(t["bytes"] for t in claim_txs)),
        "publish_gas": _one(txs, "publish")["gas"],
        "publish_l1_bytes": _one(txs, "publish")["bytes"],
        "deploy_gas": _one(txs, "deploy_airdrop")["gas"],
        "personal_data_bytes_on_chain": _personal_bytes(txs, accounts_seen, commitments),
        "erased_fields": result.erased_fields,
        "erased_unreadable": result.erased_unreadable,
        **environment(),
    }


def _transactions(chain: Chain) -> list[dict[str, Any]]:
    """Every transaction on the chain with its calldata, logs' bytes, gas and size."""
    w3: Any = chain.w3
    selectors: dict[bytes, str] = {
        bytes(w3.keccak(text="publish(uint256[],uint256[],uint256[])")[:4]): "publish",
        bytes(
            w3.keccak(
                text="claim(uint256[2],uint256[2][2],uint256[2],uint256[2],uint256,address,uint256)"
            )[:4]
        ): "claim",
        bytes(w3.keccak(text="sweep()")[:4]): "sweep",
    }
    out = []
    for number in range(1, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            # JSON-RPC names the calldata "input", eth-tester "data".
            data = bytes(tx["input"] if "input" in tx else tx["data"])
            # An airdrop deploys one contract: its Airdrop.
            name = selectors.get(bytes(data[:4]), "other") if tx["to"] else "deploy_airdrop"
            logs = b"".join(
                b"".join(bytes(t) for t in log["topics"]) + bytes(log["data"])
                for log in receipt["logs"]
            )
            out.append({
                "function": name, "calldata": data, "logs": logs,
                "gas": int(receipt["gasUsed"]), "bytes": signed_tx_bytes(w3, tx),
            })  # fmt: skip
    return out


def _one(txs: list[dict[str, Any]], function: str) -> dict[str, Any]:
    found = [t for t in txs if t["function"] == function]
    if len(found) != 1:
        raise RuntimeError(f"expected one {function} transaction, found {len(found)}")
    return found[0]


def _personal_bytes(
    txs: list[dict[str, Any]], accounts: list[bytes], commitments: list[bytes]
) -> int:
    """Bytes of eligible accounts' addresses or registered commitments found anywhere in
    the chain's calldata and logs."""
    found = 0
    for tx in txs:
        for blob in (tx["calldata"], tx["logs"]):
            for needle in (*accounts, *commitments):
                found += blob.count(needle) * len(needle)
    return found
