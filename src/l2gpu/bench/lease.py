"""The ``lease`` suite: what a renter and a provider see of one lease, every part a real
process on loopback: anvil as L1, ``l2gpu up`` (the node, default batch interval),
``l2gpu market serve``, ``l2gpu provider up --node`` (sandboxed local backend, a
real job), and the renter's side in this process over HTTP (as ``l2gpu rent`` does
it, without the interpreter's start).

- ``lease_start_s``: median seconds from asking to rent (the quote) to the market
  showing the lease running, with the channel opened inside the rollup on the way
  (soft confirmation: the node's signed receipt). ``lease_start_hard_s`` is the same
  with the renter waiting until a batch includes the channel (the old way).
- ``max_unpaid_seconds_renter_silent``: the renter stops signing after a few seconds;
  the job's own ticks (its output) say how long it ran, the best voucher the
  provider holds says how much was paid: the difference, in seconds, against the
  provider's ``grace_seconds``.
- ``max_unpaid_seconds_agent_killed``: the agent is killed with SIGKILL mid-lease and
  restarted ``agent_down_s`` later; unpaid seconds measured the same way.
- ``max_prepaid_undelivered_seconds``: the most the renter had signed for beyond what
  the job had run, sampled every second.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from l2gpu.bench import environment
from l2gpu.bench.node import ANVIL_KEY, _anvil_binary, _free_port, _fund, _wait_port
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from l2gpu import wire as w

PRICE_WEI = 10**9  # 1 gwei per GPU-second
GRACE = 5
AGENT_DOWN_S = 8
TICKS = "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done"  # the job's progress
RENTER_SECRET, PROVIDER_SECRET = (20_001).to_bytes(32, "big"), (20_002).to_bytes(32, "big")


class World:
    """The processes of one run, and the renter's clients."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.agent_args: list[str] = []
        self.agent_env: dict[str, str] = {}

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start ``l2gpu <args>`` as a process logging to the run's folder."""
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "l2gpu.cli.main", *args],
            env={**os.environ, **env}, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        self.processes[name] = process
        return process

    def stop(self) -> None:
        """Terminate every process (their jobs die with the agent's sandbox)."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


def _start(world: World) -> tuple[str, str]:
    """anvil, node, market and agent; return the market's and the node's URLs."""
    anvil_port, node_port, market_port = _free_port(), _free_port(), _free_port()
    world.processes["anvil"] = subprocess.Popen(  # noqa: S603 - our own tool
        [_anvil_binary(), "--port", str(anvil_port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_port(anvil_port, world.processes["anvil"], "anvil")
    anvil_url = f"http://127.0.0.1:{anvil_port}"
    node = world.spawn("node", ["up"], {"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEY,
                       "L2GPU_DATA_DIR": str(world.folder / "node"),
                       "L2GPU_API_PORT": str(node_port)})  # fmt: skip
    _wait_port(node_port, node, "l2gpu up")
    node_url = f"http://127.0.0.1:{node_port}"
    _fund(anvil_url, node_url, [RENTER_SECRET, PROVIDER_SECRET])
    market = world.spawn("market", ["market", "serve", "--port", str(market_port),
                                    "--node", node_url],
                         {"L2GPU_DATA_DIR": str(world.folder / "market")})  # fmt: skip
    _wait_port(market_port, market, "market serve")
    market_url = f"http://127.0.0.1:{market_port}"
    world.agent_args = ["provider", "up", "--price", f"{PRICE_WEI} wei", "--gpus", "RTX_4090:1",
                        "--grace", str(GRACE), "--max-duration", "1h", "--api-url", market_url,
                        "--node", node_url]  # fmt: skip
    world.agent_env = {"L2GPU_PRIVATE_KEY": "0x" + PROVIDER_SECRET.hex(),
                       "L2GPU_DATA_DIR": str(world.folder / "provider")}  # fmt: skip
    world.spawn("agent", world.agent_args, world.agent_env)
    _wait_for(lambda: httpx.get(market_url + "/offers").json()["count"] == 1, "the offer", 90)
    return market_url, node_url


def _wait_for(done: Any, what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise L2gpuError(f"the lease benchmark waited {seconds} s for {what}")
        time.sleep(0.02)  # polling real processes


class Renter:
    """The renter's side of ``l2gpu rent``, in this process."""

    def __init__(self, market_url: str, node_url: str, *, soft: bool) -> None:
        from l2gpu.client import MarketClient
        from l2gpu.core.crypto.secp256k1 import PrivateKey
        from l2gpu.designs import RailParts, lease_rail

        self.key = PrivateKey(RENTER_SECRET)
        self.client = MarketClient(market_url, self.key)
        parts = RailParts(node_url=node_url, key=self.key, options=(("soft", soft),))
        self.rail = lease_rail("hybrid", parts)

    def offer(self) -> w.OfferPublic:
        """The provider's offer, once it is free again."""
        found: list[w.OfferPublic] = []

        def listed() -> bool:
            found[:] = self.client.search("").offers
            return bool(found)

        _wait_for(listed, "a free offer", 60)
        return found[0]

    def rent(self, command: str, duration: int) -> tuple[w.LeasePublic, float]:
        """Quote, open the channel, rent; return the lease and seconds to running."""
        from l2gpu.core.market.lease import LeaseStatus
        from l2gpu.core.types import Address, Wei

        offer = self.offer()
        started = time.perf_counter()
        quote = self.client.quote(offer.id, duration=duration)
        opened = self.rail.open(Address.from_hex(offer.provider), Wei(quote.max_cost),
                                lifetime=duration + 3600)  # fmt: skip
        lease = self.client.rent(offer.id, command=command, duration=duration,
                                 channel=opened.description)  # fmt: skip
        lease_id = lease.id
        running = lambda: self.client.lease(lease_id).status is LeaseStatus.RUNNING  # noqa: E731
        _wait_for(running, "the lease", 60)
        return lease, time.perf_counter() - started

    def end(self, lease_id: int) -> None:
        """Stop the lease and wait until the market shows it over."""

        self.client.stop(lease_id)
        final = lambda: self.client.lease(lease_id).status.is_final  # noqa: E731
        _wait_for(final, "the lease's end", 60)
        self.agree_close(self.client.lease(lease_id), 0)

    def agree_close(self, lease: w.LeasePublic, paid: int) -> None:
        """Stay to co-sign the provider's cooperative close, as ``rent`` does."""
        from l2gpu.core.types import Wei

        self.rail.cosign_close(lease.channel.to_core(), Wei(paid))


