"""What every command group shares: one flag per concept, one way to find the signing
key, one clock, one JSON printer.

- ``--node URL`` names a rollup node ('l2gpu up') in every group; it defaults to the
  ``node_url`` setting. ``--api`` is its older spelling, kept hidden.
- ``--api-url URL`` names the market API in every group; it defaults to the
  ``market_url`` setting, else ``http://api_host:api_port``.
- :func:`signing_account` finds the key a command signs with, in one order for every
  command: the root's ``--private-key`` flag, then ``--keystore FILE``, then
  ``--account NAME`` (a named account, ``data_dir/accounts/NAME.json``), then the
  ``keystore`` setting, then the ``private_key`` setting.
- :func:`now` is the wall clock and :func:`l1_now` L1's clock, both from
  :mod:`l2gpu.clock`.
- :func:`print_json` prints every ``--json`` output and every JSON result.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.core.errors import L2gpuError

# Every command module imports this one, and `l2gpu --help` imports every command
# module: what takes long to load (pydantic, the settings, coincurve, web3) is
# imported where it is used.
if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.clock import HasTimestamp
    from l2gpu.config import Settings
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.types import Timestamp, Wei

DEFAULT_NODE_URL = "http://127.0.0.1:8600"
"""Where 'l2gpu l2' looks for a node when neither --node nor node_url names one: the
address 'l2gpu up' serves on by default."""

NodeOption = Annotated[
    str | None,
    typer.Option("--node", help="Rollup node URL ('l2gpu up'); default: the node_url setting."),
]
LegacyNodeOption = Annotated[
    str | None, typer.Option("--api", hidden=True, help="Older spelling of --node.")
]
ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="Market API URL; default: the market_url setting, else http://api_host:api_port.",
    ),
]
HubOption = Annotated[
    str | None,
    typer.Option(
        "--hub",
        metavar="URL",
        help="Hub ('l2gpu hub') that carries a lease to a provider on another shard "
        "(settlement sharded); default: the hub_url setting.",
    ),
]
ShardNodeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--shard-node",
        metavar="URL",
        help="A shard's rollup node, once per shard in shard order: the lease pays on the "
        "shards (settlement sharded); default: the shard_nodes setting.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

# The root's key flags, kept in the click context's meta dict (shared by every nested
# context) so that the settings object stays what the sources say.
KEY_FLAGS = "l2gpu.key_flags"
ACCOUNT_FLAG = "l2gpu.account_flag"
ACCOUNTS_DIR = "accounts"
"""Named accounts are encrypted keystores in ``data_dir/accounts/NAME.json``."""
_LOOKS_LIKE_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NO_KEY_FIX = (
    "pass --account NAME or --keystore FILE before the command (create one with "
    "'l2gpu account new NAME' or 'l2gpu config new-key FILE'; 'l2gpu account use NAME' "
    "makes it the default), or set L2GPU_KEYSTORE with L2GPU_KEYSTORE_PASSWORD, or "
    "L2GPU_PRIVATE_KEY"
)


# -- JSON ----------------------------------------------------------------------------


def print_json(data: Any, *, compact: bool = False) -> None:
    """Print ``data`` as JSON on stdout: indented, or on one line with ``compact`` (for
    output that other programs read line by line). A typed answer of the market
    (:mod:`l2gpu.wire`) prints as the API's own JSON; other values JSON lacks print
    as text."""
    if compact:
        typer.echo(json.dumps(data, default=_json_value))
    else:
        typer.echo(json.dumps(data, indent=2, default=_json_value))


def _json_value(value: object) -> object:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


# -- URLs ----------------------------------------------------------------------------


def node_url(settings: Settings, node: str | None, legacy: str | None = None) -> str | None:
    """The rollup node a command talks to: ``--node`` (or its older spelling ``--api``),
    else the ``node_url`` setting, else None (no node)."""
    if node and legacy and node != legacy:
        raise L2gpuError(
            f"--node {node} and --api {legacy} name two nodes",
            "pass --node alone (--api is its older spelling)",
        )
    return node or legacy or settings.node_url


def l2_node_url(settings: Settings, node: str | None, legacy: str | None = None) -> str:
    """The node an 'l2gpu l2' command talks to: as :func:`node_url`, else the address
    'l2gpu up' serves on by default."""
    return node_url(settings, node, legacy) or DEFAULT_NODE_URL


def market_api_url(settings: Settings, flag: str | None) -> str:
    """The market API a command talks to: ``--api-url``, else the ``market_url``
    setting, else ``http://api_host:api_port``."""
    from l2gpu.config import market_url

    return flag.rstrip("/") if flag else market_url(settings)


