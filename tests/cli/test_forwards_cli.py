"""`l2gpu forwards` from the command line, on anvil: a market deployed, a forward
opened, marked and liquidated when the index falls, another settled after expiry;
and one clear line for each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from l2gpu.core.types import Address
from l2gpu.db.engine import open_database
from l2gpu.l1.jsonrpc import connect_jsonrpc

from ..conftest import ANVIL_KEYS
from ..market.test_price_index_db import a_market
from .helpers import cli, refused

FEED_KEY, RENTER_KEY = ANVIL_KEYS  # the feed also deploys and liquidates
FEED = Account.from_key(FEED_KEY).address
ETHER = 10**18


def ok(capsys: pytest.CaptureFixture[str], key: str, *args: str) -> dict:  # type: ignore[type-arg]
    """Run a forwards command with --json: its one JSON object (amounts as wei strings)."""
    json_flag = () if "--json" in args else ("--json",)
    code, out, err = cli(capsys, "--private-key", key, "forwards", *args, *json_flag)
    assert code == 0, (out, err)
    return dict(json.loads(out))


def test_a_forward_opened_marked_liquidated_and_another_settled_at_expiry(
    capsys: pytest.CaptureFixture[str], anvil_url: str
) -> None:
    rpc = ("--l1-rpc", anvil_url)
    provider = Account.create()
    provider_key = "0x" + bytes(provider.key).hex()
    chain = connect_jsonrpc(anvil_url, [Account.from_key(FEED_KEY)])
    chain.send_ether(Address.from_hex(provider.address), 3 * ETHER, sender=chain.accounts[0])

    deployed = ok(capsys, FEED_KEY, "deploy", "--feed", FEED, "--expires-in", "7d", *rpc)
    assert deployed["max_leverage"] == 4.0
    market = ("--market", deployed["market"])
    ok(capsys, FEED_KEY, "index", "0.002 ether", *market, *rpc)  # wei per GPU-hour
    # 1,000 GPU-hours at 0.002 ether: 2 ether of notional, 25 % margin each.
    offer = ok(capsys, RENTER_KEY, "open", "--side", "long", "--hours", "1000", "--price",
               "0.002 ether", "--margin", "0.5 ether", *market, *rpc)["offer_id"]  # fmt: skip
    refused(cli(capsys, "--private-key", provider_key, "forwards", "take", str(offer),
                "--margin", "0.4 ether", *market, *rpc), "below the initial margin")  # fmt: skip
    forward = ok(capsys, provider_key, "take", str(offer), "--margin", "0.5 ether", *market,
                 *rpc)["forward_id"]  # fmt: skip
    marked = ok(capsys, FEED_KEY, "mark", str(forward), *market, *rpc, "--json")
    assert marked["liquidatable"] is False
    refused(cli(capsys, "--private-key", FEED_KEY, "forwards", "liquidate", str(forward),
                *market, *rpc), "both sides hold their maintenance margin")  # fmt: skip
    chain.time_travel(3_600)  # the index moves 20 % an hour at most
    ok(capsys, FEED_KEY, "index", "0.0016 ether", *market, *rpc)  # -20 %: the long fails
    marked = ok(capsys, FEED_KEY, "mark", str(forward), *market, *rpc, "--json")
    assert marked["long_equity"] == str(ETHER // 10)  # 0.5 - 0.4 ether, as a wei string
    assert marked["liquidatable"] is True
    code, out, _ = cli(capsys, "--private-key", FEED_KEY, "forwards", "mark", str(forward),
                       *market, *rpc)  # fmt: skip
    assert code == 0
    assert out.startswith(f"forward {forward}\n")  # for people: no JSON
    assert [line.split()[-2:] for line in out.splitlines()
            if line.startswith("  long equity ")] == [["0.1", "ETH"]]  # fmt: skip
    ok(capsys, FEED_KEY, "liquidate", str(forward), *market, *rpc)
    assert ok(capsys, FEED_KEY, "market", *market, *rpc, "--json")["forwards"] == []

    second = ok(capsys, provider_key, "open", "--side", "short", "--hours", "100", "--price",
                "0.0016 ether", "--margin", "0.05 ether", *market, *rpc)["offer_id"]  # fmt: skip
    ok(capsys, RENTER_KEY, "take", str(second), "--margin", "0.05 ether", *market, *rpc)
    refused(cli(capsys, "--private-key", FEED_KEY, "forwards", "close", str(second), *market,
                *rpc), "settles on an index posted after its expiry")  # fmt: skip
    chain.time_travel(8 * 86_400)
    ok(capsys, FEED_KEY, "index", "0.0017 ether", *market, *rpc)
    ok(capsys, FEED_KEY, "close", str(second), *market, *rpc)
    status = ok(capsys, FEED_KEY, "market", *market, *rpc, "--json")
    assert status["forwards"] == []
    assert status["bad_debt"] == "0"
    assert status["index_per_gpu_hour"] == str(17 * 10**14)
    assert status["expiry_iso"].endswith("Z")
    code, out, _ = cli(capsys, "--private-key", FEED_KEY, "forwards", "market", *market, *rpc)
    assert code == 0
    assert out.startswith("forwards market 0x")  # for people: no JSON
    assert "0.0017 ETH" in out


def test_the_feed_posts_the_index_of_the_markets_own_leases(
    capsys: pytest.CaptureFixture[str], anvil_url: str, tmp_path: Path
) -> None:
    rpc = ("--l1-rpc", anvil_url)
    chain = connect_jsonrpc(anvil_url, [Account.from_key(FEED_KEY)])
    db = f"sqlite:///{tmp_path / 'market.db'}"
    a_market(open_database(db), at=int(chain.timestamp()))
    deployed = ok(capsys, FEED_KEY, "deploy", "--feed", FEED, *rpc)
    market = ("--market", deployed["market"])
    posted = ok(capsys, FEED_KEY, "index", *market, "--market-db", db, "--gpu", "H100", *rpc)
    assert posted["index_in_force"] == str(710 * 10**9 * 3_600)  # wei per GPU-hour
    assert posted["providers"] == 4
    refused(cli(capsys, "--private-key", FEED_KEY, "forwards", "index", *market, "--market-db",
                db, "--gpu", "A100", *rpc), "A100 has 0 priced hours")  # fmt: skip
    refused(cli(capsys, "--private-key", FEED_KEY, "forwards", "index", *market, *rpc),
            "--market-db URL with --gpu MODEL")  # fmt: skip


def test_bad_input_gets_one_line_that_says_what_to_do(
    capsys: pytest.CaptureFixture[str], anvil_url: str
) -> None:
    rpc = ("--l1-rpc", anvil_url)
    key = ("--private-key", FEED_KEY)
    refused(cli(capsys, *key, "forwards", "market", "--market", FEED, *rpc), "no contract at")
    refused(cli(capsys, *key, "forwards", "market", "--market", "0xnope", *rpc),
            "is not an address")  # fmt: skip
    refused(cli(capsys, *key, "forwards", "deploy", "--feed", FEED, "--expires-in", "soon",
                *rpc), "soon")  # fmt: skip
    deployed = json.loads(cli(capsys, *key, "forwards", "deploy", "--feed", FEED, *rpc,
                              "--json")[1])  # fmt: skip
    market = ("--market", deployed["market"])
    sideways = ("--side", "sideways", "--hours", "1", "--price", "1 gwei", "--margin", "1 gwei")
    refused(cli(capsys, *key, "forwards", "open", *sideways, *market, *rpc), "--side long")
    refused(cli(capsys, *key, "forwards", "mark", "7", *market, *rpc), "no open forward 7")
    refused(cli(capsys, "--private-key", RENTER_KEY, "forwards", "index", "1 gwei", *market,
                *rpc), "only the feed posts the index")  # fmt: skip
