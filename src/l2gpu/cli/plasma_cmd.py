"""``l2gpu up --design plasma``: the Plasma child chain's operator, its L1 contract and
its HTTP API."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import typer
from eth_account.signers.local import LocalAccount

from l2gpu.config import Settings
from l2gpu.core.errors import L2gpuError
from l2gpu.core.plasma.root_chain import Rules
from l2gpu.core.types import Address

PLASMA = "Plasma"
EXIT_BOND = 10**16  # wei: above the gas a watcher spends to cancel a bad exit
CHALLENGE_BOND = 10**16
log = logging.getLogger("l2gpu.up")


def up_plasma(
    settings: Settings, operator_key: LocalAccount | None, *, interval: float, exit_period: int
) -> None:
    """Run the Plasma operator (see ``l2gpu up --help``): it seals a block every
    ``interval`` seconds while transfers wait and posts its root to L1."""
    import uvicorn

    from l2gpu.clock import RecentClock, l1_clock
    from l2gpu.db import open_database
    from l2gpu.l1 import open_chain
    from l2gpu.node.plasma.api import create_plasma_app
    from l2gpu.node.plasma.operator import PlasmaOperator
    from l2gpu.serving.connections import require_free_port, uvicorn_options

    require_free_port(settings.api_host, settings.api_port, "l2gpu up", "--port or L2GPU_API_PORT")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if settings.l1_rpc:
        assert operator_key is not None
        operator, chain = operator_key, open_chain(settings, [operator_key])
        folder = settings.data_dir / "plasma" / str(chain.chain_id)
    else:  # the embedded chain: its first funded dev account operates; both end together
        chain = open_chain(settings)
        operator = chain.accounts[0]
        folder = Path(tempfile.mkdtemp(prefix="l2gpu-plasma-up-"))
    folder.mkdir(parents=True, exist_ok=True)
    client = plasma_contract(settings, chain, operator, exit_period)
    database = f"sqlite:///{folder / (client.address.checksum + '.db')}"
    clock = RecentClock(l1_clock(chain), max_age=0.25)
    node = PlasmaOperator(client, operator, open_database(database), clock)
    node.post()  # roots the log holds and L1 does not (a crash between the two)
    node.start(interval)
    typer.echo(
        f"plasma {client.address} on {chain.description}, exit period {exit_period} s; "
        f"API on http://{settings.api_host}:{settings.api_port}",
        err=True,
    )
    try:
        uvicorn.run(
            create_plasma_app(node),
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            **uvicorn_options(),
        )
    finally:
        node.stop.set()


def plasma_contract(
    settings: Settings, chain: Any, operator: LocalAccount, exit_period: int
) -> Any:
    """The Plasma contract recorded for this chain and operated by ``operator``; else a
    new one (recorded when the chain outlives this process)."""
    from l2gpu.l1.contracts.plasma import PlasmaClient
    from l2gpu.payments import deployments

    me = Address.from_hex(operator.address)
    if settings.l1_rpc:
        try:
            address, _ = deployments.lookup(settings.data_dir, chain.chain_id, PLASMA)
        except L2gpuError:
            address = None  # nothing recorded for this chain: deploy below
        if address is not None and chain.w3.eth.get_code(address.checksum):
            client = PlasmaClient.at(chain, address, cache_dir=settings.cache_dir)
            if client.rules().operator != me:
                raise L2gpuError(
                    f"the Plasma contract recorded for chain {chain.chain_id} "
                    f"({address}) is operated by {client.rules().operator}",
                    "run with that operator's key, or use another --data-dir to deploy anew",
                )
            return client
    rules = Rules(me, exit_period, max(exit_period // 7, 1), EXIT_BOND, CHALLENGE_BOND)
    client = PlasmaClient.deploy(chain, operator, rules, cache_dir=settings.cache_dir)
    log.info("deployed Plasma %s", client.address)
    if settings.l1_rpc:
        deployments.record(
            settings.data_dir, chain.chain_id, PLASMA, client.address, chain.block_number()
        )
    return client
