"""`l2gpu up --design zk` and `l2gpu zk` as processes on anvil: two users deposit,
transfer, withdraw and claim on L1; the node is killed with SIGKILL mid-way and
restarted on the same data folder, and nothing is lost or posted twice.

Batch(1, 2, 1, 8), the tests' circuit: compiled and keyed once per machine (cached
by hash), each proof 5 to 17 s on a busy 2-core machine; six batches in all.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address
from l2gpu.l1 import compile_contract
from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.logs import LogPoller
from l2gpu.zk.toolchain import ToolchainMissing, find_toolchain

from ..conftest import free_port
from ..l2.restart_world import ANVIL_KEYS_ALL
from ..parts import missing_part
from .test_cli import run

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

OPERATOR, ALICE, BOB, CAROL = ANVIL_KEYS_ALL[:4]
ETH = 10**18
FEE_UNIT = 10**12  # one fee code's wei (pubdata.fee_of)


class ZkNodeProcess:
    """`l2gpu up --design zk` on one data folder; start it again to restart it."""

    def __init__(self, anvil_url: str, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = {**os.environ, "L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": OPERATOR,
                    "L2GPU_DATA_DIR": str(folder), "L2GPU_API_PORT": str(self.port)}  # fmt: skip
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.folder.parent / f"up-{self.starts}.log").open("w")
        # stderr to a file: a pipe nobody reads would fill and stall the node
        self.process = subprocess.Popen(
            [sys.executable, "-m", "l2gpu.cli.main", "up", "--design", "zk",
             "--interval", "0.5", "--provers", "2"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                pytest.fail(f"l2gpu up --design zk exited: {self.log()}")
            time.sleep(0.2)  # waiting for a real server to start
        pytest.fail(f"l2gpu up --design zk did not listen within 300 s: {self.log()}")

    def log(self) -> str:
        return (self.folder.parent / f"up-{self.starts}.log").read_text()

    def kill(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def zk_node(anvil_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkNodeProcess]:
    """One node for the module: it starts in about 20 s (loading the proving key)."""
    try:
        find_toolchain()
    except ToolchainMissing as exc:
        missing_part(str(exc))
    node = ZkNodeProcess(anvil_url, tmp_path_factory.mktemp("zk") / "operator")
    node.start()
    yield node
    if node.process is not None and node.process.poll() is None:
        node.kill(signal.SIGTERM)


def zk(node: ZkNodeProcess, key: str, *args: str) -> dict[str, Any]:
    result = zk_run(node, key, *args)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return dict(json.loads(result.stdout))


def zk_run(
    node: ZkNodeProcess, key: str, *args: str, as_json: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {"L2GPU_L1_RPC": node.env["L2GPU_L1_RPC"], "L2GPU_PRIVATE_KEY": key}
    return run("zk", *args, "--node", node.url, *(("--json",) if as_json else ()), env=env)


def node_status(node: ZkNodeProcess) -> dict[str, Any]:
    """The node's status over HTTP (a CLI process per poll would cost seconds)."""
    return dict(httpx.get(f"{node.url}/zk/status", timeout=30).json())


def wait_all_posted(node: ZkNodeProcess, seconds: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        status = node_status(node)
        assert status["last_error"] is None, status
        if status["batches_posted"] == status["batches_sealed"]:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.5)  # waiting for a real prover process


