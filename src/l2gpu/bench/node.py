"""The ``node`` suite: a running rollup node's throughput, end to end, as users drive it.

Real processes and real HTTP: anvil is the L1, ``l2gpu up`` runs the node (its
write-ahead log on SQLite, sealing, co-signing over the API, posting batches to
anvil), and client processes hold funded L2 accounts (256 by default). Each client account
sends transfers in waves (one ``POST /l2/transactions/batch`` of 64 transfers by
default, as an SDK pipelines them; the API takes up to 256), signed before the window
as far as ``presign`` waves go (users sign on their own machines, not on the cores the
node is measured on), answers its co-signature requests (long-poll, BLS signatures,
the answers to one poll in one request), and waits until the wave is included before
the next. ``node_tps`` is transfers included per second of wall time over the
measured window, read from the node's count of sealed transactions.

Beside it, in the same run: ``sequencer_tps``, the in-process sequencer on one core
(admission, apply, roots, co-signature check; no HTTP, no log, no L1), and
``wal_appends_per_s``, envelope records written durably per second by the log's
group commit on SQLite. The machine's cores are shared by anvil, the node and the
clients, as on a small operator's box; ``cores`` says how many there were.

What each process took is measured too (CPU seconds from ``/proc`` over the window,
per included transfer): ``node_tps_own_core`` is the rate the node's CPU per transfer
allows on a core of its own, and ``machine_ceiling_tps`` the most the machine could
include with these clients on it (every core busy). When that ceiling is below half
of ``sequencer_tps``, the end-to-end target cannot be shown on this machine, whatever
the node does; ``node_own_core_vs_sequencer`` then compares the node's cost alone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from l2gpu.bench import environment
from l2gpu.core.errors import L2gpuError

ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
REPO = Path(__file__).resolve().parents[3]
WAL_GROUP = 200  # envelopes per group commit in the WAL figure (an input, not a figure)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _anvil_binary() -> str:
    found = shutil.which("anvil")
    local = REPO / ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
    if found is None and not local.exists():
        raise L2gpuError("the node benchmark needs anvil as its L1", "run 'make tools'")
    return found or str(local)


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, seconds: float = 90
               ) -> None:  # fmt: skip
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise L2gpuError(f"{what} exited before listening", "run it by hand to see why")
        time.sleep(0.1)  # waiting for a real process to listen
    raise L2gpuError(f"{what} did not listen within {seconds:.0f} s")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_of(node: int, anvil: int, clients: list[int]) -> tuple[float, float, float]:
    """CPU seconds so far of the node, of anvil, and of the client processes together."""
    return _cpu_seconds(node), _cpu_seconds(anvil), sum(_cpu_seconds(c) for c in clients)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def deposit_on_anvil(anvil_url: str, node_url: str, keys: list[Any], amount: int) -> None:
    """Give each key (a :class:`PrivateKey`) ether on anvil and deposit ``amount`` into
    the node's rollup with its BLS key, as ``l2gpu l2 deposit`` does; the node credits
    the deposits in its next batches."""
    from web3.types import RPCEndpoint

    from l2gpu.core.crypto.bls import BlsSecretKey
    from l2gpu.core.types import Address
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.rollup import RollupClient
    from l2gpu.l1.jsonrpc import connect_jsonrpc
    from l2gpu.l1.keys import account_from_private_key

    accounts = [account_from_private_key("0x" + k.secret.hex()) for k in keys]
    chain = connect_jsonrpc(anvil_url, accounts)
    rollup = Address.from_hex(httpx.get(node_url + "/l2/status").json()["rollup"])
    client = RollupClient(chain, chain.attach(compile_contract("rollup/Rollup.vy"), rollup))
    for account, key in zip(accounts, keys, strict=True):
        chain.w3.provider.make_request(RPCEndpoint("anvil_setBalance"),
                                       [account.address, hex(10**21)])  # fmt: skip
        client.deposit(account, BlsSecretKey.from_seed(key.secret), amount)


def _fund(anvil_url: str, node_url: str, keys: list[bytes]) -> None:
    """Deposit 10 ether for each key and wait until the node credits them."""
    from l2gpu.core.crypto.secp256k1 import PrivateKey

    deposit_on_anvil(anvil_url, node_url, [PrivateKey(k) for k in keys], 10**19)
    deadline = time.monotonic() + 120
    last = PrivateKey(keys[-1]).address.checksum
    while httpx.get(f"{node_url}/l2/accounts/{last}").status_code != 200:
        if time.monotonic() > deadline:
            raise L2gpuError("the node did not credit the deposits within 120 s")
        time.sleep(0.2)  # the node seals the deposits in its next batches


def _client_process(url: str, keys: list[bytes], wave: int, presign: int, ready: Any, go: Any,
                    done: Any) -> None:  # fmt: skip
    """One client process: its accounts sign ``presign`` waves ahead, say ``ready``,
    take the window's end from ``go``, send waves until then, and put the number of
    waves sent (and how many were signed during the run) on ``done``."""
    done.put(asyncio.run(_client(url, keys, wave, presign, ready, go)))


async def _client(url: str, keys: list[bytes], wave: int, presign: int, ready: Any,
                  go: Any) -> tuple[int, int]:  # fmt: skip
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        status = (await http.get("/l2/status")).json()
        accounts = [await _signed_ahead(http, status, k, wave, presign) for k in keys]
    ready.put(len(keys))
    until = await asyncio.to_thread(go.get)
    counts = await asyncio.gather(*(_account(url, a, wave, until) for a in accounts))
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


class _Account:
    """A client account: its keys, index, next nonce and the waves it signed ahead."""

    def __init__(self, secret: bytes, status: dict[str, Any], me: dict[str, Any]) -> None:
        from l2gpu.core.crypto.bls import BlsSecretKey
        from l2gpu.core.crypto.secp256k1 import PrivateKey
        from l2gpu.core.l2.codec import encode_tx, kind_of
        from l2gpu.core.l2.envelope import rollup_domain
        from l2gpu.core.l2.transactions import Transfer
        from l2gpu.core.types import Address, ChainId, Wei

        self.key = PrivateKey(secret)
        self.bls = BlsSecretKey.from_seed(self.key.secret)
        self.domain = rollup_domain(ChainId(status["chain_id"]), Address.from_hex(status["rollup"]))
        self.index, self.nonce = int(me["index"]), int(me["next_nonce"])
        self.tx = Transfer(self.index, 0, Wei(10**12), Wei(0))
        self.kind = kind_of(self.tx)
        self.body = "0x" + encode_tx(self.kind, self.tx).hex()
        self.ahead: list[list[dict[str, Any]]] = []

    def sign(self, first: int, count: int) -> list[dict[str, Any]]:
        """``count`` signed transfers from nonce ``first``, as the API takes them."""
        from l2gpu.core.l2.envelope import seal

        signed = (seal(self.key, self.domain, self.tx, first + i) for i in range(count))
        return [{"kind": self.kind, "body": self.body, "nonce": e.nonce,
                 "signature": "0x" + e.signature.hex()} for e in signed]  # fmt: skip

    def next_wave(self, wave: int) -> tuple[list[dict[str, Any]], bool]:
        """The wave to send at the account's nonce, and whether it was signed now."""
        if self.ahead and self.ahead[0][0]["nonce"] == self.nonce:
            return self.ahead.pop(0), False
        self.ahead.clear()  # a transfer was refused: the nonces signed ahead are off
        return self.sign(self.nonce, wave), True


