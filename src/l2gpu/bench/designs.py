"""The ``designs`` suite: one lease trace through every settlement design.

The workload: ``leases`` leases whose durations and GPU counts are drawn (seeded)
from the Philly trace in ``../shared/data``, run ``wave`` at a time between distinct
renters and providers, each paid every second at ``RATE`` wei per GPU-second. Every
design runs on the same L1 (anvil) beside the same rollup node (``l2gpu up`` as a
process, at its default batch interval), through :mod:`l2gpu.designs` only.

Paying each of a trace's seconds (14 million for 1,000 Philly leases) cannot fit a
benchmark, so each lease pays its first ``seconds`` seconds for real, every one of
them a voucher or an L2 transfer through the running system. What the run cost on
L1 is read back from L1 (the signed bytes and receipts of every transaction sent to
the design's contracts in its window). The ``zk`` design runs its own node
(``l2gpu up --design zk``, proving every batch) beside the first, and so does
``validium`` (``l2gpu up --design validium``), each on the first
``zk_leases`` leases of the same trace: a Groth16 proof per batch on 2 cores takes
tens of seconds, so the whole trace would take hours. ``plasma`` runs its operator
(``l2gpu up --design plasma``, a block a second) on the whole trace. Per paid
GPU-hour it is reported over the
trace's own durations: exact for the channel designs, whose per-second vouchers never
reach a chain; for the per-second transfers of ``rollup``, the measured L1 cost per
transfer carries the seconds not sent (``per_gpu_hour_basis`` says which).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from l2gpu.bench import environment
from l2gpu.bench.design_nodes import (
    ZK_DESIGNS,
    attach_zk_node,
    settle,
    spawn_zk_node,
    start_plasma_node,
    start_shards,
)
from l2gpu.bench.node import ANVIL_KEY, _anvil_binary, _cpu_seconds, _free_port, _wait_port
from l2gpu.bench.shards import _shard_pids
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, Wei

RATE = Wei(10**12)  # wei per GPU-second (an input of the workload)
LIFETIME_S = 7 * 24 * 3600
BLOB_BYTES = 4096 * 31  # what one blob carries of a batch (31 bytes per field element)
GAS_PER_BLOB = 2**17
ZK_SHAPE = "8,2,1,8,8,2"
"""The zk node's batch: 8 deposits, 8 opens and 8 closes a batch, so that a wave's
deposits and channels share a proof (each batch's verification costs L1 about 200k
gas whatever it holds)."""


@dataclass(frozen=True)
class TraceLease:
    """One lease of the workload: its Philly duration and GPUs, and the seconds paid."""

    duration_s: int
    gpus: int
    paid_s: int


def philly_trace(leases: int, seconds: int, seed: int) -> list[TraceLease]:
    """``leases`` jobs drawn from the Philly trace (seeded); each pays at most ``seconds``."""
    from l2gpu.analytics.datasets import load_philly_jobs

    jobs = load_philly_jobs()
    rows = jobs.sample(n=leases, random_state=seed, replace=leases > len(jobs))
    return [TraceLease(int(d), int(g), min(int(d), seconds))
            for d, g in zip(rows["duration"], rows["num_gpus"], strict=True)]  # fmt: skip


@dataclass
class Tally:
    """What one design's run did, lease by lease."""

    first_payment_s: list[float] = field(default_factory=list)
    close_s: list[float] = field(default_factory=list)
    pay_s: list[float] = field(default_factory=list)
    l2_bytes: int = 0
    messages: int = 0
    transfers: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _run_lease(design: Any, renter: Any, provider: Any, lease: TraceLease, tally: Tally) -> None:
    rate = RATE * lease.gpus
    try:
        started = time.perf_counter()
        handle, step = design.open_lease(renter, provider, Wei(rate * lease.paid_s),
                                         lifetime=LIFETIME_S)  # fmt: skip
        steps, pays = [step], []
        for second in range(1, lease.paid_s + 1):
            # The renter pays each second as it starts; the provider holds the payment
            # (a checked voucher, or a transfer's signed receipt) when pay() returns.
            begun = time.perf_counter()
            steps.append(design.pay(handle, Wei(rate * second)))
            pays.append(time.perf_counter() - begun)
            if second == 1:
                first = time.perf_counter() - started
        closing = time.perf_counter()
        steps.append(design.close(handle, Wei(rate * lease.paid_s)))
        closed = time.perf_counter() - closing
        with tally.lock:
            if lease.paid_s:
                tally.first_payment_s.append(first)
            tally.close_s.append(closed)
            tally.pay_s.extend(pays)
            tally.l2_bytes += sum(s.l2_bytes for s in steps)
            tally.messages += sum(s.messages for s in steps)
    except Exception as exc:  # a lease that fails is counted and named, not hidden
        with tally.lock:
            tally.errors.append(f"{type(exc).__name__}: {exc}")


