"""``l2gpu web``: the web console (issue 21) over a market API, in a browser
(``--demo``: with anvil, a market and a provider of its own: :mod:`l2gpu.cli.web_demo`).

It serves the console's pages on loopback (``--host`` to serve wider) and talks to
the market at ``--api-url`` as a client. With ``--dev-wallet`` it also holds the
signing key (``--private-key``, ``--keystore`` or ``--account``) as a development
wallet that can rent from the browser, paying over the rail the other options
name (``--node``, or ``--l1-rpc`` with ``--manager``): for demos, marked on every
page; with ``--l1-rpc`` it also claims the wallet's final withdrawals on L1. The
rollup page reads the node that ``--node`` (or the ``node_url`` setting) names.
htmx comes from ``make tools``; without it the pages work as plain forms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import ApiUrlOption, market_api_url, node_url, signing_key
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from l2gpu.web.claiming import RollupClaimer

WEB_PORT = 8700
NODE_TIMEOUT_S = 3.0  # a page waits this long for the node before saying it is away


def web(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to serve the console on.")] = WEB_PORT,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    api_url: ApiUrlOption = None,
    dev_wallet: Annotated[
        bool,
        typer.Option(
            "--dev-wallet",
            help="Hold the signing key as a development wallet that rents from the browser "
            "(demo only: marked on every page).",
        ),
    ] = False,
    node: Annotated[
        str | None,
        typer.Option(help="Rollup node URL: the rollup page's, and the wallet's rail."),
    ] = None,
    manager: Annotated[
        str | None, typer.Option(help="ChannelManager address (the wallet's rail on L1).")
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Bring up anvil, a market and a provider too, with a development wallet.",
        ),
    ] = False,
) -> None:
    """Serve the web console: offers, sign-in, renting and a live lease, in a browser."""
    import uvicorn

    from l2gpu.web.app import LOOPBACK

    if demo:
        from l2gpu.cli.web_demo import run_demo

        if host not in LOOPBACK:
            raise L2gpuError(f"the demo's development wallet is served on loopback only, not "
                             f"--host {host}", "leave --host out")  # fmt: skip

        if not 0 < port < 65536:
            raise L2gpuError(f"--port {port} is no port", "give 1 to 65535")
        from l2gpu.serving.connections import require_free_port

        require_free_port(host, port, "server", "--port")
        run_demo(port, host)
        return

    from l2gpu.cli.market_cmd import _rail, _rail_node
    from l2gpu.client import MarketClient
    from l2gpu.node.client import NodeReader
    from l2gpu.serving.connections import require_free_port, uvicorn_options
    from l2gpu.web.app import create_console
    from l2gpu.web.assets import htmx_path
    from l2gpu.web.renting import DevWallet

    if not 0 < port < 65536:
        raise L2gpuError(f"--port {port} is no port", "give 1 to 65535")
    settings = ctx.obj
    url = market_api_url(settings, api_url)
    if dev_wallet and host not in LOOPBACK:
        raise L2gpuError(
            f"--dev-wallet rents with the console's key for anyone who reaches it, and "
            f"--host {host} serves beyond this machine",
            "serve a development wallet on 127.0.0.1 only (reach it over an SSH tunnel)",
        )
    hosts = ("*",) if host in ("0.0.0.0", "::") else (*LOOPBACK, host)  # noqa: S104
    wallet = claimer = None
    if dev_wallet:
        key = signing_key(ctx)
        rail_node = _rail_node(settings, node, manager)
        wallet = DevWallet(MarketClient(url, key), _rail(ctx, key, rail_node, manager))
        claimer = _claimer(ctx)
    rollup = node_url(settings, node)
    reader = NodeReader(rollup, timeout=NODE_TIMEOUT_S) if rollup else None
    require_free_port(host, port, "server", "--port")
    htmx = htmx_path()
    if htmx is None:
        typer.echo("note: htmx is not installed ('make tools'): pages refresh as plain forms",
                   err=True)  # fmt: skip
    typer.echo(f"the console: http://{host}:{port}/", err=True)
    console = create_console(url, dev_wallet=wallet, htmx=htmx, hosts=hosts, node=reader,
                             claimer=claimer)  # fmt: skip
    uvicorn.run(console, host=host, port=port, log_level="warning", **uvicorn_options())


def _claimer(ctx: typer.Context) -> RollupClaimer | None:
    """The development wallet's claims on L1 (None without --l1-rpc: the embedded chain
    is no one's L1 but this process's)."""
    from l2gpu.cli.common import signing_account
    from l2gpu.l1 import open_chain
    from l2gpu.web.claiming import RollupClaimer

    if not ctx.obj.l1_rpc:
        return None
    account = signing_account(ctx)
    return RollupClaimer(open_chain(ctx.obj, [account]), account)
