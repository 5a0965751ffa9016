"""Leverage end to end, every party a real process on anvil: a renter rents on credit
(``rent --credit``: the pool lends the lease's deposit into its channel), the
provider takes an advance on the running lease from a lender's desk, the job ends,
the provider's agent closes the channel, the refund repays the renter's loan first
and the desk's payout pays the lender first. The money adds up to the wei."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from l2gpu.core.types import Address, Hash32
from l2gpu.db import open_database
from l2gpu.l1 import compile_contract
from l2gpu.l1.contracts.advances import AdvancesClient
from l2gpu.l1.contracts.lending_pool import LendingPoolClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.payments.store import VoucherStore

from ..conftest import ANVIL_KEYS, free_port
from .helpers import cli, refused
from .test_cli import run
from .test_market_l1 import processes, spawn, wait_for  # noqa: F401 - the processes fixture

LENDER_KEY, PROVIDER_KEY = ANVIL_KEYS  # the lender also deploys and feeds the price
LENDER = Account.from_key(LENDER_KEY).address
ETHER = 10**18


def test_a_renter_rents_on_credit_and_the_provider_takes_an_advance(
    capsys: pytest.CaptureFixture[str],
    anvil_url: str,
    tmp_path: Path,
    processes,  # noqa: F811 - the fixture
) -> None:
    rpc = ("--l1-rpc", anvil_url)
    renter = Account.create()
    renter_key = "0x" + bytes(renter.key).hex()
    chain = connect_jsonrpc(anvil_url, [Account.from_key(LENDER_KEY), renter])
    chain.send_ether(Address.from_hex(renter.address), ETHER, sender=chain.accounts[0])

    def ok(key: str, *args: str) -> dict:  # type: ignore[type-arg]
        code, out, err = cli(capsys, "--private-key", key, *args, *rpc, "--json")
        assert code == 0, (out, err)
        return dict(json.loads(out))

    def env(key: str, name: str) -> dict[str, str]:
        return {"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": key,
                "L2GPU_DATA_DIR": str(tmp_path / name)}  # fmt: skip

    deployed_manager = run("channel", "deploy", "--json", env=env(LENDER_KEY, "lender"))
    assert deployed_manager.returncode == 0, deployed_manager.stderr
    manager = json.loads(deployed_manager.stdout)["manager"]
    # the lender's pool, funding leases in that manager, and its desk
    deployed = ok(LENDER_KEY, "credit", "deploy", "--oracle", LENDER, "--treasury", LENDER,
                  "--test-token", "--manager", manager)  # fmt: skip
    assert deployed["channels"] == manager
    pool = ("--pool", deployed["pool"])
    ok(LENDER_KEY, "credit", "price", "2 ether", *pool)
    ok(LENDER_KEY, "credit", "supply", "20 ether", *pool)
    desk_address = ok(LENDER_KEY, "credit", "desk", "deploy", "--manager", manager)["desk"]
    desk = ("--desk", desk_address)
    ok(LENDER_KEY, "credit", "desk", "fund", "5 ether", *desk)
    ok(LENDER_KEY, "credit", "desk", "share", renter.address, "1000", *desk)
    # the renter's collateral: 10 test tokens at 2 ether, so 6 ether of credit
    token = chain.attach(compile_contract("tokens/TestToken.vy"),
                         Address.from_hex(deployed["token"]))  # fmt: skip
    token.transact("mint", renter.address, 10 * ETHER, sender=chain.accounts[1])
    ok(renter_key, "credit", "collateral", "add", "10 ether", *pool)

    port = free_port()
    api = f"http://127.0.0.1:{port}"
    processes.append(spawn("market", "serve", "--port", str(port), "--manager", manager,
                           env=env(LENDER_KEY, "api"), log=tmp_path / "api.log"))  # fmt: skip
    wait_for(lambda: httpx.get(api + "/health").status_code == 200, "the API start")
    agent = spawn("provider", "up", "--price", "0.001 ether", "--gpus", "RTX_4090:1",
                  "--location", "EU", "--api-url", api, "--manager", manager,
                  env=env(PROVIDER_KEY, "provider"), log=tmp_path / "agent.log")  # fmt: skip
    processes.append(agent)
    wait_for(lambda: httpx.get(api + "/offers").json()["count"] == 1, "the offer")
    offer = httpx.get(api + "/offers").json()["offers"][0]

    # A deposit above the credit left is refused before any transaction.
    too_long = run("rent", offer["id"], "--cmd", "true", "--hours", "2", "--api-url", api,
                   "--manager", manager, "--credit", deployed["pool"],
                   env=env(renter_key, "renter"))  # fmt: skip
    refused((too_long.returncode, too_long.stdout, too_long.stderr), "lends you at most",
            "post more collateral")  # fmt: skip

    rent_log = tmp_path / "rent.log"
    renting = spawn("rent", offer["id"], "--cmd", "echo job-on-credit; sleep 7", "--hours",
                    "0.01", "--api-url", api, "--manager", manager, "--credit",
                    deployed["pool"], env=env(renter_key, "renter"), log=rent_log)  # fmt: skip
    processes.append(renting)

    def channel_id() -> str | None:
        found = re.search(r"in channel (0x[0-9a-f]{64})", rent_log.read_text())
        return found.group(1) if found else None

    wait_for(lambda: channel_id() is not None, "the credit lease's channel", 120)
    channel = str(channel_id())
    vouchers = VoucherStore(open_database(f"sqlite:///{tmp_path / 'provider' / 'l2gpu.db'}"))
    wait_for(lambda: vouchers.best(Hash32.from_hex(channel)) is not None, "a voucher", 60)

    # The provider takes an advance on the running lease.
    advanced = ok(PROVIDER_KEY, "credit", "advance", channel, *desk, "--vouchers",
                  f"sqlite:///{tmp_path / 'provider' / 'l2gpu.db'}")  # fmt: skip
    assert 0 < int(advanced["vouched"]) <= int(advanced["owed"])
    assert int(advanced["advanced"]) == int(advanced["owed"]) - -(
        -int(advanced["owed"]) * 100 // 10_000
    )

    assert renting.wait(timeout=180) == 0, rent_log.read_text()
    said = rent_log.read_text()
    assert "job-on-credit" in said
    repaid = re.search(r"refund of ([0-9.]+) ETH repaid ([0-9.]+) ETH of your loan", said)
    assert repaid, said

    pool_client = LendingPoolClient.at(chain, Address.from_hex(deployed["pool"]))
    desk_client = AdvancesClient.at(chain, Address.from_hex(desk_address))
    facts = desk_client.facts(desk_client.manager.params_of(Hash32.from_hex(channel)))
    payout = facts.payout_owed
    assert payout > 0
    me = Address.from_hex(renter.address)
    # the loan: the deposit borrowed, less the refund, is what the lease spent, plus interest
    debt = pool_client.debt_of(me)
    assert payout <= debt < payout + ETHER // 10**6

    settled = ok(LENDER_KEY, "credit", "advance-settle", channel, *desk)
    assert int(settled["received"]) == payout
    assert int(settled["to_lender"]) == min(payout, int(advanced["owed"]))
    assert int(settled["shortfall"]) == int(advanced["owed"]) - int(settled["to_lender"])
    status = ok(LENDER_KEY, "credit", "desk", "status", *desk)
    assert int(status["cash"]) == 5 * ETHER - int(advanced["advanced"]) + int(settled["to_lender"])
    assert int(status["outstanding"]) == 0

    ok(renter_key, "credit", "repay", "all", *pool)
    assert pool_client.debt_of(me) == 0