def _l1_window(w3: Any, to: set[Address], first: int, last: int) -> dict[str, int]:
    """Every transaction to ``to`` in blocks ``first..last``: signed bytes, receipt gas,
    calldata bytes, and the gas the same data would cost at 16 gas a byte, at EIP-7623's
    floor, and as blobs."""
    from l2gpu.bench.l1_cost import signed_tx_bytes

    out = dict.fromkeys(("transactions", "bytes", "gas", "data_bytes", "calldata16_gas",
                         "floor7623_gas", "blob_gas"), 0)  # fmt: skip
    for number in range(first, last + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["to"] is None or Address.from_hex(tx["to"]) not in to:
                continue
            data = bytes(tx["input"])
            zeros = data.count(0)
            out["transactions"] += 1
            out["bytes"] += signed_tx_bytes(w3, tx)
            out["gas"] += int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
            out["data_bytes"] += len(data)
            out["calldata16_gas"] += 21_000 + 16 * len(data)
            out["floor7623_gas"] += 21_000 + 10 * (zeros + 4 * (len(data) - zeros))
            out["blob_gas"] += GAS_PER_BLOB * -(-len(data) // BLOB_BYTES)
    return out


def _parties(chain: Any, count: int, base: int) -> list[Any]:
    """``count`` fresh L1 accounts with ether (anvil's setBalance)."""
    from eth_account import Account
    from web3.types import RPCEndpoint

    parties = [Account.from_key((base + i).to_bytes(32, "big")) for i in range(count)]
    for party in parties:
        chain.w3.provider.make_request(RPCEndpoint("anvil_setBalance"),
                                       [party.address, hex(10**24)])  # fmt: skip
    return parties


def _balance(design: Any, world: Any, party: Any) -> int:
    """The party's balance in the design's rollup (0 until its deposit is credited)."""
    if design.name == "plasma":
        return int(design.balance(party))
    if design.name == "sharded":
        return int(design.client(party).account()["balance"])
    if design.name in ZK_DESIGNS:
        rail = design.rail(party)
        found = rail.client.account_of(Address.from_hex(party.address))
        return 0 if found is None else int(found["balance"])
    return int(world.l2(party).account()["balance"])


def _fund(design: Any, world: Any, parties: list[Any], amount: Wei) -> None:
    """Fund every party on ``design`` and wait until the node credits them."""
    steps = [design.fund(party, amount) for party in parties]
    if (world.node_url is None and design.name != "plasma") or not any(
        step.l1_txs for step in steps
    ):
        return  # nothing was deposited anywhere (channel-l1 pays from L1 balances)
    deadline = time.monotonic() + 600
    for party in parties:
        while True:
            try:
                if _balance(design, world, party) >= amount:
                    break
            except L2gpuError:
                pass  # not credited yet
            if time.monotonic() > deadline:
                raise L2gpuError("the node did not credit the deposits within 600 s")
            time.sleep(0.2)  # the node credits deposits in its next batches


def _design_run(name: str, world: Any, trace: list[TraceLease], wave: int,
                node_pid: int | list[int], contracts: set[Address],
                base: int) -> dict[str, Any]:  # fmt: skip
    """Run the trace through one design; return its figures."""
    from l2gpu.designs import make_design

    design = make_design(name, world)
    renters = _parties(world.chain, wave, base)
    providers = _parties(world.chain, wave, base + 10_000)
    budget = Wei(max(RATE * t.gpus * t.paid_s for t in trace) * (len(trace) // wave + 2))
    _fund(design, world, renters, budget)
    _fund(design, world, providers, Wei(10**16))  # a provider pays the fees of its closes
    # The run's L1 window opens once the funding is on L1: its batches are not the leases'.
    settle(name, world)
    tally = Tally()
    first_block = world.chain.block_number() + 1
    pids = node_pid if isinstance(node_pid, list) else [node_pid]
    cpu_before, started = sum(_cpu_seconds(p) for p in pids), time.perf_counter()
    for at in range(0, len(trace), wave):
        threads = [threading.Thread(target=_run_lease, args=(design, renters[i], providers[i],
                                                             lease, tally))
                   for i, lease in enumerate(trace[at : at + wave])]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    settle(name, world)
    wall = time.perf_counter() - started
    cpu = sum(_cpu_seconds(p) for p in pids) - cpu_before
    spend = _l1_window(world.chain.w3, contracts, first_block, world.chain.block_number())
    figures = _figures(design, trace, tally, spend, wall, cpu)
    if name == "sharded":
        figures["leases_routed_through_hub"] = getattr(design, "routed_leases", None)
        figures["shards"] = len(world.shard_urls)
    return figures


def _figures(design: Any, trace: list[TraceLease], tally: Tally, spend: dict[str, int],
             wall: float, cpu: float) -> dict[str, Any]:  # fmt: skip
    clocks, done = design.clocks(), len(trace) - len(tally.errors)
    trace_gpu_h = sum(t.duration_s * t.gpus for t in trace) / 3600
    run_gpu_h = sum(t.paid_s * t.gpus for t in trace) / 3600
    paid_seconds = sum(t.paid_s for t in trace)
    # Per-second transfers: every second is its own L2 transaction, so the seconds the
    # run did not send would cost what the sent ones cost; vouchers never reach L1.
    per_second = design.name == "rollup"
    scale = (sum(t.duration_s for t in trace) / max(1, paid_seconds)) if per_second else 1.0
    per_hour = {
        key: round(spend[key] * scale / trace_gpu_h, 3)
        for key in ("bytes", "gas", "calldata16_gas", "floor7623_gas", "blob_gas")
    }
    provider_wei = max((RATE * t.gpus for t in trace), default=0)
    pay_worst = max(tally.pay_s, default=0.0)
    soft = statistics.median(tally.close_s) if tally.close_s else None
    return {
        "leases_in_run": len(trace),
        "leases_done": done,
        "lease_errors": tally.errors[:5],
        "l1_transactions": spend["transactions"],
        "l1_bytes": spend["bytes"],
        "l1_gas": spend["gas"],
        "l2_tx_bytes": tally.l2_bytes,
        "off_chain_messages": tally.messages,
        "per_gpu_hour_basis": "measured seconds scaled to the trace" if per_second else "measured",
        "l1_bytes_per_gpu_hour": per_hour["bytes"],
        "l1_gas_per_gpu_hour": per_hour["gas"],
        "l1_gas_calldata_16_per_gpu_hour": per_hour["calldata16_gas"],
        "l1_gas_eip7623_floor_per_gpu_hour": per_hour["floor7623_gas"],
        "l1_blob_gas_per_gpu_hour": per_hour["blob_gas"],
        "l1_bytes_per_lease_in_run": round(spend["bytes"] / max(1, done), 1),
        "run_gpu_hours": round(run_gpu_h, 3),
        "seconds_to_first_payment_median": _median(tally.first_payment_s),
        "provider_money_soft_s_median": None if soft is None else round(soft, 3),
        "provider_money_final_s": None if soft is None else round(soft + clocks.final_s, 1),
        "provider_money_withdrawable_s": None
        if soft is None
        else round(soft + clocks.withdrawable_s, 1),
        # The renter pays each second as it starts: at risk, the second paid and not
        # yet served; the provider serves on a payment it holds, so its exposure is
        # the time a payment takes to reach it (the worst seen) at the lease's rate.
        "renter_exposure_s": 1 if paid_seconds else 0,
        "renter_exposure_wei_max": provider_wei,
        "provider_exposure_s_max": round(pay_worst, 4),
        "provider_exposure_wei_max": round(pay_worst * provider_wei),
        "operator_cpu_s": round(cpu, 2) if design.name != "channel-l1" else None,
        "operator": design.powers().to_json(),
        "wall_s": round(wall, 1),
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def measure_designs(
    *, leases: int = 1000, seconds: int = 10, wave: int = 40, seed: int = 7,
    designs: tuple[str, ...] = ("channel-l1", "rollup", "hybrid", "zk", "validium", "plasma",
                                "sharded"),
    zk_leases: int = 16,
    zk_shape: str = ZK_SHAPE,
) -> dict[str, Any]:  # fmt: skip
    """Run the Philly-drawn trace through ``designs`` on one anvil and one node (and a
    zk node for each of ``zk`` and ``validium``, on the trace's first ``zk_leases``
    leases)."""
    from l2gpu.designs import DesignWorld
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.l1.contracts.rollup import RollupClient
    from l2gpu.l1.jsonrpc import connect_jsonrpc
    from l2gpu.l1.keys import account_from_private_key

    trace = philly_trace(leases, seconds, seed)
    folder = tempfile.mkdtemp(prefix="l2gpu-bench-designs-")
    anvil_port, api_port = _free_port(), _free_port()
    anvil = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
        [_anvil_binary(), "--port", str(anvil_port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    node = None
    other_nodes: list[Any] = []
    closers: list[Any] = []
    log = open(Path(folder) / "node.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        _wait_port(anvil_port, anvil, "anvil")
        anvil_url = f"http://127.0.0.1:{anvil_port}"
        env = {**os.environ, "L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEY,
               "L2GPU_DATA_DIR": folder, "L2GPU_API_PORT": str(api_port)}  # fmt: skip
        node = subprocess.Popen([sys.executable, "-m", "l2gpu.cli.main", "up"],
                                env=env, stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
        _wait_port(api_port, node, "l2gpu up")
        url = f"http://127.0.0.1:{api_port}"
        operator = account_from_private_key(ANVIL_KEY)
        chain = connect_jsonrpc(anvil_url, [operator])
        manager = ChannelManagerClient.deploy(chain, operator)
        rollup_address = Address.from_hex(httpx.get(url + "/l2/status").json()["rollup"])
        rollup = RollupClient(chain, chain.attach(compile_contract("rollup/Rollup.vy"),
                                                  rollup_address))  # fmt: skip
        world = DesignWorld(chain, manager, rollup, url)
        contracts = {"channel-l1": {manager.address}}
        pids: dict[str, int | list[int]] = dict.fromkeys(designs, node.pid)
        # both zk nodes load their proving keys (about 20 s of one core each) at once
        proving = [name for name in ZK_DESIGNS if name in designs]
        spawned = [(name, *spawn_zk_node(env, folder, log, zk_shape, name, len(proving)))
                   for name in proving]  # fmt: skip
        for name, process, port in spawned:
            other_nodes.append(process)
            attach_zk_node(world, process, port, name)
            contracts[name] = {(world.validium if name == "validium" else world.zk).address}
            pids[name] = process.pid
        if "plasma" in designs:
            other_nodes.append(start_plasma_node(world, env, folder, log))
            contracts["plasma"] = {world.plasma.address}
            pids["plasma"] = other_nodes[-1].pid
        if "sharded" in designs:
            launcher, hub = start_shards(world, env, folder, log)
            other_nodes.append(launcher)
            closers.append(hub.close)
            contracts["sharded"] = {world.bridge.address, *(r.address for r in world.shard_rollups)}
            pids["sharded"] = _shard_pids(str(Path(folder) / "sharded"))
        zk_ran = any(name in designs for name in ZK_DESIGNS)
        out: dict[str, Any] = {}
        for offset, name in enumerate(designs):
            run_trace = trace[:zk_leases] if name in ZK_DESIGNS else trace
            out[name] = _design_run(name, world, run_trace, min(wave, len(run_trace)), pids[name],
                                    contracts.get(name, {rollup_address}),
                                    200_000 + 100_000 * offset)  # fmt: skip
        return {
            "workload": {
                "leases": len(trace),
                "seed": seed,
                "wave": wave,
                "rate_wei_per_gpu_s": RATE,
                "trace_lease_seconds": sum(t.duration_s for t in trace),
                "trace_gpu_hours": round(sum(t.duration_s * t.gpus for t in trace) / 3600, 1),
                "seconds_paid_in_run": sum(t.paid_s for t in trace),
                "max_seconds_paid_per_lease": seconds,
                "l1_finality_s": world.l1_finality_s,
                "zk_leases": min(zk_leases, len(trace)) if zk_ran else 0,
                "zk_shape": zk_shape if zk_ran else None,
            },
            "designs": out,
        }
    finally:
        for close in closers:
            close()
        for process in (*other_nodes, node, anvil):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        log.close()


def run() -> dict[str, Any]:
    """Measure the suite's figures (a smaller trace with L2GPU_BENCH_DESIGNS_LEASES)."""
    leases = int(os.environ.get("L2GPU_BENCH_DESIGNS_LEASES", "1000"))
    return {"suite": "designs", **measure_designs(leases=leases), **environment()}