def test_deposit_transfer_withdraw_claim_across_a_kill(zk_node: ZkNodeProcess) -> None:
    alice, bob = PrivateKey.from_hex(ALICE).address, PrivateKey.from_hex(BOB).address
    assert zk(zk_node, ALICE, "deposit", "1 ether")["account"]["index"] == 2  # 1: the operator
    assert zk(zk_node, BOB, "deposit", "1 ether")["account"]["balance"] == str(ETH)
    sending = zk_run(zk_node, ALICE, "transfer", str(bob), "0.25 ether", "--fee-code", "1")
    assert sending.returncode == 0, sending.stderr
    # off a terminal the wait is one line on stderr, never on stdout
    assert "waiting for the node to seal transaction" in sending.stderr
    sent = json.loads(sending.stdout)
    assert sent["status"] == "included"
    assert sent["account"]["balance"] == str(75 * ETH // 100 - FEE_UNIT)
    people = zk_run(zk_node, ALICE, "withdraw", "0.25 ether", as_json=False)
    assert people.returncode == 0, people.stderr
    assert people.stdout.startswith("withdrawing\n")  # for people: no JSON
    assert "0.25 ETH" in people.stdout
    assert "waiting for the node to seal transaction" in people.stderr
    withdrawn = zk(zk_node, BOB, "withdraw", "0.5 ether")
    before = node_status(zk_node)
    assert before["batches_sealed"] == withdrawn["batch"] + 1
    # Sealed and logged, but proofs take seconds: some batches are not on L1 yet.
    zk_node.kill(signal.SIGKILL)
    zk_node.start()
    assert f"replayed the log: {before['batches_sealed']} batch(es) sealed" in zk_node.log()
    wait_all_posted(zk_node)
    status = zk(zk_node, BOB, "status")
    node = status["node"]
    assert node["batches_sealed"] == before["batches_sealed"]  # nothing lost ...
    assert node["state_root"] == before["state_root"] == status["l1"]["state_root"]
    assert status["l1"]["batches_accepted"] == node["batches_sealed"]
    chain = connect_jsonrpc(zk_node.env["L2GPU_L1_RPC"], [])
    rollup = chain.attach(compile_contract(CONTRACT_SOURCE), Address.from_hex(node["rollup"]))
    accepted = [e.args["batch_index"] for e in LogPoller(chain, [rollup]).poll()
                if e.name == "BatchAccepted"]  # fmt: skip
    assert accepted == list(range(node["batches_sealed"]))  # ... nothing posted twice
    assert httpx.get(f"{zk_node.url}/zk/accounts/2").json()["balance"] == str(ETH // 2 - FEE_UNIT)
    bobs = zk(zk_node, BOB, "balance")
    assert bobs["balance"] == str(75 * ETH // 100)
    assert bobs["l1_credit"] == str(ETH // 2)
    for who, address, amount in ((BOB, bob, ETH // 2), (ALICE, alice, ETH // 4)):
        l1_before = chain.balance(address)
        assert zk(zk_node, who, "claim")["claimed"] == str(amount)
        gained = chain.balance(address) - l1_before
        assert amount - 10**16 < gained < amount  # final at once; the claim's gas is theirs
    again = zk_run(zk_node, BOB, "claim")
    assert again.returncode == 2
    assert "nothing to claim" in again.stderr
    # Bob leaves without the node's co-operation: L1 queues his exit, a batch pays it.
    forced = zk(zk_node, BOB, "force-exit")
    assert (forced["taken"], forced["l1_credit"]) == (True, str(75 * ETH // 100))
    assert zk(zk_node, BOB, "balance")["balance"] == "0"


def test_user_mistakes_are_clear_errors(zk_node: ZkNodeProcess) -> None:
    cases = [
        (("transfer", "2", "123456789123456789 wei"), "no float40 form"),
        (("transfer", "2", "1 gwei", "--fee-code", "300"), "is not a byte"),
        (("transfer", "0x" + "12" * 20, "1 gwei"), "has no zk account"),
        (("withdraw", "5"), "has no unit"),
        (("withdraw", "1 ether"), "has no zk account yet"),
        (("claim",), "nothing to claim"),
        (("force-exit",), "has no zk account"),
        (("force-exit", "0.5 ether"), "a forced exit takes the whole balance"),
        # a deposit goes only to the contract the user named, never a decoy the node names
        (("deposit", "1 ether", "--rollup", "0x" + "12" * 20), "nothing was deposited"),
        (("deposit", "1 ether", "--rollup", "0x12"), "invalid address '0x12'"),
    ]
    for args, message in cases:
        result = zk_run(zk_node, CAROL, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert zk(zk_node, CAROL, "deposit", "1 ether")["rollup"] == node_status(zk_node)["rollup"]
    assert node_status(zk_node)["provers"] == 2  # two sealed batches proven at once
    greedy = zk_run(zk_node, CAROL, "withdraw", "5 ether")
    assert greedy.returncode == 2
    assert "too little to withdraw" in greedy.stderr
    busy = run("up", "--design", "zk", env=zk_node.env)  # the running node's port
    assert busy.returncode == 2
    assert str(zk_node.port) in busy.stderr
    # a ceremony key that is not one, or for another design: refused before any deployment
    not_a_zkey = Path(zk_node.env["L2GPU_DATA_DIR"]) / "ceremony.zkey"
    not_a_zkey.write_bytes(b"zkey" + bytes(8))
    elsewhere = {**zk_node.env, "L2GPU_API_PORT": str(free_port())}
    for args, message in ((("--design", "zk", "--zkey", str(not_a_zkey)), "not a Groth16 zkey"),
                          (("--design", "plasma", "--zkey", str(not_a_zkey)),
                           "--zkey is for the zk and validium designs"),
                          (("--provers", "2"), "--provers is for the zk and validium designs"),
                          (("--design", "zk", "--provers", "0"), "--provers"),
                          (("--design", "zk", "--provers", "two"), "--provers")):  # fmt: skip
        refused = run("up", *args, env=elsewhere)
        assert refused.returncode == 2, refused.stderr
        assert message in refused.stderr
        assert "Traceback" not in refused.stderr


def test_when_the_operator_stops_every_user_leaves_with_zk_exit(zk_node: ZkNodeProcess) -> None:
    """The operator is killed for good; a deposit waits past the delay, anyone freezes
    the rollup, and each user's 'l2gpu zk exit' (the node gone) rebuilds the state from
    L1's calldata and pulls everything the last proven state owes them."""
    from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
    from l2gpu.l1.keys import account_from_private_key
    from l2gpu.node.zk.l2key import zk_private_key, zk_public_key

    # its own user (anvil's sixth dev account): the module's other tests may run elsewhere
    erin = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"
    index = zk(zk_node, erin, "deposit", "0.3 ether")["account"]["index"]
    wait_all_posted(zk_node)
    address = node_status(zk_node)["rollup"]
    owed = {erin: int(httpx.get(f"{zk_node.url}/zk/accounts/{index}").json()["balance"])}
    assert owed[erin] == 3 * ETH // 10
    zk_node.kill(signal.SIGKILL)  # the operator never comes back
    dave = account_from_private_key(ANVIL_KEYS_ALL[4])
    chain = connect_jsonrpc(zk_node.env["L2GPU_L1_RPC"], [dave])
    rollup = ZkRollupClient(chain, chain.attach(compile_contract(CONTRACT_SOURCE),
                                                Address.from_hex(address)))  # fmt: skip
    dave_key = zk_private_key(dave, chain.chain_id, Address.from_hex(address))
    rollup.deposit(dave, zk_public_key(dave_key), ETH // 10)  # never taken
    early = zk_run(zk_node, erin, "exit", "--rollup", address)
    assert early.returncode == 2
    assert "not frozen" in early.stderr
    chain.time_travel(int(rollup.contract.call("FORCE_DELAY")) + 1)
    rollup.freeze(dave)
    for key, amount in owed.items():
        before = chain.balance(PrivateKey.from_hex(key).address)
        out = zk(zk_node, key, "exit", "--rollup", address)
        assert (out["account"], out["refunded"], out["claimed"]) == (str(amount), "0", str(amount))
        assert 0 < chain.balance(PrivateKey.from_hex(key).address) - before < amount
    assert zk(zk_node, ANVIL_KEYS_ALL[4], "exit", "--rollup", address)["refunded"] == str(ETH // 10)
    again = zk(zk_node, erin, "exit", "--rollup", address)
    assert (again["account"], again["claimed"]) == ("0", "0")  # each exit once


def test_shapes_and_keys_without_a_node() -> None:
    from l2gpu.cli.zk_node import parse_shape
    from l2gpu.core.crypto import babyjubjub
    from l2gpu.core.errors import L2gpuError
    from l2gpu.core.zk.pubdata import BatchShape
    from l2gpu.l1.keys import account_from_private_key
    from l2gpu.node.zk.l2key import zk_private_key, zk_public_key

    assert parse_shape(" 2, 8,2") == BatchShape(2, 8, 2, 1, 1, 1)
    assert parse_shape("1,2,1,4,4,2") == BatchShape(1, 2, 1, 4, 4, 2)
    assert parse_shape("1,2,1,4,4,2,3") == BatchShape(1, 2, 1, 4, 4, 2, forced_exits=3)
    for bad in (
        "1,2",
        "1,0,1",
        "a,b,c",
        "65,1,1",
        "1,1,1,1,1",
        "1,1,1,0,1,1",
        "1,1,1,65,1,1",
        "1,1,1,1,1,1,0",
        "1,1,1,1,1,1,65",
        "1,1,1,1,1,1,1,1",
    ):
        with pytest.raises(L2gpuError):
            parse_shape(bad)
    alice, bob = account_from_private_key(ALICE), account_from_private_key(BOB)
    here, elsewhere = Address.from_hex("0x" + "ab" * 20), Address.from_hex("0x" + "cd" * 20)
    key = zk_private_key(alice, 31337, here)
    assert key == zk_private_key(account_from_private_key(ALICE), 31337, here)  # rebuilt
    assert len(key) == 32
    assert key != zk_private_key(bob, 31337, here)
    # one key per deployment: another rollup, or the same address on another chain
    assert key != zk_private_key(alice, 31337, elsewhere)
    assert key != zk_private_key(alice, 1, here)
    ax, ay = zk_public_key(key)
    assert babyjubjub.is_on_curve(babyjubjub.Point(ax, ay))
