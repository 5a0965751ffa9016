"""``l2gpu bridge``: moves between shards (see docs/shards.md).

``move`` burns an amount on your shard and signs where it goes (printed as JSON, or
written to ``--out``); ``relay`` carries a signed move once its source batch is final
(anyone may); ``front`` lets a liquidity provider deliver it now, to be repaid when
it lands; ``lp`` serves as a liquidity provider that fronts the moves offered to it
(``move --lp URL``) once it has checked their exits (:mod:`l2gpu.cli.bridge_lp_cmd`);
``shard-of`` says which shard an address lives on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli.common import (
    AsJson,
    L1RpcOption,
    NodeOption,
    l2_node_url,
    parse_amount,
    print_json,
    signing_account,
    signing_key,
    use_l1_rpc,
)
from l2gpu.cli.live import waiting
from l2gpu.cli.onchain import tx_hex
from l2gpu.cli.output import Eth, emit, note
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, Wei, format_wei

if TYPE_CHECKING:
    from l2gpu.l1 import Chain
    from l2gpu.l1.contracts.bridge import BridgeClient

app = typer.Typer(help="Move money between rollup shards (slow path, or fronted).",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
TrustedBridgeOption = Annotated[
    str | None, typer.Option("--bridge", help="The bridge you trust (else the recorded one).")
]
MoveFile = Annotated[Path, typer.Argument(help="A signed move, as 'l2gpu bridge move' wrote it.")]


def _bridge_of_rollup(chain: Chain, rollup: Address) -> BridgeClient:
    """The bridge the shard ``rollup`` belongs to."""
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.bridge import BridgeClient

    contract = chain.attach(compile_contract("rollup/Rollup.vy"), rollup)
    bridge = contract.call("BRIDGE")
    if bridge == Address(bytes(20)):
        raise L2gpuError(f"the rollup {rollup.checksum} is not a shard of any bridge",
                         "moves go between shards started with 'l2gpu up --shards N'")  # fmt: skip
    return BridgeClient(chain, chain.attach(compile_contract("bridge/Bridge.vy"), bridge))


def _chain(settings: Any, signer: Any) -> Chain:
    from l2gpu.l1 import open_chain

    if not settings.l1_rpc:
        raise L2gpuError("a move between shards goes through L1", "pass --l1-rpc URL")
    return open_chain(settings, [signer])


# The names a bridge is recorded under in the data folder: optimistic, zk, validium shards.
BRIDGE_RECORDS = ("Bridge", "ZkBridge", "ValidiumBridge")


def _trusted_addresses(ctx: typer.Context, chain: Chain, flag: str | None) -> list[Address]:
    """The bridges this user trusts: ``--bridge``, else those recorded in the data
    folder for this chain (one per design of shards)."""
    from l2gpu.payments import deployments

    if flag:
        return [Address.from_hex(flag)]
    found = []
    for record in BRIDGE_RECORDS:
        try:
            found.append(deployments.lookup(ctx.obj.data_dir, chain.chain_id, record)[0])
        except L2gpuError:
            continue  # no shards of this design recorded
    if not found:
        raise L2gpuError(
            "the move names a bridge, and you have said none you trust",
            "pass --bridge ADDRESS (the one 'l2gpu up --shards N' printed)",
        )
    return found


def _trusted_address(ctx: typer.Context, chain: Chain, flag: str | None) -> Address:
    """The one bridge this user trusts (see :func:`_trusted_addresses`)."""
    found = _trusted_addresses(ctx, chain, flag)
    if len(found) > 1:
        raise L2gpuError(
            f"the data folder records {len(found)} bridges for chain {chain.chain_id}",
            "pass --bridge ADDRESS to say which",
        )
    return found[0]


def _trusted_bridge(ctx: typer.Context, chain: Chain, named: Address, flag: str | None) -> Address:
    """The bridge a move file names, if it is one this user trusts. A file names any
    address its writer likes; sending ether to it on the file's word would pay the
    writer."""
    trusted = _trusted_addresses(ctx, chain, flag)
    if named not in trusted:
        listed = ", ".join(a.checksum for a in trusted)
        raise L2gpuError(f"the move names the bridge {named.checksum}, not {listed}",
                         "refuse it: its writer chose where your ether goes")  # fmt: skip
    return named


def trusted_bridge_client(
    ctx: typer.Context, settings: Any, signer: Any, flag: str | None
) -> tuple[Chain, BridgeClient]:
    """L1, and the bridge this user trusts on it (``--bridge``, else the recorded one)."""
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.bridge import BridgeClient

    chain = _chain(settings, signer)
    address = _trusted_address(ctx, chain, flag)
    return chain, BridgeClient(chain, chain.attach(compile_contract("bridge/Bridge.vy"), address))


def _open_move(
    ctx: typer.Context, path: Path, l1_rpc: str | None, bridge: str | None
) -> tuple[Any, bytes, Any, BridgeClient]:
    """A move file's move and signature, the signing account, and the trusted bridge."""
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.bridge import BridgeClient

    settings = use_l1_rpc(ctx, l1_rpc)
    signed, signature, named = _load(path)
    signer = signing_account(ctx)
    chain = _chain(settings, signer)
    address = _trusted_bridge(ctx, chain, named, bridge)
    compiled = compile_contract("bridge/Bridge.vy")
    return signed, signature, signer, BridgeClient(chain, chain.attach(compiled, address))


