"""The nodes beside the designs suite's rollup: each design's own node as a process
on the same anvil (``l2gpu up --design zk``, ``validium``, ``plasma``, ``--shards``),
each with its own operator account, and the waits until a node has put on L1
everything it holds (:mod:`l2gpu.bench.designs` runs the trace through them)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from l2gpu.bench.node import _free_port, _wait_port
from l2gpu.bench.shards import _bridge_of, _free_ports_in_a_row
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

ZK_OPERATOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
"""anvil's second dev account: the zk node's operator (two nodes sharing one L1 account
would race each other's nonces)."""
VALIDIUM_OPERATOR_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
"""anvil's third dev account: the validium node's operator."""
PLASMA_OPERATOR_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
"""anvil's fourth dev account: the Plasma operator."""
# anvil's dev account 5 operates the shards of ``sharded`` (their proposers derive from it)
SHARDS_OPERATOR_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"
SHARDS = 2
ZK_DESIGNS = ("zk", "validium")
"""The designs proven with Groth16, each with its own node, run on ``zk_leases`` leases."""


def settled(node_url: str) -> None:
    """Wait until the node has sealed and posted everything it holds."""
    deadline, quiet = time.monotonic() + 300, None
    while time.monotonic() < deadline:
        status = httpx.get(f"{node_url}/l2/status", timeout=30).json()
        idle = status["mempool"] == 0 and status["batches_waiting_for_l1"] == 0
        # twice idle with the same batches posted: no seal was halfway between
        mark = (status["batches_posted"], status["transactions_sealed"])
        if idle and quiet == mark:
            return
        quiet = mark if idle else None
        time.sleep(1.0)  # the node's sealer and poster run on their own clock
    raise L2gpuError("the node did not post every batch within 300 s")


def settle(name: str, world: Any) -> None:
    """Wait until the design's node has put everything it holds on L1."""
    if name in ZK_DESIGNS:
        zk_settled(str(world.validium_node_url if name == "validium" else world.zk_node_url))
    elif name == "plasma":
        plasma_settled(str(world.plasma_node_url))
    elif name == "sharded":
        for url in world.shard_urls:
            settled(url)
    elif world.node_url is not None:
        settled(world.node_url)


def zk_settled(node_url: str) -> None:
    """Wait until the zk node has sealed, proven and posted everything it holds."""
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        status = httpx.get(f"{node_url}/zk/status", timeout=30).json()
        if status["pending"] == 0 and status["batches_posted"] == status["batches_sealed"]:
            return
        time.sleep(1.0)  # the node proves on its own thread
    raise L2gpuError("the zk node did not prove and post every batch within 30 minutes")


def plasma_settled(node_url: str) -> None:
    """Wait until the Plasma operator has sealed every waiting transfer and L1 holds
    every block's root."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = httpx.get(f"{node_url}/plasma/status", timeout=30).json()
        if status["pending"] == 0 and status["posted"] == status["height"]:
            return
        time.sleep(0.5)  # the operator seals on its own clock
    raise L2gpuError("the Plasma operator did not seal and post within 300 s")


def spawn_zk_node(env: dict[str, str], folder: str, log: Any, shape: str,
                   design: str = "zk", nodes: int = 2) -> tuple[Any, int]:  # fmt: skip
    """Start ``l2gpu up --design zk`` (or ``validium``) on the same anvil (its own
    operator, port and folder), one of ``nodes`` proving nodes sharing this machine's
    cores. Returns the process and its API port."""
    from l2gpu.zk.prover import default_provers

    port = _free_port()
    key = VALIDIUM_OPERATOR_KEY if design == "validium" else ZK_OPERATOR_KEY
    zk_env = {**env, "L2GPU_PRIVATE_KEY": key, "L2GPU_API_PORT": str(port),
              "L2GPU_DATA_DIR": str(Path(folder) / design)}  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "l2gpu.cli.main", "up", "--design", design, "--interval", "1",
         "--zk-shape", shape, "--provers", str(default_provers(nodes))],
        env=zk_env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    return process, port


def attach_zk_node(world: Any, process: Any, port: int, design: str) -> None:
    """Wait for a spawned zk node's API; ``world`` gets its ZkRollup and URL."""
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient

    _wait_port(port, process, f"l2gpu up --design {design}", seconds=1800)  # compiles once
    url = f"http://127.0.0.1:{port}"
    address = Address.from_hex(httpx.get(url + "/zk/status").json()["rollup"])
    client = ZkRollupClient(world.chain, world.chain.attach(compile_contract(CONTRACT_SOURCE),
                                                            address))  # fmt: skip
    if design == "validium":
        world.validium, world.validium_node_url = client, url
    else:
        world.zk, world.zk_node_url = client, url


def start_plasma_node(world: Any, env: dict[str, str], folder: str, log: Any) -> Any:
    """``l2gpu up --design plasma`` on the same anvil (its own operator, port and
    folder), sealing every second; ``world`` gets its contract and URL."""
    from l2gpu.l1.contracts.plasma import PlasmaClient

    port = _free_port()
    plasma_env = {**env, "L2GPU_PRIVATE_KEY": PLASMA_OPERATOR_KEY, "L2GPU_API_PORT": str(port),
                  "L2GPU_DATA_DIR": str(Path(folder) / "plasma")}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "l2gpu.cli.main", "up", "--design", "plasma", "--interval", "1"],
        env=plasma_env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    _wait_port(port, process, "l2gpu up --design plasma")
    url = f"http://127.0.0.1:{port}"
    address = Address.from_hex(httpx.get(url + "/plasma/status").json()["plasma"])
    world.plasma, world.plasma_node_url = PlasmaClient.at(world.chain, address), url
    return process


