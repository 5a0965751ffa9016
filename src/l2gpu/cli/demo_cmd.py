"""``l2gpu demo``: the system as far as it has been built, on the embedded defaults.

Stage 1 (foundation): start the L1, build and deploy a contract, call it, read
its events as typed inputs, travel in time, and sign and recover an EIP-712
message. Later stages extend this demo with a whole lease.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
import vyper
from rich.console import Console

from l2gpu.config import Settings
from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, format_wei
from l2gpu.l1 import NotADevChain, compile_contract, open_chain
from l2gpu.l1.logs import LogPoller

NEXT_STAGES = [
    "#3 payment channels: a renter pays a provider every second with signed vouchers",
    "#4 optimistic rollup: channels inside our own rollup, batches posted to L1",
    "#5 fraud proofs: an honest watcher undoes any wrong state root",
    "#6 GPU market: offers, search, leases and real jobs metered every second",
    "#7 analytics: adoption curves, demand forecasts and allocation on real data",
]

DEMO_SCHEMA = TypedDataSchema(
    {"Voucher": [("channelId", "bytes32"), ("amount", "uint256")]}, "Voucher"
)


def demo(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only the summary.")] = False,
) -> None:
    """Run the main flow on the embedded defaults (stage 1: the L1 toolkit)."""
    settings: Settings = ctx.obj
    out = Console(highlight=False, quiet=quiet, soft_wrap=True)
    started = time.perf_counter()
    out.print("[bold]l2gpu demo[/bold] - stage 1 of the lease flow: the L1 toolkit")

    chain = open_chain(settings)
    if not chain.accounts:
        raise L2gpuError(
            f"no account to sign with on {chain.description}",
            "set L2GPU_PRIVATE_KEY to the hex key of a funded account",
        )
    deployer = chain.accounts[0]
    out.print(f"  L1        {chain.description}, chain id {chain.chain_id}")

    compiled = compile_contract("tokens/TestToken.vy", cache_dir=settings.cache_dir)
    out.print(
        f"  build     contracts/tokens/TestToken.vy -> {len(compiled.bytecode)} bytes "
        f"(vyper {vyper.__version__}, sources {compiled.source_hash[:12]})"
    )
    token = chain.deploy(compiled, "l2gpu Test Token", "L2GT", 18, sender=deployer)
    out.print(f"  deploy    TestToken at {token.address} in block {chain.block_number()}")

    poller = LogPoller(chain, [token])
    renter = Address.from_hex(chain.accounts[-1].address)
    receipt = token.transact("mint", renter, 10**21, sender=deployer)
    minted = token.call("balanceOf", renter)
    out.print(
        f"  transact  mint {format_wei(minted)} to {renter} "
        f"(gas {receipt.gas_used:,}, block {receipt.block_number})"
    )
    for event in poller.poll():
        args = ", ".join(f"{k}={v}" for k, v in event.args.items())
        out.print(f"  log       {event.name}({args}) in block {event.block_number}")

    try:
        before = chain.timestamp()
        after = chain.time_travel(3600)
        out.print(f"  time      travelled {after - before} s: block {chain.block_number()}")
    except NotADevChain as exc:
        out.print(f"  time      skipped: {exc.what}")

    key = PrivateKey((7).to_bytes(32, "big"))
    domain = Eip712Domain("l2gpu", "1", chain.chain_id, token.address)
    message = {"channelId": bytes(32), "amount": 1_000}
    signature = DEMO_SCHEMA.sign(key, domain, message)
    signer = DEMO_SCHEMA.recover(domain, message, signature)
    out.print(f"  EIP-712   signed a voucher-shaped message; recovered signer {signer}")

    elapsed = time.perf_counter() - started
    typer.echo(
        f"deployed TestToken at {token.address}; L1 block {chain.block_number()}; "
        f"took {elapsed:.1f} s"
    )
    out.print("\nWhat later stages add to this demo:")
    for line in NEXT_STAGES:
        out.print(f"  - {line}")
