"""``l2gpu demo``: the system as far as it has been built, on the embedded defaults.

With the ``hybrid`` settlement (the default): a lease paid every second over a
channel inside the rollup, then a fraud round (:mod:`l2gpu.scenarios.hybrid`); then
the market on a rollup node of its own (:mod:`l2gpu.scenarios.market`).

With ``zk``: the market on a zk rollup of its own (:mod:`l2gpu.scenarios.zk_market`):
the lease's channel lives in the zk ledger, every batch is proven with Groth16 and
verified on L1.

With ``plasma``: the market on a Plasma child chain of its own
(:mod:`l2gpu.scenarios.plasma_market`): the lease's vouchers are transfers of the
renter's coins, the provider's close puts the best one in a block, and the provider
then exits its coins to L1.

With ``channel-l1``: the foundation (start the L1, build and deploy contracts), a
lease streamed over an L1 payment channel with a stale close that a watcher answers
(:mod:`l2gpu.scenarios.stream`), then the market on the same chain.

Each scenario narrates on a rich console and returns its figures; :func:`run_demo`
returns the summary lines that ``l2gpu demo`` prints last.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from l2gpu.config import Settings
from l2gpu.core.errors import L2gpuError
from l2gpu.designs import RailParts, lease_rail
from l2gpu.l1 import open_chain
from l2gpu.payments.channel_check import ChannelCheck
from l2gpu.scenarios.hybrid import run_hybrid
from l2gpu.scenarios.market import Parties, hybrid_market, market_stage
from l2gpu.scenarios.stream import LEASE_SECONDS, channel_lease

NEXT_STAGES = [
    "leases between zk shards: virtual channels in the zk circuits (money already "
    "moves between zk shards, both ways; leases across shards run on optimistic ones)",
]


def run_demo(settings: Settings, out: Console) -> list[str]:
    """Run the demo of ``settings.settlement`` (narrated on ``out``); return its
    one-line summaries.

    Raises L2gpuError for a settlement the demo does not have, or an L1 it cannot
    run on (the demo needs the embedded chain's funded accounts and time travel).
    """
    if settings.settlement == "hybrid":
        return _hybrid_demo(settings, out)
    if settings.settlement == "channel-l1":
        return _channel_l1_demo(settings, out)
    if settings.settlement == "zk":
        return _zk_demo(settings, out)
    if settings.settlement == "plasma":
        return _plasma_demo(settings, out)
    if settings.settlement == "sharded":
        return _sharded_demo(settings, out)
    raise L2gpuError(
        f"the demo has no '{settings.settlement}' settlement yet",
        "use L2GPU_SETTLEMENT=hybrid (default), zk, plasma, sharded or channel-l1",
    )


def _plasma_demo(settings: Settings, out: Console) -> list[str]:
    from l2gpu.scenarios.plasma_market import exit_to_l1, plasma_market

    out.print("[bold]l2gpu demo[/bold] - the market on a Plasma child chain: a lease paid "
              "every second in coins, one root per block on L1 (settlement: plasma)")  # fmt: skip
    plasma = plasma_market(settings, out)
    try:
        market = market_stage(settings, plasma.parties, out)
        exited = exit_to_l1(plasma, out)
    finally:
        plasma.close()
    return [market_summary(market), exited]


def _sharded_demo(settings: Settings, out: Console) -> list[str]:
    from l2gpu.scenarios.sharded_market import hub_claimed, sharded_market

    out.print("[bold]l2gpu demo[/bold] - the market across two rollup shards: a renter on "
              "one pays a provider on the other every second through a hub "
              "(settlement: sharded)")  # fmt: skip
    sharded = sharded_market(settings, out)
    try:
        market = market_stage(settings, sharded.parties, out)
        claimed = hub_claimed(sharded)
    finally:
        sharded.close()
    return [market_summary(market), claimed]


def _zk_demo(settings: Settings, out: Console) -> list[str]:
    from l2gpu.scenarios.zk_market import zk_market

    out.print("[bold]l2gpu demo[/bold] - the market on a zk rollup: a lease paid every second "
              "over a channel in the zk ledger, every batch proven (settlement: zk)")  # fmt: skip
    zk = zk_market(settings, out)
    try:
        market = market_stage(settings, zk.parties, out)
        proven = _wait_proven(zk.node)
    finally:
        zk.close()
    return [market_summary(market), proven]


def _wait_proven(node: Any, seconds: float = 600.0) -> str:
    """Wait until every sealed batch is proven and accepted on L1; say how it went."""
    deadline = time.monotonic() + seconds
    while True:
        status = node.status()
        if status["batches_posted"] == status["batches_sealed"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)  # the node proves and posts on its own thread
    return (
        f"zk rollup: {status['batches_posted']} of {status['batches_sealed']} batches "
        f"proven and accepted on L1; last proof {status['last_proof_seconds']} s; "
        f"state root {str(status['state_root'])[:16]}…"
    )


def _hybrid_demo(settings: Settings, out: Console) -> list[str]:
    out.print("[bold]l2gpu demo[/bold] - a lease paid every second over a channel "
              "inside the rollup (settlement: hybrid)")  # fmt: skip
    summary = run_hybrid(settings, out)
    out.print("[bold]market[/bold] - offers, search, a lease running a real job, paid "
              "per second over a channel inside the rollup")  # fmt: skip
    hybrid = hybrid_market(settings, out)
    try:
        market = market_stage(settings, hybrid.parties, out)
    finally:
        hybrid.close()
    return [summary, market_summary(market)]


def _channel_l1_demo(settings: Settings, out: Console) -> list[str]:
    started = time.perf_counter()
    out.print("[bold]l2gpu demo[/bold] - a lease paid every second over an L1 payment channel")
    chain = open_chain(settings)
    lease = channel_lease(settings, chain, out)
    out.print("[bold]market[/bold] - offers, search, a lease running a real job, paid per second")
    salts = iter([b"\x06" * 32])
    parties = Parties(
        chain.chain_id,
        lease.renter,
        lease.provider,
        lease_rail(
            "channel-l1",
            RailParts(
                account=lease.renter_account,
                manager=lease.manager,
                options=(("salt", lambda: next(salts)),),
            ),
        ),
        lease_rail("channel-l1", RailParts(account=lease.provider_account, manager=lease.manager)),
        ChannelCheck(manager=lease.manager),
    )
    market = market_stage(settings, parties, out)
    elapsed = time.perf_counter() - started
    summary = (
        f"lease of {LEASE_SECONDS} s paid with {lease.vouchers} vouchers; provider got "
        f"{lease.provider_payout} wei of {lease.owed} wei owed; L1 gas {lease.l1_gas:,}, "
        f"L1 bytes {lease.l1_bytes:,}; L1 block {chain.block_number()}; took {elapsed:.1f} s"
    )
    return [summary, market_summary(market)]


def market_summary(market: dict[str, Any]) -> str:
    """The market stage's one-line summary."""
    return (
        f"market lease over {market['settlement']}: {market['lease_seconds']} s on 2 GPUs = "
        f"{market['gpu_seconds']} "
        f"GPU-seconds billed; paid to the provider {market['provider_payout']} wei, refunded "
        f"to the {'hub' if market['settlement'] == 'sharded' else 'renter'} "
        f"{market['renter_refund']} wei; {_rail_cost(market)}; "
        f"job running {market['lease_start_s']:.2f} s after rent; "
        f"checkpoint {market['checkpoint']}; market stage {market['wall_s']:.1f} s"
    )


def _rail_cost(market: dict[str, Any]) -> str:
    if market["settlement"] == "zk":  # zk operations; their proven batches are shared
        return (f"zk ledger operations {market['l1_bytes']:,} bytes of public data, no L1 "
                "transaction of their own")  # fmt: skip
    if market["settlement"] == "plasma":  # a child-chain transfer; its block's root is shared
        return "one child-chain transfer, no L1 transaction of its own (a 32-byte root a block)"
    if market["settlement"] in ("hybrid", "sharded"):  # L2 transactions; batches are shared
        return (f"L2 transactions {market['l1_bytes']:,} bytes, no L1 transaction of "
                "their own (per-lease L1 cost: l2gpu bench l1cost)")  # fmt: skip
    return f"L1 gas {market['l1_gas']:,}, L1 bytes {market['l1_bytes']:,}"


def print_next_stages(out: Console) -> None:
    """Say what later stages add to the demo."""
    out.print("\nWhat later stages add to this demo:")
    for line in NEXT_STAGES:
        out.print(f"  - {line}")
