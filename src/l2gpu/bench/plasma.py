"""The ``plasma`` suite: what Plasma's blocks and exit games cost on L1.

- **Exit games** (on the embedded chain, the contract and its specification in
  lockstep, :mod:`l2gpu.scenarios.plasma_arena`): the gas of each call, read from
  the receipts of the attack scenarios (each a real exit, challenge, response,
  finalization), medians per call.
- **Blocks**: the L1 bytes (the signed transaction) and gas of one block's root.
- **Proofs**: the bytes a client keeps per coin range per block (the transfer, or
  none for a gap, and 65 bytes per level of the sum tree), for blocks of 1 to
  10,000 transfers.
- **Finalizing 100 exits**: one call each, and 32 per call (``finalize_exits``).
- **The operator disappears**: a hundred users, a withheld block; the L1 gas for
  every one of them to start and finalize its exits, and the simulated time from
  the withholding to the last payout.
- **Per paid GPU-hour**: the ``plasma`` row of the ``designs`` suite (the operator
  as a process on anvil, the Philly-drawn lease trace), on ``leases`` leases.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from l2gpu.bench import environment
from l2gpu.bench.l1_cost import signed_tx_bytes
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.plasma.history import block_proof
from l2gpu.core.plasma.transactions import Transfer, plasma_domain, sign_transfer
from l2gpu.core.types import Address, ChainId
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.scenarios.plasma_arena import PlasmaArena
from l2gpu.scenarios.plasma_story import Story

SCENARIOS = (
    """
    given alice deposits 100
    and alice pays bob coins 0-60
    and the operator seals a block
    and bob pays carol coins 0-60
    and the operator seals a block
    when bob exits with block 1
    and carol watches
    and carol exits
    and alice exits
    and the exit period passes
    and dave finalizes the exits
    """,
    """
    given alice deposits 100
    and alice pays bob coins 0-100
    and the operator seals a block
    when alice double-spends coins 0-100 to mallory naming block 0
    and the operator seals a block
    and mallory exits with block 2
    and bob watches
    """,
    """
    given alice deposits 100
    and alice pays bob coins 0-100
    and the operator seals a block
    and bob pays carol coins 0-100
    and the operator seals a block
    and the operator forges coins 0-100 from mallory to mallory naming block 2
    and the operator seals a block
    and the operator forges coins 0-100 from mallory to dave naming block 3
    and the operator seals a block
    when dave exits with block 4
    and watcher watches
    and carol exits
    and mallory challenges exit 1 with the deposit
    and 8 days pass
    and carol answers the challenges
    and dave cannot answer the challenges
    and watcher finalizes the exits
    and watcher settles the challenges
    """,
    """
    given alice deposits 100
    and alice pays bob coins 0-100
    and the operator seals a block
    and bob pays carol coins 0-100
    and the operator seals a block
    when carol exits
    and watcher watches
    """,
)
NAMES = ["alice", "bob", "carol", "dave", "mallory", "watcher"]
CALLS = {
    "DepositCoins": "deposit",
    "SubmitBlock": "submit_block",
    "StartDepositExit": "start_deposit_exit",
    "StartExit": "start_exit",
    "ChallengeSpent": "challenge_spent",
    "ChallengeDoubleSpend": "challenge_double_spend",
    "ChallengeHistory": "challenge_history",
    "RespondHistory": "respond_history",
    "FinalizeExit": "finalize_exit",
    "SettleChallenge": "settle_challenge",
}


def exit_game_gas() -> dict[str, Any]:
    """The median gas of each contract call over the attack scenarios."""
    chain = start_embedded_chain()
    gas: dict[str, list[int]] = {}
    for text in SCENARIOS:
        snapshot = chain.snapshot()
        arena = PlasmaArena(chain, NAMES)
        Story(arena).run(text)
        for name, values in arena.gas.items():
            gas.setdefault(CALLS.get(name, name), []).extend(values)
        chain.revert(snapshot)
    return {name: int(statistics.median(values)) for name, values in sorted(gas.items())}


def block_cost() -> dict[str, Any]:
    """L1 bytes and gas of one block root, from its signed transaction."""
    chain = start_embedded_chain()
    arena = PlasmaArena(chain, ["alice", "bob"])
    arena.deposit("alice", 1000)
    sizes, calldata = [], []
    for i in range(5):
        assert arena.pay("alice", "bob", 100 * i, 100 * i + 100) is None
        arena.seal()
        tx: Any = chain.w3.eth.get_block("latest", full_transactions=True)["transactions"][0]
        sizes.append(signed_tx_bytes(chain.w3, tx))
        calldata.append(len(bytes(tx.get("input", tx.get("data", b"")))))
    return {
        "block_root_l1_gas_median": int(statistics.median(arena.gas["SubmitBlock"])),
        "block_root_l1_bytes_median": int(statistics.median(sizes)),
        "block_root_calldata_bytes": int(statistics.median(calldata)),
    }


def proof_sizes() -> dict[str, int]:
    """Bytes kept per coin range per block, by the number of transfers in the block."""
    domain = plasma_domain(ChainId(1), Address(b"\x01" * 20))
    key = PrivateKey((7).to_bytes(32, "big"))
    out = {}
    for count in (1, 100, 10_000):
        transfers = [
            sign_transfer(key, domain, Transfer(10 * i, 10 * i + 5, key.address, 0))
            for i in range(count)
        ]
        proof = block_proof(1, transfers, 0, 5)
        gap = block_proof(1, transfers, 5, 10)  # coins no transfer moved: a gap's path
        out[f"transfers_{count}_inclusion_bytes"] = proof.size
        out[f"transfers_{count}_exclusion_bytes"] = gap.size
    return out


def mass_exit(users: int = 100) -> dict[str, Any]:
    """Everyone exits when the operator withholds a block; gas and simulated time."""
    chain = start_embedded_chain()
    names = [f"user{i}" for i in range(users)]
    arena = PlasmaArena(chain, [*names, "finisher"])
    for i, name in enumerate(names):
        arena.deposit(name, 10**15 + i)
    for d in arena.deposits:
        arena.forge("finisher", "finisher", d.start, d.end, 0)
    arena.seal(withhold=True)
    withheld_at = arena.now
    before = {k: len(v) for k, v in arena.gas.items()}
    for name in names:
        arena.exit(name)
    arena.pass_time(arena.spec.rules.exit_period + 1)
    singles = []
    ids = list(range(len(arena.spec.exits)))
    for exit_id in ids[: users // 2]:
        singles.append(arena.finalize(exit_id).gas)
    batched = []
    rest = ids[users // 2 :]
    for at in range(0, len(rest), 32):
        batched.append(
            (len(rest[at : at + 32]), arena.finalize_many(rest[at : at + 32], "finisher").gas)
        )
    spent = {k: sum(v[before.get(k, 0) :]) for k, v in arena.gas.items()}
    return {
        "users": users,
        "exits": len(ids),
        "all_paid": all(e.status == "finalized" for e in arena.spec.exits),
        "l1_gas_total": sum(spent.values()),
        "l1_gas_per_user": sum(spent.values()) // users,
        "simulated_s_from_withholding_to_last_payout": arena.now - withheld_at,
        "finalize_one_per_call_gas_median": int(statistics.median(singles)),
        "finalize_32_per_call_gas_per_exit": round(
            sum(g for _, g in batched) / sum(n for n, _ in batched)
        ),
        "finalize_100_exits_gas_one_per_call": int(statistics.median(singles)) * 100,
        "finalize_100_exits_gas_32_per_call": round(
            sum(g for _, g in batched) / sum(n for n, _ in batched) * 100
        ),
    }


def run() -> dict[str, Any]:
    """Measure the suite (``L2GPU_BENCH_PLASMA_LEASES`` leases in the designs row)."""
    from l2gpu.bench.designs import measure_designs

    leases = int(os.environ.get("L2GPU_BENCH_PLASMA_LEASES", "200"))
    designs = measure_designs(leases=leases, designs=("plasma",), wave=40)
    return {
        "suite": "plasma",
        "exit_game_gas": exit_game_gas(),
        **block_cost(),
        "proof_bytes_per_coin_range_per_block": proof_sizes(),
        "operator_disappears": mass_exit(),
        "designs_row": designs["designs"]["plasma"],
        "designs_workload": designs["workload"],
        **environment(),
    }
