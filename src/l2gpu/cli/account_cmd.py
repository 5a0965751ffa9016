"""``l2gpu account``: named accounts, each an encrypted keystore in ``data_dir/accounts``.

``new`` and ``import`` write ``data_dir/accounts/NAME.json`` (Web3 Secret Storage, as
``config new-key`` does); ``list`` shows them; ``use`` makes one the ``keystore``
setting in the config file (``$L2GPU_CONFIG``, else ``./l2gpu.toml``); the root's
``--account NAME`` picks one for one command; ``show`` sums up one account's money on
L1, in the rollup and in the market.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.account_summary import (  # noqa: F401 - re-exported: the show command's parts
    Summary,
    _address,
    locked_in_channels,
    market_totals,
    read_l1_channels,
    read_node_channels,
)
from l2gpu.cli.common import (
    ACCOUNT_FLAG,
    KEY_FLAGS,
    ApiUrlOption,
    AsJson,
    L1RpcOption,
    NodeOption,
    account_file,
    account_names,
    accounts_dir,
    check_account_name,
    keystore_password,
    l2_node_url,
    print_json,
    signing_account,
    signing_keystore,
    unlock_keystore,
    use_l1_rpc,
)
from l2gpu.cli.output import emit
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from eth_account.signers.local import LocalAccount

    from l2gpu.config import Settings

app = typer.Typer(
    help="Named accounts: encrypted keys in the data folder (new, import, list, use, show).",
    no_args_is_help=True,
    add_completion=False,
)

NameArgument = Annotated[str, typer.Argument(help="Account name (letters, digits, _ . -).")]


def _new_file(settings: Settings, name: str) -> Path:
    """Where the new account ``name`` goes; refused when it exists (a key is never
    overwritten)."""
    path = accounts_dir(settings) / f"{check_account_name(name)}.json"
    if path.exists():
        raise L2gpuError(
            f"an account named '{name}' exists ({path})", "choose another name; nothing was written"
        )
    return path


def _created(name: str, account: LocalAccount, path: Path, as_json: bool) -> None:
    if as_json:
        emit({"name": name, "address": account.address, "file": str(path)}, as_json)
        return
    typer.echo(f"account {name}: {account.address} in {path}")
    typer.echo(
        f"sign with it: l2gpu --account {name} ...; make it the default: l2gpu account use {name}"
    )


@app.command("new")
def new(ctx: typer.Context, name: NameArgument, as_json: AsJson = False) -> None:
    """Create a key and store it encrypted as the account NAME. The password is the
    keystore_password setting (L2GPU_KEYSTORE_PASSWORD), else asked at the terminal."""
    from eth_account import Account

    from l2gpu.l1.keys import save_keystore

    settings: Settings = ctx.obj
    path = _new_file(settings, name)
    password = keystore_password(settings, f"account {name}", confirm=True)
    account = Account.create()
    save_keystore(account, path, password)
    _created(name, account, path, as_json)


KEY_ON_COMMAND_LINE = (
    "a private key on the command line is visible to other users of this machine "
    "(the process list) and stays in the shell's history"
)


@app.command("import")
def import_(
    ctx: typer.Context,
    name: NameArgument,
    key_argument: Annotated[
        str | None, typer.Argument(hidden=True, show_default=False, metavar="")
    ] = None,
    from_keystore: Annotated[
        Path | None,
        typer.Option(
            "--from-keystore",
            help="Import this keystore file instead of a private "
            "key; the account keeps its password.",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Store an existing key as the account NAME, encrypted. The private key is read
    from stdin (piped: 'l2gpu account import NAME < key.txt', or typed at a prompt that
    echoes nothing), never from an argument: other users of this machine can read
    arguments in the process list. The password is the keystore_password setting,
    else asked at the terminal."""
    from l2gpu.l1.keys import account_from_private_key, load_keystore, save_keystore

    settings: Settings = ctx.obj
    flag_key, _ = ctx.meta.get(KEY_FLAGS, (None, None))
    if key_argument is not None or flag_key:
        raise L2gpuError(
            KEY_ON_COMMAND_LINE,
            f"pipe it on stdin: l2gpu account import {name} < key.txt "
            "(or type it at the prompt); nothing was written",
        )
    path = _new_file(settings, name)
    if from_keystore is not None:
        password = keystore_password(settings, f"keystore {from_keystore}")
        account = load_keystore(from_keystore, password)
    else:
        account = account_from_private_key(_read_key())
        password = keystore_password(settings, f"account {name}", confirm=True)
    save_keystore(account, path, password)
    _created(name, account, path, as_json)


def _read_key() -> str:
    """A private key from stdin: a hidden prompt at a terminal, else the first line."""
    if sys.stdin.isatty():
        typed: str = typer.prompt("private key (hex)", hide_input=True)
        return typed.strip()
    line = sys.stdin.readline().strip()
    if not line:
        raise L2gpuError("no private key on stdin", "pipe it: l2gpu account import NAME < key.txt")
    return line


def keystore_address(path: Path) -> str | None:
    """The address a keystore file states (readable without its password), or None."""
    try:
        stated = json.loads(path.read_text()).get("address")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(stated, str) or len(stated.removeprefix("0x")) != 40:
        return None
    from l2gpu.core.types import Address

    try:
        return Address.from_hex("0x" + stated.removeprefix("0x")).checksum
    except (ValueError, L2gpuError):
        return None


