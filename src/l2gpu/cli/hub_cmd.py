"""``l2gpu hub``: carry leases between rollup shards for a fee.

The hub's key needs an L2 account with a balance on every shard it serves (deposit
on each shard's Rollup: ``l2gpu l2 deposit --node URL``): its outbound channels to
providers are paid from there. It serves its API (``/hub``) on the API host and
port, and keeps its journal in the data folder.
"""

from __future__ import annotations

from typing import Annotated

import typer

from l2gpu.cli.common import signing_key
from l2gpu.core.errors import L2gpuError

ShardNodes = Annotated[
    list[str],
    typer.Option("--shard-node", metavar="URL",
                 help="A shard's rollup node URL, once per shard, in shard order "
                 "(l2gpu up --shards N prints them)."),
]  # fmt: skip


def hub(
    ctx: typer.Context,
    shard_node: ShardNodes,
    fee_ppm: Annotated[
        int,
        typer.Option("--fee-ppm", min=0, max=100_000, help="The fee, per million wei paid onward."),
    ] = 1_000,
) -> None:
    """Serve a hub between the shards whose nodes are given, until stopped."""
    from l2gpu.hub.app import create_app
    from l2gpu.hub.runner import start_hub
    from l2gpu.serving.connections import require_free_port, serve_in_foreground

    settings = ctx.obj
    if len(shard_node) < 2:
        raise L2gpuError("a hub joins at least two shards",
                         "pass --shard-node URL once for each shard, in shard order")  # fmt: skip
    require_free_port(settings.api_host, settings.api_port, "hub API", "api_port")
    running = start_hub(signing_key(ctx), shard_node, settings.data_dir / "hub",
                        fee_ppm=fee_ppm, serve=False)  # fmt: skip
    info = running.hub.info()
    typer.echo(f"hub {info['hub']} on {len(shard_node)} shards, fee {fee_ppm} ppm, "
               f"{len(running.hub.routes)} routes from its journal")  # fmt: skip
    try:
        serve_in_foreground(create_app(running.hub), settings.api_host, settings.api_port)
    finally:
        running.close()
