"""``l2gpu up`` (the rollup node) and ``l2gpu l2`` (a user's commands against it)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli import l2_views as views
from l2gpu.cli.common import (
    AsJson,
    L1RpcOption,
    LegacyNodeOption,
    NodeOption,
    find_signing_account,
    l2_node_url,
    parse_amount,
    print_json,
    signing_account,
    signing_key,
    use_l1_rpc,
)
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import (
    Address,
    Wei,
    format_wei,
)

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.node.client import L2Client

app = typer.Typer(help="Deposit, transfer, withdraw and inspect the rollup.",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
ROLLUP = "Rollup"
log = logging.getLogger("l2gpu.up")


def _user(ctx: typer.Context, node: str | None, api: str | None) -> L2Client:
    """A client of the node that signs with the command's key."""
    from l2gpu.node.client import L2Client

    return L2Client(l2_node_url(ctx.obj, node, api), signing_key(ctx))


def _viewer(ctx: typer.Context, node: str | None, api: str | None) -> L2Client:
    """A client of the node for reading only: the key signs nothing."""
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.node.client import L2Client

    return L2Client(l2_node_url(ctx.obj, node, api), PrivateKey((1).to_bytes(32, "big")))


@app.command("deposit")
def deposit(
    ctx: typer.Context, amount: Annotated[str, typer.Argument(help="e.g. '0.5 ether'")],
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
    l1_rpc: L1RpcOption = None,
) -> None:  # fmt: skip
    """Deposit from L1 to your L2 account (an L1 transaction; needs --l1-rpc)."""
    from l2gpu.l1 import open_chain
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.rollup import RollupClient

    settings = use_l1_rpc(ctx, l1_rpc)
    value = parse_amount(amount)
    user = _user(ctx, node, api)
    if not settings.l1_rpc:
        raise L2gpuError(
            "a deposit is an L1 transaction and the embedded chain lives inside 'l2gpu up'",
            "run the node and this command with --l1-rpc (make devnet)",
        )
    account = signing_account(ctx)
    chain = open_chain(settings, [account])
    rollup_address = Address.from_hex(user.status()["rollup"])
    client = RollupClient(chain, chain.attach(compile_contract("rollup/Rollup.vy"), rollup_address))
    sys.stderr.write(f"depositing {format_wei(value)} on L1...\n")
    receipt = client.deposit(account, user.bls, value)
    index = receipt.event("Queued").args["index"]
    started = time.monotonic()
    while time.monotonic() < started + 60:
        status = user.status()
        if status["l1_operations_processed"] > index:
            sys.stderr.write("\n")
            _show_deposit(as_json, value, user.account())
            return
        # A progress line: the node credits the deposit in its next batch.
        sys.stderr.write(f"\rqueued on L1; waiting for the node to credit it "
                         f"({time.monotonic() - started:.0f} s)")  # fmt: skip
        sys.stderr.flush()
        time.sleep(0.5)  # waiting for the node's next batch, a real process
    sys.stderr.write("\n")
    raise L2gpuError("the node has not processed the deposit within 60 s", "check 'l2gpu up' logs")


