"""``l2gpu bench shards``: what N rollup shards sharing one bridge carry, and what a
transfer between shards costs.

- ``shards_tps``: for N = 1, 2 and 4, transfers per second the shards include
  together, summed from each shard's count of sealed transactions over the window:
  real processes (``l2gpu up --shards N`` on anvil: one process per shard), with one
  client process per shard whose accounts (128 in all, the same for every N, each
  on its own shard by the routing rule) send transfers in waves and co-sign them,
  as ``bench node`` drives one node. ``shards_scaling`` is each rate over N = 1's.
  The machine's cores bound it (``cores``), and the clients and anvil share them,
  so ``shards_cpu_ms_per_tx`` says what each part took per included transfer, and
  ``shards_projected_tps_one_core_each`` the rate N shards would reach with a core
  each at that cost (anvil and the clients elsewhere): a projection, labelled so.
- ``move_*``: one transfer between shards on the embedded L1 (in process), each
  way: see :mod:`l2gpu.bench.shard_moves`.
- ``zk_move_*``: the same between two zk shards, each with its real zk node proving
  its batches: see :mod:`l2gpu.bench.zk_shard_moves`.
- ``virtual_payment_ms_loopback_*``: the virtual channel's vouchers as the market
  carries them: the renter's POST to the market's API on loopback, checked there
  (``shard_moves.measure_virtual_market_payment``, the sharded demo's lease).
- ``hop_forward_ms_in_process``: a lease paid across shards through a hub
  (``core/shards/hop.py``): the hub's check of a renter voucher and its signed
  voucher onward, median per second of a lease, in process.
- ``hop_payment_ms_loopback_*``: the same lease through the hub's HTTP API on
  loopback (``l2gpu.hub``), between two shards with their nodes on loopback: from
  the renter's signing to its check of the hub's voucher back (journaled on disk by
  the hub first), per second; and the lease's L2 bytes on each shard (open and
  close on the renter's shard, open and close on the provider's).
- ``virtual_*``: the same lease over a virtual channel (``core/shards/virtual.py``):
  a payment is the renter's signing and the provider's check of one voucher, with
  no hub in between (``virtual_payment_ms_in_process_*``: in process, as no hop
  carries it; in the market it rides the market's voucher call like any lease's);
  the lease's L2 bytes on each shard (each end's open and close: the provider's
  close alone, and the hub's claim of the same voucher); and the seconds from the
  provider's close being sent to the hub's claim being in the renter's shard's batch.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from l2gpu.bench import environment, shard_moves, zk_shard_moves
from l2gpu.bench.node import (
    ANVIL_KEY,
    _anvil_binary,
    _client_process,
    _cores,
    _cpu_seconds,
    _free_port,
    _sealed,
    _wait_port,
)
from l2gpu.core.errors import L2gpuError

ACCOUNTS = 128  # client accounts in all, for every N
WAVE, PRESIGN = 64, 12


def _free_ports_in_a_row(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are all free now."""
    import socket

    for _ in range(100):
        base = _free_port()
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise L2gpuError(f"found no {count} free ports in a row on loopback")


def _keys_by_shard(count: int, per_shard: int) -> list[list[bytes]]:
    """``per_shard`` client keys living on each of ``count`` shards (the routing rule)."""
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.shards.routing import shard_of

    groups: list[list[bytes]] = [[] for _ in range(count)]
    seed = 20_000
    while any(len(g) < per_shard for g in groups):
        key = seed.to_bytes(32, "big")
        home = groups[shard_of(PrivateKey(key).address, count)]
        if len(home) < per_shard:
            home.append(key)
        seed += 1
    return groups