def _load(path: Path) -> tuple[Any, bytes, Address]:
    from l2gpu.core.shards.bridge import Move

    try:
        data = json.loads(path.read_text())
        move = Move(int(data["from_shard"]), int(data["exit_index"]),
                    Address.from_hex(data["owner"]), int(data["amount"]), int(data["to_shard"]),
                    Address.from_hex(data["to"]), int(data["fee"]))  # fmt: skip
        return (
            move,
            bytes.fromhex(data["signature"].removeprefix("0x")),
            Address.from_hex(data["bridge"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise L2gpuError(
            f"{path} is not a signed move: {exc}",
            "pass the file 'l2gpu bridge move --out FILE' wrote",
        ) from None


@app.command("move")
def move(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="e.g. '0.1 ether'")],
    to: Annotated[str, typer.Option("--to", help="The recipient's address (on its shard).")],
    fee: Annotated[
        str, typer.Option("--fee", help="What a liquidity provider that fronts the move keeps.")
    ] = "0 wei",
    out: Annotated[Path | None, typer.Option("--out", help="Write the signed move here.")] = None,
    lp: Annotated[
        str | None,
        typer.Option(
            "--lp",
            metavar="URL",
            help="Offer the move to this liquidity provider "
            "('l2gpu bridge lp'), which fronts it for the fee.",
        ),
    ] = None,
    node: NodeOption = None,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Burn AMOUNT on your shard (an L2 withdrawal) and sign where it goes."""
    from l2gpu.cli.l2_cmd import _check_balance, _representable
    from l2gpu.core.l2.transactions import Withdraw
    from l2gpu.core.shards.bridge import Move, sign_move
    from l2gpu.core.shards.routing import shard_of
    from l2gpu.node.client import L2Client

    settings = use_l1_rpc(ctx, l1_rpc)
    value, fee_value = _representable(amount), parse_amount(fee, "fee")
    recipient = Address.from_hex(to)
    if not fee_value < value:
        raise L2gpuError("the fee must be less than the amount", "lower --fee")
    from l2gpu.cli.zk_move import burn_on_zk_shard, is_zk_node

    signer = signing_account(ctx)
    url = l2_node_url(settings, node)
    if is_zk_node(url):
        bridge, here, there, exit_index = burn_on_zk_shard(ctx, url, value, recipient)
    else:
        user = L2Client(url, signing_key(ctx))
        rollup = Address.from_hex(user.status()["rollup"])
        bridge = _bridge_of_rollup(_chain(settings, signer), rollup)
        shards = bridge.shard_addresses()
        here, there = shards.index(rollup), shard_of(recipient, len(shards))
        if here == there:
            raise L2gpuError(f"{recipient.checksum} lives on your shard ({here})",
                             "send it with 'l2gpu l2 transfer'")  # fmt: skip
        _check_balance(user, value, 0, "move")
        before = {e["exit_index"] for e in user.exits()}
        with waiting(f"burning {format_wei(value)} on shard {here} (an L2 withdrawal)"):
            user.send(lambda me: Withdraw(me, value, Wei(0)))
        mine = [e for e in user.exits() if e["exit_index"] not in before and e["amount"] == value]
        if len(mine) != 1:
            raise L2gpuError(
                "the withdrawal was included but its exit was not found",
                "list your exits with 'l2gpu l2 status' and sign the move again",
            )
        exit_index = int(mine[0]["exit_index"])
    owner = signing_key(ctx)
    signed = Move(here, exit_index, owner.address, value, there, recipient, fee_value)
    signature = sign_move(owner, bridge.domain, signed)
    document = {"from_shard": here, "exit_index": signed.exit_index,
                "owner": owner.address.checksum, "amount": value, "to_shard": there,
                "to": recipient.checksum, "fee": fee_value, "signature": "0x" + signature.hex(),
                "bridge": bridge.address.checksum}  # fmt: skip
    if out is not None:
        out.write_text(json.dumps(document, indent=2))
    if lp is not None:
        from l2gpu.liquidity.client import offer_to_lp

        try:
            answer = offer_to_lp(lp, document)
        except L2gpuError:
            if out is None:  # the move stays in the user's hands, to relay or offer again
                print_json(document)
            raise
        kept: object = str(out) if out is not None else document
        if out is None and not as_json:
            print_json(document)
            kept = "printed above"
        emit({"offered_to": lp, "message": answer["message"], "state": answer["state"],
              "amount": Eth(value), "fee": Eth(fee_value), "to_shard": there,
              "to": recipient.checksum, "signed_move": kept}, as_json,
             title="move offered")  # fmt: skip
        return
    if as_json:
        emit({**document, "amount": Eth(value), "fee": Eth(fee_value)}, as_json)
    elif out is None:  # the signed move is what the relayer needs: print it whole
        print_json(document)
        note("keep this signed move (or pass --out FILE): 'l2gpu bridge relay' needs it")
    else:
        emit({"amount": Eth(value), "fee": Eth(fee_value), "from_shard": here,
              "to_shard": there, "to": recipient.checksum, "exit_index": signed.exit_index,
              "signed_move": str(out)}, as_json, title="move signed")  # fmt: skip


@app.command("relay")
def relay(
    ctx: typer.Context,
    path: MoveFile,
    node: Annotated[str | None, typer.Option("--node", help="The SOURCE shard's node URL.")] = None,
    l1_rpc: L1RpcOption = None,
    bridge: TrustedBridgeOption = None,
    as_json: AsJson = False,
) -> None:
    """Carry a signed move once its source batch is final (anyone may; you pay the gas)."""
    from l2gpu.cli.l2_cmd import _viewer
    from l2gpu.cli.zk_move import relay_from_zk_shard, zk_shard

    signed, signature, signer, bridge_client = _open_move(ctx, path, l1_rpc, bridge)
    if bridge_client.landed(signed):
        raise L2gpuError("this move has landed already", "nothing to do")
    source = zk_shard(bridge_client.chain, bridge_client.shard_addresses()[signed.from_shard])
    doing = f"relaying the move of {format_wei(signed.amount)} to shard {signed.to_shard}"
    if source is not None:  # a zk shard: the batch is proven whole, no exit proof
        with waiting(doing):
            receipt = relay_from_zk_shard(bridge_client, source, signer, signed, signature)
    else:
        p = _viewer(ctx, node, None).exit_proof(signed.exit_index)
        proof = (p["batch"], [bytes.fromhex(h[2:]) for h in p["proof"]],
                 bytes.fromhex(p["accounts_root"][2:]), bytes.fromhex(p["channels_root"][2:]),
                 p["deposits_processed"], p["exit_count"])  # fmt: skip
        with waiting(doing):
            receipt = bridge_client.contract.transact(
                "relay", signed.as_tuple(), signature, proof, sender=signer
            )
    fronted = bridge_client.fronted_by(signed)
    emit({"landed": True, "paid_to": (fronted or signed.to).checksum,
          "to_shard": signed.to_shard, "amount": Eth(signed.amount),
          "tx": tx_hex(receipt.tx_hash), "gas": receipt.gas_used}, as_json,
         title="move relayed")  # fmt: skip


@app.command("front")
def front(
    ctx: typer.Context,
    path: MoveFile,
    l1_rpc: L1RpcOption = None,
    bridge: TrustedBridgeOption = None,
    as_json: AsJson = False,
) -> None:
    """Deliver a signed move now (amount less fee), repaid the amount when it lands.

    You carry the risk that a fraud proof reverts the source batch: re-execute it
    first ('l2gpu watch rollup')."""
    signed, signature, signer, bridge_client = _open_move(ctx, path, l1_rpc, bridge)
    with waiting(f"fronting {format_wei(signed.amount - signed.fee)} to {signed.to.checksum}"):
        receipt = bridge_client.front(signer, signed, signature)
    emit({"fronted": Eth(signed.amount - signed.fee), "to": signed.to.checksum,
          "to_shard": signed.to_shard, "repaid_on_landing": Eth(signed.amount),
          "tx": tx_hex(receipt.tx_hash), "gas": receipt.gas_used}, as_json,
         title="move fronted")  # fmt: skip


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    path: MoveFile,
    l1_rpc: L1RpcOption = None,
    bridge: TrustedBridgeOption = None,
    as_json: AsJson = False,
) -> None:
    """Give up a signed move nobody fronted (you are its owner): it can never carry
    anything after. Out of a zk shard a signed move is otherwise good against any
    later credit of yours there."""
    signed, _, signer, bridge_client = _open_move(ctx, path, l1_rpc, bridge)
    with waiting(f"cancelling the move of {format_wei(signed.amount)}"):
        receipt = bridge_client.contract.transact("cancel", signed.as_tuple(), sender=signer)
    emit({"cancelled": True, "amount": Eth(signed.amount), "tx": tx_hex(receipt.tx_hash),
          "gas": receipt.gas_used}, as_json, title="move cancelled")  # fmt: skip


@app.command("shard-of")
def shard_of_cmd(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="Any address.")],
    shards: Annotated[int, typer.Option("--shards", min=1, max=64)],
    as_json: AsJson = False,
) -> None:
    """Which of N shards ADDRESS lives on (keccak256 of the address, mod N)."""
    from l2gpu.core.shards.routing import shard_of

    where = Address.from_hex(address)
    emit({"address": where.checksum, "shard": shard_of(where, shards)}, as_json)