@app.command("transfer")
def transfer(
    ctx: typer.Context,
    to: Annotated[str, typer.Argument(help="Recipient address (must have an L2 account).")],
    amount: Annotated[str, typer.Argument(help="e.g. '0.1 ether'")],
    fee: Annotated[str, typer.Option("--fee")] = "0 wei",
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """Send to another L2 account (co-signed automatically by this command)."""
    from l2gpu.core.l2.amounts import FEE, round_down
    from l2gpu.core.l2.transactions import Transfer

    # What was typed is checked first: a mistake costs no key lookup and no request.
    value, fee_value = _representable(amount), Wei(round_down(parse_amount(fee, "fee"), FEE))
    user = _user(ctx, node, api)
    recipient = int(user.account(Address.from_hex(to))["index"])
    _check_balance(user, value, fee_value, "send")
    after = user.send(lambda me: Transfer(me, recipient, value, fee_value))
    _show(as_json, after, lambda: f"sent {views.eth(value)} to {to}\n" + views.account_text(after))


def _check_balance(user: L2Client, value: int, fee: int, what: str) -> None:
    """Refuse before sending what the node would drop: more than the L2 balance."""
    balance = int(user.account()["balance"])
    if value + fee > balance:
        raise L2gpuError(
            f"your L2 balance is {format_wei(balance)}: too little to {what} "
            f"{format_wei(value)} with a fee of {format_wei(fee)}",
            f"{what} at most {format_wei(max(0, balance - fee))}, or deposit more with "
            "'l2gpu l2 deposit'",
        )


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    amount: Annotated[str | None, typer.Argument(help="Amount to move to L1.")] = None,
    claim: Annotated[bool, typer.Option("--claim", help="Claim final exits on L1.")] = False,
    fee: Annotated[str, typer.Option("--fee")] = "0 wei",
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
    l1_rpc: L1RpcOption = None,
) -> None:
    """Start a withdrawal (L2), or with --claim collect final ones on L1 (needs --l1-rpc)."""
    from l2gpu.core.l2.amounts import FEE, round_down
    from l2gpu.core.l2.transactions import Withdraw
    from l2gpu.l1 import open_chain
    from l2gpu.l1.contracts.rollup import claim_proven_exit

    settings = use_l1_rpc(ctx, l1_rpc)
    user = _user(ctx, node, api)
    if not claim:
        if amount is None:
            raise L2gpuError("say how much to withdraw", "e.g. l2gpu l2 withdraw '0.1 ether'")
        value, fee_value = _representable(amount), Wei(round_down(parse_amount(fee, "fee"), FEE))
        _check_balance(user, value, fee_value, "withdraw")
        account = user.send(lambda me: Withdraw(me, value, fee_value))
        _show(as_json, {"withdrawing": value, "final_after": "the batch's challenge window",
                        "account": account},
              lambda: f"withdrawal of {views.eth(value)} started: claimable on L1 once its "
              "batch is final ('l2gpu l2 status' shows the time left)\n"
              + views.account_text(account))  # fmt: skip
        return
    if not settings.l1_rpc:
        raise L2gpuError("claiming is an L1 transaction", "pass --l1-rpc")
    signer = signing_account(ctx)
    chain = open_chain(settings, [signer])
    rollup_address = Address.from_hex(user.status()["rollup"])
    claimed = []
    for exit_ in user.exits():
        if not exit_["claimable"]:
            continue
        p = user.exit_proof(exit_["exit_index"])
        claim_proven_exit(chain, rollup_address, p, signer)
        claimed.append({"exit_index": p["exit_index"], "amount": p["amount"]})
    pending = [e for e in user.exits() if not e["claimed"]]
    now = int(user.status()["time"])

    def text() -> str:
        done = [f"claimed withdrawal {c['exit_index']}: {views.eth(c['amount'])} paid on L1"
                for c in claimed] or ["nothing to claim yet"]  # fmt: skip
        return "\n".join([*done, *(views.exit_text(e, now) for e in pending)])

    _show(as_json, {"claimed": claimed, "pending": pending}, text)


