"""``l2gpu up`` (the rollup node) and ``l2gpu l2`` (a user's commands against it)."""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli.common import (
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
    ChainId,
    Wei,
    format_wei,
    parse_duration,
)

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.config import Settings
    from l2gpu.l1.contracts.rollup import RollupClient
    from l2gpu.node.client import L2Client

app = typer.Typer(help="Deposit, transfer, withdraw and inspect the rollup.",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
ROLLUP = "Rollup"
log = logging.getLogger("l2gpu.up")


def up(
    ctx: typer.Context,
    interval: Annotated[
        float,
        typer.Option("--interval", help="Post a batch once its oldest input is this old (s)."),
    ] = 2.0,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="...or once this many inputs wait.")
    ] = 1000,
    challenge_window: Annotated[str, typer.Option("--challenge-window")] = "7d",
    force_delay: Annotated[str, typer.Option("--force-delay")] = "12h",
    cosign_timeout: Annotated[float, typer.Option("--cosign-timeout")] = 5.0,
    design: Annotated[
        str,
        typer.Option(
            "--design",
            help="'optimistic' (fraud proofs, 7-day window), 'zk' (a Groth16 proof per "
            "batch, final at once), 'validium' (zk with the transfer and channel data "
            "off L1, served by this node) or 'plasma' (a child chain posting one root per "
            "block; --challenge-window is its exit period).",
        ),
    ] = "optimistic",
    zk_shape: Annotated[
        str,
        typer.Option(
            "--zk-shape",
            help="zk: deposit, transfer and withdrawal slots per batch, "
            "then channel opens, closes and reclaims (D,T,W[,O,C,R]).",
        ),
    ] = "1,2,1,1,1,1",
    zk_depth: Annotated[
        int, typer.Option("--zk-depth", help="zk: account tree depth (2^depth - 1 accounts).")
    ] = 8,
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards",
            min=1,
            max=64,
            help="Run N optimistic rollup shards sharing one bridge, one process each "
            "(APIs on the API port + 0..N-1; anvil as the L1 when no --l1-rpc is set).",
        ),
    ] = None,
    shard: Annotated[
        int | None,
        typer.Option("--shard", help="Run shard I alone (its own key; --l1-rpc and --bridge)."),
    ] = None,
    bridge: Annotated[
        str | None,
        typer.Option(
            "--bridge", help="With --shard: the bridge's address (else the recorded one)."
        ),
    ] = None,
) -> None:
    """Run the rollup node: sequencer, batch poster and HTTP API (OpenAPI at /docs)."""
    import uvicorn

    from l2gpu.clock import RecentClock, l1_clock
    from l2gpu.db import open_database
    from l2gpu.fraud.watcher import Watcher
    from l2gpu.l1 import open_chain
    from l2gpu.l1.contracts.dispute_game import DisputeClient
    from l2gpu.l1.contracts.rollup import RollupClient
    from l2gpu.node.api import create_app
    from l2gpu.node.cosign_desk import CoSignDesk
    from l2gpu.node.node import RollupNode
    from l2gpu.node.service import Sealer
    from l2gpu.serving.connections import require_free_port, uvicorn_options

    settings: Settings = ctx.obj
    if design not in ("optimistic", "zk", "validium", "plasma"):
        raise L2gpuError(
            f"--design {design!r} is not a design this node runs",
            "pass --design optimistic (the default), zk, validium or plasma",
        )
    if (shards is not None or shard is not None) and design != "optimistic":
        raise L2gpuError(f"--design {design} runs no shards yet",
                         "run shards with --design optimistic (the default)")  # fmt: skip
    if shards is not None and shard is None:
        from l2gpu.cli.shards_cmd import launch_shards, shard_options

        operator = find_signing_account(ctx) if settings.l1_rpc else None
        options = shard_options(interval=interval, batch_size=batch_size,
                                cosign_timeout=cosign_timeout)  # fmt: skip
        launch_shards(settings, operator, shards, window=parse_duration(challenge_window),
                      delay=parse_duration(force_delay), passthrough=options)  # fmt: skip
        return
    if shard is not None and not settings.l1_rpc:
        raise L2gpuError("a shard shares its L1 with the other shards",
                         "pass --l1-rpc URL and --bridge ADDRESS, or start every shard "
                         "with 'l2gpu up --shards N'")  # fmt: skip
    if design == "plasma":
        from l2gpu.cli.plasma_cmd import up_plasma

        up_plasma(settings, signing_account(ctx) if settings.l1_rpc else None,
                  interval=interval, exit_period=parse_duration(challenge_window))  # fmt: skip
        return
    if design in ("zk", "validium"):
        from l2gpu.cli.zk_cmd import up_zk

        operator = signing_account(ctx) if settings.l1_rpc else None
        up_zk(settings, operator, interval=interval, shape_text=zk_shape, depth=zk_depth,
              force_delay=parse_duration(force_delay),
              validium=design == "validium")  # fmt: skip
        return
    require_free_port(settings.api_host, settings.api_port, "l2gpu up", "L2GPU_API_PORT")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if settings.l1_rpc:  # a real L1: the proposer is the command's signing key
        proposer = signing_account(ctx)
        chain = open_chain(settings, [proposer])
    else:  # the embedded chain: its first funded dev account proposes
        chain = open_chain(settings)
        proposer = chain.accounts[0]
    if shard is not None:
        from l2gpu.cli.shards_cmd import attach_shard

        client = attach_shard(chain, settings, bridge, shard)
    else:
        client = _rollup(settings, chain, proposer, parse_duration(challenge_window),
                         parse_duration(force_delay))  # fmt: skip
    if int(client.contract.call("bond", proposer.address)) < int(client.contract.call("MIN_BOND")):
        client.stake(proposer, int(client.contract.call("MIN_BOND")))
    if settings.l1_rpc:
        database = settings.effective_database_url
    else:
        # The embedded chain ends with this process, so its log must not outlive it.
        database = f"sqlite:///{tempfile.mkdtemp(prefix='l2gpu-up-')}/node.db"
    desk = CoSignDesk(cosign_timeout)
    # L1's time, read at most every quarter second (each reading is a JSON-RPC call)
    clock = RecentClock(l1_clock(chain), max_age=0.25)
    node = RollupNode(client, open_database(database), proposer, cosigners=desk, clock=clock)
    node.on_sealed.append(desk.wake_sealed)
    reposted = node.recover()
    sealer = Sealer(node, interval, batch_size)
    stop = sealer.stop

    # The node's own watcher: it answers any challenge of the batches it posted (an
    # unanswered one would revert them and cost the bond) and challenges others' lies.
    guard = Watcher(RollupClient(chain, client.contract), DisputeClient(chain, client.game),
                    proposer, defer_own=True)  # fmt: skip

    def watch() -> None:
        while not stop.is_set():
            try:
                with node.l1_lock:  # one L1 sender: the proposer's nonces must not race
                    lines = guard.poll()
                for line in lines:
                    log.info("watcher: %s", line)
            except Exception as exc:  # L1 down or answering nonsense: retry next round
                log.error("watching failed: %s", exc)
            stop.wait(max(interval, 1.0))

    sealer.start()
    threading.Thread(target=watch, name="watcher", daemon=True).start()
    typer.echo(f"rollup {client.address} on {chain.description}; recovered {reposted} batch(es); "
               f"API on http://{settings.api_host}:{settings.api_port}", err=True)  # fmt: skip
    try:
        uvicorn.run(create_app(node, desk), host=settings.api_host, port=settings.api_port,
                    log_level="warning", **uvicorn_options())  # fmt: skip
    finally:
        stop.set()


