"""``l2gpu credit``: the lending pool from the command line.

``deploy`` puts a pool on L1 with the parameters the stress chose; ``supply`` and
``withdraw`` are the lender's, ``collateral``, ``borrow`` and ``repay`` the
borrower's, ``health`` and ``pool`` read, ``liquidate`` is anyone's, ``price`` is
the feed's; ``stress`` replays real GPU price paths through the pool's
specification. Every command that sends a transaction signs with the account of
``--private-key``, ``--keystore`` or ``--account`` and needs ``--l1-rpc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli.common import AsJson, L1RpcOption, parse_amount
from l2gpu.cli.onchain import open_signed_chain, parse_address, print_receipt, require_contract
from l2gpu.cli.output import At, Eth, emit
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from eth_account.signers.local import LocalAccount

    from l2gpu.l1 import Chain
    from l2gpu.l1.contracts.lending_pool import LendingPoolClient

app = typer.Typer(help="Leverage for compute: the lending pool and its stress test.")
collateral_app = typer.Typer(help="Post or take back the pool's collateral token.")
app.add_typer(collateral_app, name="collateral")

PoolOption = Annotated[str, typer.Option("--pool", help="The pool's address on L1.")]
AmountArg = Annotated[str, typer.Argument(help="An amount, e.g. '1.5 ether' or '1000 wei'.")]


def _open(ctx: typer.Context, l1_rpc: str | None, what: str) -> tuple[Chain, LocalAccount]:
    return open_signed_chain(ctx, l1_rpc, f"credit {what}")


def _pool(chain: Chain, pool: str) -> LendingPoolClient:
    from l2gpu.l1.contracts.lending_pool import LendingPoolClient

    address = parse_address(pool, "the pool")
    require_contract(chain, address, "credit deploy")
    return LendingPoolClient.at(chain, address)


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    oracle: Annotated[str, typer.Option("--oracle", help="The price feed's address.")],
    treasury: Annotated[str, typer.Option("--treasury", help="Who collects the reserves.")],
    token: Annotated[
        str | None, typer.Option("--token", help="The collateral ERC-20 (default: --test-token).")
    ] = None,
    test_token: Annotated[
        bool, typer.Option("--test-token", help="Deploy a mintable test token as collateral.")
    ] = False,
    manager: Annotated[
        str | None,
        typer.Option(
            "--manager",
            help="The ChannelManager whose channels credit leases open (default: the one "
            "'channel deploy' recorded for this chain; none: no credit leases).",
        ),
    ] = None,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Deploy a pool with the parameters 'credit stress' chose for GPU-priced collateral."""
    from l2gpu.analytics.credit_stress import CHOSEN_PARAMS
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.lending_pool import LendingPoolClient

    if (token is None) == (not test_token):
        raise L2gpuError("give --token ADDRESS or --test-token", "one collateral per pool")
    chain, sender = _open(ctx, l1_rpc, "deploy")
    if token is None:
        deployed = chain.deploy(
            compile_contract("tokens/TestToken.vy"), "GPU-hour test collateral", "GPUT", 18,
            sender=sender,
        )  # fmt: skip
        collateral = deployed.address
    else:
        collateral = parse_address(token, "the token")
    channels = _lease_manager(ctx, chain, manager)
    pool = LendingPoolClient.deploy(
        chain, sender, token=collateral, oracle=parse_address(oracle, "the oracle"),
        treasury=parse_address(treasury, "the treasury"), params=CHOSEN_PARAMS,
        channels=channels or Address(bytes(20)),
    )  # fmt: skip
    emit({"pool": str(pool.address), "token": str(collateral),
                "channels": str(channels) if channels else None,
                "ltv_bps": CHOSEN_PARAMS.ltv_bps,
                "liquidation_threshold_bps": CHOSEN_PARAMS.liquidation_threshold_bps,
                "liquidation_bonus_bps": CHOSEN_PARAMS.liquidation_bonus_bps},
         as_json, title="pool deployed")  # fmt: skip


