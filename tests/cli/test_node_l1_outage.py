"""`l2gpu up` through an L1 outage (issue #23): with anvil stopped under it, the node
keeps accepting and sequencing, `/l2/status` answers (degraded, with the reason)
instead of 500, and when anvil comes back (its state kept) the waiting batch is posted
and the node is healthy again."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from l2gpu.core.crypto.secp256k1 import PrivateKey

from ..conftest import ANVIL, free_port
from ..l2.restart_world import ANVIL_KEYS_ALL
from .test_l2_cli import user
from .test_market_l1 import wait_for

OPERATOR, ALICE, BOB = ANVIL_KEYS_ALL[0], ANVIL_KEYS_ALL[1], ANVIL_KEYS_ALL[2]


# The market tests' wait, with longer to go: a node posting after an outage is slow.
_wait = functools.partial(wait_for, seconds=120)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _anvil(port: int, state: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("anvil") or str(ANVIL)
    # --state loads the chain from the file and writes it back on a graceful exit, so a
    # stopped anvil comes back with the same chain: an outage, not a new L1.
    process = subprocess.Popen(
        [binary, "--port", str(port), "--host", "127.0.0.1", "--silent", "--chain-id", "31337",
         "--state", str(state)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait(lambda: _listening(port), "anvil's start")
    return process


def test_the_node_rides_out_an_l1_outage(tmp_path: Path) -> None:
    anvil_port, api_port = free_port(), free_port()
    anvil_url, api = f"http://127.0.0.1:{anvil_port}", f"http://127.0.0.1:{api_port}"
    anvil = _anvil(anvil_port, tmp_path / "anvil.json")
    env = {
        **os.environ,
        "L2GPU_L1_RPC": anvil_url,
        "L2GPU_PRIVATE_KEY": OPERATOR,
        "L2GPU_DATA_DIR": str(tmp_path / "operator"),
        "L2GPU_API_PORT": str(api_port),
    }
    node = subprocess.Popen(
        [sys.executable, "-m", "l2gpu.cli.main", "up", "--interval", "0.5"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "up.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    try:
        _wait(lambda: _listening(api_port), "the node's start")
        for key in (ALICE, BOB):
            user(key, api, anvil_url, "deposit", "1 ether")
        _wait(lambda: httpx.get(api + "/l2/status").json()["batches_waiting_for_l1"] == 0,
              "the deposits' batches posted")  # fmt: skip
        posted = httpx.get(api + "/l2/status").json()["batches_posted"]

        anvil.terminate()  # the outage: L1 stops answering
        anvil.wait(timeout=30)
        status = httpx.get(api + "/l2/status")
        assert status.status_code == 200, status.text
        bob = str(PrivateKey.from_hex(BOB).address)
        after = user(ALICE, api, anvil_url, "transfer", bob, "0.25 ether")  # sequenced
        assert after["balance"] == 75 * 10**16
        _wait(lambda: httpx.get(api + "/l2/status").json()["status"] == "degraded",
              "the node saying it is degraded")  # fmt: skip
        during = httpx.get(api + "/l2/status").json()
        assert during["degraded_reason"]
        assert during["batches_waiting_for_l1"] >= 1
        assert during["batches_posted"] == posted

        anvil = _anvil(anvil_port, tmp_path / "anvil.json")  # L1 is back, same chain
        _wait(lambda: httpx.get(api + "/l2/status").json()["batches_waiting_for_l1"] == 0,
              "the waiting batch posted", seconds=180)  # fmt: skip
        _wait(lambda: httpx.get(api + "/l2/status").json()["status"] == "ok", "recovery")
        assert httpx.get(api + "/l2/status").json()["batches_posted"] > posted
        assert "Traceback" not in (tmp_path / "up.log").read_text()
    finally:
        node.terminate()
        node.wait(timeout=30)
        anvil.terminate()
        anvil.wait(timeout=30)
