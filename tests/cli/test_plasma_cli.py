"""`l2gpu up --design plasma` as a process on anvil: a transfer it acknowledged
survives kill -9, the restarted operator posts every root L1 lacks, and
`l2gpu watch plasma` checks the served blocks against L1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.plasma.transactions import Transfer, sign_transfer
from l2gpu.core.types import Address
from l2gpu.l1.contracts.plasma import PlasmaClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key
from l2gpu.node.plasma.client import PlasmaNodeClient

from ..conftest import free_port
from ..l2.restart_world import ANVIL_KEYS_ALL
from .test_cli import run

OPERATOR, ALICE, BOB = ANVIL_KEYS_ALL[3], ANVIL_KEYS_ALL[1], ANVIL_KEYS_ALL[2]


class PlasmaProcess:
    """`l2gpu up --design plasma` on one data folder; start it again to restart it."""

    def __init__(self, anvil_url: str, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = {
            **os.environ,
            "L2GPU_L1_RPC": anvil_url,
            "L2GPU_PRIVATE_KEY": OPERATOR,
            "L2GPU_DATA_DIR": str(folder),
            "L2GPU_API_PORT": str(self.port),
        }
        self.process: subprocess.Popen[str] | None = None

    def start(self, interval: float) -> None:
        log = (self.folder.parent / "up.log").open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "l2gpu.cli.main",
                "up",
                "--design",
                "plasma",
                "--interval",
                str(interval),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                pytest.fail(f"l2gpu up --design plasma exited: {self.log()}")
            time.sleep(0.2)  # waiting for a real server to start
        pytest.fail(f"l2gpu up --design plasma did not listen: {self.log()}")

    def log(self) -> str:
        return (self.folder.parent / "up.log").read_text()

    def kill(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=60)


@pytest.fixture
def node(anvil_url: str, tmp_path: Path) -> Iterator[PlasmaProcess]:
    made = PlasmaProcess(anvil_url, tmp_path / "operator")
    yield made
    if made.process is not None and made.process.poll() is None:
        made.kill(signal.SIGTERM)


def _until(check, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)  # the operator seals and follows L1 on its own clock
    pytest.fail(f"{what} did not happen within {seconds} s")


def test_an_acknowledged_transfer_survives_kill_9_and_the_watcher_checks_blocks(
    node: PlasmaProcess, anvil_url: str
) -> None:
    node.start(interval=3600)  # it seals only when told by its clock: never, here
    api = PlasmaNodeClient(node.url)
    alice, bob = account_from_private_key(ALICE), account_from_private_key(BOB)
    chain = connect_jsonrpc(anvil_url, [alice])
    plasma = PlasmaClient.at(chain, Address.from_hex(api.status()["plasma"]))
    plasma.contract.transact("deposit", sender=alice, value=10**15)
    coins = _until(lambda: api.coins(Address.from_hex(alice.address)), "the deposit's record")
    start, end, received = coins[0]
    signed = sign_transfer(
        PrivateKey(bytes(alice.key)),
        plasma.domain,
        Transfer(start, end, Address.from_hex(bob.address), received),
    )
    api.submit(signed)
    assert api.status()["pending"] == 1
    node.kill(signal.SIGKILL)
    node.start(interval=0.5)  # the restart replays the log: the transfer is still there
    api = PlasmaNodeClient(node.url)
    _until(lambda: api.status()["posted"] == 1, "block 1 on L1")
    assert api.coins(Address.from_hex(bob.address)) == [(start, end, 1)]
    assert plasma.root(1) != bytes(32)
    watched = run(
        "watch",
        "plasma",
        "--node",
        node.url,
        "--once",
        env={"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": BOB},
    )
    assert watched.returncode == 0, watched.stderr
    assert "round done: 1 block(s) checked against L1, 0 withheld" in watched.stdout
    wrong = run(
        "watch",
        "plasma",
        "--node",
        "http://127.0.0.1:9",
        "--once",
        env={"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": BOB},
    )
    assert wrong.returncode != 0
    assert "did not answer" in wrong.stderr
    assert "Traceback" not in wrong.stderr
