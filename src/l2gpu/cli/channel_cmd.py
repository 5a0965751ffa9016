"""``l2gpu channel``: payment channels on a persistent L1 (``l2gpu watch channels``
answers their stale closes: :mod:`l2gpu.cli.watch_cmd`).

The embedded chain lives only as long as one command, so these commands act on a
JSON-RPC L1 (``--l1-rpc``; ``make devnet`` starts anvil on 127.0.0.1:8545) with
the key in ``L2GPU_PRIVATE_KEY`` or ``L2GPU_KEYSTORE``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import AsJson, l1_now, parse_amount, print_json
from l2gpu.cli.live import waiting
from l2gpu.cli.onchain import tx_hex
from l2gpu.cli.output import At, Eth, Secs, emit, note
from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.types import (
    ZERO_ADDRESS,
    Address,
    Hash32,
    Timestamp,
    Wei,
    format_wei,
    parse_duration,
)

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.core.channel.vouchers import Voucher

app = typer.Typer(
    help="Open, pay, close and settle payment channels on L1.",
    no_args_is_help=True,
    add_completion=False,
)
ManagerOption = Annotated[
    str | None, typer.Option("--manager", help="ChannelManager address (default: recorded).")
]


@app.command("deploy")
def deploy(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Deploy a ChannelManager and record its address for this chain."""
    from l2gpu.cli.session import MANAGER, Session
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.payments import deployments

    session = Session(ctx, None, need_manager=False)
    with waiting("deploying the ChannelManager"):
        manager = ChannelManagerClient.deploy(
            session.chain, session.account, cache_dir=session.settings.cache_dir
        )
    block = session.chain.block_number()
    deployments.record(
        session.settings.data_dir, session.chain.chain_id, MANAGER, manager.address, block
    )
    deployed = {"manager": manager.address.checksum, "block": block,
                "chain_id": session.chain.chain_id}  # fmt: skip
    emit(deployed, as_json, title="ChannelManager deployed")


@app.command("open")
def open_(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The provider's address.")],
    deposit: Annotated[str, typer.Option("--deposit", help="e.g. '0.1 ether' or wei.")],
    expires_in: Annotated[str, typer.Option("--expires-in", help="e.g. 2h.")] = "1h",
    challenge_period: Annotated[str, typer.Option("--challenge-period")] = "1h",
    token: Annotated[str | None, typer.Option("--token", help="ERC-20 address.")] = None,
    salt: Annotated[int, typer.Option("--salt", help="Tells apart channels of one pair.")] = 0,
    manager: ManagerOption = None,
    as_json: AsJson = False,
) -> None:
    """Open a channel to PROVIDER as the renter, depositing --deposit."""
    from l2gpu.cli.session import Session
    from l2gpu.core.channel import ChannelParams
    from l2gpu.core.channel import inputs as ci

    session = Session(ctx, manager)
    amount = parse_amount(deposit, "--deposit")
    if amount == 0:
        raise InvalidValue("deposit", deposit, "it is zero", "deposit more than 0")
    params = ChannelParams(
        renter=session.address,
        provider=Address.from_hex(provider),
        token=Address.from_hex(token) if token else ZERO_ADDRESS,
        challenge_period=parse_duration(challenge_period),
        salt=salt.to_bytes(32, "big"),
    )
    now = l1_now(session.chain)
    expires = Timestamp(now + parse_duration(expires_in))
    value = Wei(amount) if params.is_ether else Wei(0)
    with waiting(f"opening a channel to {params.provider} with {format_wei(amount)}"):
        session.manager.approve(params, amount, session.account)
        receipt = session.manager.apply(
            ci.Open(session.address, now, params, amount, expires, value), session.account
        )
    emit({"channel_id": str(params.id), "deposit": Eth(amount), "expires_at": At(expires),
          "tx": tx_hex(receipt.tx_hash), "gas_used": receipt.gas_used}, as_json,
         title="channel open")  # fmt: skip


@app.command("topup")
def topup(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument()],
    amount: Annotated[str, typer.Option("--amount", help="e.g. '0.05 ether'.")],
    extend_by: Annotated[str, typer.Option("--extend-by", help="Push expiry later.")] = "0",
    manager: ManagerOption = None,
    as_json: AsJson = False,
) -> None:
    """Add funds to an open channel (renter only) and optionally extend its expiry."""
    from l2gpu.cli.session import Session
    from l2gpu.core.channel import inputs as ci

    session = Session(ctx, manager)
    params = session.params(channel_id)
    channel = session.manager.channel(params)
    if channel is None:
        raise L2gpuError(f"channel {channel_id} does not exist")
    added = parse_amount(amount)
    expires = Timestamp(channel.expires_at + parse_duration(extend_by))
    value = added if params.is_ether else Wei(0)
    with waiting(f"adding {format_wei(added)} to channel {channel_id}"):
        session.manager.approve(params, added, session.account)
        receipt = session.manager.apply(
            ci.TopUp(session.address, Timestamp(0), params, added, expires, value),
            session.account,
        )
    emit({"channel_id": channel_id, "deposit": Eth(channel.deposit + added),
          "expires_at": At(expires), "tx": tx_hex(receipt.tx_hash)}, as_json,
         title="channel topped up")  # fmt: skip


