"""The market as users run it, every part a real process: anvil as L1, `market serve`,
`provider up` and `rent`, ending with the provider's settlement on L1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey

from ..conftest import ANVIL_KEYS, free_port
from .test_cli import run

RENTER_KEY, PROVIDER_KEY = ANVIL_KEYS


def spawn(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start an l2gpu command that runs until stopped."""
    return subprocess.Popen(
        [sys.executable, "-m", "l2gpu.cli.main", *args],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # waiting for real processes
    pytest.fail(f"{what} did not happen within {seconds} s")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_rent_runs_a_job_pays_per_second_and_the_provider_settles(
    anvil_url: str, tmp_path: Path, processes
) -> None:
    def env(key: str, name: str) -> dict[str, str]:
        return {
            "L2GPU_L1_RPC": anvil_url,
            "L2GPU_PRIVATE_KEY": key,
            "L2GPU_DATA_DIR": str(tmp_path / name),
        }

    deployed = run("channel", "deploy", "--json", env=env(RENTER_KEY, "renter"))
    assert deployed.returncode == 0, deployed.stderr
    manager = re.search(r'"manager": "(0x[0-9a-fA-F]{40})"', deployed.stdout).group(1)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    processes.append(
        spawn(
            "market",
            "serve",
            "--port",
            str(port),
            "--manager",
            manager,
            env=env(RENTER_KEY, "api"),
            log=tmp_path / "api.log",
        )
    )
    wait_for(lambda: httpx.get(api + "/health").status_code == 200, "the API start")
    processes.append(
        spawn(
            "provider",
            "up",
            "--price",
            "1 gwei",
            "--gpus",
            "RTX_4090:1",
            "--location",
            "EU",
            "--api-url",
            api,
            "--manager",
            manager,
            env=env(PROVIDER_KEY, "provider"),
            log=tmp_path / "agent.log",
        )
    )
    wait_for(lambda: httpx.get(api + "/offers").json()["count"] == 1, "the offer")
    offer = httpx.get(api + "/offers").json()["offers"][0]
    assert offer["declared"] is True
    assert offer["provider"] == PrivateKey.from_hex(PROVIDER_KEY).address.checksum

    rented = run(
        "rent",
        offer["id"],
        "--cmd",
        "echo hello-from-the-job; sleep 2",
        "--hours",
        "0.01",
        "--max-price",
        "2 gwei",
        "--api-url",
        api,
        "--manager",
        manager,
        env=env(RENTER_KEY, "renter"),
    )
    assert rented.returncode == 0, rented.stderr + (tmp_path / "agent.log").read_text()
    assert "hello-from-the-job" in rented.stdout
    assert "ended (job exited with code 0)" in rented.stderr
    seconds = int(re.search(r"\): (\d+) s billed", rented.stderr).group(1))
    assert 1 <= seconds <= 6
    assert f"paid {seconds} gwei" in rented.stderr
    channel = re.search(r"in channel (0x[0-9a-f]{64})", rented.stderr).group(1)

    def settled() -> bool:
        status = run(
            "channel",
            "status",
            channel,
            "--manager",
            manager,
            "--json",
            env=env(PROVIDER_KEY, "provider"),
        )
        return '"status": "settled"' in status.stdout

    wait_for(settled, "the provider's settlement on L1", 300)
