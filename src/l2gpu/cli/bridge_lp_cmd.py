"""``l2gpu bridge lp``: serve as a liquidity provider that fronts moves between shards.

The provider's key needs ether on L1 for what it fronts and the gas; it watches
every shard of the bridge from L1 (re-executing their batches), fronts a move once
its exit is in a batch it checked, and relays it to be repaid once the batch is
final. Owners offer their signed moves with ``l2gpu bridge move --lp URL``. It
serves its API (``/lp``) on the API host and port and keeps its journal in the
data folder.
"""

from __future__ import annotations

from typing import Annotated

import typer

from l2gpu.cli.common import L1RpcOption, parse_amount, signing_account, use_l1_rpc
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import format_wei


def lp(
    ctx: typer.Context,
    budget: Annotated[
        str, typer.Option("--budget", help="The most fronted and not yet repaid, e.g. '5 ether'.")
    ],
    max_move: Annotated[str, typer.Option("--max-move", help="The largest move it fronts.")],
    min_fee_ppm: Annotated[
        int, typer.Option("--min-fee-ppm", min=0, max=999_999, help="The least fee, per million.")
    ] = 1_000,
    max_open: Annotated[
        int, typer.Option("--max-open", min=1, max=100_000, help="Moves open in the book at once.")
    ] = 256,
    wait_s: Annotated[
        int,
        typer.Option("--wait", min=1, help="Seconds a move may wait for its exit to be checked."),
    ] = 600,
    bridge: Annotated[
        str | None, typer.Option("--bridge", help="The bridge (else the one recorded here).")
    ] = None,
    l1_rpc: L1RpcOption = None,
) -> None:
    """Front signed moves between shards for a fee, until stopped."""
    from l2gpu.cli.bridge_cmd import trusted_bridge_client
    from l2gpu.core.shards.liquidity import LpTerms
    from l2gpu.liquidity.app import create_app
    from l2gpu.liquidity.provider import LiquidityProvider
    from l2gpu.liquidity.runner import start_lp
    from l2gpu.serving.connections import require_free_port, serve_in_foreground

    settings = use_l1_rpc(ctx, l1_rpc)
    terms = LpTerms(min_fee_ppm, parse_amount(max_move, "max-move"), parse_amount(budget, "budget"),
                    max_open, wait_s)  # fmt: skip
    problem = terms.problem()
    if problem is not None:
        raise L2gpuError(problem, "change --budget, --max-move, --max-open or --wait")
    require_free_port(settings.api_host, settings.api_port, "liquidity provider API", "api_port")
    signer = signing_account(ctx)
    chain, client = trusted_bridge_client(ctx, settings, signer, bridge)
    provider = LiquidityProvider(chain, client, signer, terms, settings.data_dir / "lp")
    running = start_lp(provider, serve=False)
    typer.echo(f"liquidity provider {provider.me.checksum} on bridge {client.address.checksum} "
               f"({provider.state.shard_count} shards): budget {format_wei(terms.budget)}, "
               f"fee at least {min_fee_ppm} ppm, {provider.state.open_count()} open moves "
               "from its journal")  # fmt: skip
    try:
        serve_in_foreground(create_app(provider), settings.api_host, settings.api_port)
    finally:
        running.close()
