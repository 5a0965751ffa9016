"""``l2gpu up --shards 2`` for real: one launcher, two shard processes on anvil, a
deposit through the bridge credited by its depositor's shard alone; a shard process
killed with SIGKILL comes back with its state; SIGTERM to the launcher stops all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.types import Address
from l2gpu.l1 import compile_contract
from l2gpu.l1.contracts.bridge import BridgeClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key

from ..chaos.world import cli, free_port, wait_until
from ..l2.restart_world import ANVIL_KEYS_ALL

ETH = 10**18


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def shard_pids(data_dir: Path) -> dict[int, int]:
    """The shard processes started for ``data_dir``: shard number -> pid."""
    found: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"--shard" in argv and str(data_dir).encode() in env:
            found[int(argv[argv.index(b"--shard") + 1])] = int(proc.name)
    return found


def kill_shard_one(data_dir: Path) -> None:
    """SIGKILL shard 1's process; return once the launcher has started a new one."""
    before = shard_pids(data_dir)
    assert set(before) == {0, 1}
    os.kill(before[1], signal.SIGKILL)
    wait_until(lambda: shard_pids(data_dir).get(1, before[1]) != before[1], "a new shard 1")


def account_on(url: str, address: str) -> dict | None:
    answer = httpx.get(f"{url}/l2/accounts/{address}", timeout=10)
    return answer.json() if answer.status_code == 200 else None


