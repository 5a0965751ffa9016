"""Named accounts (issue #23, item 6): 'l2gpu account new | import | list | use | show'
and the root's --account NAME. No chain and no server: 'show' reads a stand-in node
(an httpx mock transport) for its arithmetic."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from eth_account import Account

from l2gpu.cli.account_cmd import Summary, keystore_address, locked_in_channels, market_totals
from l2gpu.cli.common import (
    ACCOUNT_FLAG,
    KEY_FLAGS,
    remember_key_flags,
    signing_account,
    signing_keystore,
)
from l2gpu.cli.main import main
from l2gpu.config import load_settings, write_setting
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.l1.keys import save_keystore
from l2gpu.node.client import L2Client
from tests.cli.test_cli import run
from tests.conftest import ANVIL_KEYS

PASSWORD = "long enough"
KEY = "0x" + "0" * 63 + "5"
FLAG_KEY = "0x" + "0" * 63 + "1"
NO_NODE = "http://127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder and a working folder (where 'account use' writes l2gpu.toml)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("L2GPU_CONFIG", raising=False)
    monkeypatch.delenv("L2GPU_KEYSTORE", raising=False)
    monkeypatch.setenv("L2GPU_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("L2GPU_KEYSTORE_PASSWORD", PASSWORD)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_new_import_list_use_round_trip(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = cli(capsys, "account", "new", "alice")
    assert code == 0
    assert "account alice: 0x" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))  # piped, as 'import < key.txt'
    code, out, _ = cli(capsys, "account", "import", "bob")
    assert code == 0, out
    bob = str(Account.from_key(KEY).address)
    assert bob in out
    assert KEY not in out
    stored = home / "data" / "accounts" / "bob.json"
    assert json.loads(stored.read_text())["crypto"]["kdf"] == "scrypt"  # encrypted

    code, out, _ = cli(capsys, "account", "list", "--json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert set(listed) == {"alice", "bob"}
    assert listed["bob"]["address"] == bob
    assert not any(r["in_use"] for r in listed.values())

    code, out, _ = cli(capsys, "account", "use", "bob")
    assert code == 0
    assert "l2gpu.toml" in out
    assert load_settings().keystore == stored.resolve()  # load_settings reads the choice
    code, out, _ = cli(capsys, "account", "list")
    assert "* bob" in out
    assert "  alice" in out
    code, out, _ = cli(capsys, "--account", "alice", "account", "list")  # the flag wins
    assert "* alice" in out

    code, out, _ = cli(capsys, "account", "show", "--node", NO_NODE, "--json")
    shown = json.loads(out)
    assert code == 0
    assert shown["account"] == "bob"
    assert shown["address"] == bob
    assert shown["l2_balance_wei"] is None
    assert "did not answer" in shown["notes"][0]
    code, out, _ = cli(capsys, "account", "show", "alice", "--node", NO_NODE)
    assert "account   alice" in out
    assert "pass --l1-rpc URL" in out

    # an existing name is never overwritten
    code, _, err = cli(capsys, "account", "new", "bob")
    assert code == 2
    assert "an account named 'bob' exists" in err


def test_new_use_and_new_key_print_one_json_object_with_json(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "account", "new", "dora", "--json")
    assert code == 0
    made = json.loads(out)
    assert (made["name"], made["file"]) == ("dora", str(home / "data" / "accounts" / "dora.json"))
    code, out, _ = cli(capsys, "account", "use", "dora", "--json")
    assert code == 0
    assert json.loads(out)["address"] == made["address"]
    password = home / "password.txt"
    password.write_text(PASSWORD)
    code, out, _ = cli(capsys, "config", "new-key", str(home / "k.json"), "--password-file",
                       str(password), "--json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["keystore"] == str(home / "k.json")
    code, out, err = cli(capsys, "account", "use", "nobody", "--json")
    assert (code, out) == (2, "")  # refused: one line on stderr, nothing on stdout
    assert err.startswith("error: no account named 'nobody'")


def test_import_from_a_keystore_keeps_the_key(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = save_keystore(Account.from_key(KEY), home / "exported.json", PASSWORD)
    code, _out, err = cli(capsys, "account", "import", "carol", "--from-keystore", str(source))
    assert code == 0, err
    assert (
        keystore_address(home / "data" / "accounts" / "carol.json") == Account.from_key(KEY).address
    )


def test_a_key_as_an_argument_is_refused_and_not_echoed(tmp_path: Path) -> None:
    result = run("account", "import", "eve", KEY, env={"L2GPU_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "visible to other users" in result.stderr
    assert "pipe it on stdin" in result.stderr
    assert KEY[2:] not in result.stderr + result.stdout
    assert not (tmp_path / "accounts" / "eve.json").exists()
    assert "process list" in run("account", "import", "--help").stdout  # the help says so


def test_a_wrong_password_is_named_as_such(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli(capsys, "account", "new", "alice")[0] == 0
    monkeypatch.setenv("L2GPU_KEYSTORE_PASSWORD", "not the password")
    code, _, err = cli(capsys, "--account", "alice", "l2", "balance", "--node", NO_NODE)
    assert code == 2
    assert "wrong password" in err
    assert "check the keystore_password setting" in err
    monkeypatch.delenv("L2GPU_KEYSTORE_PASSWORD")  # and none, off a terminal, says how to set it
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = cli(capsys, "--account", "alice", "l2", "balance", "--node", NO_NODE)
    assert code == 2
    assert "needs its password" in err
    assert "L2GPU_KEYSTORE_PASSWORD" in err
    # --account after the subcommand chooses the key as well (issue #23: "No such option")
    code, _, err = cli(capsys, "l2", "balance", "--node", NO_NODE, "--account", "alice")
    assert code == 2
    assert "needs its password" in err


def test_a_missing_name_lists_the_names_there_are(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "--account", "zed", "account", "show")
    assert code == 2
    assert "no account named 'zed'" in err
    assert "none in" in err
    cli(capsys, "account", "new", "alice")
    cli(capsys, "account", "new", "bob")
    code, _, err = cli(capsys, "--account", "zed", "account", "show")
    assert code == 2
    assert "are: alice, bob" in err
    code, _, err = cli(capsys, "--account", "../x", "account", "list")
    assert code == 2
    assert "not an account name" in err


def test_the_order_is_private_key_keystore_account_then_the_setting(home: Path) -> None:
    folder = home / "data" / "accounts"
    alice, bob, carol = (Account.create() for _ in range(3))
    save_keystore(alice, folder / "alice.json", PASSWORD)
    save_keystore(bob, folder / "bob.json", PASSWORD)
    carol_file = save_keystore(carol, home / "carol.json", PASSWORD)

    ctx = typer.Context(typer.main.get_command(typer.Typer(callback=lambda: None)))
    ctx.obj = load_settings(keystore=folder / "alice.json")
    assert signing_account(ctx).address == alice.address  # the setting
    ctx.meta[ACCOUNT_FLAG] = "bob"
    assert signing_account(ctx).address == bob.address  # --account beats the setting
    ctx.meta[KEY_FLAGS] = (None, carol_file)
    assert signing_account(ctx).address == carol.address  # --keystore beats --account
    ctx.meta[KEY_FLAGS] = (FLAG_KEY, None)
    assert signing_account(ctx).address == Account.from_key(FLAG_KEY).address
    assert signing_keystore(ctx) is None  # --private-key beats every keystore
    with pytest.raises(L2gpuError, match="--keystore and --account name two keys"):
        remember_key_flags(ctx, None, carol_file, "bob")


def test_use_edits_one_line_of_the_config_file(home: Path) -> None:
    config = home / "l2gpu.toml"
    config.write_text('# my settings\nnode_url = "http://127.0.0.1:8600"\nkeystore = "old.json"\n')
    write_setting("keystore", "/keys/new.json")
    text = config.read_text()
    assert text.startswith("# my settings\nnode_url")
    assert 'keystore = "/keys/new.json"' in text
    assert "old.json" not in text
    config.write_text("[tool]\nx = 1\n")  # settings are top-level: the line goes before tables
    write_setting("keystore", "/keys/a b.json")
    assert config.read_text().startswith('keystore = "/keys/a b.json"\n[tool]')


# -- show's arithmetic, against a stand-in node ----------------------------------------

RENTER = str(Account.from_key(KEY).address)
OTHER = str(Account.from_key(FLAG_KEY).address)


def channel(renter: str, deposit: int, status: str) -> dict[str, Any]:
    return {"renter": renter, "provider": OTHER, "deposit": str(deposit), "status": status}


def stand_in_node(routes: dict[str, tuple[int, Any]]) -> L2Client:
    """A test stand-in for a rollup node: an L2Client whose HTTP goes to fixed answers."""

    def answer(request: httpx.Request) -> httpx.Response:
        status, body = routes.get(request.url.path, (404, {"error": "not found"}))
        return httpx.Response(status, json=body)

    client = L2Client("http://node.test", PrivateKey((1).to_bytes(32, "big")))
    client.http = httpx.Client(base_url="http://node.test", transport=httpx.MockTransport(answer))
    return client


def test_show_sums_the_deposits_its_channels_lock() -> None:
    channels = [
        channel(RENTER, 10**17, "open"),
        channel(RENTER, 2 * 10**17, "closing"),  # paid out only at settlement: still locked
        channel(RENTER, 5 * 10**17, "settled"),  # paid out
        channel(OTHER, 7 * 10**17, "open"),  # someone else's
    ]
    node = stand_in_node({
        f"/l2/accounts/{RENTER}": (200, {"balance": 3 * 10**18, "nonce": 4, "index": 2}),
        f"/l2/accounts/{RENTER}/channels": (200, channels),
    })  # fmt: skip
    summary = Summary("bob", RENTER)
    summary.read_node(node)
    assert (summary.l2_balance, summary.l2_nonce) == (3 * 10**18, 4)
    assert (summary.locked_in_channels, summary.channels) == (3 * 10**17, 2)
    assert "L2        3 ETH (nonce 4)" in summary.lines()
    assert "locked    0.3 ETH in 2 channel(s)" in summary.lines()
    assert locked_in_channels(RENTER.lower(), channels) == (3 * 10**17, 2)  # case of hex


def test_show_says_when_the_node_knows_no_such_account() -> None:
    summary = Summary("bob", RENTER)
    summary.read_node(stand_in_node({}))
    assert summary.l2_balance == 0
    assert "no L2 account yet" in summary.notes[0]
    assert summary.to_json()["locked_in_channels_wei"] == 0


def test_spend_and_earnings_are_the_jobs_amounts_due() -> None:
    jobs = [(RENTER, OTHER, 5), (RENTER, OTHER, 7), (OTHER, RENTER, 11), (OTHER, OTHER, 13)]
    assert market_totals(RENTER, jobs) == (12, 11)


def test_show_reads_the_l1_balance_from_a_real_l1(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, anvil_url: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(ANVIL_KEYS[0] + "\n"))
    assert cli(capsys, "account", "import", "dev")[0] == 0
    code, out, err = cli(capsys, "--account", "dev", "account", "show", "--l1-rpc", anvil_url,
                         "--node", NO_NODE, "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["l1_balance_wei"] == 10_000 * 10**18  # anvil funds its dev keys


def test_a_key_typed_as_the_name_is_refused_and_not_echoed(home: Path) -> None:
    for typed in (KEY, KEY[2:]):
        result = run("account", "import", typed)
        assert result.returncode == 2
        assert "looks like a private key" in result.stderr
        assert KEY[2:] not in result.stderr + result.stdout