def _rollup(settings: Settings, chain: Any, proposer: Any, window: int, delay: int) -> RollupClient:
    from l2gpu.core.l2.state import L2State
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.rollup import RollupClient
    from l2gpu.payments import deployments

    try:
        address, _ = deployments.lookup(settings.data_dir, chain.chain_id, ROLLUP)
        if chain.w3.eth.get_code(address.checksum):
            compiled = compile_contract("rollup/Rollup.vy", cache_dir=settings.cache_dir)
            return RollupClient(chain, chain.attach(compiled, address))
    except L2gpuError:
        pass  # nothing recorded for this chain: deploy below
    genesis = L2State(ChainId(chain.chain_id), Address(bytes(20))).root()
    client = RollupClient.deploy(chain, proposer, genesis_root=genesis, challenge_window=window,
                                 force_delay=delay, cache_dir=settings.cache_dir)  # fmt: skip
    if settings.l1_rpc:
        deployments.record(settings.data_dir, chain.chain_id, ROLLUP, client.address,
                           chain.block_number())  # fmt: skip
    return client


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
            print_json({"deposited": value, "account": user.account()})
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
) -> None:
    """Send to another L2 account (co-signed automatically by this command)."""
    from l2gpu.core.l2.amounts import FEE, round_down
    from l2gpu.core.l2.transactions import Transfer

    # What was typed is checked first: a mistake costs no key lookup and no request.
    value, fee_value = _representable(amount), Wei(round_down(parse_amount(fee, "fee"), FEE))
    user = _user(ctx, node, api)
    recipient = int(user.account(Address.from_hex(to))["index"])
    _check_balance(user, value, fee_value, "send")
    print_json(user.send(lambda me: Transfer(me, recipient, value, fee_value)))


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
        print_json({"withdrawing": value, "final_after": "the batch's challenge window",
                    "account": account})  # fmt: skip
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
    print_json({"claimed": claimed, "pending": [e for e in user.exits() if not e["claimed"]]})


@app.command("balance")
def balance(
    ctx: typer.Context, address: Annotated[str | None, typer.Argument()] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
) -> None:  # fmt: skip
    """An account's L2 balance (default: yours)."""
    if address is None:
        account = _user(ctx, node, api).account()
    else:
        account = _viewer(ctx, node, api).account(Address.from_hex(address))
    print_json({**account, "balance_readable": format_wei(account["balance"])})


@app.command("channel")
def channel(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument(help="0x channel id (as 'rent' prints it).")],
    node: NodeOption = None,
    api: LegacyNodeOption = None,
) -> None:
    """A channel inside the rollup: parties, deposit, best voucher, deadlines, status."""
    print_json(_viewer(ctx, node, api).channel(channel_id))


@app.command("close-channel")
def close_channel(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument(help="0x channel id.")],
    amount: Annotated[str, typer.Option("--amount", help="Conceded to the provider.")] = "0",
    node: NodeOption = None,
    api: LegacyNodeOption = None,
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
    print_json(user.channel(channel_id))


@app.command("settle-channel")
def settle_channel(
    ctx: typer.Context,
    channel_id: Annotated[str, typer.Argument(help="0x channel id.")],
    node: NodeOption = None,
    api: LegacyNodeOption = None,
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
    print_json(user.channel(channel_id))


@app.command("batches")
def batches(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None) -> None:
    """Posted batches, each with the time left in its challenge window."""
    print_json(_viewer(ctx, node, api).batches())


@app.command("status")
def status(ctx: typer.Context, node: NodeOption = None, api: LegacyNodeOption = None) -> None:
    """The node's status, with your pending withdrawals and when each becomes final."""
    viewer = _viewer(ctx, node, api)
    out: dict[str, Any] = {"node": viewer.status(), "batches": viewer.batches()}
    if find_signing_account(ctx) is not None:
        out["my_exits"] = _user(ctx, node, api).exits()
    print_json(out)


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