def start_shards(world: Any, env: dict[str, str], folder: str, log: Any) -> tuple[Any, Any]:
    """``l2gpu up --shards 2`` on the same anvil (its own operator, ports and folder),
    and a hub with 10 ether on each shard, served on loopback in this process;
    ``world`` gets the shards, their bridge and the hub. Returns (launcher, hub)."""
    from eth_account import Account
    from web3.types import RPCEndpoint

    from l2gpu.core.crypto.bls import BlsSecretKey
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.hub.runner import start_hub
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.bridge import BridgeClient
    from l2gpu.l1.contracts.rollup import RollupClient

    base = _free_ports_in_a_row(SHARDS)
    data = Path(folder) / "sharded"
    shard_env = {**env, "L2GPU_PRIVATE_KEY": SHARDS_OPERATOR_KEY, "L2GPU_API_PORT": str(base),
                 "L2GPU_DATA_DIR": str(data)}  # fmt: skip
    data.mkdir(parents=True, exist_ok=True)
    launcher = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "l2gpu.cli.main", "up", "--shards", str(SHARDS)],
        env=shard_env, stdout=log, stderr=log,
    )  # fmt: skip
    bridge = _bridge_of(Path(folder) / "node.log", launcher)  # the launcher's stdout
    for i in range(SHARDS):
        _wait_port(base + i, launcher, f"shard {i}", seconds=180)
    chain = world.chain
    world.bridge = BridgeClient(chain, chain.attach(compile_contract("bridge/Bridge.vy"),
                                                    Address.from_hex(bridge)))  # fmt: skip
    rollup = compile_contract("rollup/Rollup.vy")
    world.shard_rollups = [RollupClient(chain, chain.attach(rollup, a))
                           for a in world.bridge.shard_addresses()]  # fmt: skip
    world.shard_urls = [f"http://127.0.0.1:{base + i}" for i in range(SHARDS)]
    hub_account = Account.from_key((990_001).to_bytes(32, "big"))
    chain.w3.provider.make_request(RPCEndpoint("anvil_setBalance"),
                                   [hub_account.address, hex(10**24)])  # fmt: skip
    hub_key = PrivateKey(bytes(hub_account.key))
    for client in world.shard_rollups:
        client.deposit(hub_account, BlsSecretKey.from_seed(hub_key.secret), 10 * 10**18)
    deadline = time.monotonic() + 180
    for url in world.shard_urls:
        while httpx.get(f"{url}/l2/accounts/{hub_key.address.checksum}").status_code != 200:
            if time.monotonic() > deadline:
                raise L2gpuError("the shards did not credit the hub's deposits within 180 s")
            time.sleep(0.2)  # each shard seals its deposits in its next batches
    # the trace's leases pay their seconds faster than the wall clock: no rate bound
    hub = start_hub(hub_key, world.shard_urls, data / "hub", vouchers_per_s=None)
    world.hub_url = hub.url
    return launcher, hub