def _fund(anvil_url: str, bridge: str, urls: list[str], groups: list[list[bytes]]) -> None:
    """Deposit 10 ether for every key through the bridge; wait until each shard credits."""
    from web3.types import RPCEndpoint

    from l2gpu.core.crypto.bls import BlsSecretKey
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.types import Address
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.bridge import BridgeClient
    from l2gpu.l1.jsonrpc import connect_jsonrpc
    from l2gpu.l1.keys import account_from_private_key

    keys = [k for g in groups for k in g]
    accounts = [account_from_private_key("0x" + k.hex()) for k in keys]
    chain = connect_jsonrpc(anvil_url, accounts)
    compiled = compile_contract("bridge/Bridge.vy")
    client = BridgeClient(chain, chain.attach(compiled, Address.from_hex(bridge)))
    for account, key in zip(accounts, keys, strict=True):
        chain.w3.provider.make_request(RPCEndpoint("anvil_setBalance"),
                                       [account.address, hex(10**21)])  # fmt: skip
        client.deposit(account, BlsSecretKey.from_seed(PrivateKey(key).secret), 10**19)
    deadline = time.monotonic() + 180
    for url, group in zip(urls, groups, strict=True):
        last = PrivateKey(group[-1]).address.checksum
        while httpx.get(f"{url}/l2/accounts/{last}").status_code != 200:
            if time.monotonic() > deadline:
                raise L2gpuError("the shards did not credit the deposits within 180 s")
            time.sleep(0.2)  # each shard seals its deposits in its next batches


