"""kill -9 in the middle of a batch, then recover: no acknowledged transaction is lost."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.l2.state import L2State
from l2gpu.core.types import Address, ChainId
from l2gpu.db import open_database
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key
from l2gpu.node.node import RollupNode

from .restart_world import ANVIL_KEYS_ALL, cosigners_and_keys

REPO = Path(__file__).resolve().parents[2]
BEFORE, AFTER = 6, 5


def test_a_killed_node_recovers_every_acknowledged_transaction(
    anvil_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chain = connect_jsonrpc(anvil_url, [account_from_private_key(k) for k in ANVIL_KEYS_ALL])
    snapshot = chain.snapshot()
    try:
        genesis = L2State(ChainId(1), Address(bytes(20))).root()
        client = RollupClient.deploy(chain, chain.accounts[0], genesis_root=genesis)
        client.stake(chain.accounts[0], 10**18)
        _, keys = cosigners_and_keys()
        for i, account in enumerate(chain.accounts):
            client.deposit(account, BlsSecretKey.from_seed(keys[i].secret), 10**18)
        database = f"sqlite:///{tmp_path / 'node.db'}"
        crashed = subprocess.run(
            [sys.executable, "-m", "tests.l2.crash_node", anvil_url, database,
             client.address.checksum, str(BEFORE), str(AFTER)],
            cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert crashed.returncode == -9, crashed.stderr
        acks = [line for line in crashed.stdout.splitlines() if line.startswith("ack")]
        assert len(acks) == BEFORE + AFTER
        assert int(client.contract.call("batch_count")) == 2  # genesis + the deposits batch

        cosigners, _ = cosigners_and_keys()
        node = RollupNode(RollupClient(chain, client.contract), open_database(database),
                          chain.accounts[0], cosigners=cosigners)  # fmt: skip
        with caplog.at_level(logging.INFO, logger="l2gpu.node.recovery"):
            assert node.recover() == 1  # the batch sealed before the crash is posted now
        # the replay says what it read and how long it took (a long log is a slow start)
        said = re.search(r"replayed the log: (\d+) record\(s\), (\d+) batch\(es\) \([\d.]+ s\)",
                         caplog.text)  # fmt: skip
        assert said is not None, caplog.text
        assert int(said.group(1)) >= BEFORE + AFTER
        assert int(said.group(2)) >= 1
        assert client.contract.call("batch_root", 2) == node.state.root()
        assert len(node.sequencer.mempool) == AFTER  # acknowledged, not yet sealed
        node.seal_and_post()
        nonces = sum(a.nonce for a in node.state.accounts)
        assert nonces == BEFORE + AFTER  # every acknowledged transfer is in a posted batch
        assert client.contract.call("batch_root", 3) == node.state.root()
    finally:
        chain.revert(snapshot)
