"""``l2gpu credit`` for leases: the loan of a credit lease, and advances on a
provider's running leases.

``settle-lease`` repays a credit lease's loan from its channel's refund (anyone;
``rent --credit`` runs it itself when it can). The ``desk`` commands are a
lender's: deploy an advances desk, fund it, set a renter's share, withdraw, read
it. ``advance`` is the provider's: it assigns a running lease's payout to a desk
and takes the advance on the best voucher its agent holds; ``advance-settle``
(anyone) pays the lender first once the channel has settled; ``release`` takes an
unadvanced payout back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import AsJson, L1RpcOption, parse_amount
from l2gpu.cli.onchain import open_signed_chain, parse_address, print_receipt, require_contract
from l2gpu.cli.output import Eth, emit
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, Hash32

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.core.channel import ChannelParams
    from l2gpu.l1 import Chain
    from l2gpu.l1.contracts.advances import AdvancesClient

desk_app = typer.Typer(help="A lender's desk that advances on providers' running leases.")

DeskOption = Annotated[str, typer.Option("--desk", help="The advances desk's address on L1.")]
AmountArg = Annotated[str, typer.Argument(help="An amount, e.g. '1.5 ether'.")]
ChannelArg = Annotated[str, typer.Argument(help="The lease's channel id (0x and 64 hex digits).")]
DEFAULT_FEE_BPS = 100
DEFAULT_MAX_SHARE_BPS = 5_000


def _channel_id(text: str) -> Hash32:
    try:
        return Hash32.from_hex(text)
    except ValueError as exc:
        raise L2gpuError(f"{text!r} is not a channel id",
                         "give the id 'rent' printed: 0x and 64 hex digits") from exc  # fmt: skip


def _desk(chain: Chain, desk: str) -> AdvancesClient:
    from l2gpu.l1.contracts.advances import AdvancesClient

    address = parse_address(desk, "the desk")
    require_contract(chain, address, "credit desk deploy")
    return AdvancesClient.at(chain, address)


def _params(desk: AdvancesClient, channel: str) -> ChannelParams:
    return desk.manager.params_of(_channel_id(channel))


def register(app: typer.Typer) -> None:
    """Add these commands to ``l2gpu credit``."""
    app.add_typer(desk_app, name="desk")
    app.command("settle-lease")(settle_lease)
    app.command("advance")(advance)
    app.command("advance-settle")(advance_settle)
    app.command("release")(release)


def settle_lease(
    ctx: typer.Context,
    channel: ChannelArg,
    pool: Annotated[str, typer.Option("--pool", help="The lending pool's address.")],
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Repay a credit lease's loan from its settled channel's refund (anyone may)."""
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.l1.contracts.lending_pool import LendingPoolClient

    chain, sender = open_signed_chain(ctx, l1_rpc, "credit settle-lease")
    address = parse_address(pool, "the pool")
    require_contract(chain, address, "credit deploy")
    client = LendingPoolClient.at(chain, address)
    cid = _channel_id(channel)
    if client.lease_borrower(cid) == Address(bytes(20)):
        raise L2gpuError(f"pool {address} holds no unsettled lease on channel {cid}",
                         "check the channel id and --pool; a settled lease is done")  # fmt: skip
    params = ChannelManagerClient.at(chain, client.channels()).params_of(cid)
    receipt = client.settle_lease(sender, params)
    settled = receipt.event("LeaseSettled").args
    moved = {key: Eth(settled[key]) for key in ("refund", "repaid")}
    print_receipt(
        receipt, "lease settled", {**moved, "borrower": str(settled["borrower"])}, as_json=as_json
    )


