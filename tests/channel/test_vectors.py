"""Shared vectors drive the Python specification and the Vyper contract; both must agree."""

from __future__ import annotations

from typing import Any

import pytest

from l2gpu.core.channel import ChannelStatus
from l2gpu.core.types import ZERO_ADDRESS, Address
from l2gpu.l1 import ContractRevert

from .conftest import Deployment
from .runner import ROLES, Context, assets, key, load_vectors, outcome_from_channel, run_spec

CASES = [(name, vector, asset) for name, vector in load_vectors() for asset in assets(vector)]
IDS = [f"{name}-{asset}" for name, _, asset in CASES]


def recorded(vector: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {k: step[k] for k in ("post", "error", "payouts") if k in step} for step in vector["steps"]
    ]


@pytest.mark.parametrize(("name", "vector", "asset"), CASES, ids=IDS)
def test_python_spec_reproduces_the_vector(name: str, vector: dict, asset: str) -> None:
    token = ZERO_ADDRESS if asset == "ether" else Address(b"\x33" * 20)
    assert run_spec(vector, token) == recorded(vector)


@pytest.mark.parametrize(("name", "vector", "asset"), CASES, ids=IDS)
def test_contract_reproduces_the_vector(
    fresh: Deployment, name: str, vector: dict, asset: str
) -> None:
    chain, manager = fresh.chain, fresh.manager
    token = ZERO_ADDRESS if asset == "ether" else fresh.token.address
    ctx = Context(manager.chain_id, manager.address, token, int(chain.timestamp()) + 1_000)
    results = []
    for step in vector["steps"]:
        inp = ctx.input(step["at"], step["input"])
        chain.set_next_block_timestamp(ctx.start + step["at"])
        sender = fresh.account(step["input"]["sender"])
        before = _balances(fresh, token)
        try:
            receipt = manager.apply(inp, sender)
        except ContractRevert as exc:
            results.append({"error": exc.reason})
            continue
        assert receipt.block_number
        assert chain.timestamp() == ctx.start + step["at"]
        name_ = step["input"].get("channel", "main")
        result = outcome_from_channel(ctx, name_, manager.channel(ctx.channel(name_)))
        settled = [e for e in receipt.events if e.name == "ChannelSettled"]
        if settled:
            paid = {
                "provider": settled[0].args["provider_payout"],
                "renter": settled[0].args["renter_payout"],
            }
            result["payouts"] = paid
            if asset == "token":  # ether balances also move by gas; token balances only by payouts
                after = _balances(fresh, token)
                # an assigned share waits in the manager for its assignee to collect
                pushed_to_provider = "payout_to" not in result["post"]
                pushed_to_renter = "refund_to" not in result["post"]
                assert (
                    after["provider"] - before["provider"] == paid["provider"] * pushed_to_provider
                )
                if step["input"]["sender"] != "renter":
                    assert after["renter"] - before["renter"] == paid["renter"] * pushed_to_renter
        collected = [e for e in receipt.events if e.name == "Collected"]
        if collected and asset == "token":
            who = step["input"]["sender"]
            assert _balances(fresh, token)[who] - before[who] == collected[0].args["amount"]
        results.append(result)
        _assert_contract_holds_the_live_deposits(fresh, ctx, token)
    assert results == recorded(vector)


def _balances(d: Deployment, token: Address) -> dict[str, int]:
    if token == ZERO_ADDRESS:
        return {role: d.chain.balance(key(role).address) for role in ROLES}
    return {role: d.token.call("balanceOf", key(role).address) for role in ROLES}


def _assert_contract_holds_the_live_deposits(d: Deployment, ctx: Context, token: Address) -> None:
    live = 0
    for params in ctx.params.values():
        channel = d.manager.channel(params)
        if channel is None:
            continue
        if channel.status == ChannelStatus.SETTLED:  # what it still owes its assignees
            live += channel.refund_owed + channel.payout_owed
        else:
            live += channel.deposit
    held = (
        d.chain.balance(d.manager.address)
        if token == ZERO_ADDRESS
        else d.token.call("balanceOf", d.manager.address)
    )
    assert held == live, "funds are conserved: the manager holds the live deposits and the owed"
