"""The ``console`` suite: what a user of ``l2gpu web`` waits for and downloads, and what
the console costs the market, measured on real processes over loopback HTTP: the
market API (uvicorn, the ``market`` suite's server) holding ``OFFERS`` offers, and
the console as a user runs it (``l2gpu web --api-url ...``, its own process).

- ``first_offers_ms_p50``: GET the offers page (its table: the first 100 offers by
  price, rendered on the server) and then its first table fragment (what htmx asks
  for as a filter is typed), one after the other; ``page_ms_p50`` and
  ``fragment_ms_p50`` each alone; ``first_offers_cold_ms``: the first page after
  the console started. Browser rendering is not included.
- ``api_offers_p99_ms_alone`` / ``_with_console``: one client searching the market's
  ``GET /offers`` back to back (the ``market`` suite's query mix), without and then
  with ``CLIENTS`` consoles refreshing their offers table every second; each the
  median over ``REPEATS`` rounds of the round's p99 (``api_offers_p50_ms_*``: of its p50);
  ``console_added_p99_ms`` the difference.
- ``first_load_bytes``: the bodies a browser downloads on its first visit (the page,
  its stylesheet and scripts, htmx included) as served (``served_compressed`` says
  whether the console compressed them); ``first_load_gzip_bytes``: the same bodies
  gzipped here, what compression would send.

Sizes: ``L2GPU_BENCH_CONSOLE_OFFERS`` (100,000), ``_CLIENTS`` (20), ``_SECONDS`` (per
round, 3), ``_REPEATS`` (3), ``_SAMPLES`` (page loads, 30). All three processes share
this machine's cores.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from l2gpu.bench import environment
from l2gpu.bench.market import QUERIES, start_server
from l2gpu.core.errors import L2gpuError

SIZES = {"OFFERS": 100_000, "CLIENTS": 20, "SECONDS": 3, "REPEATS": 3, "SAMPLES": 30}
SHOWN = 100  # rows of the console's offers table (web/app.py asks the market for 100)
FRAGMENT = "/offers/table?q=&sort=price"
ASSET = re.compile(r'<(?:link[^>]*href|script[^>]*src)="(/static/[^"]+)"')


def size(name: str) -> int:
    """A size of the run: ``L2GPU_BENCH_CONSOLE_<name>``, or its default."""
    text = os.environ.get(f"L2GPU_BENCH_CONSOLE_{name}", str(SIZES[name]))
    if not text.isdigit() or int(text) < 1:
        raise L2gpuError(
            f"L2GPU_BENCH_CONSOLE_{name}={text!r} is not a positive whole number",
            f"set it to one, or unset it for {SIZES[name]:,}",
        )
    return int(text)


def start_console(market_url: str, wait_s: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
    """``l2gpu web`` over ``market_url`` on a free loopback port, as a user starts it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [
        sys.executable,
        "-m",
        "l2gpu.cli.main",
        "web",
        "--api-url",
        market_url,
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL)  # noqa: S603 - our own CLI
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/static/console.css", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)  # the console is still importing
    proc.kill()
    raise RuntimeError(f"'l2gpu web' did not start within {wait_s:.0f} s (exit {proc.poll()})")


