"""``l2gpu up --shards N``: N rollup shards on one L1 sharing one bridge, one
process per shard (so that shards use separate cores), and ``--shard I`` to run
one of them alone (on another machine, with its own key).

The launcher deploys the shards and the bridge (or finds them in the data folder's
deployments), gives each shard a proposer of its own (each shard posts batches
with its own nonces; a key shared by two processes would race them), and starts
``l2gpu up --shard I --bridge ADDRESS`` for each, with its own API port (the base
port + I), data folder and log. With no ``--l1-rpc`` it starts anvil as the shared
L1 (the embedded chain lives inside one process, so separate processes cannot
share it).

Shard I's proposer key is derived from the operator's: keccak256(key || I), so
that the one key the operator keeps recovers every proposer; the launcher funds
each with the bond and 1 ether of gas from the operator when it has less.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, ChainId

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.cli.zk_shards import ZkShardPlan
    from l2gpu.config import Settings
    from l2gpu.l1 import Chain
    from l2gpu.l1.contracts.rollup import RollupClient

BRIDGE = "Bridge"
REPO = Path(__file__).resolve().parents[3]
LOCAL_ANVIL = REPO / ".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
# anvil's first dev key (mnemonic "test test ... junk"): funded on a dev chain only.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
GAS_MONEY = 10**18
MAX_STARTS, RESTART_SPAN_S = 5, 60  # a shard process restarted this often is given up
LOG_MAX_BYTES = 32 * 2**20  # a shard's log, and one older copy, at most


def shard_proposer_key(operator_key: bytes, shard: int) -> bytes:
    """Shard ``shard``'s proposer key, derived from the operator's key."""
    return keccak256(operator_key + shard.to_bytes(32, "big"))


def attach_shard(
    chain: Chain, settings: Settings, bridge_text: str | None, shard: int
) -> RollupClient:
    """Shard ``shard``'s Rollup, named by the bridge at ``bridge_text`` (else the one
    the data folder's deployments record for this chain)."""
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.rollup import RollupClient

    rollup = shard_address(chain, settings, bridge_text, shard, BRIDGE)
    return RollupClient(chain, chain.attach(compile_contract("rollup/Rollup.vy"), rollup))


def shard_address(
    chain: Chain, settings: Settings, bridge_text: str | None, shard: int, record: str
) -> Address:
    """The address of shard ``shard`` of the bridge at ``bridge_text`` (else the one the
    data folder records for this chain under ``record``)."""
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.chain import checksum
    from l2gpu.l1.contracts.bridge import BridgeClient
    from l2gpu.payments import deployments

    if bridge_text:
        address = Address.from_hex(bridge_text)
    else:
        address, _ = deployments.lookup(settings.data_dir, chain.chain_id, record)
    if not chain.w3.eth.get_code(checksum(address)):
        raise L2gpuError(f"no bridge is deployed at {address.checksum}",
                         "pass the address 'l2gpu up --shards N' printed")  # fmt: skip
    bridge = BridgeClient(chain, chain.attach(compile_contract("bridge/Bridge.vy"), address))
    count = bridge.shard_count
    if not 0 <= shard < count:
        raise L2gpuError(f"--shard {shard} is not a shard of this bridge (it has {count})",
                         f"pass --shard between 0 and {count - 1}")  # fmt: skip
    return bridge.shard_addresses()[shard]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_anvil() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("anvil") or (str(LOCAL_ANVIL) if LOCAL_ANVIL.exists() else None)
    if binary is None:
        raise L2gpuError(
            "shards run in processes of their own, which share an L1 over JSON-RPC, and "
            "no --l1-rpc is set and anvil is not installed",
            "pass --l1-rpc URL, or run 'make tools' to install anvil",
        )
    port = _free_port()
    anvil = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
        [binary, "--port", str(port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):  # until it listens (a real process starting)
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return anvil, f"http://127.0.0.1:{port}"
        if anvil.poll() is not None:
            break
        time.sleep(0.1)
    anvil.kill()
    raise L2gpuError("anvil did not start", "run it by hand to see why")


def _deploy_or_find(chain: Chain, settings: Settings, operator: LocalAccount, count: int,
                    window: int, delay: int, zk: ZkShardPlan | None = None) -> Address:  # fmt: skip
    from l2gpu.core.l2.state import L2State
    from l2gpu.l1.chain import checksum
    from l2gpu.l1.contracts.bridge import deploy_shards
    from l2gpu.payments import deployments

    record = BRIDGE if zk is None else zk.record
    try:
        address, _ = deployments.lookup(settings.data_dir, chain.chain_id, record)
    except L2gpuError:
        address = None  # nothing recorded for this chain: deploy below
    if address is not None and chain.w3.eth.get_code(checksum(address)):
        _check_shard_count(chain, address, count, settings)
        return address
    if zk is not None:
        bridge = zk.deploy(chain, settings, operator, count, delay)
    else:
        genesis = L2State(ChainId(chain.chain_id), Address(bytes(20))).root()
        bridge = deploy_shards(chain, operator, count, genesis_root=genesis,
                               challenge_window=window, force_delay=delay,
                               cache_dir=settings.cache_dir).bridge.address  # fmt: skip
    deployments.record(settings.data_dir, chain.chain_id, record, bridge, chain.block_number())
    return bridge


def _check_shard_count(chain: Chain, address: Address, count: int, settings: Settings) -> None:
    """Refuse a recorded bridge of another number of shards: its accounts are routed
    by that number, so running more or fewer shard processes would strand some."""
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.bridge import BridgeClient

    bridge = BridgeClient(chain, chain.attach(compile_contract("bridge/Bridge.vy"), address))
    if bridge.shard_count != count:
        raise L2gpuError(
            f"the bridge recorded in {settings.data_dir} ({address.checksum}) has "
            f"{bridge.shard_count} shards, not {count}",
            f"run 'l2gpu up --shards {bridge.shard_count}' to serve it, or give another "
            f"--data-dir for a new set of {count}",
        )


def launch_shards(
    settings: Settings,
    operator: LocalAccount | None,
    count: int,
    *,
    window: int,
    delay: int,
    passthrough: list[str],
    zk: ZkShardPlan | None = None,
) -> None:
    """Deploy (or find) ``count`` shards (zk rollups with ``zk``) and run each in a
    process of its own until interrupted; a shard process that exits stops the others."""
    from l2gpu.l1.jsonrpc import connect_jsonrpc
    from l2gpu.l1.keys import account_from_private_key

    # A SIGTERM (a service manager stopping the launcher) stops the shards too.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    anvil = None
    if settings.l1_rpc:
        url = settings.l1_rpc
        if operator is None:
            raise L2gpuError("running shards on an L1 needs the operator's key",
                             "pass --private-key, --keystore or --account")  # fmt: skip
    else:
        anvil, url = _start_anvil()
        operator = account_from_private_key(ANVIL_DEV_KEY)
    children: list[Child] = []
    try:
        chain = connect_jsonrpc(url, [operator])
        bridge = _deploy_or_find(chain, settings, operator, count, window, delay, zk)
        keys = [shard_proposer_key(bytes(operator.key), i) for i in range(count)]
        _fund_proposers(chain, operator, keys)
        for i, key in enumerate(keys):
            folder = settings.data_dir / "shards" / f"shard-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "L2GPU_L1_RPC": url, "L2GPU_PRIVATE_KEY": "0x" + key.hex(),
                   "L2GPU_API_PORT": str(settings.api_port + i),
                   "L2GPU_DATA_DIR": str(folder)}  # fmt: skip
            argv = [sys.executable, "-m", "l2gpu.cli.main", "up", "--shard", str(i),
                    "--bridge", bridge.checksum, *passthrough,
                    *(zk.options(count) if zk is not None else [])]  # fmt: skip
            children.append(Child(i, argv, env, folder / "up.log"))
            children[-1].start()
            typer.echo(f"shard {i}: http://{settings.api_host}:{settings.api_port + i} "
                       f"(log {folder / 'up.log'})", err=True)  # fmt: skip
        typer.echo(f"bridge {bridge.checksum} of {count} shards on {url}", err=True)
        _supervise(children)
    finally:
        for child in children:
            child.stop()
        if anvil is not None:
            anvil.terminate()
            anvil.wait(timeout=10)


