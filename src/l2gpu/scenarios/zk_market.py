"""The embedded zk rollup of ``L2GPU_SETTLEMENT=zk make demo``: a ZkRollup over the
batch circuit's verifier on a fresh embedded chain, its node proving and posting in
the background and serving its API on loopback, and the renter's and provider's
zk rails into it (each has deposited 1 ETH).

The circuit is compiled and its development keys made once per machine (cached by
content hash, so a second demo starts at once); the keys come from a local
development setup, labelled as such, never a ceremony's.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from l2gpu.config import Settings
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.zk.keys import zk_private_key, zk_public_key
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.scenarios.market import Parties

SHAPE = BatchShape(deposits=1, transfers=2, withdrawals=1, opens=1, closes=1, reclaims=1)
DEPTH = 8
"""The tests' circuit: a demo shares its compiled circuit and keys with them."""
OPERATOR_STAKE = 10**15
DEPOSIT = 10**18


@dataclass
class ZkMarket:
    """The embedded zk rollup's node, served, and the parties' rails into it."""

    parties: Parties
    node: Any
    sealer: Any
    server: Any
    folder: tempfile.TemporaryDirectory[str]

    def close(self) -> None:
        """Stop sealing, proving and serving; drop the node's folder."""
        self.sealer.stop.set()
        self.node.stop()
        self.server.should_exit = True
        self.folder.cleanup()


def zk_market(settings: Settings, out: Console) -> ZkMarket:
    """Deploy a ZkRollup on a fresh embedded chain, serve its node, deposit for both
    parties and the operator's fee account; return once the node has credited them."""
    from l2gpu.db import open_database
    from l2gpu.designs import RailParts, lease_rail
    from l2gpu.l1 import open_chain
    from l2gpu.node.zk.api import create_zk_app
    from l2gpu.node.zk.client import ZkNodeClient
    from l2gpu.node.zk.recovery import open_node
    from l2gpu.node.zk.service import ZkSealer, deploy_zk_rollup
    from l2gpu.payments.channel_check import ChannelCheck
    from l2gpu.serving.loopback import serve_on_loopback
    from l2gpu.zk.batch_circuit import compile_batch
    from l2gpu.zk.prover import default_provers
    from l2gpu.zk.setup import DEV_SETUP_LABEL, dev_setup

    started = time.perf_counter()
    out.print(f"  zk        compiling the batch circuit and its keys (once per machine; "
              f"{DEV_SETUP_LABEL})")  # fmt: skip
    circuit = compile_batch(SHAPE, DEPTH, cache_dir=settings.cache_dir)
    keys = dev_setup(circuit, cache_dir=settings.cache_dir)
    chain = open_chain(settings)
    operator, renter_l1, provider_l1 = chain.accounts[0], chain.accounts[1], chain.accounts[2]
    rollup = deploy_zk_rollup(chain, operator, circuit, keys, shape=SHAPE, depth=DEPTH,
                              force_delay=3600)  # fmt: skip
    for account, amount in ((operator, OPERATOR_STAKE), (renter_l1, DEPOSIT),
                            (provider_l1, DEPOSIT)):  # fmt: skip
        key = zk_private_key(PrivateKey(bytes(account.key)), rollup.chain.chain_id,
                             rollup.address)  # fmt: skip
        rollup.deposit(account, zk_public_key(key), amount)
    fee_account = rollup.account_index(operator.address)
    folder = tempfile.TemporaryDirectory(prefix="l2gpu-zk-node-")
    node = open_node(rollup, open_database(f"sqlite:///{Path(folder.name) / 'node.db'}"),
                     operator, circuit, keys, fee_account=fee_account,
                     provers=default_provers(r1cs=circuit.r1cs))  # fmt: skip
    sealer = ZkSealer(node, interval=1.0)
    node.start(poll_seconds=1.0)
    sealer.start()
    try:
        server, url = serve_on_loopback(create_zk_app(node), "zk node API")
    except L2gpuError:
        sealer.stop.set()
        node.stop()
        raise
    renter, provider = PrivateKey(bytes(renter_l1.key)), PrivateKey(bytes(provider_l1.key))
    client = ZkNodeClient(url)
    deadline = time.monotonic() + 600  # the deposits' batch is proven once, then credited
    while any(client.account_of(p.address) is None for p in (renter, provider)):
        if time.monotonic() > deadline:
            raise L2gpuError("the zk node did not credit the deposits", "run it again")
        time.sleep(0.5)  # waiting for the node's sealing thread
    out.print(f"  zk        ZkRollup {rollup.address}, node on {url}; renter and provider "
              f"deposited 1 ETH each; ready in {time.perf_counter() - started:.1f} s")  # fmt: skip
    parties = Parties(
        chain.chain_id,
        renter,
        provider,
        lease_rail("zk", RailParts(node_url=url, key=renter)),
        lease_rail("zk", RailParts(node_url=url, key=provider)),
        ChannelCheck(node_url=url),
    )
    return ZkMarket(parties, node, sealer, server, folder)