def _shard_pids(folder: str) -> list[int]:
    """The shard processes the launcher started for ``folder``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"--shard" in argv and folder.encode() in env:
            pids.append(int(proc.name))
    return pids


def measure_shards(count: int, *, seconds: float = 10.0) -> dict[str, Any]:
    """Run ``l2gpu up --shards count`` on anvil with a client process per shard."""
    folder = tempfile.mkdtemp(prefix=f"l2gpu-bench-shards-{count}-")
    anvil_port, base = _free_port(), _free_ports_in_a_row(count)
    anvil = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
        [_anvil_binary(), "--port", str(anvil_port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    launcher = None
    clients: list[Any] = []
    log = open(Path(folder) / "launcher.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        _wait_port(anvil_port, anvil, "anvil")
        anvil_url = f"http://127.0.0.1:{anvil_port}"
        env = {**os.environ, "L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEY,
               "L2GPU_DATA_DIR": folder, "L2GPU_API_PORT": str(base)}  # fmt: skip
        launcher = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "l2gpu.cli.main", "up", "--shards", str(count),
             "--interval", "0.1", "--batch-size", "4000"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        urls = [f"http://127.0.0.1:{base + i}" for i in range(count)]
        bridge = _bridge_of(Path(folder) / "launcher.log", launcher)
        for i in range(count):
            _wait_port(base + i, launcher, f"shard {i}", seconds=180)
        groups = _keys_by_shard(count, ACCOUNTS // count)
        _fund(anvil_url, bridge, urls, groups)
        context = multiprocessing.get_context("spawn")
        ready, go, done = context.Queue(), context.Queue(), context.Queue()
        clients.extend(context.Process(target=_client_process,
                                       args=(url, group, WAVE, PRESIGN, ready, go, done))
                       for url, group in zip(urls, groups, strict=True))  # fmt: skip
        for client in clients:
            client.start()
        for _ in clients:
            try:
                ready.get(timeout=300)
            except queue.Empty:
                raise L2gpuError("a client process of the benchmark did not get ready") from None
        start_at = time.time() + 3.0
        until = start_at + seconds
        for _ in clients:
            go.put(until)
        shard_pids = _shard_pids(folder)
        pids = [c.pid for c in clients if c.pid is not None]
        time.sleep(max(0.0, start_at - time.time()))  # to the window's start (wall time)
        cpu0 = _cpu(shard_pids, anvil.pid, pids)
        before = [_sealed(u) for u in urls]
        time.sleep(max(0.0, until - time.time()))  # the measured window itself
        after = [_sealed(u) for u in urls]
        cpu1 = _cpu(shard_pids, anvil.pid, pids)
        for _ in clients:
            done.get(timeout=120)
        included = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
        window = statistics.median(a[1] - b[1] for a, b in zip(after, before, strict=True))
        used = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
        per_tx = [round(1000 * u / max(1, included), 3) for u in used]
        return {
            "tps": round(included / window, 1),
            "included": included,
            "window_s": round(window, 1),
            "cpu_ms_per_tx": {"shards": per_tx[0], "anvil": per_tx[1], "clients": per_tx[2]},
            "shard_processes": len(shard_pids),
        }
    finally:
        for client in clients:
            if client.is_alive():
                client.terminate()
                client.join(timeout=10)
        if launcher is not None:
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(timeout=60)
            except subprocess.TimeoutExpired:
                launcher.kill()
        anvil.terminate()
        anvil.wait(timeout=20)
        log.close()
        if os.environ.get("BENCH_KEEP_FOLDER"):
            print(f"bench folder kept: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _bridge_of(log: Path, launcher: subprocess.Popen[bytes]) -> str:
    """The bridge's address, from the launcher's line about it (once it printed it)."""
    for _ in range(1800):
        found = [x.split()[1] for x in log.read_text().splitlines() if x.startswith("bridge ")]
        if found:
            return found[0]
        if launcher.poll() is not None:
            raise L2gpuError("l2gpu up --shards exited before starting its shards",
                             f"its log: {log.read_text()[-400:]}")  # fmt: skip
        time.sleep(0.1)  # waiting for a real process to deploy
    raise L2gpuError("l2gpu up --shards did not start its shards within 180 s")


def _cpu(shards: list[int], anvil: int, clients: list[int]) -> tuple[float, float, float]:
    return (sum(_cpu_seconds(p) for p in shards), _cpu_seconds(anvil),
            sum(_cpu_seconds(p) for p in clients))  # fmt: skip


def measure_hop(seconds: int = 300) -> dict[str, Any]:
    """The hub's work per forwarded second (core/shards/hop.py), in process: check the
    renter's voucher, sign its own onward (the hop's compute; its latency over HTTP
    is :func:`measure_hop_http`)."""
    from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.shards.hop import Forward, HopState, HopTerms, RenterVoucher, sign_forward
    from l2gpu.core.shards.hop import state_transition as hop
    from l2gpu.core.types import Address, ChainId, Hash32, Wei

    renter, hub = PrivateKey((31).to_bytes(32, "big")), PrivateKey((32).to_bytes(32, "big"))
    a, b = Address(b"\x0a" * 20), Address(b"\x0b" * 20)
    price = 10**12
    terms = HopTerms(Hash32(b"\x01" * 32), channel_domain(ChainId(1), a), 10**18,
                     renter.address, Hash32(b"\x02" * 32), channel_domain(ChainId(1), b),
                     10**18, 1_000)  # fmt: skip
    vouchers = [sign_voucher(renter, terms.inbound_domain, terms.inbound,
                             Wei(terms.renter_owes(t * price)))
                for t in range(1, seconds + 1)]  # fmt: skip
    state, took = HopState(terms), []
    for voucher in vouchers:
        started = time.perf_counter()
        state, events = hop(state, RenterVoucher(voucher))
        forward = events[0]
        if not isinstance(forward, Forward):
            raise L2gpuError("the hub refused an honest voucher; the figure is void")
        sign_forward(hub, terms, forward)
        took.append(time.perf_counter() - started)
    return {"hop_forward_ms_in_process": round(1000 * statistics.median(took), 3),
            "hop_seconds_forwarded": len(took)}  # fmt: skip


def measure_hop_http(seconds: int = 200, *, virtual: bool = False) -> dict[str, Any]:
    """One routed lease over a hub served on loopback, between two shards whose nodes
    serve on loopback (embedded L1): each second the renter signs its voucher, sends
    it to the hub over HTTP and checks the hub's voucher back (the one-hop payment the
    provider then holds); and the L2 bytes the lease put in each shard's batches.

    ``virtual``: the lease runs over a virtual channel instead (``virtual_*``): each
    second the renter signs the one voucher and the provider checks it, with no hub
    in between; after the provider's close, the seconds until the hub's claim of the
    same voucher on the renter's shard is in a batch."""
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.market.channel_description import voucher_domain
    from l2gpu.core.types import Address, Wei
    from l2gpu.hub.runner import start_hub
    from l2gpu.l1.embedded import start_embedded_chain
    from l2gpu.node.client import L2Client
    from l2gpu.payments.rollup_rail import RollupChannelRail
    from l2gpu.payments.routed_rail import RoutedChannelRail
    from l2gpu.scenarios.sharded_market import account_on, shard_nodes

    chain = start_embedded_chain()
    taken: set[str] = set()
    renter, provider = account_on(chain, 0, 2, taken), account_on(chain, 1, 2, taken)
    hub_account = next(a for a in chain.accounts[1:9] if a.address not in taken)
    nodes = shard_nodes(chain, 2, depositors=[renter, provider], everywhere=[hub_account])
    folder = tempfile.mkdtemp(prefix="l2gpu-bench-hub-")
    # vouchers back to back (a second each, faster than the wall clock): no rate bound
    hub = start_hub(
        PrivateKey(bytes(hub_account.key)), nodes.urls, Path(folder), vouchers_per_s=None
    )
    price = 10**12
    try:
        assert hub.url is not None
        rail = RoutedChannelRail(PrivateKey(bytes(renter.key)), hub.url, nodes.urls,
                                 virtual=virtual)  # fmt: skip
        opened = rail.open(Address.from_hex(provider.address), Wei(price * seconds),
                           lifetime=3600)  # fmt: skip
        lease = opened.description
        domain = voucher_domain(lease)
        took, best = [], None
        for second in range(1, seconds + 1):
            started = time.perf_counter()
            best = rail.sign(lease.channel_id, Wei(price * second))
            if virtual and best.signer(domain) != lease.voucher_signer:  # the provider's check
                raise L2gpuError("a virtual voucher did not verify", "this is a bug in l2gpu")
            took.append(time.perf_counter() - started)
        assert best is not None
        provider_rail = RollupChannelRail(L2Client(nodes.urls[1], PrivateKey(bytes(provider.key))),
                                          cooperative=not virtual)  # fmt: skip
        closing_at = time.monotonic()
        closed = provider_rail.close(lease, best)
        if not virtual:
            rail.cosign_close(lease, Wei(price * seconds))
        route = next(iter(hub.hub.routes.values()))
        deadline = time.monotonic() + 60
        while not route.finished and time.monotonic() < deadline:
            time.sleep(0.05)  # the hub claims the renter's channel on its own thread
        claimed_s = time.monotonic() - closing_at
        ordered = sorted(took)
        name = "virtual" if virtual else "hop"
        where = "in_process" if virtual else "loopback"
        return {
            f"{name}_payment_ms_{where}_median": round(1000 * statistics.median(took), 2),
            f"{name}_payment_ms_{where}_p95": round(1000 * ordered[int(0.95 * len(ordered))], 2),
            f"{name}_payments": len(took),
            f"{name}_lease_l2_bytes_renter_shard": opened.tx_bytes + route.claim_bytes,
            f"{name}_lease_l2_bytes_provider_shard": route.open_bytes + closed.tx_bytes,
            f"{name}_closes": f"provider's close: {closed.how}, hub claimed: {route.finished}",
        } | ({"virtual_hub_claim_s_from_close": round(claimed_s, 2)} if virtual else {})
    finally:
        hub.close()
        nodes.stop()
        shutil.rmtree(folder, ignore_errors=True)