async def _signed_ahead(http: httpx.AsyncClient, status: dict[str, Any], secret: bytes,
                        wave: int, presign: int) -> _Account:  # fmt: skip
    """An account with ``presign`` waves signed before the window: users sign on their
    own machines, so the signing is kept off the cores the node is measured on."""
    from l2gpu.core.crypto.secp256k1 import PrivateKey

    address = PrivateKey(secret).address.checksum
    account = _Account(secret, status, (await http.get(f"/l2/accounts/{address}")).json())
    account.ahead = [account.sign(account.nonce + w * wave, wave) for w in range(presign)]
    return account


async def _account(url: str, account: _Account, wave: int, until: float) -> tuple[int, int]:
    # A connection pool per account, as each user's SDK holds its own: one pool shared by
    # every account of a process made the client scan all its connections per request
    # (httpcore's pool is linear in its size), which took half the clients' CPU.
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return await _account_waves(http, account, wave, until)


async def _account_waves(http: httpx.AsyncClient, account: _Account, wave: int,
                         until: float) -> tuple[int, int]:  # fmt: skip
    """Send waves until ``until``; return the waves sent and those signed meanwhile."""
    waves = signed_live = 0
    address, index, body = account.key.address.checksum, account.index, account.body
    while time.time() < until:
        transactions, live = account.next_wave(wave)
        signed_live += live
        sent = await http.post("/l2/transactions/batch", json={"transactions": transactions})
        account.nonce += sum("accepted" in r for r in sent.json()["results"])
        while True:
            requests = (await http.get(f"/l2/cosign/{index}", params={"wait": 5})).json()
            answers = [
                {"request": r["request"],
                 "signature": "0x" + account.bls.sign(bytes.fromhex(r["message"][2:])).hex()}
                for r in requests if all(m["body"] == body for m in r["mine"])
            ]  # fmt: skip
            if answers:  # all in one request, as an SDK answers what one long-poll returned
                await http.post(f"/l2/cosign/{index}", json={"answers": answers})
            if answers and time.time() < until + 30:
                continue  # just co-signed: the seal is not done yet, so wait for it first
            found = (await http.get(f"/l2/accounts/{address}")).json()
            if int(found["nonce"]) >= account.nonce or time.time() >= until + 30:
                account.nonce = int(found["next_nonce"])
                break
        waves += 1
    return waves, signed_live