def lease_starts(renter: Renter, count: int) -> list[float]:
    """Seconds from the quote to running, for ``count`` leases in a row."""
    times = []
    for _ in range(count):
        lease, seconds = renter.rent("sleep 60", 600)
        times.append(seconds)
        renter.end(lease.id)
    return times


def _ticks(renter: Renter, lease_id: int) -> int:
    """The job's ticks the provider uploaded (each 0.1 s of the job running)."""
    text, after = "", 0
    while True:  # the API answers in pages
        chunks = renter.client.logs(lease_id, after).chunks
        if not chunks:
            break
        text += "".join(c.text for c in chunks)
        after = chunks[-1].seq
    found = re.findall(r"tick (\d+)", text)
    return int(found[-1]) + 1 if found else 0


def exposure(renter: Renter, world: World, fault: str) -> dict[str, float]:
    """One lease paid by a real payer, with ``fault`` (``renter_silent`` or
    ``agent_killed``) after 3 s running; the unpaid and prepaid seconds it shows."""
    from l2gpu.renter import LeasePayer

    lease, _ = renter.rent(TICKS, 120)
    lease_id = lease.id
    payer = LeasePayer(renter.client, renter.key, lease, renter.rail.domain,
                       clock=lambda: int(time.time()))  # fmt: skip
    prepaid, began = 0.0, time.monotonic()
    faulted = False
    while not payer.done and time.monotonic() - began < 90:
        payer.step()
        ran = _ticks(renter, lease_id) / 10
        prepaid = max(prepaid, payer.paid / PRICE_WEI - ran)
        if not faulted and time.monotonic() - began >= 3:
            faulted = True
            if fault == "renter_silent":
                payer.signing = False
            else:
                world.processes["agent"].send_signal(signal.SIGKILL)
                time.sleep(AGENT_DOWN_S)  # the agent's outage itself (wall time)
                world.spawn("agent", world.agent_args, world.agent_env)
        if fault == "agent_killed" and faulted and time.monotonic() - began >= 20:
            renter.client.stop(lease_id)
        time.sleep(1)  # the payer signs once a second, as rent does
    status = payer.info.status
    ran = _ticks(renter, lease_id) / 10
    renter.agree_close(payer.info, payer.paid)
    return {"unpaid": max(0.0, ran - payer.paid / PRICE_WEI), "prepaid": prepaid,
            "ran": ran, "final": float(status.is_final)}  # fmt: skip


def run() -> dict[str, Any]:
    """Measure the suite's figures."""
    folder = Path(tempfile.mkdtemp(prefix="l2gpu-bench-lease-"))
    world = World(folder)
    try:
        market_url, node_url = _start(world)
        soft = lease_starts(Renter(market_url, node_url, soft=True), 5)
        hard = lease_starts(Renter(market_url, node_url, soft=False), 5)
        renter = Renter(market_url, node_url, soft=True)
        silent = exposure(renter, world, "renter_silent")
        killed = exposure(renter, world, "agent_killed")
    finally:
        world.stop()
        if os.environ.get("BENCH_KEEP_FOLDER"):
            print(f"bench folder kept: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "suite": "lease",
        "lease_start_s": round(statistics.median(soft), 3),
        "lease_start_hard_s": round(statistics.median(hard), 3),
        "lease_starts_measured": len(soft),
        "max_unpaid_seconds_renter_silent": round(silent["unpaid"], 1),
        "max_unpaid_seconds_agent_killed": round(killed["unpaid"], 1),
        "job_ran_seconds_agent_killed": round(killed["ran"], 1),
        "max_prepaid_undelivered_seconds": round(max(silent["prepaid"], killed["prepaid"]), 1),
        "grace_seconds": GRACE,
        "agent_down_s": AGENT_DOWN_S,
        **environment(),
    }
