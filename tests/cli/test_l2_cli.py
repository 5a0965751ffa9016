"""`l2gpu up` and `l2gpu l2`: deposit, transfer, withdraw, finalize from the CLI, on anvil."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.l1.jsonrpc import connect_jsonrpc

from ..conftest import free_port
from ..l2.restart_world import ANVIL_KEYS_ALL
from .test_cli import run

OPERATOR, ALICE, BOB = ANVIL_KEYS_ALL[0], ANVIL_KEYS_ALL[1], ANVIL_KEYS_ALL[2]


@pytest.fixture
def node(anvil_url: str, tmp_path: Path):
    port = free_port()
    env = {**os.environ, "L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": OPERATOR,
           "L2GPU_DATA_DIR": str(tmp_path / "operator"), "L2GPU_API_PORT": str(port)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "l2gpu.cli.main", "up", "--interval", "0.5",
         "--cosign-timeout", "120"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None:
            pytest.fail(f"l2gpu up exited: {process.stderr.read()}")
        time.sleep(0.1)  # waiting for a real server to start
    yield f"http://127.0.0.1:{port}", anvil_url
    process.terminate()
    process.wait(timeout=20)


def user(key: str, api: str, anvil_url: str, *args: str) -> dict:
    result = run("l2", *args, "--api", api, "--json",
                 env={"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": key})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_deposit_transfer_withdraw_finalize_from_the_cli(node) -> None:
    api, anvil_url = node
    alice = str(PrivateKey.from_hex(ALICE).address)
    bob = str(PrivateKey.from_hex(BOB).address)
    for key in (OPERATOR, ALICE, BOB):
        user(key, api, anvil_url, "deposit", "1 ether")
    after = user(ALICE, api, anvil_url, "transfer", bob, "0.25 ether")
    assert after["balance"] == 75 * 10**16
    assert user(BOB, api, anvil_url, "balance")["balance"] == 125 * 10**16
    user(BOB, api, anvil_url, "withdraw", "0.5 ether")
    status = user(BOB, api, anvil_url, "status")
    assert status["my_exits"][0]["amount"] == 5 * 10**17
    assert status["my_exits"][0]["claimable"] is False
    assert 0 < status["my_exits"][0]["seconds_until_final"] <= 7 * 24 * 3600
    assert all(b["seconds_left"] > 0 for b in status["batches"])
    # without --json: ETH, local times and a countdown (issue #23, item 7)
    shown = run("l2", "status", "--api", api, env={"L2GPU_PRIVATE_KEY": BOB})
    assert shown.returncode == 0, shown.stderr
    assert re.search(
        r"withdrawal 0: 0\.5 ETH, claimable in (6 d 23 h|7 d) \(from \d{4}-", shown.stdout
    )
    assert re.search(
        r"batch 1 posted .*: in its challenge window, final in (6 d 23 h|7 d)", shown.stdout
    )
    money = run("l2", "balance", "--api", api, env={"L2GPU_PRIVATE_KEY": BOB})
    assert re.fullmatch(r"L2 account 0x[0-9a-fA-F]{40} \(index \d+\): 0\.75 ETH, nonce 1\n",
                        money.stdout), money.stdout  # fmt: skip
    chain = connect_jsonrpc(anvil_url, [])
    chain.time_travel(7 * 24 * 3600 + 1)
    bob_l1 = PrivateKey.from_hex(BOB).address
    before = chain.balance(bob_l1)
    claimed = user(BOB, api, anvil_url, "withdraw", "--claim")
    assert claimed["claimed"] == [{"exit_index": 0, "amount": 5 * 10**17}]
    gained = chain.balance(bob_l1) - before
    assert 5 * 10**17 - 10**16 < gained < 5 * 10**17  # the claim's L1 gas is Bob's
    assert user(ALICE, api, anvil_url, "balance", alice)["balance"] == 75 * 10**16


def test_unrepresentable_amounts_and_unknown_recipients_are_clear_errors(node) -> None:
    api, anvil_url = node
    user(ALICE, api, anvil_url, "deposit", "1 ether")
    alice = str(PrivateKey.from_hex(ALICE).address)
    odd = run("l2", "transfer", alice, "123456789 wei", "--api", api,
              env={"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ALICE})  # fmt: skip
    assert odd.returncode == 2
    assert "not exactly representable" in odd.stderr
    nobody = run("l2", "transfer", "0x" + "12" * 20, "1 ether", "--api", api,
                 env={"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ALICE})  # fmt: skip
    assert nobody.returncode == 2
    assert "no L2 account" in nobody.stderr
    # More than the balance: refused before anything is sent, with the balance (issue
    # #23: it used to wait 64 s and blame the node).
    greedy = run("l2", "withdraw", "50 ether", "--api", api,
                 env={"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ALICE})  # fmt: skip
    assert greedy.returncode == 2
    assert "your L2 balance is 1 ETH" in greedy.stderr, greedy.stderr
    assert "Traceback" not in odd.stderr + nobody.stderr + greedy.stderr
    # --l1-rpc after the subcommand works as before it (issue #23: it was refused).
    late = run("l2", "deposit", "0.1 ether", "--api", api, "--l1-rpc", anvil_url,
               env={"L2GPU_PRIVATE_KEY": BOB})  # fmt: skip
    assert late.returncode == 0, late.stderr


def test_the_node_answers_a_challenge_of_its_own_batch(node) -> None:
    from l2gpu.core.l2.segments import segments_of_data
    from l2gpu.l1.contracts.dispute_game import DisputeClient
    from l2gpu.l1.contracts.rollup import RollupClient
    from l2gpu.l1.keys import account_from_private_key

    api, anvil_url = node
    user(ALICE, api, anvil_url, "deposit", "1 ether")
    rollup = user(ALICE, api, anvil_url, "status")["node"]["rollup"]
    griefer = account_from_private_key(ANVIL_KEYS_ALL[3])
    chain = connect_jsonrpc(anvil_url, [griefer])
    from l2gpu.core.types import Address
    from l2gpu.l1 import compile_contract

    contract = chain.attach(compile_contract("rollup/Rollup.vy"), Address.from_hex(rollup))
    client = RollupClient(chain, contract)
    game = DisputeClient(chain, client.game)
    # A griefer challenges the honest first batch (its deposits segment).
    from l2gpu.l1.logs import LogPoller

    posted = next(e for e in LogPoller(chain, [contract]).poll()
                  if e.name == "BatchPosted" and e.args["index"] == 1)  # fmt: skip
    tx = chain.w3.eth.get_transaction(posted.tx_hash)  # type: ignore[arg-type]
    _, params = contract._contract.decode_function_input(tx["input"])
    genesis = bytes(contract.call("batch_root", 0))
    segments = segments_of_data(bytes(params["_data"]), genesis)
    gid, _ = game.challenge(1, segments, 0, griefer)
    deadline = time.monotonic() + 300
    while game.status(gid)["status"] == 1 and time.monotonic() < deadline:
        time.sleep(0.2)  # waiting for the node process to act, not for simulated time
    assert game.status(gid)["status"] == 2, "the node did not reveal its roots"


def test_account_show_reads_the_node(node, tmp_path: Path) -> None:
    """'l2gpu account show' (issue #23, item 6) against a real node: the L2 balance and
    nonce after a deposit, and the L1 balance."""
    api, anvil_url = node
    user(ALICE, api, anvil_url, "deposit", "1 ether")
    result = run("account", "show", "--node", api, "--l1-rpc", anvil_url, "--json",
                 env={"L2GPU_PRIVATE_KEY": ALICE, "L2GPU_DATA_DIR": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["address"] == str(PrivateKey.from_hex(ALICE).address)
    assert shown["l2_balance_wei"] == 10**18
    assert shown["l2_nonce"] == 0
    assert (shown["locked_in_channels_wei"], shown["channels"]) == (0, 0)
    assert 0 < shown["l1_balance_wei"] < 10_000 * 10**18  # the deposit left L1
    # L1 channels are read only from a recorded ChannelManager; none was deployed here
    assert shown["notes"] == [
        "channel-l1 channels skipped: no ChannelManager is recorded for chain 31337"
    ]
