"""`l2gpu credit` from the command line, on anvil: a pool deployed, a lender supplying,
a borrower posting collateral and borrowing, a price fall and a liquidation, the
debt repaid and the lender out; and what each command says, in one line and with no
traceback, when its input is wrong."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from l2gpu.core.types import Address
from l2gpu.l1 import compile_contract
from l2gpu.l1.jsonrpc import connect_jsonrpc

from ..conftest import ANVIL_KEYS
from .helpers import cli, refused

FEED_KEY, LENDER_KEY = ANVIL_KEYS  # the feed is also the deployer, treasury and liquidator
FEED = Account.from_key(FEED_KEY).address
ETHER = 10**18


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    """Run a credit command with --json: its one JSON object (amounts as wei strings)."""
    code, out, err = cli(capsys, *args, *(() if "--json" in args else ("--json",)))
    assert code == 0, (out, err)
    return dict(json.loads(out))


def test_a_loan_from_deployment_to_liquidation_and_repayment(
    capsys: pytest.CaptureFixture[str], anvil_url: str
) -> None:
    rpc = ("--l1-rpc", anvil_url)
    borrower = Account.create()
    chain = connect_jsonrpc(anvil_url, [Account.from_key(FEED_KEY), borrower])
    chain.send_ether(Address.from_hex(borrower.address), ETHER, sender=chain.accounts[0])

    def as_feed(*args: str) -> dict:  # type: ignore[type-arg]
        return ok(capsys, "--private-key", FEED_KEY, "credit", *args, *rpc)

    def as_borrower(*args: str) -> tuple[int, str, str]:
        return cli(capsys, "--private-key", "0x" + bytes(borrower.key).hex(), "credit", *args,
                   *rpc)  # fmt: skip

    deployed = as_feed("deploy", "--oracle", FEED, "--treasury", FEED, "--test-token")
    assert deployed["ltv_bps"] == 3_000  # what the stress chose
    pool = ("--pool", deployed["pool"])
    token = chain.attach(compile_contract("tokens/TestToken.vy"),
                         Address.from_hex(deployed["token"]))  # fmt: skip
    token.transact("mint", borrower.address, 10 * ETHER, sender=borrower)

    as_feed("price", "2 ether", *pool)
    ok(capsys, "--private-key", LENDER_KEY, "credit", "supply", "20 ether", *pool, *rpc)
    assert as_borrower("collateral", "add", "10 ether", *pool)[0] == 0
    code, out, _ = as_borrower("borrow", "5 ether", *pool)  # the limit: 30 % of 20 ether
    assert code == 0
    assert out.startswith("borrowed\n")  # for people: no JSON
    assert "tx " in out
    refused(as_borrower("borrow", "2 ether", *pool), "past the loan-to-value limit")
    _, out, _ = as_borrower("health", *pool, "--json")
    health = json.loads(out)
    assert int(health["debt"]) >= 5 * ETHER  # amounts as wei strings
    assert 0 < int(health["can_borrow"]) <= ETHER
    assert health["collateral_tokens"] == "10"
    assert health["liquidatable"] is False
    # 5 ether / (10 tokens x 40 %) = 1.25 ether per token
    assert int(health["liquidation_price_per_token"]) > ETHER
    code, out, _ = as_borrower("health", *pool)
    assert code == 0
    assert out.startswith("position of ")  # for people: no JSON
    assert "  price per token  " in out
    assert [line.split()[-2:] for line in out.splitlines()
            if line.startswith("  price per token ")] == [["2", "ETH"]]  # fmt: skip

    refused(cli(capsys, "--private-key", FEED_KEY, "credit", "liquidate", "--borrower",
                borrower.address, *pool, *rpc), "the position is healthy")  # fmt: skip
    for price in ("1.6 ether", "1.28 ether", "1.024 ether"):  # 20 % an hour at most
        chain.time_travel(3_600)
        as_feed("price", price, *pool)
    _, out, _ = as_borrower("health", *pool, "--json")
    assert json.loads(out)["liquidatable"] is True
    as_feed("liquidate", "--borrower", borrower.address, *pool)
    assert as_borrower("repay", "all", *pool)[0] == 0
    _, out, _ = as_borrower("health", *pool, "--json")
    assert json.loads(out)["debt"] == "0"
    assert as_borrower("collateral", "remove", "1 ether", *pool)[0] == 0
    status = as_feed("pool", *pool, "--json")
    assert status["bad_debt"] == "0"
    assert status["debt"] == "0"
    assert status["price_at_iso"].endswith("Z")
    code, out, _ = cli(capsys, "--private-key", FEED_KEY, "credit", "pool", *pool, *rpc)
    assert code == 0
    assert out.startswith("pool 0x")  # for people: no JSON
    assert "ETH" in out
    out = ok(capsys, "--private-key", LENDER_KEY, "credit", "withdraw", "all", *pool, *rpc)
    assert int(out["wei"]) >= 20 * ETHER
    assert out["tx"].startswith("0x")


def test_bad_input_gets_one_line_that_says_what_to_do(
    capsys: pytest.CaptureFixture[str], anvil_url: str
) -> None:
    rpc = ("--l1-rpc", anvil_url)
    key = ("--private-key", FEED_KEY)
    refused(cli(capsys, *key, "credit", "supply", "1 ether", "--pool", "0x1234", *rpc),
            "is not an address")  # fmt: skip
    refused(cli(capsys, *key, "credit", "supply", "1 ether", "--pool", FEED, *rpc),
            "no contract at")  # fmt: skip
    refused(cli(capsys, *key, "credit", "supply", "1 ether", "--pool", FEED), "--l1-rpc")
    refused(cli(capsys, *key, "credit", "supply", "lots", "--pool", FEED, *rpc), "lots")
    refused(cli(capsys, *key, "credit", "deploy", "--oracle", FEED, "--treasury", FEED, *rpc),
            "--token ADDRESS or --test-token")  # fmt: skip
    deployed = json.loads(cli(capsys, *key, "credit", "deploy", "--oracle", FEED, "--treasury",
                              FEED, "--test-token", *rpc, "--json")[1])  # fmt: skip
    pool = ("--pool", deployed["pool"])
    refused(cli(capsys, *key, "credit", "borrow", "1 ether", *pool, *rpc), "the price is stale")
    refused(cli(capsys, *key, "credit", "collateral", "add", "1 ether", *pool, *rpc),
            "you hold 0 base units")  # fmt: skip
    refused(cli(capsys, *key, "credit", "repay", "all", *pool, *rpc), "owes this pool nothing")
    refused(cli(capsys, *key, "credit", "withdraw", "all", *pool, *rpc), "no share")
    refused(cli(capsys, "--private-key", LENDER_KEY, "credit", "price", "1 ether", *pool, *rpc),
            "only the price feed")  # fmt: skip


def test_the_stress_prints_a_summary_for_people_and_the_whole_report_as_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay itself is tests/analytics' (seconds on the real data): here a report
    of its shape, as each reader gets it."""
    from l2gpu.analytics import credit_stress, forward_stress

    pool_row = {"ltv_bps": 3_000, "liquidation_threshold_bps": 4_000,
                "liquidation_bonus_bps": 1_000, "real_bad_debt_ether": 0.0,
                "real_liquidations": 52, "lender_return_per_year_median": 0.0012,
                "shock_bad_debt_ether": {"80%": 1.5}, "first_bad_shock": 0.8}  # fmt: skip
    forward_row = {"initial_margin_bps": 1_000, "maintenance_margin_bps": 500,
                   "real_bad_debt_ether": 18.71, "real_liquidations": 220,
                   "shock_bad_debt_ether": {"20%": 2.0}, "first_bad_shock": None}  # fmt: skip
    pool_report = {"real_paths": 93, "worst_real_drop": 0.613, "worst_vast_spread": 0.43,
                   "must_survive_shock": 0.613, "grid": [pool_row],
                   "chosen": {"ltv_bps": 3_000, "liquidation_threshold_bps": 4_000,
                              "liquidation_bonus_bps": 1_000, "first_bad_shock": 0.8}}  # fmt: skip
    forwards_report = {"grid": [forward_row], "chosen": {"initial_margin_bps": 2_500,
                       "maintenance_margin_bps": 2_000, "max_leverage": 4.0}}  # fmt: skip
    monkeypatch.setattr(credit_stress, "real_price_paths", lambda: [])
    monkeypatch.setattr(credit_stress, "stress", lambda paths: [])
    monkeypatch.setattr(credit_stress, "report", lambda outcomes, paths: dict(pool_report))
    monkeypatch.setattr(forward_stress, "stress", lambda paths: [])
    monkeypatch.setattr(forward_stress, "report", lambda outcomes: forwards_report)

    code, out, err = cli(capsys, "credit", "stress")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "credit stress on 93 real GPU price paths"  # for people: no JSON
    assert "LTV 30 %, threshold 40 %, bonus 10 %; first bad debt at a shock of 80 %" in out
    assert "leverage 4x at most" in out
    header = lines.index("lending pool:") + 1
    assert lines[header].split()[:3] == ["ltv", "threshold", "bonus"]
    assert lines[header + 1].split() == ["30", "%", "40", "%", "10", "%", "0", "ETH", "52",
                                         "0.12", "%", "80", "%"]  # fmt: skip
    assert "18.71 ETH" in lines[lines.index("forwards:") + 2]
    code, out, err = cli(capsys, "credit", "stress", "--json")
    assert code == 0, err
    assert json.loads(out) == {**pool_report, "forwards": forwards_report}