@app.command("balance")
def balance(
    ctx: typer.Context, address: Annotated[str | None, typer.Argument()] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:  # fmt: skip
    """An account's L2 balance (default: yours)."""
    if address is None:
        account = _user(ctx, node, api).account()
    else:
        account = _viewer(ctx, node, api).account(Address.from_hex(address))
    _show(
        as_json,
        {**account, "balance_readable": format_wei(account["balance"])},
        lambda: views.account_text(account),
    )


@app.command("channel")
def channel(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument(help="0x channel id (as 'rent' prints it).")],
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """A channel inside the rollup: parties, deposit, best voucher, deadlines, status."""
    viewer = _viewer(ctx, node, api)
    _show_channel(as_json, viewer, viewer.channel(channel_id))


@app.command("close-channel")
def close_channel(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument(help="0x channel id.")],
    amount: Annotated[str, typer.Option("--amount", help="Conceded to the provider.")] = "0",
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """As the renter, start closing a channel; the provider has the challenge period to
    prove a higher voucher, then 'settle-channel' pays both sides."""
    from l2gpu.core.l2.transactions import CloseByRenter

    user = _user(ctx, node, api)
    found = user.channel(channel_id)
    if found["renter"] != user.key.address.checksum:
        raise L2gpuError("only the channel's renter starts a close",
                         "a provider closes by the best voucher (its agent does)")  # fmt: skip
    if found["status"] != "open":
        raise L2gpuError(f"channel {channel_id} is {found['status']}, not open",
                         "'l2gpu l2 settle-channel' pays it out after its deadline")  # fmt: skip
    index, conceded = int(found["index"]), _representable(amount)
    user.send(lambda me: CloseByRenter(me, index, conceded))
    _show_channel(as_json, user, user.channel(channel_id))


@app.command("settle-channel")
def settle_channel(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument(help="0x channel id.")],
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """Pay out a channel whose deadline has passed (anyone with an L2 account)."""
    from l2gpu.clock import format_timestamp
    from l2gpu.core.l2.transactions import SettleChannel

    user = _user(ctx, node, api)
    found = user.channel(channel_id)
    if found["status"] == "settled":
        raise L2gpuError(f"channel {channel_id} is settled already", "nothing is left to pay out")
    deadline = int(found["close_deadline"] or 0) or int(found["expires_at"]) + int(
        found["challenge_period"]
    )
    if int(user.status()["time"]) < deadline:
        raise L2gpuError(
            f"channel {channel_id} can be settled from {format_timestamp(deadline)} (the L1 "
            "clock), not yet",
            "wait for its deadline; 'l2gpu l2 channel ID' shows it",
        )
    index = int(found["index"])
    user.send(lambda me: SettleChannel(me, index))
    _show_channel(as_json, user, user.channel(channel_id))


@app.command("batches")
def batches(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None,
            as_json: AsJson = False) -> None:  # fmt: skip
    """Posted batches, each with the time left in its challenge window."""
    found = _viewer(ctx, node, api).batches()
    _show(as_json, found, lambda: views.batches_text(found))


@app.command("status")
def status(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None,
           as_json: AsJson = False) -> None:  # fmt: skip
    """The node's status, with your pending withdrawals and when each becomes final."""
    viewer = _viewer(ctx, node, api)
    out: dict[str, Any] = {"node": viewer.status(), "batches": viewer.batches()}
    if find_signing_account(ctx) is not None:
        out["my_exits"] = _user(ctx, node, api).exits()
    _show(as_json, out, lambda: views.status_text(out["node"], out["batches"],
                                                  out.get("my_exits")))  # fmt: skip


def _show(as_json: bool, data: Any, text: Callable[[], str]) -> None:
    """Print ``data`` as JSON (``--json``, for scripts) or ``text()`` for people."""
    if as_json:
        print_json(data)
    else:
        typer.echo(text())


def _show_deposit(as_json: bool, value: int, account: dict[str, Any]) -> None:
    """A credited deposit and the account it went to."""
    _show(as_json, {"deposited": value, "account": account},
          lambda: f"deposited {views.eth(value)}\n" + views.account_text(account))  # fmt: skip


def _show_channel(as_json: bool, client: L2Client, found: dict[str, Any]) -> None:
    """A channel, with its deadlines counted from the node's clock."""
    if as_json:
        print_json(found)
    else:
        typer.echo(views.channel_text(found, int(client.status()["time"])))


def _representable(text: str) -> Wei:
    from l2gpu.core.l2.amounts import round_down

    value = parse_amount(text)
    rounded = round_down(value)
    if rounded != value:
        raise L2gpuError(
            f"{text} is not exactly representable on L2 (19-bit mantissa)",
            f"use {format_wei(rounded)} ({rounded} wei) instead",
        )
    return Wei(value)
