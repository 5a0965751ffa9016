"""The parts of a chaos run: long-running l2gpu processes that are killed with SIGKILL and
started again, the renters' ``l2gpu rent`` processes, a witness client that counts the
node's acknowledgements, and an observer that records what the market said.

Every wait here is on a condition with a generous deadline (a hang guard), never a
timing: the machine may be slow and shared.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from l2gpu.client import MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.types import Address, Wei
from l2gpu.node.client import L2Client
from l2gpu.wire import LeasePublic

HANG_GUARD_S = 300.0  # only a hung run reaches it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], what: str, seconds: float = HANG_GUARD_S) -> None:
    """Poll ``check`` (errors count as not yet) until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, L2gpuError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)  # polling real processes
    raise AssertionError(f"{what} did not happen within {seconds} s")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "l2gpu.cli.main", *args]


# The same command line, with its log records timestamped (the agent configures no
# logging of its own, so Python would print its warnings bare and drop the rest).
_LOGGED = (
    "import logging, sys; logging.basicConfig(level=logging.INFO, format="
    "'%(asctime)s %(name)s %(levelname)s %(message)s'); "
    "from l2gpu.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def logged_cli(*args: str) -> list[str]:
    return [sys.executable, "-c", _LOGGED, *args]


class Timeline:
    """What the chaos did and when (unix time), written to a file as it happens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self.lock, self.path.open("a") as out:
            out.write(f"{time.time():.2f} {line}\n")


@dataclass
class Service:
    """A long-running l2gpu process (node, market, agent) that chaos kills and restarts."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    ready: Callable[[Service], bool]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n=== start {self.starts} ===\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                logged_cli(*self.args), env={**os.environ, **self.env}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self) -> None:
        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
            return self.ready(self)

        wait_until(up, f"{self.name} start #{self.starts}")

    def kill(self) -> None:
        """kill -9, and reap it."""
        assert self.proc is not None
        self.kills += 1
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int | None:
        """Stop it cleanly (SIGINT: ``provider up`` then stops its jobs)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=60)

    def log_count(self, pattern: str) -> int:
        try:
            return len(re.findall(pattern, self.log.read_text(errors="replace"), re.M))
        except OSError:
            return 0


def key_of(n: int) -> PrivateKey:
    return PrivateKey((0xC4A05_0000 + n).to_bytes(32, "big"))


def fund(anvil_url: str, node_url: str, keys: list[PrivateKey], amount: int) -> int:
    """Give each key ether on L1 and deposit ``amount`` into the rollup with its BLS key
    (as ``l2gpu l2 deposit`` does); return the rollup's L1 address book-keeping: the wei
    deposited."""
    from l2gpu.bench.node import deposit_on_anvil

    deposit_on_anvil(anvil_url, node_url, keys, amount)

    def credited() -> bool:
        for key in keys:
            got = httpx.get(f"{node_url}/l2/accounts/{key.address.checksum}")
            if got.status_code != 200 or int(got.json()["balance"]) != amount:
                return False
        return True

    wait_until(credited, "the node crediting the deposits")
    return amount * len(keys)


# -- the witness: acknowledged transactions ---------------------------------------------

WITNESS_AMOUNT = Wei(10**12)


@dataclass
class Witness:
    """Sends transfers to a sink one at a time through the chaos, co-signing each, and
    records every one the node acknowledged (its signed receipt) and how each ended."""

    node_url: str
    key: PrivateKey
    sink: Address
    stop: threading.Event
    acked: list[int] = field(default_factory=list)  # nonces the node acknowledged
    included: list[int] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # acknowledged, then not included
    errors: int = 0

    def run(self) -> None:
        client = L2Client(self.node_url, self.key, timeout=10)
        sink_index: int | None = None
        while not self.stop.is_set():
            try:
                if sink_index is None:
                    sink_index = int(client.account(self.sink)["index"])
                tx, envelope, _receipt = client.send_soft(
                    lambda me, to=sink_index: Transfer(me, to, WITNESS_AMOUNT, Wei(0))
                )
            except L2gpuError:
                self.errors += 1
                self.stop.wait(0.5)  # the node is down or refusing: try again
                continue
            self.acked.append(envelope.nonce)
            self._until_included(client, tx, envelope.nonce)

    def _until_included(self, client: L2Client, tx: Transfer, nonce: int) -> None:
        body = encode_tx(kind_of(tx), tx).hex()
        http = httpx.Client(base_url=self.node_url, timeout=10)
        deadline = time.monotonic() + HANG_GUARD_S
        index: int | None = None
        while time.monotonic() < deadline:
            try:
                me = client.account()
                index = int(me["index"])
                if int(me["nonce"]) > nonce:
                    self.included.append(nonce)
                    return
                if int(me["next_nonce"]) <= nonce:
                    self.dropped.append(f"nonce {nonce}: {json.dumps(me)}")
                    return
                got = http.get(f"/l2/cosign/{index}", params={"wait": 2.0})
                got.raise_for_status()
                for request in got.json():
                    mine = {str(m["body"]).removeprefix("0x") for m in request["mine"]}
                    if mine != {body}:
                        continue  # never sign what this witness did not send
                    message = bytes.fromhex(request["message"].removeprefix("0x"))
                    answer = {"signature": "0x" + client.bls.sign(message).hex(),
                              "refuse": False}  # fmt: skip
                    http.post(f"/l2/cosign/{request['account']}/{request['request']}",
                              json=answer)  # fmt: skip
            except (httpx.HTTPError, L2gpuError, ValueError):
                self.errors += 1
                time.sleep(0.3)  # the node restarts: ask again
        self.dropped.append(f"nonce {nonce}: neither included nor dropped within the guard")


# -- renters ----------------------------------------------------------------------------


@dataclass
class RentRun:
    """One ``l2gpu rent`` process."""

    renter: int
    offer_id: str
    duration: int
    log: Path
    proc: subprocess.Popen[bytes]
    started: float
    killed: bool = False  # by chaos (kill -9)
    stopped_at_end: bool = False

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def lease_id(self) -> int | None:
        found = re.search(r"lease (\d+): deposit", self.text())
        return int(found.group(1)) if found else None

    @property
    def channel(self) -> str | None:
        """The channel the node acknowledged (the rail returned on its signed receipt)."""
        found = re.search(r"in channel (0x[0-9a-f]{64})", self.text())
        return found.group(1) if found else None

    @property
    def finished(self) -> bool:
        """The process lived to print the lease's end (after co-signing what it had to)."""
        return re.search(r"lease \d+ \w+ \(.*\): \d+ s billed", self.text()) is not None


JOB_TICK_S = 0.2
JOB_MAX_TICKS = 450  # 90 s at most: a job left running by accident ends by itself
# The job's own clock: a line per tick with the host's CLOCK_BOOTTIME (/proc/uptime is
# not namespaced), so the test counts the seconds it actually ran, paused or not.
JOB = (
    f"n=0; while [ $n -lt {JOB_MAX_TICKS} ]; do read u _ < /proc/uptime; echo $u >> ticks; "
    f"n=$((n+1)); sleep {JOB_TICK_S}; done"
)


def served_seconds(ticks: Path, cap: float = 1.0) -> float:
    """Seconds the job ran, from its tick lines: each gap counts up to ``cap`` (a longer
    gap is a pause or a freeze, not service)."""
    try:
        stamps = [float(x) for x in ticks.read_text().split()]
    except (OSError, ValueError):
        return 0.0
    return sum(min(b - a, cap) for a, b in itertools.pairwise(stamps))


def tick_span(ticks: Path) -> tuple[float, float] | None:
    """When the job ran first and last, in unix time (from its CLOCK_BOOTTIME ticks)."""
    try:
        stamps = [float(x) for x in ticks.read_text().split()]
        boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return (boot + stamps[0], boot + stamps[-1]) if stamps else None


class Renters:
    """Renter slots, each renting offers one lease after another with ``l2gpu rent``
    until told to stop; chaos may kill a slot's process, which starts again after
    its down time."""

    def __init__(self, folder: Path, keys: list[PrivateKey], market_url: str, node_url: str,
                 rng_seed: int, durations: tuple[int, int],
                 timeline: Callable[[str], None]) -> None:  # fmt: skip
        import random

        self.timeline = timeline
        self.folder, self.keys = folder, keys
        self.market_url, self.node_url = market_url, node_url
        self.rngs = [random.Random(rng_seed * 1000 + i) for i in range(len(keys))]
        self.durations = durations
        self.runs: list[RentRun] = []
        self.current: list[RentRun | None] = [None] * len(keys)
        self.resume_at = [0.0] * len(keys)
        self.starting = threading.Event()
        self.starting.set()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._slot, args=(i,), daemon=True,
                                         name=f"renter-{i}") for i in range(len(keys))]  # fmt: skip

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _offers(self) -> list[dict[str, Any]]:
        got = httpx.get(self.market_url + "/offers", params={"limit": 200}, timeout=10)
        got.raise_for_status()
        return sorted(got.json()["offers"], key=lambda o: int(o["id"]))

    def _slot(self, i: int) -> None:
        rng = self.rngs[i]
        while self.starting.is_set():
            if time.monotonic() < self.resume_at[i]:
                time.sleep(0.2)  # this renter is "down" (killed by chaos)
                continue
            try:
                offers = self._offers()
            except (httpx.HTTPError, ValueError):
                offers = []
            if not offers:
                time.sleep(0.5)  # nothing free now (or the market is down)
                continue
            offer = rng.choice(offers)
            duration = rng.randint(*self.durations)
            log = self.folder / f"rent-{i}-{len(self.runs)}.log"
            env = {"L2GPU_PRIVATE_KEY": "0x" + self.keys[i].secret.hex(),
                   "L2GPU_DATA_DIR": str(self.folder / f"renter-{i}")}  # fmt: skip
            with self.lock:
                if not self.starting.is_set():
                    return
                with log.open("wb") as out:
                    proc = subprocess.Popen(
                        logged_cli("rent", str(offer["id"]), "--cmd", JOB, "--hours",
                            repr(duration / 3600), "--api-url", self.market_url,
                            "--node", self.node_url),
                        env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )  # fmt: skip
                run = RentRun(i, str(offer["id"]), duration, log, proc, time.monotonic())
                self.runs.append(run)
                self.current[i] = run
            self.timeline(f"renter {i}: rent offer {offer['id']} for {duration} s ({log.name})")
            proc.wait()
            self.timeline(f"renter {i}: rent exited {proc.returncode} ({log.name}, lease "
                          f"{run.lease_id})")  # fmt: skip
            with self.lock:
                self.current[i] = None
            if proc.returncode != 0 and not run.killed:
                time.sleep(1.0)  # refused (offer taken, benched signer...): a moment, again

    def live(self) -> list[int]:
        with self.lock:
            return [i for i, r in enumerate(self.current)
                    if r is not None and r.proc.poll() is None]  # fmt: skip

    def kill(self, i: int, down: float) -> bool:
        """kill -9 renter ``i``'s process; it rents again ``down`` s later."""
        with self.lock:
            self.resume_at[i] = time.monotonic() + down
            run = self.current[i]
            if run is None or run.proc.poll() is not None:
                return False
            run.killed = True
            run.proc.send_signal(signal.SIGKILL)
        self.timeline(f"kill -9 renter {i} ({run.log.name}, lease {run.lease_id})")
        return True

    def finish(self, cap_after_lease_s: float) -> None:
        """No new leases; wait for every rent to end by itself, killing one that outlives
        its lease by ``cap_after_lease_s`` (it waits for a close that is not coming)."""
        self.starting.clear()
        for t in self.threads:
            t.join(timeout=0.1)
        deadline = time.monotonic() + HANG_GUARD_S
        while time.monotonic() < deadline:
            with self.lock:
                left = [r for r in self.runs if r.proc.poll() is None]
            if not left:
                break
            for r in left:
                if time.monotonic() - r.started > r.duration + cap_after_lease_s:
                    r.stopped_at_end = True
                    r.proc.send_signal(signal.SIGKILL)
            time.sleep(0.5)  # waiting for real processes
        for t in self.threads:
            t.join(timeout=HANG_GUARD_S)