@app.command("pay")
def pay(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument()],
    amount: Annotated[str, typer.Option("--amount", help="Cumulative total paid so far.")],
    manager: ManagerOption = None,
    as_json: AsJson = False,
) -> None:
    """Sign a voucher (renter): the cumulative amount paid on the channel so far."""
    from l2gpu.cli.session import Session
    from l2gpu.core.channel.vouchers import sign_voucher

    session = Session(ctx, manager)
    voucher = sign_voucher(
        session.key, session.manager.domain, Hash32.from_hex(channel_id), parse_amount(amount)
    )
    signed = {**voucher.to_json(), "manager": session.manager.address.checksum,
              "chain_id": session.chain.chain_id}  # fmt: skip
    if as_json:
        emit(signed, as_json)
    else:  # the voucher goes to the provider as it is: JSON is its form for people too
        print_json(signed)
        note(f"voucher for {format_wei(voucher.amount)} in all; the provider closes with "
             "it: 'l2gpu channel close ID --voucher FILE'")  # fmt: skip


@app.command("close")
def close(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument()],
    amount: Annotated[str, typer.Option("--amount", help="Renter: amount conceded.")] = "0",
    voucher_file: Annotated[
        Path | None, typer.Option("--voucher", help="Provider: voucher JSON from 'pay'.")
    ] = None,
    manager: ManagerOption = None,
    as_json: AsJson = False,
) -> None:
    """Close: the renter starts the challenge period; the provider closes at once."""
    from l2gpu.cli.session import Session
    from l2gpu.core.channel import inputs as ci

    session = Session(ctx, manager)
    params = session.params(channel_id)
    if session.address == params.provider:
        voucher = _read_voucher(voucher_file) if voucher_file else None
        paid = voucher.amount if voucher else Wei(0)
        close_input: ci.CloseByProvider | ci.CloseByRenter = ci.CloseByProvider(
            session.address, Timestamp(0), params, paid, voucher.signature if voucher else b""
        )
    elif session.address == params.renter:
        close_input = ci.CloseByRenter(session.address, Timestamp(0), params, parse_amount(amount))
    else:
        raise L2gpuError(
            f"{session.address} is neither the renter nor the provider of {channel_id}",
            "use the renter's or the provider's key; anyone may 'settle' after the deadline",
        )
    with waiting(f"closing channel {channel_id}"):
        receipt = session.manager.apply(close_input, session.account)
    emit({"channel_id": channel_id, "events": [e.name for e in receipt.events],
          "tx": tx_hex(receipt.tx_hash), "gas_used": receipt.gas_used}, as_json,
         title="channel closing")  # fmt: skip


@app.command("settle")
def settle(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument()],
    manager: ManagerOption = None,
    as_json: AsJson = False,
) -> None:
    """Pay out a channel whose deadline has passed (anyone may call it)."""
    from l2gpu.cli.session import Session
    from l2gpu.core.channel import inputs as ci

    session = Session(ctx, manager)
    params = session.params(channel_id)
    with waiting(f"settling channel {channel_id}"):
        receipt = session.manager.apply(
            ci.Settle(session.address, Timestamp(0), params), session.account
        )
    paid = receipt.event("ChannelSettled").args
    emit({"channel_id": channel_id, "provider_payout": Eth(paid["provider_payout"]),
          "renter_payout": Eth(paid["renter_payout"]), "tx": tx_hex(receipt.tx_hash)},
         as_json, title="channel settled")  # fmt: skip


@app.command("status")
def status(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument()],
    manager: ManagerOption = None,
    as_json: AsJson = False,
) -> None:
    """Show a channel: deposit, best voucher, expiry, deadline and time left."""
    from l2gpu.cli.session import Session
    from l2gpu.core.channel import ChannelStatus

    session = Session(ctx, manager)
    params = session.params(channel_id)
    channel = session.manager.channel(params)
    assert channel is not None  # params_of found its ChannelOpened log
    now = l1_now(session.chain)
    live = channel.status in (ChannelStatus.OPEN, ChannelStatus.CLOSING)
    emit({
        "channel_id": channel_id,
        "status": channel.status.name.lower(),
        "renter": params.renter.checksum,
        "provider": params.provider.checksum,
        "asset": "ether" if params.is_ether else params.token.checksum,
        "deposit": Eth(channel.deposit),
        "best_voucher": Eth(channel.best_amount),
        "expires_at": At(channel.expires_at),
        "settle_after": At(channel.deadline()) if live else None,
        "seconds_until_settle": Secs(max(0, channel.deadline() - now)) if live else None,
    }, as_json, title=f"channel {channel_id}")  # fmt: skip


def _read_voucher(path: Path) -> Voucher:
    from l2gpu.core.channel.vouchers import Voucher

    try:
        data = json.loads(path.read_text())
        return Voucher(
            Hash32.from_hex(data["channel_id"]),
            Wei(int(data["amount"])),
            bytes.fromhex(str(data["signature"]).removeprefix("0x")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise L2gpuError(
            f"{path} is not a voucher file", "use the JSON that 'l2gpu channel pay' prints"
        ) from exc
