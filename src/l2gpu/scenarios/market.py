"""The market scenario of ``l2gpu demo``: the GPU market end to end.

The market API runs under uvicorn on loopback; a provider agent with a declared
inventory (two RTX 4090s, marked declared) publishes an offer; a renter searches,
opens a channel for the lease's maximum cost through its rail (inside the rollup
by default, through a rollup node served on loopback; on L1 with
``L2GPU_SETTLEMENT=channel-l1``), rents, and pays every second for the seconds
metered while a real numpy training job runs and writes a checkpoint. The job
ends, the agent closes the channel with the best voucher, the rest returns to the
renter. The agent and the renter take turns in one loop (an embedded chain is
not shared across threads); time is the wall clock.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from l2gpu.agent.agent import ProviderAgent
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover
from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.client import MarketClient
from l2gpu.clock import system_clock
from l2gpu.config import Settings
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import voucher_domain
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.types import Address, Wei, format_wei
from l2gpu.db import open_database
from l2gpu.payments.channel_check import ChannelCheck
from l2gpu.payments.rails import ChannelRail
from l2gpu.payments.store import VoucherStore
from l2gpu.renter import LeasePayer
from l2gpu.serving.loopback import free_loopback_port

PRICE_PER_GPU_SECOND = Wei(10**13)  # 0.00001 ETH per GPU-second
LEASE_SECONDS = 120
TRAIN_PY = """\
import time
import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(4096, 32))
true_w = rng.normal(size=32)
y = X @ true_w + 0.1 * rng.normal(size=4096)
w = np.zeros(32)
for epoch in range(1, 7):
    for _ in range(100):
        w -= 0.05 * X.T @ (X @ w - y) / len(y)
    print(f"epoch {epoch}  loss {np.mean((X @ w - y) ** 2):.5f}", flush=True)
    time.sleep(0.8)
np.savez("checkpoint.npz", w=w)
print("checkpoint written: checkpoint.npz", flush=True)
"""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parties:
    """The renter and the provider, each with its key and its rail."""

    chain_id: int
    renter: PrivateKey
    provider: PrivateKey
    renter_rail: ChannelRail
    provider_rail: ChannelRail
    # What the market reads a lease's channel on before the lease takes the offer
    channels: ChannelCheck | None = None


def market_stage(settings: Settings, parties: Parties, out: Console) -> dict[str, Any]:
    """Run the market flow; return the figures for the summary."""
    started = time.perf_counter()
    renter, provider = parties.renter, parties.provider
    folder = Path(tempfile.mkdtemp(prefix="l2gpu-demo-market-"))
    try:
        port = free_loopback_port()  # sign-in messages name the origin the API is served at
        service = MarketService(
            open_database(f"sqlite:///{folder / 'market.db'}"),
            chain_id=parties.chain_id,
            origin=f"http://127.0.0.1:{port}",
            channels=parties.channels,
        )
        server, url = _serve(service, port)
        out.print(f"  api       market API on {url} (OpenAPI at {url}/docs)")
        agent = ProviderAgent(
            MarketClient(url, provider),
            provider,
            LocalBackend(folder / "jobs"),
            discover("RTX_4090:2", workdir=folder),
            VoucherStore(open_database(f"sqlite:///{folder / 'agent.db'}")),
            system_clock,
            parties.chain_id,
            rail=parties.provider_rail,
        )
        offer = agent.publish(
            agent.offer_terms(PRICE_PER_GPU_SECOND, location="EU", expires_at=system_clock() + 3600)
        )[0]
        out.print(
            f"  provider  agent with a declared inventory (2 x RTX_4090, marked declared) "
            f"offers {offer.num_gpus} GPUs at {format_wei(PRICE_PER_GPU_SECOND)}/GPU-s"
        )
        client = MarketClient(url, renter)
        found = client.search("gpu_name=RTX_4090 num_gpus>=2 location in [EU,US]", sort="price")
        chosen = found.offers[0]
        out.print(
            f"  search    'gpu_name=RTX_4090 num_gpus>=2 location in [EU,US]' -> "
            f"{len(found.offers)} offer, {chosen.price_per_hour_eth} ETH/h"
        )
        deposit = Wei(chosen.price_per_gpu_second * chosen.num_gpus * LEASE_SECONDS)
        rail = parties.renter_rail
        opened = rail.open(
            Address.from_hex(chosen.provider), deposit, lifetime=LEASE_SECONDS + 3600
        )
        lease = client.rent(
            chosen.id,
            command="python train.py",
            duration=LEASE_SECONDS,
            channel=opened.description,
            files={"train.py": TRAIN_PY},
        )
        lease_id = lease.id
        cost = _cost(rail.settlement, opened.gas_used, opened.tx_bytes)
        out.print(
            f"  rent      lease {lease_id}: up to {LEASE_SECONDS} s, channel deposit "
            f"{format_wei(opened.deposit)} {cost}"
        )
        domain = voucher_domain(lease.channel.to_core())
        # a routed (sharded) lease pays with the hub's vouchers, traded for the renter's
        signer = rail.sign if rail.settlement == "sharded" else None  # type: ignore[attr-defined]
        payer = LeasePayer(client, renter, lease, domain, clock=system_clock, signer=signer)
        info, after, rented_at, running_at = lease, 0, time.perf_counter(), None
        deadline = time.monotonic() + 90
        closing: threading.Thread | None = None
        while not (payer.done and not agent._to_settle) and time.monotonic() < deadline:
            agent.step()
            info = payer.step()
            if payer.done and closing is None:  # the renter agrees to a cooperative close
                closing = threading.Thread(
                    target=_cosign_close,
                    args=(rail, opened.description, payer.paid),
                    daemon=True,
                )
                closing.start()
            if running_at is None and info.status is not LeaseStatus.REQUESTED:
                running_at = time.perf_counter()
            for chunk in client.logs(lease_id, after).chunks:
                after = chunk.seq
                for line in chunk.text.splitlines():
                    out.print(f"  job       | {line}")
            time.sleep(0.2)
        if not agent.settlements:
            raise L2gpuError("the demo lease did not settle in time", "run it again; report it")
        settled = agent.settlements[0]
        checkpoint = folder / "jobs" / f"lease-{lease_id}" / "checkpoint.npz"
        kept = settings.data_dir / "demo" / "checkpoint.npz"
        if checkpoint.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(checkpoint, kept)
        out.print(
            f"  end       lease {info.status.value} ({info.reason}); "
            f"{info.billed_gpu_seconds} GPU-seconds metered"
        )
        out.print(
            f"  settle    {CLOSES[settled.how]}: provider "
            f"{format_wei(settled.provider_payout)}, renter refund "
            f"{format_wei(settled.renter_payout)} "
            f"{_cost(rail.settlement, settled.gas_used, settled.tx_bytes)}"
        )
        server.should_exit = True
        if closing is not None:  # settled: the renter's side has nothing left to do
            closing.join(timeout=COSIGN_JOIN_S)
        return {
            "lease_seconds": info.metered_seconds,
            "gpu_seconds": info.billed_gpu_seconds,
            "provider_payout": settled.provider_payout,
            "renter_refund": settled.renter_payout,
            "settlement": rail.settlement,
            "l1_gas": opened.gas_used + settled.gas_used,
            "l1_bytes": opened.tx_bytes + settled.tx_bytes,
            "lease_start_s": (running_at or time.perf_counter()) - rented_at,
            # the renter's vouchers to the market over loopback, each checked there
            "voucher_ms_loopback": [round(1000 * t, 2) for t in payer.pay_seconds],
            "checkpoint": str(kept) if kept.exists() else None,
            "wall_s": time.perf_counter() - started,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


COSIGN_JOIN_S = 10.0
"""How long the stage waits for the renter's co-signing thread once the lease settled."""


