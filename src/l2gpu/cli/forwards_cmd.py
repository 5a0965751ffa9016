"""``l2gpu forwards``: GPU-hour forwards on margin from the command line.

``deploy`` puts one market (a GPU model's delivery date) on L1 with the margins the
stress chose; ``index`` is the feed's; ``open`` posts an offer, ``take`` takes one
whole, ``cancel`` withdraws one; ``add-margin`` tops a side up; ``mark`` shows each
side's equity at the index against maintenance; ``liquidate`` settles a failing
forward early, for a fee; ``close`` settles one after expiry; ``market`` reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import AsJson, L1RpcOption, parse_amount
from l2gpu.cli.onchain import open_signed_chain, parse_address, print_receipt
from l2gpu.cli.output import At, Eth, emit
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import parse_duration

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.l1 import Chain
    from l2gpu.l1.contracts.forwards import ForwardsClient

app = typer.Typer(help="GPU-hour forwards on margin, settled in cash against the index.")

MarketOption = Annotated[str, typer.Option("--market", help="The market's address on L1.")]
IdArg = Annotated[int, typer.Argument(help="The forward's (or offer's) id.", min=1)]
MarginOption = Annotated[str, typer.Option("--margin", help="Your margin, e.g. '0.5 ether'.")]


def _open(ctx: typer.Context, l1_rpc: str | None, what: str) -> tuple[Chain, LocalAccount]:
    return open_signed_chain(ctx, l1_rpc, f"forwards {what}")


def _market(chain: Chain, market: str) -> ForwardsClient:
    from l2gpu.l1.contracts.forwards import ForwardsClient

    return ForwardsClient.at(chain, parse_address(market, "the market"))


@app.command("deploy")
def deploy(
    ctx: typer.Context,
    feed: Annotated[str, typer.Option("--feed", help="Who posts the GPU-hour index.")],
    expires_in: Annotated[
        str, typer.Option("--expires-in", help="Delivery date from now, e.g. 30d.")
    ] = "30d",
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Deploy a market with the margins 'credit stress' chose (25 % initial, 20 %
    maintenance: four times leverage at most)."""
    from l2gpu.analytics.forward_stress import CHOSEN_FORWARD_MARGINS
    from l2gpu.core.credit.forwards import ForwardParams
    from l2gpu.l1.contracts.forwards import ForwardsClient

    lifetime = parse_duration(expires_in)
    chain, sender = _open(ctx, l1_rpc, "deploy")
    initial, maintenance = CHOSEN_FORWARD_MARGINS
    params = ForwardParams(
        expiry=int(chain.timestamp()) + lifetime, initial_margin_bps=initial,
        maintenance_margin_bps=maintenance, liquidation_fee_bps=maintenance // 10,
    )  # fmt: skip
    market = ForwardsClient.deploy(chain, sender, feed=parse_address(feed, "the feed"),
                                   params=params)  # fmt: skip
    emit({"market": str(market.address), "expiry": At(params.expiry),
          "initial_margin_bps": initial, "maintenance_margin_bps": maintenance,
          "max_leverage": 10_000 / initial}, as_json, title="forwards market deployed")  # fmt: skip


