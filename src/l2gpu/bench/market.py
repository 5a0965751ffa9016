"""The ``market`` suite: search and matching over 100,000 offers, the API under load,
and the time and cost of a lease's channel on each rail (``bench/market_rails.py``).
A lease's start and the provider's unpaid seconds, measured with every part a real
process and a real rail, are the ``lease`` suite's (``bench/lease.py``).

- ``search_p50_ms`` / ``search_p99_ms``: parse a filter, scan, sort and take the
  first 50 over an index of 100,000 offers (a mix of realistic queries; the index
  is built once, as the API caches it between changes).
- ``match_per_s``: renter requests matched to their best 5 offers, one core.
- ``api_rps`` / ``api_p99_ms``: a real uvicorn (one process) on loopback serving
  ``GET /offers`` searches over 1,000 offers, driven by a bounded load generator
  (a fixed number of concurrent connections for a fixed time). The per-client rate
  limit is raised for the run, since every request comes from one address.
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
    from l2gpu.serving.connections import uvicorn_options

    uvicorn.run(
        create_app(service, rate=1e9, burst=10**9),
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        **uvicorn_options(),
    )


def start_server(
    folder: Path, offers: int = 1000, wait_s: float = 60.0
) -> tuple[subprocess.Popen[bytes], str]:
    """A uvicorn process serving the market on a free loopback port (up within ``wait_s``)."""
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

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)  # waiting for the server process to start
    proc.kill()
    raise RuntimeError(f"the API did not start within {wait_s:.0f} s")


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
        finally:
            proc.terminate()
            proc.wait(10)
    from l2gpu.bench.market_rails import measure_rails

    figures.update(measure_rails())
    figures["cpus_available"] = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    return {**figures, **environment()}