def _lease_manager(ctx: typer.Context, chain: Chain, manager: str | None) -> Address | None:
    """The ChannelManager of credit leases: ``--manager``, else the recorded one, else none."""
    from l2gpu.payments import deployments

    if manager is not None:
        address = parse_address(manager, "the ChannelManager")
        require_contract(chain, address, "channel deploy")
        return address
    try:
        return deployments.lookup(ctx.obj.data_dir, chain.chain_id, "ChannelManager")[0]
    except L2gpuError:
        return None


@app.command("supply")
def supply(ctx: typer.Context, amount: AmountArg, pool: PoolOption,
           l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Lend ether to the pool for shares of it."""
    wei = parse_amount(amount)
    chain, sender = _open(ctx, l1_rpc, "supply")
    print_receipt(_pool(chain, pool).supply(sender, wei), "supplied", as_json=as_json)


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="An amount, or 'all' (your shares' worth).")],
    pool: PoolOption,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Take ether back from the pool (up to your shares' worth and its cash)."""
    asked = None if amount == "all" else parse_amount(amount)
    chain, sender = _open(ctx, l1_rpc, "withdraw")
    client = _pool(chain, pool)
    me = Address.from_hex(sender.address)
    wei = client.state([me]).share_value(me) if asked is None else asked
    if wei == 0:
        raise L2gpuError("you hold no share of this pool", "supply first")
    print_receipt(client.withdraw(sender, wei), "withdrawn", {"wei": Eth(wei)}, as_json=as_json)


@collateral_app.command("add")
def collateral_add(ctx: typer.Context, amount: AmountArg, pool: PoolOption,
                   l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Approve and post collateral tokens (18 decimals: '10 ether' is 10 tokens)."""
    units = parse_amount(amount)
    chain, sender = _open(ctx, l1_rpc, "collateral add")
    client = _pool(chain, pool)
    token = _token(chain, client)
    held = int(token.call("balanceOf", sender.address))
    if held < units:
        raise L2gpuError(f"you hold {held} base units of the collateral, not {units}",
                         "get the token first, or post less")  # fmt: skip
    if int(token.call("allowance", sender.address, str(client.address))) < units:
        token.transact("approve", str(client.address), units, sender=sender)
    print_receipt(client.add_collateral(sender, units), "collateral added", as_json=as_json)


@collateral_app.command("remove")
def collateral_remove(ctx: typer.Context, amount: AmountArg, pool: PoolOption,
                      l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Take collateral back (the rest must still cover your loan's limit)."""
    units = parse_amount(amount)
    chain, sender = _open(ctx, l1_rpc, "collateral remove")
    print_receipt(
        _pool(chain, pool).remove_collateral(sender, units), "collateral removed", as_json=as_json
    )


@app.command("borrow")
def borrow(ctx: typer.Context, amount: AmountArg, pool: PoolOption,
           l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Borrow ether against your collateral, up to the loan-to-value limit."""
    wei = parse_amount(amount)
    chain, sender = _open(ctx, l1_rpc, "borrow")
    print_receipt(_pool(chain, pool).borrow(sender, wei), "borrowed", as_json=as_json)


@app.command("repay")
def repay(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="An amount, or 'all' (the whole debt).")],
    pool: PoolOption,
    borrower: Annotated[
        str | None, typer.Option("--for", help="Whose debt (default: yours).")
    ] = None,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Repay a debt; anything above it comes back."""
    asked = None if amount == "all" else parse_amount(amount)
    chain, sender = _open(ctx, l1_rpc, "repay")
    client = _pool(chain, pool)
    who = parse_address(borrower, "the borrower") if borrower else Address.from_hex(sender.address)
    debt = client.debt_of(who)
    if debt == 0:
        raise L2gpuError(f"{who} owes this pool nothing", "check the address with 'credit health'")
    # 'all': the debt a few minutes on (interest accrues until the block); the rest returns.
    wei = debt + debt // 100_000 + 1 if asked is None else asked
    print_receipt(client.repay(sender, who, wei), "repaid", {"sent_wei": Eth(wei)}, as_json=as_json)


@app.command("liquidate")
def liquidate(
    ctx: typer.Context,
    borrower: Annotated[str, typer.Option("--borrower", help="The position to liquidate.")],
    pool: PoolOption,
    amount: Annotated[
        str | None,
        typer.Option(
            "--amount", help="Most to repay (default: the whole debt; the close factor bounds it)."
        ),
    ] = None,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Repay part of an unhealthy (or overdue) loan and take its collateral plus a bonus."""
    asked = parse_amount(amount) if amount else None
    who = parse_address(borrower, "the borrower")
    chain, sender = _open(ctx, l1_rpc, "liquidate")
    client = _pool(chain, pool)
    wei = client.debt_of(who) if asked is None else asked
    if wei == 0:
        raise L2gpuError(f"{who} owes this pool nothing", "nothing to liquidate")
    print_receipt(client.liquidate(sender, who, wei), "liquidated", as_json=as_json)


@app.command("price")
def price(
    ctx: typer.Context,
    wei_per_token: Annotated[str, typer.Argument(help="Wei per whole collateral token.")],
    pool: PoolOption,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Post the collateral's price (the feed's key only; one update moves it 20 % at most)."""
    posted = parse_amount(wei_per_token, "price")
    chain, sender = _open(ctx, l1_rpc, "price")
    client = _pool(chain, pool)
    print_receipt(client.set_price(sender, posted), "price posted",
          {"price_in_force": Eth(client.state([]).price)}, as_json=as_json)  # fmt: skip


@app.command("health")
def health(
    ctx: typer.Context,
    pool: PoolOption,
    account: Annotated[
        str | None, typer.Option("--account", help="Whose (default: yours).")
    ] = None,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """A position: collateral, debt, health factor, what more it can borrow, and the
    price at which it can be liquidated."""
    from l2gpu.core.credit.rates import BPS, WAD, collateral_value

    chain, sender = _open(ctx, l1_rpc, "health")
    client = _pool(chain, pool)
    who = parse_address(account, "the account") if account else Address.from_hex(sender.address)
    params = client.params()
    state = client.state([who], params=params)
    position = client.position(who)
    debt = client.debt_of(who)
    value = collateral_value(position.collateral, state.price)
    liquidation_price = (
        Eth(-(-debt * BPS * WAD // (position.collateral * params.liquidation_threshold_bps)))
        if debt and position.collateral else None
    )  # fmt: skip
    hf = client.health_factor(who)
    emit({
        "account": str(who), "collateral_tokens": _tokens(position.collateral),
        "collateral_value": Eth(value), "debt": Eth(debt),
        "health_factor": None if debt == 0 else round(hf / WAD, 4),
        "can_borrow": Eth(max(value * params.ltv_bps // BPS - debt, 0)),
        "price_per_token": Eth(state.price),
        "liquidation_price_per_token": liquidation_price,
        "due": At(position.due) if position.due else None,
        "liquidatable": debt > 0 and hf < WAD,
    }, as_json, title=f"position of {who}")  # fmt: skip


def _tokens(units: int) -> str:
    """Collateral in whole tokens (18 decimals) as a decimal string: ``'10'``, ``'2.5'``."""
    from decimal import Decimal

    return f"{(Decimal(units) / Decimal(10**18)).normalize():f}"


@app.command("pool")
def pool_status(ctx: typer.Context, pool: PoolOption, l1_rpc: L1RpcOption = None,
                as_json: AsJson = False) -> None:  # fmt: skip
    """The pool: cash, debt, utilization, borrow rate, reserves, bad debt, price."""
    from l2gpu.core.credit.rates import borrow_rate

    chain, _ = _open(ctx, l1_rpc, "pool")
    client = _pool(chain, pool)
    state = client.state([])
    debt = state.total_debt
    emit({
        "cash": Eth(state.cash), "debt": Eth(debt),
        "utilization": round(debt / (state.cash + debt), 6) if debt else 0.0,
        "borrow_rate_per_year": round(borrow_rate(state.params, debt, state.cash) / 10**27, 6),
        "reserves": Eth(state.reserves), "bad_debt": Eth(state.bad_debt),
        "price_per_token": Eth(state.price),
        "price_at": At(state.price_at) if state.price_at else None,
    }, as_json, title=f"pool {client.address}")  # fmt: skip


def _token(chain: Chain, client: LendingPoolClient) -> Any:
    from l2gpu.l1 import compile_contract

    return chain.attach(compile_contract("tokens/TestToken.vy"), client.token())


@app.command("stress")
def stress(
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw bad debt against shock size here.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Replay every real GPU price path (../shared/data) and instant shocks through the
    pool and the forwards with liquidations; print bad debt, liquidations, lender
    returns and the parameters chosen (the highest LTV, and the lowest margins, that
    leave no bad debt)."""
    from l2gpu.analytics import credit_stress, forward_stress

    paths = credit_stress.real_price_paths()
    result = credit_stress.report(credit_stress.stress(paths), paths)
    result["forwards"] = forward_stress.report(forward_stress.stress(paths))
    if plot is not None:
        from l2gpu.analytics.plots import plot_credit_stress

        grid = result["grid"]
        assert isinstance(grid, list)
        result["plot"] = str(plot_credit_stress(grid, plot))
    if as_json:
        emit(result, as_json)  # the whole report, the bad debt per shock size included
        return
    emit(
        stress_summary(result),
        as_json,
        title=f"credit stress on {result['real_paths']} real GPU price paths",
    )


def stress_summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The stress's report for people: the worst real moves, the parameters chosen, and
    one table per grid (bad debt in ether, liquidations, the first shock with bad debt);
    the bad debt per shock size is in ``--json`` alone."""
    chosen, margins = result["chosen"], result["forwards"]["chosen"]
    first_bad = chosen["first_bad_shock"]
    first = ("no bad debt on any shock" if first_bad is None
             else f"first bad debt at a shock of {_percent(first_bad)}")  # fmt: skip
    out: dict[str, Any] = {
        "worst_real_drop": _percent(result["worst_real_drop"]),
        "worst_vast_spread": _percent(result["worst_vast_spread"]),
        "must_survive_shock": _percent(result["must_survive_shock"]),
        "chosen_pool": f"LTV {_bps(chosen['ltv_bps'])}, threshold "
        f"{_bps(chosen['liquidation_threshold_bps'])}, bonus "
        f"{_bps(chosen['liquidation_bonus_bps'])}; {first}",
        "chosen_forwards": f"initial margin {_bps(margins['initial_margin_bps'])}, maintenance "
        f"{_bps(margins['maintenance_margin_bps'])}, leverage {margins['max_leverage']:g}x at most",
    }
    if "plot" in result:
        out["plot"] = result["plot"]
    out["lending_pool"] = [
        {"ltv": _bps(row["ltv_bps"]), "threshold": _bps(row["liquidation_threshold_bps"]),
         "bonus": _bps(row["liquidation_bonus_bps"]),
         "real_bad_debt": _ether(row["real_bad_debt_ether"]),
         "liquidations": row["real_liquidations"],
         "lender_return_per_year": _percent(row["lender_return_per_year_median"]),
         "first_bad_shock": _shock(row["first_bad_shock"])}
        for row in result["grid"]
    ]  # fmt: skip
    out["forwards"] = [
        {"initial_margin": _bps(row["initial_margin_bps"]),
         "maintenance": _bps(row["maintenance_margin_bps"]),
         "real_bad_debt": _ether(row["real_bad_debt_ether"]),
         "liquidations": row["real_liquidations"],
         "first_bad_shock": _shock(row["first_bad_shock"])}
        for row in result["forwards"]["grid"]
    ]  # fmt: skip
    return out


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def _bps(bps: int) -> str:
    return f"{bps / 100:g} %"


def _ether(amount: float) -> str:
    return f"{amount:.3f}".rstrip("0").rstrip(".") + " ETH"


def _shock(fraction: float | None) -> str:
    return "none" if fraction is None else _percent(fraction)


def _register_lease_commands() -> None:
    from l2gpu.cli import credit_leases_cmd

    credit_leases_cmd.register(app)


_register_lease_commands()