@app.command("index")
def index(
    ctx: typer.Context,
    market: MarketOption,
    wei_per_gpu_hour: Annotated[
        str | None, typer.Argument(help="The index, wei per GPU-hour (or --market-db).")
    ] = None,
    market_db: Annotated[
        str | None, typer.Option("--market-db", help="Compute it from this market database.")
    ] = None,
    gpu: Annotated[str | None, typer.Option("--gpu", help="The GPU model (--market-db).")] = None,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Post the index (the feed's key only; it moves 20 % an hour at most): a number,
    or the GPU-hour index of the market's own leases (--market-db URL --gpu MODEL:
    the median of hourly medians over providers, over the last day)."""
    if (wei_per_gpu_hour is None) == (market_db is None) or (market_db is None) != (gpu is None):
        raise L2gpuError("give the index, or --market-db URL with --gpu MODEL",
                         "e.g. 'forwards index \"0.002 ether\"' or '--market-db "
                         "sqlite:///market.db --gpu H100'")  # fmt: skip
    chain, sender = _open(ctx, l1_rpc, "index")
    extra: dict[str, object] = {}
    if market_db is not None and gpu is not None:
        from sqlalchemy import create_engine

        from l2gpu.db.price_index import market_index

        value = market_index(create_engine(market_db), gpu, int(chain.timestamp()))
        price = value.wei_per_gpu_hour
        extra = {"providers": value.providers, "priced_hours": value.priced_hours}
    else:
        assert wei_per_gpu_hour is not None
        price = parse_amount(wei_per_gpu_hour, "index")
    client = _market(chain, market)
    receipt = client.post_index(sender, price)
    extra = {"asked": Eth(price), "index_in_force": Eth(client.index()), **extra}
    print_receipt(receipt, "index posted", extra, as_json=as_json)


@app.command("open")
def open_offer(
    ctx: typer.Context,
    side: Annotated[str, typer.Option("--side", help="'long' (lock a cost) or 'short'.")],
    hours: Annotated[int, typer.Option("--hours", help="GPU-hours.", min=1)],
    price: Annotated[str, typer.Option("--price", help="Wei per GPU-hour, e.g. '0.002 ether'.")],
    margin: MarginOption,
    market: MarketOption,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Offer to be one side of a forward; someone else takes it whole."""
    from l2gpu.l1.contracts.forwards import offer_id

    if side not in ("long", "short"):
        raise L2gpuError(f"the side is {side!r}", "give --side long or --side short")
    wei_price, wei_margin = parse_amount(price, "price"), parse_amount(margin, "margin")
    chain, sender = _open(ctx, l1_rpc, "open")
    receipt = _market(chain, market).open_offer(
        sender, "long" if side == "long" else "short", hours, wei_price, wei_margin
    )
    print_receipt(receipt, "offer open", {"offer_id": offer_id(receipt)}, as_json=as_json)


@app.command("take")
def take(ctx: typer.Context, offer: IdArg, margin: MarginOption, market: MarketOption,
         l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Take an offer whole as its other side: the forward keeps the offer's id."""
    wei = parse_amount(margin, "margin")
    chain, sender = _open(ctx, l1_rpc, "take")
    print_receipt(_market(chain, market).take(sender, offer, wei), "forward open",
                  {"forward_id": offer}, as_json=as_json)  # fmt: skip


@app.command("cancel")
def cancel(ctx: typer.Context, offer: IdArg, market: MarketOption,
           l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Withdraw your offer and its margin."""
    chain, sender = _open(ctx, l1_rpc, "cancel")
    print_receipt(
        _market(chain, market).cancel_offer(sender, offer), "offer cancelled", as_json=as_json
    )


@app.command("add-margin")
def add_margin(ctx: typer.Context, forward: IdArg, margin: MarginOption, market: MarketOption,
               l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Add margin to your side of a forward."""
    wei = parse_amount(margin, "margin")
    chain, sender = _open(ctx, l1_rpc, "add-margin")
    print_receipt(
        _market(chain, market).add_margin(sender, forward, wei), "margin added", as_json=as_json
    )


@app.command("mark")
def mark(ctx: typer.Context, forward: IdArg, market: MarketOption, l1_rpc: L1RpcOption = None,
         as_json: AsJson = False) -> None:  # fmt: skip
    """A forward at the index: each side's equity, the maintenance it must keep, and
    whether it can be liquidated."""
    chain, _ = _open(ctx, l1_rpc, "mark")
    client = _market(chain, market)
    found = client.forward(forward)
    if found is None:
        raise L2gpuError(f"no open forward {forward}", "give an id 'forwards take' printed")
    long_equity, short_equity = client.equity(forward, "long"), client.equity(forward, "short")
    floor = client.maintenance(forward)
    emit({
        "forward_id": forward, "long": str(found.long), "short": str(found.short),
        "gpu_hours": found.gpu_hours, "price_per_gpu_hour": Eth(found.price),
        "index_per_gpu_hour": Eth(client.index()), "long_equity": Eth(long_equity),
        "short_equity": Eth(short_equity), "maintenance": Eth(floor),
        "liquidatable": min(long_equity, short_equity) < floor,
    }, as_json, title=f"forward {forward}")  # fmt: skip


@app.command("liquidate")
def liquidate(ctx: typer.Context, forward: IdArg, market: MarketOption,
              l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Settle a forward with a side below maintenance at the index, for the fee."""
    chain, sender = _open(ctx, l1_rpc, "liquidate")
    print_receipt(_market(chain, market).liquidate(sender, forward), "liquidated", as_json=as_json)


@app.command("close")
def close(ctx: typer.Context, forward: IdArg, market: MarketOption,
          l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Settle a forward after its expiry, on an index posted after it."""
    chain, sender = _open(ctx, l1_rpc, "close")
    print_receipt(_market(chain, market).settle(sender, forward), "settled", as_json=as_json)


@app.command("market")
def market_status(ctx: typer.Context, market: MarketOption, l1_rpc: L1RpcOption = None,
                  as_json: AsJson = False) -> None:  # fmt: skip
    """The market: its index and when it was posted, its expiry, open offers and
    forwards, and the bad debt recorded."""
    chain, _ = _open(ctx, l1_rpc, "market")
    client = _market(chain, market)
    state = client.state()
    emit({
        "index_per_gpu_hour": Eth(state.index),
        "index_at": At(state.index_at) if state.index_at else None,
        "expiry": At(state.params.expiry), "offers": sorted(state.offers),
        "forwards": sorted(state.forwards), "bad_debt": Eth(state.bad_debt),
    }, as_json, title=f"forwards market {client.address}")  # fmt: skip