class Child:
    """One shard's process: started again when it dies (its node recovers from its
    log), unless it dies too often to be worth it."""

    def __init__(self, shard: int, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.shard, self.argv, self.env, self.log = shard, argv, env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts: list[float] = []

    def start(self) -> None:
        """Start (or start again) the shard's process."""
        with open(self.log, "ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                self.argv, env=self.env, stdout=log, stderr=log
            )
        self.starts = [t for t in self.starts if t > time.monotonic() - RESTART_SPAN_S]
        self.starts.append(time.monotonic())

    def check(self) -> None:
        """Start the process again if it exited; give up if it keeps exiting. Keep its
        log bounded."""
        assert self.process is not None
        rotate_if_large(self.log)
        code = self.process.poll()
        if code is None:
            return
        if len(self.starts) >= MAX_STARTS:
            raise L2gpuError(f"shard {self.shard}'s process exited {MAX_STARTS} times in "
                             f"{RESTART_SPAN_S} s (last code {code})",
                             f"read its log: {self.log}")  # fmt: skip
        typer.echo(f"shard {self.shard}'s process exited with code {code}; starting it again",
                   err=True)  # fmt: skip
        self.start()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 20 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def rotate_if_large(log: Path, limit: int = LOG_MAX_BYTES) -> bool:
    """Move the log's content to ``log.1`` (replacing the one before) and empty it once
    it holds more than ``limit`` bytes; True if it did. Copy-then-truncate, since the
    child keeps writing through its own handle: opened for appending, its next line
    lands at the start of the emptied file (a line written between the two steps is
    lost, as with logrotate's copytruncate)."""
    try:
        if log.stat().st_size <= limit:
            return False
    except FileNotFoundError:
        return False
    shutil.copyfile(log, log.with_name(log.name + ".1"))
    os.truncate(log, 0)
    return True


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _fund_proposers(chain: Chain, operator: LocalAccount, keys: list[bytes]) -> None:
    from l2gpu.core.crypto.secp256k1 import PrivateKey

    need = 10**18 + GAS_MONEY  # the default bond and gas for its batches
    for key in keys:
        address = PrivateKey(key).address
        have = int(chain.balance(address))
        if have < need:
            chain.send_ether(address, need - have, sender=operator)


def _supervise(children: list[Child]) -> None:
    """Keep the shard processes running until interrupted."""
    try:
        while True:
            for child in children:
                child.check()
            time.sleep(0.5)  # a supervisor's poll of its child processes
    except KeyboardInterrupt:
        return


def shard_options(**values: Any) -> list[str]:
    """The ``up`` options each shard process gets, as command-line arguments."""
    out: list[str] = []
    for name, value in values.items():
        out += [f"--{name.replace('_', '-')}", str(value)]
    return out
