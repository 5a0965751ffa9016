"""``l2gpu config``: show the effective settings, create an encrypted key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import AsJson, print_json
from l2gpu.cli.output import emit
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.config import Settings

app = typer.Typer(help="Show settings; create keys.", no_args_is_help=True, add_completion=False)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: AsJson = False,
) -> None:
    """Print the effective settings (flags > L2GPU_* > l2gpu.toml > defaults), secrets masked."""
    from rich.console import Console
    from rich.table import Table

    from l2gpu.config import describe

    settings: Settings = ctx.obj
    rows = describe(settings)
    if as_json:
        print_json({name: value for name, value, _ in rows})
        return
    table = Table(title="l2gpu settings", show_lines=False)
    for column in ("setting", "value", "meaning"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@app.command("new-key")
def new_key(
    path: Annotated[Path, typer.Argument(help="Where to write the encrypted keystore file.")],
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="Read the password from this file (else prompt)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Create a new private key and store it encrypted (Web3 Secret Storage format)."""
    from eth_account import Account

    from l2gpu.l1.keys import save_keystore

    if password_file is not None:
        try:
            password = password_file.read_text().rstrip("\n")
        except OSError as exc:
            raise L2gpuError(f"cannot read password file {password_file}: {exc.strerror}") from exc
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    account = Account.create()
    save_keystore(account, path, password)
    if as_json:
        emit({"address": account.address, "keystore": str(path)}, as_json)
        return
    typer.echo(f"created {account.address} in {path}")
    typer.echo(f"use it with: L2GPU_KEYSTORE={path}")