@desk_app.command("deploy")
def desk_deploy(
    ctx: typer.Context,
    manager: Annotated[str, typer.Option("--manager", help="The ChannelManager's address.")],
    fee_bps: Annotated[int, typer.Option(help="The desk's fee on each advance.")] = DEFAULT_FEE_BPS,
    max_share_bps: Annotated[
        int, typer.Option(help="The most of a lease's remaining value any renter's share can be.")
    ] = DEFAULT_MAX_SHARE_BPS,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Deploy an advances desk; the signing account is its lender."""
    from l2gpu.l1.contracts.advances import AdvancesClient

    if not 0 <= fee_bps < 10_000 or not 0 <= max_share_bps <= 10_000:
        raise L2gpuError(
            f"--fee-bps {fee_bps} or --max-share-bps {max_share_bps} is out of range",
            "a fee in [0, 10000) and a cap in [0, 10000] basis points",
        )
    chain, sender = open_signed_chain(ctx, l1_rpc, "credit desk deploy")
    channels = parse_address(manager, "the ChannelManager")
    require_contract(chain, channels, "channel deploy")
    desk = AdvancesClient.deploy(chain, sender, channels=channels,
                                 lender=Address.from_hex(sender.address), fee_bps=fee_bps,
                                 max_share_bps=max_share_bps)  # fmt: skip
    emit({"desk": str(desk.address), "lender": sender.address, "fee_bps": fee_bps,
          "max_share_bps": max_share_bps}, as_json, title="desk deployed")  # fmt: skip


@desk_app.command("fund")
def desk_fund(ctx: typer.Context, amount: AmountArg, desk: DeskOption,
              l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """The lender adds ether to the desk."""
    wei = parse_amount(amount)
    chain, sender = open_signed_chain(ctx, l1_rpc, "credit desk fund")
    print_receipt(_desk(chain, desk).fund(sender, wei), "funded", as_json=as_json)


@desk_app.command("withdraw")
def desk_withdraw(ctx: typer.Context, amount: AmountArg, desk: DeskOption,
                  l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """The lender takes ether the desk has not advanced."""
    wei = parse_amount(amount)
    chain, sender = open_signed_chain(ctx, l1_rpc, "credit desk withdraw")
    print_receipt(_desk(chain, desk).withdraw(sender, wei), "withdrawn", as_json=as_json)


@desk_app.command("share")
def desk_share(
    ctx: typer.Context,
    renter: Annotated[str, typer.Argument(help="The renter's address.")],
    bps: Annotated[int, typer.Argument(help="Share of a lease's remaining value, in bps.")],
    desk: DeskOption,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """The lender advances this share of the remaining value of the renter's leases."""
    if bps < 0:
        raise L2gpuError(f"a share of {bps} bps is negative", "give 0 to 10000 basis points")
    chain, sender = open_signed_chain(ctx, l1_rpc, "credit desk share")
    client = _desk(chain, desk)
    print_receipt(
        client.set_share(sender, parse_address(renter, "the renter"), bps),
        "share set",
        as_json=as_json,
    )


@desk_app.command("status")
def desk_status(ctx: typer.Context, desk: DeskOption, l1_rpc: L1RpcOption = None,
                as_json: AsJson = False) -> None:  # fmt: skip
    """The desk's cash, what its advances owe, and its losses."""
    chain, _ = open_signed_chain(ctx, l1_rpc, "credit desk status")
    client = _desk(chain, desk)
    state = client.state([], [])
    emit({"desk": str(client.address), "lender": str(state.lender), "cash": Eth(state.cash),
          "outstanding": Eth(state.outstanding), "losses": Eth(state.losses),
          "fee_bps": state.fee_bps, "max_share_bps": state.max_share_bps},
         as_json, title="advances desk")  # fmt: skip


def advance(
    ctx: typer.Context,
    channel: ChannelArg,
    desk: DeskOption,
    vouchers: Annotated[
        str | None,
        typer.Option(help="Database URL of the agent's vouchers (default: the database in force)."),
    ] = None,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """As the provider: take an advance on a running lease's best voucher."""
    from l2gpu.db import open_database
    from l2gpu.payments.store import VoucherStore

    chain, sender = open_signed_chain(ctx, l1_rpc, "credit advance")
    client = _desk(chain, desk)
    params = _params(client, channel)
    if params.provider != Address.from_hex(sender.address):
        raise L2gpuError(f"channel {params.id} pays {params.provider}, not {sender.address}",
                         "sign with the provider's key of that lease")  # fmt: skip
    store = VoucherStore(open_database(vouchers or ctx.obj.effective_database_url))
    best = store.best(params.id)
    if client.facts(params).payout_to != client.address:
        client.assign_payout(sender, params)
    receipt = client.advance(sender, params, best)
    taken = receipt.event("Advanced").args
    moved = {key: Eth(taken[key]) for key in ("advanced", "owed", "vouched")}
    print_receipt(receipt, "advanced", moved, as_json=as_json)


def advance_settle(ctx: typer.Context, channel: ChannelArg, desk: DeskOption,
                   l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Once an advanced lease's channel has settled: the lender first, the rest to the
    provider (anyone may)."""
    chain, sender = open_signed_chain(ctx, l1_rpc, "credit advance-settle")
    client = _desk(chain, desk)
    receipt = client.settle(sender, _params(client, channel))
    settled = receipt.event("AdvanceSettled").args
    print_receipt(receipt, "advance settled", {"received": Eth(settled["received"]),
                  "to_lender": Eth(settled["to_lender"]),
                  "shortfall": Eth(settled["shortfall"])}, as_json=as_json)  # fmt: skip


def release(ctx: typer.Context, channel: ChannelArg, desk: DeskOption,
            l1_rpc: L1RpcOption = None, as_json: AsJson = False) -> None:  # fmt: skip
    """As the provider: take back a payout assigned to the desk without an advance."""
    chain, sender = open_signed_chain(ctx, l1_rpc, "credit release")
    client = _desk(chain, desk)
    print_receipt(client.release(sender, _params(client, channel)), "released", as_json=as_json)