def _timed_get(client: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    reply = client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    if reply.status_code != 200:
        raise RuntimeError(f"GET {path} answered {reply.status_code}: {reply.text[:200]}")
    return elapsed, reply


def measure_first_offers(console: str, samples: int, offers: int) -> dict[str, Any]:
    """The offers page and its first fragment: cold, then ``samples`` times (p50s)."""
    rows = min(SHOWN, offers)
    with httpx.Client(base_url=console, timeout=30) as client:
        cold, reply = _timed_get(client, "/")
        pages, fragments, both = [], [], []
        for _ in range(samples):
            page_ms, reply = _timed_get(client, "/")
            fragment_ms, fragment = _timed_get(client, FRAGMENT)
            for body in (reply.text, fragment.text):
                if body.count('<tr class="offer">') != rows:
                    raise RuntimeError(
                        f"the console showed {body.count('<tr class=')} rows, "
                        f"not the first {rows} offers"
                    )
            pages.append(page_ms)
            fragments.append(fragment_ms)
            both.append(page_ms + fragment_ms)
    return {
        "first_offers_cold_ms": round(cold, 1),
        "first_offers_ms_p50": round(statistics.median(both), 1),
        "page_ms_p50": round(statistics.median(pages), 1),
        "fragment_ms_p50": round(statistics.median(fragments), 1),
        "rows_shown": rows,
    }


def _probe(market: str, seconds: float) -> list[float]:
    """One client searching the market back to back for ``seconds``: latencies, ms."""
    paths = [f"/offers?q={q}&sort={s}&limit=10" for q, s in QUERIES]
    latencies: list[float] = []
    with httpx.Client(base_url=market, timeout=30) as client:
        _timed_get(client, paths[0])  # the connection, opened outside the figures
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            elapsed, _ = _timed_get(client, paths[len(latencies) % len(paths)])
            latencies.append(elapsed)
    return latencies


async def _poll(console: str, clients: int, stop: threading.Event, seen: list[float]) -> None:
    """``clients`` consoles, each refreshing its offers table every second (staggered)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=console, limits=limits, timeout=30) as client:

        async def one(n: int) -> None:
            await asyncio.sleep(n / clients)
            while not stop.is_set():
                start = time.perf_counter()
                reply = await client.get(FRAGMENT)
                if reply.status_code != 200:
                    raise RuntimeError(f"a console poll answered {reply.status_code}")
                seen.append((time.perf_counter() - start) * 1000)
                await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - start)))

        await asyncio.gather(*(one(n) for n in range(clients)))


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


class Pollers:
    """``clients`` consoles polling in a thread of their own, from entering until leaving
    (a poll that fails is raised on leaving)."""

    def __init__(self, console: str, clients: int) -> None:
        self.stop = threading.Event()
        self.seen: list[float] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(console, clients), daemon=True)

    def _run(self, console: str, clients: int) -> None:
        try:
            asyncio.run(_poll(console, clients, self.stop, self.seen))
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Pollers:
        self._thread.start()
        time.sleep(1.0)  # every console has started polling
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise RuntimeError(f"the polling consoles failed: {self.error}") from self.error


def measure_added_latency(
    market: str, console: str, *, clients: int, seconds: float, repeats: int
) -> dict[str, Any]:
    """p99 of the market's ``/offers`` without and with polling consoles, alternating
    rounds; medians over the rounds."""
    alone, polled, polls = [], [], []
    for _ in range(repeats):
        alone.append(_probe(market, seconds))
        with Pollers(console, clients) as pollers:
            polled.append(_probe(market, seconds))
        polls.extend(pollers.seen)
    alone_p99 = statistics.median(_p99(r) for r in alone)
    polled_p99 = statistics.median(_p99(r) for r in polled)
    return {
        "api_offers_p50_ms_alone": round(statistics.median(statistics.median(r) for r in alone), 2),
        "api_offers_p50_ms_with_console": round(
            statistics.median(statistics.median(r) for r in polled), 2
        ),
        "api_offers_p99_ms_alone": round(alone_p99, 2),
        "api_offers_p99_ms_with_console": round(polled_p99, 2),
        "console_added_p99_ms": round(polled_p99 - alone_p99, 2),
        "console_clients": clients,
        "console_polls": len(polls),
        "console_poll_p50_ms": round(statistics.median(polls), 1) if polls else None,
        "rounds": repeats,
        "round_seconds": seconds,
    }


def measure_first_load(console: str) -> dict[str, Any]:
    """What a browser downloads on its first visit: the page and every stylesheet and
    script it names, as served, and what gzip would make of them."""
    headers = {"accept-encoding": "gzip, deflate, br"}
    assets: dict[str, int] = {}
    compressed, raw_total, gzip_total = False, 0, 0
    with httpx.Client(base_url=console, timeout=30, headers=headers) as client:
        page = client.get("/")
        paths = ["/", *ASSET.findall(page.text)]
        for path in paths:
            reply = page if path == "/" else client.get(path)
            if reply.status_code != 200:
                raise RuntimeError(f"first load: GET {path} answered {reply.status_code}")
            compressed |= "content-encoding" in reply.headers
            assets[path] = reply.num_bytes_downloaded
            raw_total += len(reply.content)
            gzip_total += len(gzip.compress(reply.content, 6))
    return {
        "first_load_bytes": sum(assets.values()),
        "first_load_bytes_uncompressed": raw_total,
        "first_load_gzip_bytes": gzip_total,
        "first_load_assets": assets,
        "served_compressed": compressed,
        "htmx_served": any(path.endswith("htmx.min.js") for path in assets),
    }


def run() -> dict[str, Any]:
    """Measure the suite's figures at the sizes of ``L2GPU_BENCH_CONSOLE_*``."""
    offers, clients, seconds = size("OFFERS"), size("CLIENTS"), size("SECONDS")
    repeats, samples = size("REPEATS"), size("SAMPLES")
    return measure(
        offers=offers, clients=clients, seconds=seconds, repeats=repeats, samples=samples
    )


def measure(
    *, offers: int, clients: int, seconds: float, repeats: int, samples: int
) -> dict[str, Any]:
    """Start a market holding ``offers`` offers and a console over it; measure."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="l2gpu-bench-console-") as tmp:
        market, market_url = start_server(Path(tmp), offers, wait_s=300.0)
        console = None
        try:
            up_s = time.perf_counter() - started
            console, console_url = start_console(market_url)
            figures: dict[str, Any] = {
                "suite": "console",
                "offers": offers,
                "market_start_s": round(up_s, 1),
            }
            figures.update(measure_first_offers(console_url, samples, offers))
            figures.update(measure_first_load(console_url))
            figures.update(
                measure_added_latency(
                    market_url, console_url, clients=clients, seconds=seconds, repeats=repeats
                )
            )
        finally:
            for proc in (console, market):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    return {**figures, **environment()}