# -- the signing key -----------------------------------------------------------------


def remember_key_flags(
    ctx: typer.Context,
    private_key: str | None,
    keystore: Path | None,
    account: str | None = None,
) -> None:
    """Keep the root's ``--private-key``, ``--keystore`` and ``--account`` for
    :func:`signing_account`."""
    given = [flag for flag, value in (("--private-key", private_key), ("--keystore", keystore),
                                      ("--account", account)) if value]  # fmt: skip
    if len(given) > 1:
        raise L2gpuError(
            f"{' and '.join(given)} name two keys", "pass one of them (prefer --account NAME)"
        )
    if account:
        check_account_name(account)
    ctx.meta[KEY_FLAGS] = (private_key, keystore)
    ctx.meta[ACCOUNT_FLAG] = account


def check_account_name(name: str) -> str:
    """``name`` if it can name an account file (letters, digits, ``_.-``; no path)."""
    if _LOOKS_LIKE_KEY.fullmatch(name.strip()):  # never echo it, nor store a key as a name
        raise L2gpuError(
            "the account name looks like a private key, which must not be typed as an "
            "argument (other users of this machine can read arguments)",
            "give a name; 'l2gpu account import NAME' reads the key from stdin",
        )
    if not _ACCOUNT_NAME.fullmatch(name) or name.endswith(".json"):
        raise L2gpuError(
            f"'{name}' is not an account name",
            "use letters, digits, '_', '.' or '-' (at most 64, no path, no .json)",
        )
    return name


def accounts_dir(settings: Settings) -> Path:
    """The folder of the named accounts: ``data_dir/accounts``."""
    return Path(settings.data_dir) / ACCOUNTS_DIR


def account_names(settings: Settings) -> list[str]:
    """The named accounts there are, sorted."""
    folder = accounts_dir(settings)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def account_file(settings: Settings, name: str) -> Path:
    """The keystore of the account ``name``; L2gpuError listing the names there are when
    there is no such account."""
    path = accounts_dir(settings) / f"{check_account_name(name)}.json"
    if not path.is_file():
        names = account_names(settings)
        folder = accounts_dir(settings)
        there = (
            f"the accounts in {folder} are: {', '.join(names)}" if names else f"none in {folder}"
        )
        raise L2gpuError(
            f"no account named '{name}' ({there})",
            "create it with 'l2gpu account new NAME' or 'l2gpu account import NAME'",
        )
    return path


def signing_keystore(ctx: typer.Context) -> Path | None:
    """The keystore a command would unlock: ``--keystore``, else ``--account``'s file, else
    the ``keystore`` setting; None when ``--private-key`` wins or no keystore is named."""
    settings: Settings = ctx.obj
    flag_key, flag_keystore = ctx.meta.get(KEY_FLAGS, (None, None))
    if flag_key:
        return None
    if flag_keystore is not None:
        return Path(flag_keystore)
    flag_account = ctx.meta.get(ACCOUNT_FLAG)
    if flag_account:
        return account_file(settings, flag_account)
    return settings.keystore


def signing_account(ctx: typer.Context) -> LocalAccount:
    """The account a command signs with, in this order: the root's ``--private-key``
    flag, ``--keystore FILE``, ``--account NAME``, then the ``keystore`` setting, then the
    ``private_key`` setting.

    Raises L2gpuError saying how to configure one when there is none, and naming the
    keystore when it cannot be read or its password is missing or wrong.
    """
    account = find_signing_account(ctx)
    if account is None:
        raise L2gpuError("this command signs with a key, and none is configured", NO_KEY_FIX)
    return account


def find_signing_account(ctx: typer.Context) -> LocalAccount | None:
    """As :func:`signing_account`, but None when no key is configured at all."""
    from l2gpu.l1.keys import account_from_private_key

    settings: Settings = ctx.obj
    flag_key, _ = ctx.meta.get(KEY_FLAGS, (None, None))
    if flag_key:
        return account_from_private_key(flag_key)
    keystore = signing_keystore(ctx)
    if keystore is not None:
        return unlock_keystore(keystore, settings)
    if settings.private_key is not None and settings.private_key.get_secret_value():
        return account_from_private_key(settings.private_key.get_secret_value())
    return None


def signing_key(ctx: typer.Context) -> PrivateKey:
    """The signing key of :func:`signing_account`, as the core's key type."""
    from l2gpu.core.crypto.secp256k1 import PrivateKey

    return PrivateKey(bytes(signing_account(ctx).key))


