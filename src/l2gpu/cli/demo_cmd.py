"""``l2gpu demo``: the system as far as it has been built, on the embedded defaults.

Stage 1 (foundation): start the L1, build and deploy contracts.
Stage 2 (channels): a renter streams per-second vouchers to a provider over an
L1 payment channel; the provider's payee checks each one and stores the best;
the renter then tries to close with a stale voucher while the provider is
offline, a watcher answers, and after the challenge period (time travel, no
waiting) the channel settles. Later stages put the channel inside the rollup.
Stage 3 (market): the API, a provider agent with a declared inventory, and a
renter who rents and runs a real numpy training job paid every second
(:mod:`l2gpu.cli.demo_market`).
"""

from __future__ import annotations

import tempfile
import time
from typing import Annotated, Any

import typer
import vyper
from rich.console import Console

from l2gpu.cli.demo_hybrid import run_hybrid
from l2gpu.cli.demo_market import Parties, hybrid_market, market_stage
from l2gpu.clock import SimulatedClock
from l2gpu.config import Settings
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.stream import PayeeState, ServiceState
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Seconds, Timestamp, Wei, format_wei
from l2gpu.db import open_database
from l2gpu.l1 import NotADevChain, open_chain
from l2gpu.payments.channel_check import ChannelCheck
from l2gpu.payments.manager import ChannelManagerClient
from l2gpu.payments.payee import Payee, stream_service
from l2gpu.payments.payer import Payer
from l2gpu.payments.rails import L1ChannelRail
from l2gpu.payments.store import VoucherStore
from l2gpu.payments.watcher import ChannelWatcher

NEXT_STAGES = [
    "zk validity proofs, Plasma and shards as settlement modes beside channel-l1 and hybrid",
]
LEASE_SECONDS = 30
PRICE_PER_SECOND = Wei(10**14)  # 0.0001 ETH per GPU-second (0.36 ETH per hour)
CHALLENGE_PERIOD = Seconds(3600)


