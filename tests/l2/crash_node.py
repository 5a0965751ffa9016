"""Run a rollup node that accepts transactions, seals a batch, then dies by SIGKILL.

Used by test_node_restart.py as a separate process (``python -m tests.l2.crash_node``).
"""

from __future__ import annotations

import os
import signal
import sys

from l2gpu.core.types import Address, Wei
from l2gpu.db import open_database
from l2gpu.l1 import compile_contract
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.node.node import RollupNode

from .restart_world import ANVIL_KEYS_ALL, cosigners_and_keys, envelopes


def main(url: str, database: str, rollup_address: str, before: int, after: int) -> None:
    from l2gpu.l1.keys import account_from_private_key

    chain = connect_jsonrpc(url, [account_from_private_key(k) for k in ANVIL_KEYS_ALL])
    contract = chain.attach(compile_contract("rollup/Rollup.vy"), Address.from_hex(rollup_address))
    cosigners, _ = cosigners_and_keys()
    node = RollupNode(RollupClient(chain, contract), open_database(database), chain.accounts[0],
                      cosigners=cosigners)  # fmt: skip
    node.follow_l1()
    node.seal_and_post()  # the deposits: posted
    signed = envelopes(node, before + after, Wei(10**15))
    for envelope in signed[:before]:
        print("ack", node.submit(envelope), flush=True)
    node.seal_and_post(post=False)  # sealed and logged, not yet on L1
    for envelope in signed[before:]:
        print("ack", node.submit(envelope), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
