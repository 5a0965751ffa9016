"""``l2gpu up --design zk --shards 2`` for real: one launcher, two zk node processes on
anvil proving their own batches, one bridge. A move from shard 0 to shard 1 with the
CLI: burned with a zk withdrawal and signed, fronted by a liquidity provider before
its batch is proven, relayed once L1 accepted the proof (repaying the provider).

A shard killed with SIGKILL is started again by the launcher with the command line it
started it with (``test_up_shards``), and a zk node killed with SIGKILL recovers its
state from its log (``tests/cli/test_zk_cli.py``): the two are not repeated here, where
a restarted prover loads its keys again beside the suite's other workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.types import Address
from l2gpu.l1 import compile_contract
from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key
from l2gpu.node.zk.client import ZkNodeClient

from ..chaos.world import cli, free_port, wait_until
from ..l2.restart_world import ANVIL_KEYS_ALL
from .test_up_shards import port_free, shard_pids

pytestmark = pytest.mark.slow  # two provers: scheduled first (tests/conftest.py)

ETH = 10**18


def test_two_zk_shard_processes_share_one_bridge(anvil_url: str, tmp_path: Path) -> None:
    base = next(p for p in iter(free_port, None) if port_free(p + 1))  # two ports in a row
    env = {**os.environ, "L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEYS_ALL[0],
           "L2GPU_DATA_DIR": str(tmp_path), "L2GPU_API_PORT": str(base)}  # fmt: skip
    log = open(tmp_path / "launcher.log", "wb")  # noqa: SIM115 - closed below
    launcher = subprocess.Popen(
        cli("up", "--design", "zk", "--shards", "2", "--interval", "0.2",
            "--zk-shape", "1,2,1,1,1,1", "--zk-depth", "8"),
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    urls = [f"http://127.0.0.1:{base + i}" for i in range(2)]

    def run(key: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cli("--private-key", key, *args),  # L1: L2GPU_L1_RPC
                              env=env, text=True, capture_output=True, timeout=240,
                              check=False)  # fmt: skip

    def balance(key: str, shard: int) -> int | None:
        """The key's balance in the shard node's sealed state (read over HTTP, not with
        a CLI process per poll); None while there is none."""
        address = PrivateKey.from_hex(key).address.checksum
        index = zk_rollups[shard].account_index(address)
        found = ZkNodeClient(urls[shard]).account(index) if index else None
        return None if found is None else int(found["balance"])

    try:
        for url in urls:
            wait_until(lambda u=url: httpx.get(f"{u}/zk/status").status_code == 200,
                       f"{url} answering", seconds=300)  # fmt: skip
        rollups = [httpx.get(f"{u}/zk/status").json()["rollup"] for u in urls]
        assert rollups[0] != rollups[1]
        chain = connect_jsonrpc(anvil_url, [account_from_private_key(ANVIL_KEYS_ALL[0])])
        compiled = compile_contract(CONTRACT_SOURCE)
        zk_rollups = [ZkRollupClient(chain, chain.attach(compiled, Address.from_hex(r)))
                      for r in rollups]  # fmt: skip
        homes = {k: shard_of(PrivateKey.from_hex(k).address, 2) for k in ANVIL_KEYS_ALL[1:5]}
        alice = next(k for k, h in homes.items() if h == 0)
        bob, lp = [k for k, h in homes.items() if h == 1][:2]
        for key in (alice, bob):
            done = run(key, "zk", "deposit", "1 ether", "--node", urls[homes[key]])
            assert done.returncode == 0, done.stderr
        bob_address = PrivateKey.from_hex(bob).address.checksum
        moved = tmp_path / "move.json"
        done = run(alice, "bridge", "move", "0.25 ether", "--to", bob_address, "--fee",
                   "0.001 ether", "--node", urls[0], "--out", str(moved))  # fmt: skip
        assert done.returncode == 0, done.stderr
        signed = json.loads(moved.read_text())
        assert (signed["from_shard"], signed["to_shard"]) == (0, 1)
        # Fronted at once, before the batch's proof: bob is paid on shard 1 ...
        done = run(lp, "bridge", "front", str(moved), "--json")
        assert done.returncode == 0, done.stderr
        wait_until(lambda: balance(bob, 1) == ETH + ETH // 4 - ETH // 1000,
                   "bob credited on shard 1", seconds=300)  # fmt: skip
        # ... and the provider is repaid the whole amount once the proof is on L1.
        lp_address = PrivateKey.from_hex(lp).address
        lp_before = chain.balance(lp_address)
        relay = ("bridge", "relay", str(moved))
        early = run(alice, *relay)  # the proof may be on L1 already on a fast machine
        if early.returncode != 0:
            assert "not proven on L1 yet" in early.stderr, early.stderr
            batch = signed["exit_index"]  # one withdrawal slot: the exit is its batch
            wait_until(lambda: zk_rollups[0].batch_count() > batch, "the batch proven on L1",
                       seconds=300)  # fmt: skip
            done = run(alice, *relay)
            assert done.returncode == 0, done.stderr
        assert chain.balance(lp_address) - lp_before == ETH // 4
        again = run(alice, *relay)
        assert again.returncode != 0
        assert "landed already" in again.stderr, again.stderr
        assert "Traceback" not in again.stderr
        late = run(alice, "bridge", "cancel", str(moved))  # landed: nothing to give up
        assert late.returncode != 0
        assert "landed already" in late.stderr, late.stderr
        # alice's withdrawal was credited to her and the relay took it: nothing to claim.
        claim = run(alice, "zk", "claim", "--node", urls[0])
        assert claim.returncode != 0
        assert "nothing to claim" in claim.stderr, claim.stderr
    finally:
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=60)
        log.close()
    assert code == 128 + signal.SIGTERM, (tmp_path / "launcher.log").read_text()[-2000:]
    wait_until(lambda: not shard_pids(tmp_path), "every shard process stopped")