# -- the observer: what the market acknowledged -----------------------------------------


@dataclass
class Observer:
    """Reads every lease from the market once a second (as each provider), keeping the
    highest voucher and metered seconds it ever showed, and the most GPUs any provider
    had leased at once."""

    market_url: str
    providers: list[PrivateKey]
    gpus: list[int]
    stop: threading.Event
    best_voucher: dict[int, int] = field(default_factory=dict)
    metered: dict[int, int] = field(default_factory=dict)
    max_leased_gpus: list[int] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)

    def run(self) -> None:
        clients = [MarketClient(self.market_url, k) for k in self.providers]
        self.max_leased_gpus = [0] * len(clients)
        while not self.stop.is_set():
            for i, client in enumerate(clients):
                try:
                    leases = client.jobs()
                except (L2gpuError, httpx.HTTPError, ValueError):
                    continue
                self.look(leases, i)
            self.stop.wait(1.0)

    def look(self, leases: list[LeasePublic], provider: int | None = None) -> None:
        busy = 0
        for lease in leases:
            lid = lease.id
            voucher = lease.voucher.amount
            metered = lease.metered_seconds
            if voucher < self.best_voucher.get(lid, 0):
                self.regressions.append(f"lease {lid}: the market showed voucher "
                                        f"{self.best_voucher[lid]}, later {voucher}")  # fmt: skip
            if metered < self.metered.get(lid, 0):
                self.regressions.append(f"lease {lid}: the market showed {self.metered[lid]} "
                                        f"metered seconds, later {metered}")  # fmt: skip
            self.best_voucher[lid] = max(voucher, self.best_voucher.get(lid, 0))
            self.metered[lid] = max(metered, self.metered.get(lid, 0))
            if lease.status in (LeaseStatus.STARTING, LeaseStatus.RUNNING):
                busy += lease.num_gpus
        if provider is not None:
            self.max_leased_gpus[provider] = max(self.max_leased_gpus[provider], busy)


# -- jobs left behind -------------------------------------------------------------------


def kill_jobs(root: Path) -> int:
    """SIGKILL what any job under an agent's ``jobs`` folder left running (by the pids
    its agent recorded, checked against their start times); how many."""
    killed = 0
    for state in root.glob(".agent/lease-*/job.json"):
        try:
            job = json.loads(state.read_text())
        except (OSError, ValueError):
            continue
        for pid_key, start_key in (("init", "init_start"), ("pid", "pid_start")):
            pid, start = job.get(pid_key), job.get(start_key)
            if not pid or not start:
                continue
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[19]) != int(start) or fields[0] in "ZX":
                continue  # gone, or the pid is another process's now
            # the sandbox's init takes its whole PID namespace with it; the process the
            # agent started leads its own session
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.killpg(int(pid), signal.SIGKILL)
            killed += 1
    return killed
