"""The ``market`` suite: search and matching over 100,000 offers, the API under load,
lease start time on the local backend, and unpaid seconds when a renter vanishes.

- ``search_p50_ms`` / ``search_p99_ms``: parse a filter, scan, sort and take the
  first 50 over an index of 100,000 offers (a mix of realistic queries; the index
  is built once, as the API caches it between changes).
- ``match_per_s``: renter requests matched to their best 5 offers, one core.
- ``api_rps`` / ``api_p99_ms``: a real uvicorn (one process) on loopback serving
  ``GET /offers`` searches over 1,000 offers, driven by a bounded load generator
  (a fixed number of concurrent connections for a fixed time). The per-client rate
  limit is raised for the run, since every request comes from one address.
- ``lease_start_s``: median time from ``rent`` returning to the lease running,
  with the agent polling the API over HTTP and starting a real process.
- ``max_unpaid_seconds``: a renter stops signing mid-lease (simulated clock); the
  most seconds of work the provider did unpaid before pausing and stopping.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from l2gpu.bench import environment
from l2gpu.core.market.index import OfferIndex
from l2gpu.core.market.matching import RentalRequest, match_indexed
from l2gpu.core.market.query import parse_filter, parse_sort
from l2gpu.core.market.view import OfferView
from l2gpu.core.types import OfferId, Seconds, Wei

OFFERS = 100_000
GRACE = 5
QUERIES = [
    (
        "gpu_name=RTX_4090 num_gpus>=2 gpu_ram>=24 price_per_hour<=0.5 reliability>0.99 "
        "location in [EU,US]",
        "price_per_hour",
    ),
    ("num_gpus>=4 gpu_ram>=40", "-reliability,price"),
    ("gpu_name in [H100,A100] max_duration>=24", "price_per_gpu_hour"),
    ("location=EU declared=false inet>=1000", "-num_gpus"),
    ("", "price"),
    ("price_per_gpu_hour<0.001 cpu_cores>=16 disk>=500", "gpu_name,price"),
]
NAMES = ["RTX_4090", "H100", "A100", "RTX_3090", "L40S", "T4", "A10", "L4"]


def random_offers(count: int, seed: int = 6) -> list[OfferView]:
    """Offers with realistic spreads of model, size, price and place."""
    rng = random.Random(seed)
    return [
        OfferView(
            offer_id=OfferId(i + 1),
            provider=f"0x{rng.randrange(5000):040x}",
            gpu_name=rng.choice(NAMES),
            num_gpus=rng.choice([1, 1, 2, 4, 8]),
            gpu_ram_gb=rng.choice([16, 24, 40, 48, 80]),
            cpu_cores=rng.choice([8, 16, 32, 64]),
            ram_gb=rng.choice([32, 64, 128, 512]),
            disk_gb=rng.choice([100, 500, 2000]),
            bandwidth_mbps=rng.choice([100, 1000, 10_000]),
            location=rng.choice(["EU", "US", "ASIA", "SA", "AF"]),
            price_per_gpu_second=Wei(rng.randrange(10**10, 10**14)),
            min_duration=rng.choice([1, 60, 3600]),
            max_duration=rng.choice([3600, 86_400, 604_800]),
            expires_at=2**40,
            declared=rng.random() < 0.2,
            reliability=rng.choice([1.0, 0.999, 0.995, 0.99, 0.95, 0.8]),
        )
        for i in range(count)
    ]


def measure_search(index: OfferIndex, rounds: int = 50) -> dict[str, float]:
    """Latency of parse + filter + sort + top 50, over the query mix."""
    samples = []
    for _ in range(rounds):
        for query, sort in QUERIES:
            start = time.perf_counter()
            index.search(parse_filter(query), parse_sort(sort), limit=50, now=0)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "search_p50_ms": round(statistics.median(samples), 3),
        "search_p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
    }


def measure_match(index: OfferIndex, count: int = 300) -> float:
    """Requests matched per second (best 5 each)."""
    rng = random.Random(7)
    requests = [
        RentalRequest(
            rng.choice([1, 2, 4]),
            Seconds(rng.choice([600, 3600, 86_400])),
            rng.choice([None, "H100", "RTX_4090"]),
            rng.choice([0, 24, 80]),
            rng.choice([None, Wei(5 * 10**13)]),
            rng.choice([0.0, 0.99]),
        )
        for _ in range(count)
    ]
    start = time.perf_counter()
    for request in requests:
        match_indexed(index, request, now=0, limit=5)
    return count / (time.perf_counter() - start)


def serve_for_bench(database_url: str, port: int, offers: int) -> None:
    """Run the API on loopback over ``offers`` random offers (the load test's server)."""
    import uvicorn

    from l2gpu.api.app import create_app
    from l2gpu.api.service import MarketService
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.market.offers import OfferTerms, sign_offer
    from l2gpu.core.types import ChainId, Timestamp
    from l2gpu.db import open_database

    service = MarketService(open_database(database_url), chain_id=1337)
    rng = random.Random(8)
    key = PrivateKey((77).to_bytes(32, "big"))
    signed = [
        sign_offer(
            key,
            OfferTerms(
                key.address,
                rng.choice(NAMES),
                rng.choice([1, 2, 4, 8]),
                rng.choice([24, 80]),
                Wei(rng.randrange(10**10, 10**14)),
                Timestamp(2**40),
                location=rng.choice(["EU", "US"]),
                nonce=i,
            ),
            ChainId(1337),
        )
        for i in range(offers)
    ]
    service.offers.load(signed)
    service.offers.index()
    uvicorn.run(
        create_app(service, rate=1e9, burst=10**9),
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
    )


def start_server(folder: Path, offers: int = 1000) -> tuple[subprocess.Popen[bytes], str]:
    """A uvicorn process serving the market on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    database = f"sqlite:///{folder / 'api.db'}"
    code = (
        "from l2gpu.bench.market import serve_for_bench; "
        f"serve_for_bench({database!r}, {port}, {offers})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])  # noqa: S603 - our own module
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)  # waiting for the server process to start
    proc.kill()
    raise RuntimeError("the API did not start within 60 s")


async def _load(url: str, seconds: float, concurrency: int) -> list[float]:
    import httpx

    latencies: list[float] = []
    paths = [f"/offers?q={q}&sort={s}&limit=10" for q, s in QUERIES] + ["/health"]
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:

        async def worker(n: int) -> None:
            i = n
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                reply = await client.get(paths[i % len(paths)])
                if reply.status_code != 200:
                    raise RuntimeError(f"load test got {reply.status_code}: {reply.text[:200]}")
                latencies.append((time.perf_counter() - start) * 1000)
                i += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies


def measure_api(url: str, seconds: float = 5.0, concurrency: int = 8) -> dict[str, float]:
    """Throughput and latency of the API under a bounded load."""
    asyncio.run(_load(url, 1.0, concurrency))  # warm up
    start = time.perf_counter()
    latencies = asyncio.run(_load(url, seconds, concurrency))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "api_rps": round(len(latencies) / elapsed, 1),
        "api_p50_ms": round(statistics.median(latencies), 2),
        "api_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "api_concurrency": concurrency,
    }


def measure_lease_start(url: str, folder: Path, leases: int = 5) -> float:
    """Median seconds from rent returning to the lease running (local backend, real process)."""
    from l2gpu.agent.agent import ProviderAgent
    from l2gpu.agent.backends.local import LocalBackend
    from l2gpu.agent.inventory import discover
    from l2gpu.client import MarketClient
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.db import open_database
    from l2gpu.payments.store import VoucherStore

    provider, renter = PrivateKey((91).to_bytes(32, "big")), PrivateKey((92).to_bytes(32, "big"))
    agent = ProviderAgent(
        MarketClient(url, provider),
        provider,
        LocalBackend(folder / "jobs"),
        discover("RTX_4090:1"),
        VoucherStore(open_database(f"sqlite:///{folder / 'agent.db'}")),
        lambda: int(time.time()),
        1337,
    )
    client = MarketClient(url, renter)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop, 0.1), daemon=True)
    thread.start()
    times = []
    try:
        for i in range(leases):
            offer = agent.publish(agent.offer_terms(Wei(10**12), expires_at=2**40, nonce=1000 + i))[
                0
            ]
            from l2gpu.core.channel import ChannelParams

            params = ChannelParams(
                renter.address,
                provider.address,
                challenge_period=Seconds(3600),
                salt=i.to_bytes(32, "big"),
            )
            described = {
                "channel_id": str(params.id),
                "chain_id": 1337,
                "manager": "0x" + "05" * 20,
                "renter": renter.address.checksum,
                "provider": provider.address.checksum,
                "token": "0x" + "00" * 20,
                "challenge_period": 3600,
                "salt": "0x" + params.salt.hex(),
                "deposit": str(10**18),
            }
            lease = client.rent(offer["id"], command="sleep 30", duration=600, channel=described)
            start = time.perf_counter()
            while client.lease(int(lease["id"]))["status"] != "running":
                if time.perf_counter() - start > 30:
                    raise RuntimeError("a lease did not start within 30 s")
                time.sleep(0.02)  # polling a real agent and process
            times.append(time.perf_counter() - start)
            client.stop(int(lease["id"]))
    finally:
        stop.set()
        thread.join(10)
        agent.shutdown()
    return statistics.median(times)


def measure_unpaid() -> int:
    """Most unpaid seconds when the renter stops signing (simulated seconds, real job)."""
    from fastapi.testclient import TestClient

    from l2gpu.agent.agent import ProviderAgent
    from l2gpu.agent.backends.local import LocalBackend
    from l2gpu.agent.inventory import discover
    from l2gpu.api.app import create_app
    from l2gpu.api.service import MarketService
    from l2gpu.client import MarketClient
    from l2gpu.core.channel import ChannelParams
    from l2gpu.core.channel.vouchers import channel_domain
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.types import Address, ChainId
    from l2gpu.db import open_database
    from l2gpu.payments.store import VoucherStore
    from l2gpu.renter import LeasePayer

    now = [1_800_000_000]

    def clock() -> int:
        return now[0]

    with tempfile.TemporaryDirectory(prefix="l2gpu-bench-") as tmp:
        folder = Path(tmp)
        service = MarketService(
            open_database(f"sqlite:///{folder / 'm.db'}"), chain_id=1337, clock=clock
        )
        http = TestClient(create_app(service))
        provider, renter = (
            PrivateKey((93).to_bytes(32, "big")),
            PrivateKey((94).to_bytes(32, "big")),
        )
        agent = ProviderAgent(
            MarketClient("", provider, http=http),
            provider,
            LocalBackend(folder / "jobs"),
            discover("RTX_4090:1"),
            VoucherStore(open_database(f"sqlite:///{folder / 'a.db'}")),
            clock,
            1337,
            grace=GRACE,
        )
        offer = agent.publish(agent.offer_terms(Wei(10**12), expires_at=now[0] + 3600))[0]
        manager = Address(b"\x05" * 20)
        params = ChannelParams(renter.address, provider.address, challenge_period=Seconds(3600))
        client = MarketClient("", renter, http=http)
        lease = client.rent(
            offer["id"],
            command="sleep 60",
            duration=600,
            channel={
                "channel_id": str(params.id),
                "chain_id": 1337,
                "manager": manager.checksum,
                "renter": renter.address.checksum,
                "provider": provider.address.checksum,
                "token": "0x" + "00" * 20,
                "challenge_period": 3600,
                "salt": "0x" + "00" * 32,
                "deposit": str(10**18),
            },
        )
        payer = LeasePayer(
            client, renter, lease, channel_domain(ChainId(1337), manager), clock=clock
        )
        agent.step()
        worst = 0
        for second in range(30):
            now[0] += 1
            if second == 5:
                payer.signing = False  # the renter vanishes
            agent.step()
            payer.step()
            agent.step()
            served = agent.served.get(int(lease["id"]))
            if served is None:
                break
            worst = max(worst, served.max_unpaid_seconds)
        agent.shutdown()
        return worst


def run() -> dict[str, Any]:
    """Measure the suite's figures."""
    offers = random_offers(OFFERS)
    start = time.perf_counter()
    index = OfferIndex(offers)
    build_s = time.perf_counter() - start
    figures: dict[str, Any] = {
        "suite": "market",
        "offers": OFFERS,
        "index_build_s": round(build_s, 2),
    }
    figures.update(measure_search(index))
    figures["match_per_s"] = round(measure_match(index))
    with tempfile.TemporaryDirectory(prefix="l2gpu-bench-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            figures.update(measure_api(url))
            figures["lease_start_s"] = round(measure_lease_start(url, Path(tmp)), 3)
        finally:
            proc.terminate()
            proc.wait(10)
    from l2gpu.bench.market_rails import measure_rails

    figures.update(measure_rails())
    figures["max_unpaid_seconds"] = measure_unpaid()
    figures["grace_seconds"] = GRACE
    figures["cpus_available"] = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    return {**figures, **environment()}