def run() -> dict[str, Any]:
    """Measure the suite's figures."""
    runs = {n: measure_shards(n) for n in (1, 2, 4)}
    base = runs[1]["tps"] or 1.0
    cores = _cores()
    return {
        "suite": "shards",
        "shards_tps": {str(n): r["tps"] for n, r in runs.items()},
        "shards_scaling": {str(n): round(r["tps"] / base, 2) for n, r in runs.items()},
        "shards_cpu_ms_per_tx": {str(n): r["cpu_ms_per_tx"] for n, r in runs.items()},
        # A projection, not a measurement: N shards with a core each (anvil and the
        # clients elsewhere), at the shards' CPU per transfer measured with N shards.
        "shards_projected_tps_one_core_each": {
            str(n): round(1000 / r["cpu_ms_per_tx"]["shards"] * n)
            if r["cpu_ms_per_tx"]["shards"]
            else None
            for n, r in runs.items()
        },
        "shards_included": {str(n): r["included"] for n, r in runs.items()},
        "shards_client_accounts": ACCOUNTS,
        **shard_moves.measure_moves(),
        **zk_shard_moves.measure_zk_moves(),
        **measure_hop(),
        **measure_hop_http(),
        **measure_hop_http(virtual=True),
        **shard_moves.measure_virtual_market_payment(),
        "cores": cores,
        **environment(),
    }
