"""``l2gpu bench shards``' moves: one transfer between shards on the embedded L1 (in
process), each way.

- the slow path (``relay`` once the source batch is final);
- the fast path (``front`` by a liquidity provider at once);
- the fast path through a liquidity provider's daemon (``l2gpu bridge lp``): the
  move offered over its HTTP API on loopback, fronted once the daemon's own watcher
  has re-executed the source shard's batches from L1 (``move_fast_via_lp_*``).

Each with its L1 gas and signed transaction bytes, and the time from the owner's
signed move to the recipient's credit on the target shard (the target's next batch
included), not counting the challenge window the slow path also waits
(``move_slow_waits_window_s``).

And a virtual channel's payment as the market carries it, over loopback
(``measure_virtual_market_payment``).
"""

from __future__ import annotations

import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from l2gpu.core.errors import L2gpuError


def measure_moves() -> dict[str, Any]:
    """One move between shards each way (see the module's docstring)."""
    from l2gpu.scenarios.shard_world import ETH, ShardWorld

    window = 3600
    world = ShardWorld(2, challenge_window=window)
    alice, bob = world.users_on(0, 1)[0], world.users_on(1, 1)[0]
    provider = world.users_on(1, 2)[1]
    world.deposit(alice, ETH)
    world.deposit(bob, ETH)
    for shard in world.shards:
        world.post(shard)
    target = world.shards[1]
    # The slow path: burn, wait out the window, relay, the target's next batch.
    _, exit_index, batch = world.burn(alice, ETH // 10)
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 10)
    world.chain.time_travel(window + 1)
    started = time.perf_counter()
    relayed = world.relay(move, signature, batch)
    world.post(target)
    slow_s = time.perf_counter() - started
    # The fast path: burn, front at once, the target's next batch.
    _, exit_index, _ = world.burn(alice, ETH // 10)
    fee = ETH // 10_000
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 10, fee)
    started = time.perf_counter()
    fronted = world.bridge.front(world.account(provider), move, signature)
    world.post(target)
    fast_s = time.perf_counter() - started
    via_lp = _through_the_daemon(world, alice, bob, provider, fee)
    if world.balance(target, bob) != ETH + 3 * (ETH // 10) - 2 * fee:
        raise L2gpuError("a move between shards did not arrive whole; the figures are void")
    deposit = world.deposit(bob, ETH // 10)
    return {
        "move_slow_gas": relayed.gas_used,
        "move_slow_l1_bytes": relayed.tx_bytes,
        "move_slow_s_after_window": round(slow_s, 3),
        "move_slow_waits_window_s": int(target.client.contract.call("CHALLENGE_WINDOW")),
        "move_fast_gas": fronted.gas_used,
        "move_fast_l1_bytes": fronted.tx_bytes,
        "move_fast_s": round(fast_s, 3),
        **via_lp,
        "bridge_deposit_gas": deposit.gas_used,
    }


def _through_the_daemon(world: Any, alice: int, bob: int, provider: int,
                        fee: int) -> dict[str, Any]:  # fmt: skip
    """A move offered to a liquidity provider's daemon over HTTP: from the offer to
    the recipient's credit, and the part its check of the source batches took."""
    from l2gpu.core.shards.bridge import message_of
    from l2gpu.core.shards.liquidity import FRONTED, LpTerms
    from l2gpu.liquidity.app import create_app
    from l2gpu.liquidity.client import offer_to_lp
    from l2gpu.liquidity.provider import LiquidityProvider
    from l2gpu.liquidity.records import move_to_json
    from l2gpu.serving.loopback import serve_on_loopback

    eth = 10**18
    folder = Path(tempfile.mkdtemp(prefix="l2gpu-bench-lp-"))
    terms = LpTerms(min_fee_ppm=100, max_move=eth, budget=eth)
    daemon = LiquidityProvider(world.chain, world.bridge, world.account(provider), terms, folder)
    server, url = serve_on_loopback(create_app(daemon), "bench lp API")
    try:
        daemon.step()  # its watchers catch up with the shards' history first
        _, exit_index, _ = world.burn(alice, eth // 10)
        move, signature = world.move(alice, exit_index, 1, bob, eth // 10, fee)
        document = {**move_to_json(move), "signature": "0x" + signature.hex(),
                    "bridge": world.bridge.address.checksum}  # fmt: skip
        started = time.perf_counter()
        offer_to_lp(url, document)
        offered_s = time.perf_counter() - started
        daemon.step()  # reads the new batch, re-executes it, finds the exit, fronts
        checked_s = time.perf_counter() - started - offered_s
        if daemon.state.entries[message_of(move)].state != FRONTED:
            raise L2gpuError("the liquidity provider did not front the move; the figures are void")
        world.post(world.shards[1])
        total_s = time.perf_counter() - started
    finally:
        server.should_exit = True
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "move_fast_via_lp_s": round(total_s, 3),
        "move_fast_via_lp_offer_ms_loopback": round(1000 * offered_s, 1),
        "move_fast_via_lp_check_and_front_s": round(checked_s, 3),
    }


def measure_virtual_market_payment() -> dict[str, Any]:
    """A lease between two shards over a virtual channel, run through the market as
    ``L2GPU_SETTLEMENT=sharded make demo`` runs it (the market's API on loopback, the
    provider's agent, the hub, both shards' nodes on the embedded L1): each of the
    renter's vouchers posted to the market over loopback and checked there against
    the virtual channel's domain, median and p95 (``virtual_payment_ms_loopback_*``)."""
    from rich.console import Console

    from l2gpu.config import Settings
    from l2gpu.scenarios.market import market_stage
    from l2gpu.scenarios.sharded_market import hub_claimed, sharded_market

    folder = Path(tempfile.mkdtemp(prefix="l2gpu-bench-virtual-market-"))
    settings, quiet = Settings(data_dir=folder), Console(file=io.StringIO())
    market = sharded_market(settings, quiet)
    try:
        figures = market_stage(settings, market.parties, quiet)
        hub_claimed(market)
    finally:
        market.close()
        shutil.rmtree(folder, ignore_errors=True)
    took = sorted(figures["voucher_ms_loopback"])
    if not took:
        raise L2gpuError("the market lease paid no voucher; the figures are void")
    return {
        "virtual_payment_ms_loopback_median": round(statistics.median(took), 2),
        "virtual_payment_ms_loopback_p95": took[int(0.95 * len(took))],
        "virtual_payment_loopback_vouchers": len(took),
    }
