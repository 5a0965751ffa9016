"""``l2gpu watch rollup``: the watcher daemon, as a user runs it, against a lying proposer."""

from __future__ import annotations

from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Wei
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key
from l2gpu.scenarios.arena import Arena, Lie

from ..l2.restart_world import ANVIL_KEYS_ALL
from .test_cli import run


def test_the_watch_daemon_challenges_and_proves_a_wrong_root(anvil_url: str) -> None:
    chain = connect_jsonrpc(anvil_url, [account_from_private_key(k) for k in ANVIL_KEYS_ALL])
    arena = Arena(chain)
    arena.post(arena.seal())
    arena.send(1, Transfer(1, 2, Wei(10**15), Wei(0)))
    index, claimed = arena.post(arena.seal(), Lie("root", 1, 0))
    env = {"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEYS_ALL[1]}
    rollup = arena.client.address.checksum
    first = run("watch", "rollup", rollup, "--once", env=env)
    assert first.returncode == 0, first.stderr
    assert f"challenged batch {index} segment 1" in first.stdout
    arena.answer(index, claimed, silent=False)
    second = run("watch", "--rollup", rollup, "--once", env=env)  # the older spelling
    assert second.returncode == 0, second.stderr
    assert "proved StepFault" in second.stdout, second.stdout
    assert int(arena.client.contract.call("batch_count")) == index


def test_watch_needs_something_to_watch_and_a_real_rollup(anvil_url: str) -> None:
    env = {"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": ANVIL_KEYS_ALL[1]}
    nothing = run("watch", env=env)
    assert nothing.returncode == 2
    assert "nothing to watch" in nothing.stderr
    bad = run("watch", "rollup", "0x1234", "--once", env=env)
    assert bad.returncode == 2
    assert "is not an address" in bad.stderr
    assert "Traceback" not in bad.stderr
    empty = run("watch", "rollup", "0x" + "11" * 20, "--once", env=env)
    assert empty.returncode == 2
    assert "no contract at" in empty.stderr