def test_two_shard_processes_share_one_bridge(anvil_url: str, tmp_path: Path) -> None:
    base = next(p for p in iter(free_port, None) if port_free(p + 1))  # two ports in a row
    env = {**os.environ, "L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEYS_ALL[0],
           "L2GPU_DATA_DIR": str(tmp_path), "L2GPU_API_PORT": str(base)}  # fmt: skip
    log = open(tmp_path / "launcher.log", "wb")  # noqa: SIM115 - closed below
    launcher = subprocess.Popen(
        cli("up", "--shards", "2", "--interval", "0.2", "--challenge-window", "60s"),
        env=env,
        stdout=log,
        stderr=log,
    )
    urls = [f"http://127.0.0.1:{base + i}" for i in range(2)]
    try:
        for url in urls:
            wait_until(lambda u=url: httpx.get(f"{u}/l2/status").status_code == 200,
                       f"{url} answering")  # fmt: skip
        rollups = [httpx.get(f"{u}/l2/status").json()["rollup"] for u in urls]
        assert rollups[0] != rollups[1]
        keys = [PrivateKey.from_hex(k) for k in ANVIL_KEYS_ALL[1:5]]
        accounts = [account_from_private_key(k) for k in ANVIL_KEYS_ALL[1:5]]
        chain = connect_jsonrpc(anvil_url, accounts)
        line = next(x for x in (tmp_path / "launcher.log").read_text().splitlines()
                    if x.startswith("bridge "))  # fmt: skip
        address = line.split()[1]
        compiled = compile_contract("bridge/Bridge.vy")
        bridge = BridgeClient(chain, chain.attach(compiled, Address.from_hex(address)))
        for account, key in zip(accounts, keys, strict=True):
            bridge.deposit(account, BlsSecretKey.from_seed(key.secret), ETH)
        homes = [shard_of(k.address, 2) for k in keys]
        assert {*homes} == {0, 1}, homes  # these four keys live on both shards
        for key, home in zip(keys, homes, strict=True):
            wait_until(lambda k=key, h=home: account_on(urls[h], k.address.checksum) is not None,
                       f"shard {home} crediting {key.address.checksum}")  # fmt: skip
            assert account_on(urls[1 - home], key.address.checksum) is None
        # A move from shard 0 to shard 1 with the CLI: burned and signed by its owner,
        # fronted by a liquidity provider at once, relayed once final (repaying it).
        alice = next(k for k, h in zip(ANVIL_KEYS_ALL[1:5], homes, strict=True) if h == 0)
        bob, lp = [k for k, h in zip(ANVIL_KEYS_ALL[1:5], homes, strict=True) if h == 1][:2]
        bob_address = PrivateKey.from_hex(bob).address.checksum
        moved = tmp_path / "move.json"

        def run(key: str, *args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(cli("--private-key", key, *args), env=env, text=True,
                                  capture_output=True, timeout=120, check=False)  # fmt: skip

        done = run(alice, "bridge", "move", "0.25 ether", "--to", bob_address, "--fee",
                   "0.001 ether", "--node", urls[0], "--l1-rpc", anvil_url,
                   "--out", str(moved))  # fmt: skip
        assert done.returncode == 0, done.stderr
        # A move file that names another "bridge" (its writer's address) is refused.
        tampered = tmp_path / "tampered.json"
        tampered.write_text(moved.read_text().replace(address, bob_address))
        refused = run(lp, "bridge", "front", str(tampered), "--l1-rpc", anvil_url)
        assert refused.returncode != 0
        assert "refuse it" in refused.stderr, refused.stderr
        done = run(lp, "bridge", "front", str(moved), "--l1-rpc", anvil_url, "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["fronted"] == str(ETH // 4 - ETH // 1000)
        wait_until(lambda: int(account_on(urls[1], bob_address)["balance"])  # type: ignore[index]
                   == ETH + ETH // 4 - ETH // 1000, "bob credited on shard 1")  # fmt: skip
        early = run(lp, "bridge", "relay", str(moved), "--node", urls[0], "--l1-rpc", anvil_url)
        assert early.returncode != 0
        assert "not in a final batch yet" in early.stderr, early.stderr
        assert "Traceback" not in early.stderr
        chain.w3.provider.make_request("evm_increaseTime", [61])  # type: ignore[arg-type]
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        lp_before = chain.balance(PrivateKey.from_hex(lp).address)
        relay = ("bridge", "relay", str(moved), "--node", urls[0], "--l1-rpc", anvil_url)
        wait_until(lambda: run(alice, *relay).returncode == 0, "the move relayed")
        assert chain.balance(PrivateKey.from_hex(lp).address) - lp_before == ETH // 4
        again = run(alice, *relay)
        assert again.returncode != 0
        assert "landed already" in again.stderr, again.stderr
        # SIGKILL one shard: the launcher starts it again and its node recovers.
        kill_shard_one(tmp_path)
        on_one = next(k for k, h in zip(keys, homes, strict=True) if h == 1)
        wait_until(lambda: account_on(urls[1], on_one.address.checksum) is not None,
                   "shard 1 answering again with its accounts")  # fmt: skip
        expected = {bob_address: ETH + ETH // 4 - ETH // 1000}.get(on_one.address.checksum, ETH)
        found = account_on(urls[1], on_one.address.checksum)
        assert found is not None
        assert int(found["balance"]) == expected
        offer_to_a_provider_process(tmp_path, env, chain, address, urls, alice, bob_address, lp)
    finally:
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=60)
        log.close()
    assert code == 128 + signal.SIGTERM  # it stopped on the signal, not on a failure
    wait_until(lambda: not shard_pids(tmp_path), "every shard process stopped")


def offer_to_a_provider_process(
    tmp_path: Path, env: dict[str, str], chain: Any, bridge: str, urls: list[str],
    alice: str, bob: str, lp: str,
) -> None:  # fmt: skip
    """A move offered to ``l2gpu bridge lp`` (a process of its own): fronted once the
    provider re-executed the batch holding its exit; the provider killed with SIGKILL
    and started again remembers the front, and relays the move itself once final."""
    port = free_port()
    lp_env = {**env, "L2GPU_PRIVATE_KEY": lp, "L2GPU_DATA_DIR": str(tmp_path / "lp"),
              "L2GPU_API_PORT": str(port)}  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    command = cli("bridge", "lp", "--budget", "1 ether", "--max-move", "0.5 ether",
                  "--bridge", bridge, "--l1-rpc", env["L2GPU_L1_RPC"])  # fmt: skip

    def start() -> subprocess.Popen[bytes]:
        with open(tmp_path / "lp.log", "ab") as out:
            process = subprocess.Popen(command, env=lp_env, stdout=out, stderr=out)
        wait_until(lambda: httpx.get(f"{url}/lp", timeout=2).json()["ready"],
                   "the provider answering, every shard read")  # fmt: skip
        return process

    provider = start()
    try:
        bob_before = int(account_on(urls[1], bob)["balance"])  # type: ignore[index]
        move = cli("--private-key", alice, "bridge", "move", "0.2 ether", "--to", bob,
                   "--fee", "0.002 ether", "--node", urls[0], "--lp", url, "--json")  # fmt: skip
        done = subprocess.run(move, env=env, text=True, capture_output=True, timeout=120,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        offered = json.loads(done.stdout)
        assert offered["state"] == "waiting"
        status = f"{url}/lp/moves/{offered['message']}"
        wait_until(lambda: httpx.get(status).json()["state"] == "fronted", "the move fronted")
        credited = ETH // 5 - 2 * ETH // 1000
        wait_until(lambda: int(account_on(urls[1], bob)["balance"])  # type: ignore[index]
                   == bob_before + credited, "bob credited by the provider's front")  # fmt: skip
        provider.send_signal(signal.SIGKILL)
        provider.wait(timeout=30)
        provider = start()
        assert httpx.get(status).json()["state"] == "fronted"  # from its journal
        lp_address = PrivateKey.from_hex(lp).address
        before = chain.balance(lp_address)
        chain.w3.provider.make_request("evm_increaseTime", [61])
        chain.w3.provider.make_request("evm_mine", [])
        wait_until(lambda: httpx.get(status).json()["state"] == "repaid", "the provider repaid")
        assert chain.balance(lp_address) - before > ETH // 5 - ETH // 1000  # less its gas
        assert httpx.get(f"{url}/lp").json()["committed"] == "0"
    finally:
        provider.send_signal(signal.SIGTERM)
        provider.wait(timeout=60)
