"""Entry point of the ``l2gpu`` command.

Every error a user can cause ends as one line on stderr (what was wrong, what to
do) and exit status 2; nothing a user types produces a traceback. An unexpected
error prints a short report request instead (set ``L2GPU_DEBUG=1`` for the trace).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from l2gpu import __version__
from l2gpu.cli import (
    account_cmd,
    airdrop_cmd,
    analytics_cmd,
    bench_cmd,
    bridge_cmd,
    bridge_lp_cmd,
    channel_cmd,
    config_cmd,
    credit_cmd,
    demo_cmd,
    forecast_cmd,
    forwards_cmd,
    hub_cmd,
    l2_cmd,
    launch_cmd,
    market_cmd,
    pending,
    provider_cmd,
    settle_cmd,
    shell_cmd,
    up_cmd,
    watch_cmd,
    web_cmd,
    zk_cmd,
)
from l2gpu.cli.argv import KEY_FLAGS, hoist_key_flags
from l2gpu.cli.common import refuse_negative_amounts, remember_key_flags
from l2gpu.core.errors import L2gpuError

err = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    name="l2gpu",
    help="Rent GPUs by the second; pay over Layer-2 rails that no one can freeze.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"l2gpu {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    l1_rpc: Annotated[
        str | None,
        typer.Option("--l1-rpc", help="Ethereum JSON-RPC URL (default: embedded py-evm chain)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where l2gpu keeps its files.")
    ] = None,
    keystore: Annotated[
        Path | None,
        typer.Option(
            "--keystore",
            help="Sign with this keystore file (default: the keystore "
            "setting, else the private_key setting).",
        ),
    ] = None,
    private_key: Annotated[
        str | None,
        typer.Option(
            "--private-key",
            help="Sign with this hex key (visible to "
            "other users of this machine: prefer --keystore).",
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            help="Sign with the named account ('l2gpu account list'); the order is "
            "--private-key, --keystore, --account, then the keystore setting "
            "('l2gpu account use NAME'), then private_key.",
        ),
    ] = None,
) -> None:
    """Settings come from flags, then L2GPU_* variables, then l2gpu.toml, then defaults."""
    from l2gpu.config import load_settings

    ctx.obj = load_settings(l1_rpc=l1_rpc, data_dir=data_dir)
    remember_key_flags(ctx, private_key, keystore, account)


app.command("demo")(demo_cmd.demo)
app.add_typer(config_cmd.app, name="config")
app.add_typer(account_cmd.app, name="account")
app.command("bench")(bench_cmd.bench)
app.command("settle")(settle_cmd.settle)
app.command("web")(web_cmd.web)
app.add_typer(channel_cmd.app, name="channel")
app.add_typer(watch_cmd.app, name="watch")
app.command("up")(up_cmd.up)
app.add_typer(l2_cmd.app, name="l2")
app.add_typer(bridge_cmd.app, name="bridge")
bridge_cmd.app.command("lp")(bridge_lp_cmd.lp)
app.command("hub")(hub_cmd.hub)
app.add_typer(zk_cmd.app, name="zk")
app.add_typer(airdrop_cmd.app, name="airdrop")
app.add_typer(credit_cmd.app, name="credit")
app.add_typer(forwards_cmd.app, name="forwards")
market_cmd.register(app)
launch_cmd.register(app)
provider_cmd.register(app)
pending.register(app)
shell_cmd.register(app)
analytics_cmd.register(app)
app.add_typer(forecast_cmd.app, name="forecast")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return its exit status (2 for user errors)."""
    try:
        args = sys.argv[1:] if argv is None else argv
        refuse_negative_amounts(args)
        if any(a.split("=", 1)[0] in KEY_FLAGS for a in args[1:]):  # else nothing to move
            args = hoist_key_flags(args, typer.main.get_command(app))
        app(args=args, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except L2gpuError as exc:
        err.print(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("L2GPU_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in l2gpu. Run again with L2GPU_DEBUG=1 for details and report it."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