def _sealed(url: str) -> tuple[int, float]:
    """Transactions the node has sealed so far, and when that was read (mid-request)."""
    before = time.time()
    count = int(httpx.get(f"{url}/l2/status", timeout=60).json()["transactions_sealed"])
    return count, (before + time.time()) / 2


def measure_node(
    *,
    accounts: int = 256,
    processes: int = 4,
    wave: int = 64,
    seconds: float = 20.0,
    batch_size: int = 4000,
    presign: int = 12,
) -> dict[str, Any]:
    """Drive ``l2gpu up`` on anvil with client processes; return its figures.
    ``presign``: waves each account signs before the window (then signs as it goes)."""

    folder = tempfile.mkdtemp(prefix="l2gpu-bench-node-")
    anvil_port, api_port = _free_port(), _free_port()
    anvil = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
        [_anvil_binary(), "--port", str(anvil_port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    node = None
    clients: list[Any] = []
    # The node's log, kept in the bench folder (printed when it fails).
    log = open(Path(folder) / "node.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        _wait_port(anvil_port, anvil, "anvil")
        anvil_url = f"http://127.0.0.1:{anvil_port}"
        env = {**os.environ, "L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEY,
               "L2GPU_DATA_DIR": folder, "L2GPU_API_PORT": str(api_port)}  # fmt: skip
        node = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "l2gpu.cli.main", "up", "--interval", "0.1",
             "--batch-size", str(batch_size)],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        _wait_port(api_port, node, "l2gpu up")
        url = f"http://127.0.0.1:{api_port}"
        keys = [(10_000 + i).to_bytes(32, "big") for i in range(accounts)]
        _fund(anvil_url, url, keys)
        context = multiprocessing.get_context("spawn")
        ready, go, done = context.Queue(), context.Queue(), context.Queue()
        shares = [keys[i::processes] for i in range(processes)]
        clients.extend(context.Process(target=_client_process,
                                       args=(url, share, wave, presign, ready, go, done))
                       for share in shares)  # fmt: skip
        for client in clients:
            client.start()
        waiting = len(clients)
        while waiting:  # every account has signed its waves ahead
            try:
                ready.get(timeout=1.0)
                waiting -= 1
            except queue.Empty:
                if any(c.exitcode is not None for c in clients):
                    raise L2gpuError(
                        "a client process of the benchmark died while signing",
                        "run it again; the node's log is in the bench folder",
                    ) from None
        start_at = time.time() + 3.0  # the clients warm up for 3 s before the window
        until = start_at + seconds
        for _ in clients:
            go.put(until)
        # The clients' CPU is counted beside the node's and anvil's, to show how much of
        # the machine each part took.
        pids = [c.pid for c in clients if c.pid is not None]
        time.sleep(max(0.0, start_at - time.time()))  # to the window's start (wall time)
        cpu_before = _cpu_of(node.pid, anvil.pid, pids)
        before, t0 = _sealed(url)
        time.sleep(max(0.0, until - time.time()))  # the measured window itself
        after, t1 = _sealed(url)
        cpu_after = _cpu_of(node.pid, anvil.pid, pids)
        counts = [done.get(timeout=120) for _ in clients]
        for client in clients:
            client.join(timeout=30)
        waves, signed_live = sum(c[0] for c in counts), sum(c[1] for c in counts)
        included = after - before
        used = [a - b for a, b in zip(cpu_after, cpu_before, strict=True)]
        per_tx = [round(1000 * u / max(1, included), 3) for u in used]
        return {
            "node_tps": round(included / (t1 - t0), 1),
            "node_cpu_ms_per_tx": per_tx[0],
            "anvil_cpu_ms_per_tx": per_tx[1],
            "clients_cpu_ms_per_tx": per_tx[2],
            # How busy the machine was over the window (1.0: every core, all the time).
            "machine_busy": round(sum(used) / ((t1 - t0) * _cores()), 3),
            # The rate the node's CPU per transfer would allow on a core of its own.
            "node_tps_own_core": round(1000 / per_tx[0]) if per_tx[0] else None,
            # The most this machine could include with these clients on it: every core
            # busy, at the CPU per transfer that the node, anvil and the clients took.
            "machine_ceiling_tps": round(_cores() * 1000 / sum(per_tx)) if sum(per_tx) else None,
            "node_transactions_included": included,
            "node_window_s": round(t1 - t0, 1),
            "node_client_accounts": accounts,
            "node_client_processes": processes,
            "node_wave": wave,
            "node_batch_size": batch_size,
            "node_waves_sent": waves,
            "node_waves_presigned": presign * accounts,
            # Waves signed during the run (the ones signed ahead ran out or were off).
            "node_waves_signed_live": signed_live,
        }
    finally:
        for client in clients:  # gone already unless the run failed
            if client.is_alive():
                client.terminate()
                client.join(timeout=10)
        for process in (node, anvil):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        log.close()
        if os.environ.get("BENCH_KEEP_FOLDER"):
            print(f"bench folder kept: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def wal_appends_per_s(groups: int = 50, group: int = WAL_GROUP) -> float:
    """Envelope records written durably per second (group commits of ``group``), SQLite."""
    from l2gpu.db import open_database
    from l2gpu.node.wal import WriteAheadLog

    with tempfile.TemporaryDirectory() as folder:
        log = WriteAheadLog(open_database(f"sqlite:///{folder}/wal.db"))
        payload = bytes(120)  # an envelope record's size: kind, nonce, signature, transfer
        rates = []
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(groups):
                log.append_envelopes([payload] * group)
            rates.append(groups * group / (time.perf_counter() - started))
    return statistics.median(rates)


def run() -> dict[str, Any]:
    """Measure the suite's figures."""
    from l2gpu.bench.rollup import transfer_batch

    sequencer = statistics.median(1 / transfer_batch(seed=s)[1] for s in (7, 8, 9))
    figures = measure_node()
    return {
        "suite": "node",
        **figures,
        "sequencer_tps": round(sequencer),
        "node_vs_sequencer": round(figures["node_tps"] / sequencer, 3),
        "node_own_core_vs_sequencer": round((figures["node_tps_own_core"] or 0) / sequencer, 3),
        "wal_appends_per_s": round(wal_appends_per_s()),
        "wal_group": WAL_GROUP,
        "cores": _cores(),
        **environment(),
    }
