"""One way per concept: the signing key, the node and market URLs, the watch group,
the JSON printer. None of these needs a chain or a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from eth_account import Account

from l2gpu.cli.common import (
    DEFAULT_NODE_URL,
    KEY_FLAGS,
    find_signing_account,
    l2_node_url,
    market_api_url,
    node_url,
    print_json,
    signing_account,
)
from l2gpu.cli.main import main
from l2gpu.config import load_settings
from l2gpu.core.errors import L2gpuError
from l2gpu.l1.keys import save_keystore

FLAG_KEY = "0x" + "0" * 63 + "1"
SETTING_KEY = "0x" + "0" * 63 + "2"


def context(**settings: object) -> typer.Context:
    """A command's context: its settings, and no key flags."""
    ctx = typer.Context(typer.main.get_command(typer.Typer(callback=lambda: None)))
    ctx.obj = load_settings(**settings)
    return ctx


def address(key: str) -> str:
    return str(Account.from_key(key).address)


def test_the_key_comes_from_the_flag_then_the_keystore_then_the_private_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = Account.create()
    keystore = save_keystore(stored, tmp_path / "key.json", "long enough")
    monkeypatch.setenv("L2GPU_KEYSTORE_PASSWORD", "long enough")
    ctx = context(keystore=keystore, private_key=SETTING_KEY)
    assert signing_account(ctx).address == stored.address  # the keystore setting first
    ctx.meta[KEY_FLAGS] = (FLAG_KEY, None)
    assert signing_account(ctx).address == address(FLAG_KEY)  # a flag beats both settings
    assert signing_account(context(private_key=SETTING_KEY)).address == address(SETTING_KEY)


def test_no_key_says_how_to_configure_one() -> None:
    ctx = context()
    assert find_signing_account(ctx) is None
    with pytest.raises(L2gpuError, match="none is configured.*--keystore FILE.*new-key"):
        signing_account(ctx)


def test_a_keystore_without_its_password_says_which_setting_to_set(tmp_path: Path) -> None:
    keystore = save_keystore(Account.create(), tmp_path / "key.json", "long enough")
    ctx = context()
    ctx.meta[KEY_FLAGS] = (None, keystore)
    with pytest.raises(L2gpuError, match="needs its password.*L2GPU_KEYSTORE_PASSWORD"):
        signing_account(ctx)


def test_a_command_without_a_key_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["l2", "transfer", "0x" + "12" * 20, "1 ether"]) == 2
    err = capsys.readouterr().err
    assert "none is configured" in err
    assert "Traceback" not in err
    assert main(["--private-key", FLAG_KEY, "--keystore", "k.json", "l2", "batches"]) == 2
    assert "two keys" in capsys.readouterr().err


def test_node_and_market_urls_come_from_the_flag_then_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert node_url(settings, None) is None
    assert l2_node_url(settings, None) == DEFAULT_NODE_URL
    assert l2_node_url(settings, None, "http://old:1") == "http://old:1"  # --api, hidden
    with pytest.raises(L2gpuError, match="two nodes"):
        node_url(settings, "http://a:1", "http://b:2")
    monkeypatch.setenv("L2GPU_NODE_URL", "http://node:1")
    monkeypatch.setenv("L2GPU_MARKET_URL", "http://market:2")
    settings = load_settings()
    assert l2_node_url(settings, None) == "http://node:1"
    assert node_url(settings, "http://flag:3") == "http://flag:3"
    assert market_api_url(settings, None) == "http://market:2"
    assert market_api_url(settings, "http://flag:4/") == "http://flag:4"


def test_the_old_api_flag_still_names_the_node_but_is_hidden(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["l2", "batches", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "--node" in shown
    assert "--api " not in shown
    # nothing listens on port 9: the command got as far as calling the node it was given
    assert main(["l2", "batches", "--api", "http://127.0.0.1:9"]) == 2
    assert "127.0.0.1:9" in capsys.readouterr().err


def test_watch_is_a_group_and_keeps_its_older_spellings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["watch", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "channels" in shown
    assert "rollup" in shown
    assert "--store" not in shown
    assert main(["watch"]) == 2
    assert "l2gpu watch channels --store" in capsys.readouterr().err
    # the older 'watch --store' runs 'watch channels', which needs a persistent L1
    assert main(["watch", "--store", "sqlite://", "--once"]) == 2
    assert "persistent L1" in capsys.readouterr().err
    assert main(["watch", "rollup", "0x1234", "--once"]) == 2
    assert "persistent L1" in capsys.readouterr().err


def test_json_is_indented_for_people_and_one_line_for_programs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_json({"a": 1, "path": Path("x")})
    out = capsys.readouterr().out
    assert out.count("\n") == 4
    assert json.loads(out) == {"a": 1, "path": "x"}
    print_json({"a": 1}, compact=True)
    assert capsys.readouterr().out == '{"a": 1}\n'


def test_key_flags_after_the_subcommand_move_before_it_unless_the_command_has_its_own() -> None:
    import typer

    from l2gpu.cli.argv import hoist_key_flags
    from l2gpu.cli.main import app

    root = typer.main.get_command(app)
    assert hoist_key_flags(["--data-dir", "d", "l2", "balance", "--account=al", "--json"], root) \
        == ["--data-dir", "d", "--account=al", "l2", "balance", "--json"]  # fmt: skip
    assert hoist_key_flags(["rent", "3", "--private-key", "0xab", "--", "--account", "z"], root) \
        == ["--private-key", "0xab", "rent", "3", "--", "--account", "z"]  # fmt: skip
    # 'airdrop erase --account' names whose data to erase: it stays the command's own
    assert hoist_key_flags(["airdrop", "erase", "--account", "b"], root) == [
        "airdrop", "erase", "--account", "b"]  # fmt: skip
    assert hoist_key_flags(["l2", "balance", "--account"], root) == ["l2", "balance", "--account"]