def _in_use(ctx: typer.Context) -> Path | None:
    """The keystore this command would sign with, resolved, or None."""
    try:
        path = signing_keystore(ctx)
    except L2gpuError:  # --account names no account: none of them is in use
        return None
    return path.resolve() if path is not None else None


@app.command("list")
def list_(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The named accounts and their addresses; '*' marks the one commands sign with."""
    settings: Settings = ctx.obj
    used = _in_use(ctx)
    rows = []
    for name in account_names(settings):
        path = accounts_dir(settings) / f"{name}.json"
        rows.append(
            {
                "name": name,
                "address": keystore_address(path),
                "in_use": path.resolve() == used,
                "file": str(path),
            }
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo(
            f"no accounts in {accounts_dir(settings)}; create one with "
            "'l2gpu account new NAME' or 'l2gpu account import NAME'"
        )
        return
    for row in rows:
        mark = "*" if row["in_use"] else " "
        typer.echo(f"{mark} {row['name']:<20} {row['address'] or '(address not stated)'}")


@app.command("use")
def use(ctx: typer.Context, name: NameArgument, as_json: AsJson = False) -> None:
    """Make NAME the account commands sign with: its file becomes the keystore setting
    in the config file ($L2GPU_CONFIG, else l2gpu.toml in the working folder)."""
    from l2gpu.config import write_setting

    settings: Settings = ctx.obj
    path = account_file(settings, name).resolve()
    written = write_setting("keystore", str(path))
    if as_json:
        emit({"name": name, "address": keystore_address(path), "keystore": str(path),
              "config_file": str(written)}, as_json)  # fmt: skip
    else:
        typer.echo(
            f"account {name} ({keystore_address(path) or 'address not stated'}) is in use: "
            f"keystore = {path} in {written}"
        )
    if os.environ.get("L2GPU_KEYSTORE"):
        typer.echo(
            f"note: L2GPU_KEYSTORE={os.environ['L2GPU_KEYSTORE']} wins over the config "
            "file; unset it to sign with this account",
            err=True,
        )


# -- show --------------------------------------------------------------------------


def _who(ctx: typer.Context, name: str | None) -> tuple[str, str, Path | None]:
    """(what to call the account, its address, its keystore or None) for 'show': NAME,
    else the account commands sign with. A keystore's stated address needs no password."""
    path: Path | None
    if name is not None:
        path = account_file(ctx.obj, name)
    else:
        path = signing_keystore(ctx)
        if path is None:  # a private key: it is its own address
            return "(private key)", signing_account(ctx).address, None
        flag = ctx.meta.get(ACCOUNT_FLAG)
        name = flag or (
            path.stem if path.parent.resolve() == accounts_dir(ctx.obj).resolve() else str(path)
        )
    stated = keystore_address(path)
    if stated is None:
        stated = unlock_keystore(path, ctx.obj).address
    return str(name), stated, path


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Account name; default: the one in use.")
    ] = None,
    node: NodeOption = None,
    api_url: ApiUrlOption = None,
    l1_rpc: L1RpcOption = None,
    manager: Annotated[
        str | None,
        typer.Option("--manager", help="ChannelManager on L1 (default: the one recorded)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """An account's address and money: L1 balance (with --l1-rpc), L2 balance and nonce,
    what its channels lock on every rail it can read (the rollup, zk or Plasma node of
    --node, and the ChannelManager's channels on L1 with --l1-rpc; each skipped with a
    note when it does not answer), and with --api-url what it spent and earned in the
    market to date (this signs in, so it unlocks the key)."""
    settings = use_l1_rpc(ctx, l1_rpc)
    label, address, path = _who(ctx, name)
    summary = Summary(label, address)
    if settings.l1_rpc:
        summary.l1_balance = _l1_balance(settings.l1_rpc, address, summary.notes)
    read_node_channels(settings, l2_node_url(settings, node), summary)
    if settings.l1_rpc:
        read_l1_channels(settings.l1_rpc, manager, settings.data_dir, summary)
    if api_url:
        _read_market(ctx, api_url, path, summary)
    if as_json:
        print_json(summary.to_json())
    else:
        typer.echo("\n".join(summary.lines()))


def _l1_balance(rpc: str, address: str, notes: list[str]) -> int | None:
    from l2gpu.l1.jsonrpc import connect_jsonrpc

    try:
        return int(connect_jsonrpc(rpc, []).balance(address))
    except L2gpuError as exc:
        notes.append(f"L1 skipped: {exc.what}")
        return None


def _read_market(ctx: typer.Context, api_url: str, path: Path | None, summary: Summary) -> None:
    from l2gpu.cli.common import market_api_url, signing_key
    from l2gpu.client import MarketClient
    from l2gpu.core.crypto.secp256k1 import PrivateKey

    key = (
        PrivateKey(bytes(unlock_keystore(path, ctx.obj).key))
        if path is not None
        else signing_key(ctx)
    )
    try:
        jobs = MarketClient(market_api_url(ctx.obj, api_url), key).jobs()
    except L2gpuError as exc:
        summary.notes.append(f"market skipped: {exc.what}")
        return
    due = [(job.renter, job.provider, int(job.amount_due)) for job in jobs]
    summary.spent, summary.earned = market_totals(summary.address, due)
