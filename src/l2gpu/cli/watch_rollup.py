"""``l2gpu watch --rollup``: the honest watcher of the optimistic rollup, as a daemon.

It rebuilds the L2 from L1 alone, re-executes every batch, challenges a wrong root
within its window, proves the faulty step, and defends the batches its own key
proposed. Every action is printed, one line each.
"""

from __future__ import annotations

import time

import typer

from l2gpu.cli.session import Session
from l2gpu.config import Settings
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address
from l2gpu.fraud.game import DisputeClient
from l2gpu.fraud.watcher import Watcher
from l2gpu.l1 import compile_contract
from l2gpu.node.rollup_client import RollupClient


def watch_rollup(settings: Settings, rollup: str, *, interval: float, once: bool) -> None:
    """Run the fraud-proof watcher against the Rollup at ``rollup``."""
    session = Session(settings, None, need_manager=False)
    chain = session.chain
    try:
        address = Address.from_hex(rollup)
    except ValueError as exc:
        what = f"--rollup {rollup!r} is not an address"
        raise L2gpuError(what, "pass 0x and 40 hex digits") from exc
    if not chain.w3.eth.get_code(address.checksum):  # type: ignore[arg-type]
        raise L2gpuError(f"no contract at {rollup} on this L1",
                         "pass the address 'l2gpu l2 status' shows as rollup")  # fmt: skip
    compiled = compile_contract("rollup/Rollup.vy", cache_dir=settings.cache_dir)
    client = RollupClient(chain, chain.attach(compiled, address))
    watcher = Watcher(client, DisputeClient(chain, client.game), session.account)
    while True:
        for line in watcher.poll():
            typer.echo(line)
        typer.echo(f"round done: {len(watcher.accepted)} batch(es) verified, "
                   f"{watcher.replayed_txs} transaction(s) re-executed")  # fmt: skip
        if once:
            return
        time.sleep(interval)  # a real daemon's pause between polls, not a test wait