def unlock_keystore(path: Path, settings: Settings) -> LocalAccount:
    """The account in the keystore at ``path``, unlocked with :func:`keystore_password`;
    a wrong password is named as such (:class:`l2gpu.l1.keys.KeystoreError`)."""
    from l2gpu.l1.keys import KeystoreError, load_keystore

    try:
        return load_keystore(path, keystore_password(settings, f"keystore {path}"))
    except KeystoreError as exc:
        if settings.keystore_password is None or "wrong password" not in exc.what:
            raise
        # The password came from the setting: retyping it would not help.
        raise KeystoreError(
            exc.what, "check the keystore_password setting (L2GPU_KEYSTORE_PASSWORD)"
        ) from exc


def keystore_password(settings: Settings, what: str, *, confirm: bool = False) -> str:
    """The password of ``what`` (a keystore): the ``keystore_password`` setting, else (a
    person at a terminal) a prompt that echoes nothing; else L2gpuError saying how to
    set it."""
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    if sys.stdin.isatty():  # a person at a terminal: ask rather than fail
        password: str = typer.prompt(
            f"password of {what}", hide_input=True, confirmation_prompt=confirm
        )
        return password
    raise L2gpuError(
        f"{what} needs its password",
        "set L2GPU_KEYSTORE_PASSWORD (or keystore_password in l2gpu.toml), "
        "or run the command at a terminal to be asked",
    )


# -- clocks --------------------------------------------------------------------------


def now() -> Timestamp:
    """The wall clock, in whole Unix seconds (offers' expiry, leases' metering)."""
    from l2gpu.clock import system_clock

    return system_clock()


def l1_now(chain: HasTimestamp) -> Timestamp:
    """L1's clock: its latest block's time, which contracts compare deadlines to."""
    from l2gpu.clock import l1_clock

    return l1_clock(chain)()


_AMOUNT_ARG = re.compile(r"\s*([0-9][0-9_]*(?:\.[0-9_]+)?)(\s*)([A-Za-z]*)\s*")
AMOUNT_FORMS = "write the number, a blank and a unit: '1000 wei', '2 gwei' or '0.1 ether'"


def parse_amount(text: str, what: str = "amount") -> Wei:
    """An amount a person typed, parsed strictly: a number, a blank, a unit (``wei``,
    ``gwei``, ``ether``). A bare number is refused rather than read as wei (``1`` is
    rarely meant as one wei), and so is a unit run into the number (``0.1eth``);
    negative amounts never reach here (see :func:`refuse_negative_amounts`)."""
    match = _AMOUNT_ARG.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise L2gpuError(f"{what} '{text}' is not a number with a unit", AMOUNT_FORMS)
    number, blank, unit = match.groups()
    if not unit:
        raise L2gpuError(
            f"{what} '{text}' has no unit",
            f"write '{number} wei' or '{number} ether' ({AMOUNT_FORMS})",
        )
    if not blank:
        raise L2gpuError(f"{what} '{text}': put a blank between the number and the unit",
                         AMOUNT_FORMS)  # fmt: skip
    from l2gpu.core.types import parse_wei

    return parse_wei(f"{number} {unit}")


_NEGATIVE = re.compile(r"-[0-9][0-9_.]*(\s*[A-Za-z]*)?")


def refuse_negative_amounts(argv: list[str]) -> None:
    """A negative amount (``"-1 ether"``) would otherwise reach the argument parser as an
    unknown option ("No such option"); say what it is instead."""
    for arg in argv:
        if arg == "--":
            return
        if _NEGATIVE.fullmatch(arg.strip()):
            raise L2gpuError(f"'{arg}' is negative: amounts and durations are never negative",
                             "give a positive amount, e.g. '0.1 ether'")  # fmt: skip


L1RpcOption = Annotated[
    str | None,
    typer.Option("--l1-rpc", help="Ethereum JSON-RPC URL (also accepted before the command)."),
]


def use_l1_rpc(ctx: typer.Context, l1_rpc: str | None) -> Settings:
    """The settings, with ``--l1-rpc`` given after the subcommand taking effect as it does
    before it (``l2gpu l2 deposit X --l1-rpc URL`` was refused)."""
    settings: Settings = ctx.obj
    if l1_rpc:
        from l2gpu.config import load_settings

        settings = load_settings(l1_rpc=l1_rpc, data_dir=settings.data_dir)
        ctx.obj = settings
    return settings