def _cosign_close(rail: Any, description: Any, paid: int) -> None:
    """The renter's side of a cooperative close, in its own thread. The provider may
    have closed with the best voucher instead (the lease is settled either way), and the
    nodes may be stopped once the stage returns: a refusal then is logged, never left
    to the thread's excepthook as a traceback on the user's terminal."""
    try:
        rail.cosign_close(description, paid)
    except L2gpuError as exc:
        log.info("the renter's co-signed close was not used: %s", exc.what)


CLOSES = {
    "cooperative": "renter and provider close together",
    "provider": "provider closes with the best voucher",
}


def _cost(settlement: str, gas: int, tx_bytes: int) -> str:
    if settlement == "plasma" and tx_bytes == 0:
        return "(a lock the Plasma operator holds: nothing on L1)"
    if settlement == "plasma":
        return f"(a child-chain transfer of {tx_bytes} bytes; L1 gets its block's 32-byte root)"
    if settlement == "zk":
        return f"(a zk ledger operation: {tx_bytes} bytes of a proven batch, no L1 gas of its own)"
    if settlement == "sharded":
        return f"(L2 transactions on the renter's and the provider's shards: {tx_bytes} bytes)"
    if settlement == "hybrid":
        return f"(an L2 transaction: {tx_bytes} bytes in a batch, no L1 gas of its own)"
    return f"(an L1 transaction: gas {gas:,})"


def _serve(service: MarketService, port: int) -> tuple[uvicorn.Server, str]:
    from l2gpu.serving.loopback import serve_on_loopback

    server, url = serve_on_loopback(create_app(service), "market API", port)
    return server, url


@dataclass
class HybridMarket:
    """A fresh embedded L1 with a Rollup, its node served on loopback, and the
    renter's and provider's rails into it (each has deposited 1 ETH)."""

    parties: Parties
    node: Any  # l2gpu.scenarios.embedded_rollup.EmbeddedNode

    def close(self) -> None:
        """Stop the node."""
        self.node.stop()


def hybrid_market(settings: Settings, out: Console) -> HybridMarket:
    """Deploy a Rollup on a fresh embedded chain, serve its node, deposit for both parties."""
    from l2gpu.designs import RailParts, lease_rail
    from l2gpu.l1 import open_chain
    from l2gpu.scenarios.embedded_rollup import embedded_rollup

    # A chain of its own: the lease above moved its chain's clock by a week.
    chain = open_chain(settings)
    renter_l1, provider_l1 = chain.accounts[1], chain.accounts[2]
    renter, provider = PrivateKey(bytes(renter_l1.key)), PrivateKey(bytes(provider_l1.key))
    served = embedded_rollup(chain, [renter_l1, provider_l1], cache_dir=settings.cache_dir)
    out.print(f"  rollup    node for Rollup {served.node.rollup.address} on {served.url}; renter "
              "and provider deposited 1 ETH each on L1")  # fmt: skip
    clock = system_clock  # the rails' clock is the wall clock here
    parties = Parties(
        chain.chain_id,
        renter,
        provider,
        lease_rail("hybrid", RailParts(node_url=served.url, key=renter, clock=clock)),
        lease_rail("hybrid", RailParts(node_url=served.url, key=provider, clock=clock)),
        ChannelCheck(node_url=served.url),
    )
    return HybridMarket(parties, served)
