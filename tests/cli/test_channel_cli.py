"""`l2gpu channel` and `l2gpu watch channels` against a real anvil node, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.l1.jsonrpc import connect_jsonrpc

from ..conftest import ANVIL_KEYS
from .test_cli import run

RENTER_KEY, PROVIDER_KEY = ANVIL_KEYS
PROVIDER = str(PrivateKey.from_hex(PROVIDER_KEY).address)


@pytest.fixture
def as_user(anvil_url: str, tmp_path: Path):
    def call(key: str, *args: str, human: bool = False):
        """Run ``l2gpu *args`` with ``key``; a channel command with --json unless ``human``."""
        json_flag = ["--json"] if args[0] == "channel" and not human else []
        result = run(
            *args,
            *json_flag,
            env={"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": key,
                 "L2GPU_DATA_DIR": str(tmp_path / key[-6:])},
        )  # fmt: skip
        return result

    return call


def ok(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_channel_from_open_to_provider_close(as_user, tmp_path: Path) -> None:
    manager = ok(as_user(RENTER_KEY, "channel", "deploy"))["manager"]
    opened = ok(as_user(RENTER_KEY, "channel", "open", PROVIDER, "--deposit", "1 ether",
                        "--challenge-period", "60", "--expires-in", "2h"))  # fmt: skip
    cid = opened["channel_id"]
    voucher = ok(as_user(RENTER_KEY, "channel", "pay", cid, "--amount", "0.25 ether"))
    assert voucher["amount"] == 25 * 10**16
    voucher_file = tmp_path / "voucher.json"
    voucher_file.write_text(json.dumps(voucher))
    status = ok(as_user(PROVIDER_KEY, "channel", "status", cid, "--manager", manager))
    assert (status["status"], status["deposit"]) == ("open", str(10**18))
    assert status["expires_at_iso"].endswith("Z")
    shown = as_user(PROVIDER_KEY, "channel", "status", cid, "--manager", manager, human=True)
    assert shown.stdout.startswith(f"channel {cid}\n")
    assert "1 ETH" in shown.stdout  # for people: ETH with its unit, no JSON
    closed = ok(as_user(PROVIDER_KEY, "channel", "close", cid, "--voucher", str(voucher_file),
                        "--manager", manager))  # fmt: skip
    assert closed["events"] == ["VoucherAccepted", "ChannelSettled"]
    status = ok(as_user(PROVIDER_KEY, "channel", "status", cid, "--manager", manager))
    assert status["status"] == "settled"


def test_a_renter_close_waits_for_the_challenge_period(as_user, anvil_url: str) -> None:
    ok(as_user(RENTER_KEY, "channel", "deploy"))
    cid = ok(as_user(RENTER_KEY, "channel", "open", PROVIDER, "--deposit", "1000000 wei",
                     "--challenge-period", "120", "--salt", "7"))["channel_id"]  # fmt: skip
    ok(as_user(RENTER_KEY, "channel", "close", cid, "--amount", "400 wei"))
    early = as_user(RENTER_KEY, "channel", "settle", cid)
    assert early.returncode == 2
    assert "challenge period not over" in early.stderr
    assert "Traceback" not in early.stderr
    connect_jsonrpc(anvil_url, []).time_travel(121)
    paid = ok(as_user(RENTER_KEY, "channel", "settle", cid))
    assert (paid["provider_payout"], paid["renter_payout"]) == ("400", "999600")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["channel", "open", "0x1234", "--deposit", "1 ether"], "40 hex digits"),
        (["channel", "open", PROVIDER, "--deposit", "one ether"], "not a number"),
        (["channel", "open", PROVIDER, "--deposit", "1 wei", "--expires-in", "soon"], "duration"),
        (["channel", "status", "0x12"], "64 hex digits"),
    ],
)
def test_bad_channel_input_is_one_clear_line(as_user, args, message) -> None:
    ok(as_user(RENTER_KEY, "channel", "deploy"))
    result = as_user(RENTER_KEY, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_channel_commands_refuse_the_embedded_chain() -> None:
    result = run("channel", "status", "0x" + "00" * 32)
    assert result.returncode == 2
    assert "persistent L1" in result.stderr


def test_watch_answers_a_stale_close_for_an_offline_provider(as_user, tmp_path: Path) -> None:
    from l2gpu.core.channel.vouchers import Voucher
    from l2gpu.core.types import Address, ChainId, Hash32, Wei
    from l2gpu.db import open_database
    from l2gpu.payments.store import VoucherStore

    manager = ok(as_user(RENTER_KEY, "channel", "deploy"))["manager"]
    cid = ok(as_user(RENTER_KEY, "channel", "open", PROVIDER, "--deposit", "1000000 wei",
                     "--challenge-period", "600", "--salt", "9"))["channel_id"]  # fmt: skip
    paid = ok(as_user(RENTER_KEY, "channel", "pay", cid, "--amount", "700000 wei"))
    store_url = f"sqlite:///{tmp_path / 'provider.db'}"
    VoucherStore(open_database(store_url)).offer(
        Voucher(Hash32.from_hex(cid), Wei(paid["amount"]), bytes.fromhex(paid["signature"][2:])),
        chain_id=ChainId(paid["chain_id"]),
        manager=Address.from_hex(manager),
    )
    ok(as_user(RENTER_KEY, "channel", "close", cid, "--amount", "100 wei"))
    # A third party runs the watcher with the provider's vouchers; the provider is offline.
    watcher_key = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
    result = as_user(watcher_key, "watch", "channels", "--store", store_url, "--once",
                     "--manager", manager)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 answer(s)" in result.stdout
    status = ok(as_user(RENTER_KEY, "channel", "status", cid, "--manager", manager))
    assert status["best_voucher"] == "700000"