def demo(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only the summary.")] = False,
) -> None:
    """Run the main flow on the embedded defaults: per-second payments over a channel."""
    settings: Settings = ctx.obj
    out = Console(highlight=False, quiet=quiet, soft_wrap=True)
    if settings.settlement == "hybrid":
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
        typer.echo(summary)
        typer.echo(market_summary(market))
        _next_stages(out)
        return
    if settings.settlement != "channel-l1":
        raise L2gpuError(
            f"the demo has no '{settings.settlement}' settlement yet",
            "use L2GPU_SETTLEMENT=hybrid (default) or channel-l1",
        )
    started = time.perf_counter()
    out.print("[bold]l2gpu demo[/bold] - a lease paid every second over an L1 payment channel")

    chain = open_chain(settings)
    if len(chain.accounts) < 3:
        raise L2gpuError(
            f"the demo needs three funded accounts and {chain.description} offers "
            f"{len(chain.accounts)}",
            "run it on the embedded chain (unset L2GPU_L1_RPC)",
        )
    deployer, renter_account, watcher_account = (
        chain.accounts[0],
        chain.accounts[1],
        chain.accounts[3],
    )
    renter = PrivateKey(bytes(renter_account.key))
    provider = PrivateKey(bytes(chain.accounts[2].key))
    out.print(f"  L1        {chain.description}, chain id {chain.chain_id}")

    manager = ChannelManagerClient.deploy(chain, deployer, cache_dir=settings.cache_dir)
    out.print(f"  deploy    ChannelManager at {manager.address} (vyper {vyper.__version__})")

    deposit = Wei(PRICE_PER_SECOND * LEASE_SECONDS * 2)
    params = ChannelParams(renter.address, provider.address, challenge_period=CHALLENGE_PERIOD)
    start = chain.timestamp()
    opened = manager.apply(
        ci.Open(renter.address, start, params, deposit, Timestamp(start + 3600), deposit),
        renter_account,
    )
    out.print(f"  open      channel {str(params.id)[:18]}... deposit {format_wei(deposit)}, "
              f"gas {opened.gas_used:,}")  # fmt: skip

    # The lease runs for LEASE_SECONDS of simulated time: one voucher per second.
    clock = SimulatedClock(start)
    payer = Payer(renter, manager.domain, params.id, price_per_second=PRICE_PER_SECOND,
                  cap=deposit, started_at=start, clock=clock)  # fmt: skip
    # The embedded chain starts afresh each run, with the same addresses: a channel id
    # can recur, so the demo keeps its vouchers in a database of its own.
    workdir = tempfile.TemporaryDirectory(prefix="l2gpu-demo-")
    store = VoucherStore(open_database(f"sqlite:///{workdir.name}/vouchers.db"))
    payee = Payee(
        PayeeState(params.id, renter.address, manager.domain, deposit, PRICE_PER_SECOND),
        store,
        manager=manager.address,
    )
    vouchers = stream_service(payer, payee, clock, LEASE_SECONDS)
    assert payee.service == ServiceState.RUNNING
    best = payee.state.best_amount
    out.print(f"  stream    {LEASE_SECONDS} s of GPU time, {vouchers} vouchers signed and checked "
              f"off chain; best {format_wei(best)}; lag {payee.state.lag_seconds} s")  # fmt: skip

    stale = Wei(best // 3)
    closing = manager.apply(ci.CloseByRenter(renter.address, start, params, stale), renter_account)
    out.print(f"  cheat     renter closes conceding only {format_wei(stale)} while the provider is "
              f"offline (gas {closing.gas_used:,})")  # fmt: skip
    answers = ChannelWatcher(manager, store, watcher_account).run_once()
    out.print(f"  watch     a watcher answers with the provider's best voucher "
              f"(gas {sum(r.gas_used for r in answers):,})")  # fmt: skip
    try:
        chain.time_travel(CHALLENGE_PERIOD + 1)
    except NotADevChain as exc:
        raise L2gpuError(exc.what, "run the demo on the embedded chain") from exc
    settled = manager.apply(ci.Settle(renter.address, start, params), watcher_account)
    paid = settled.event("ChannelSettled").args
    out.print(f"  settle    after the {CHALLENGE_PERIOD // 3600} h challenge period: provider "
              f"{format_wei(paid['provider_payout'])}, renter refund "
              f"{format_wei(paid['renter_payout'])}")  # fmt: skip

    l1_gas = (
        opened.gas_used + closing.gas_used + settled.gas_used + sum(r.gas_used for r in answers)
    )
    l1_bytes = (
        opened.tx_bytes + closing.tx_bytes + settled.tx_bytes + sum(r.tx_bytes for r in answers)
    )
    out.print("[bold]market[/bold] - offers, search, a lease running a real job, paid per second")
    salts = iter([b"\x06" * 32])
    parties = Parties(
        chain.chain_id,
        renter,
        provider,
        L1ChannelRail(manager, renter_account, salt=lambda: next(salts)),
        L1ChannelRail(manager, chain.accounts[2]),
        ChannelCheck(manager=manager),
    )
    market = market_stage(settings, parties, out)
    elapsed = time.perf_counter() - started
    typer.echo(
        f"lease of {LEASE_SECONDS} s paid with {vouchers} vouchers; provider got "
        f"{paid['provider_payout']} wei of {best} wei owed; L1 gas {l1_gas:,}, "
        f"L1 bytes {l1_bytes:,}; L1 block {chain.block_number()}; took {elapsed:.1f} s"
    )
    typer.echo(market_summary(market))
    _next_stages(out)


def market_summary(market: dict[str, Any]) -> str:
    """The market stage's one-line summary."""
    return (
        f"market lease over {market['settlement']}: {market['lease_seconds']} s on 2 GPUs = "
        f"{market['gpu_seconds']} "
        f"GPU-seconds billed; paid to the provider {market['provider_payout']} wei, refunded "
        f"to the renter {market['renter_refund']} wei; {_rail_cost(market)}; "
        f"job running {market['lease_start_s']:.2f} s after rent; "
        f"checkpoint {market['checkpoint']}; market stage {market['wall_s']:.1f} s"
    )


def _rail_cost(market: dict[str, Any]) -> str:
    if market["settlement"] == "hybrid":  # L2 transactions; their batches are shared
        return (f"L2 transactions {market['l1_bytes']:,} bytes, no L1 transaction of "
                "their own (per-lease L1 cost: l2gpu bench l1cost)")  # fmt: skip
    return f"L1 gas {market['l1_gas']:,}, L1 bytes {market['l1_bytes']:,}"


def _next_stages(out: Console) -> None:
    out.print("\nWhat later stages add to this demo:")
    for line in NEXT_STAGES:
        out.print(f"  - {line}")
