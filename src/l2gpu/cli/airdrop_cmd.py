"""``l2gpu airdrop``: a private airdrop to the market's early adopters.

The operator's commands work on an airdrop folder (``--dir``): ``eligible`` reads
the market database, ``publish`` deploys and funds the airdrop on L1, ``erase``
forgets a user. A user's commands: ``register`` (with the account's key) writes the
secrets file, ``claim`` proves from it and writes a claim file, which ``relay``
sends from the relayer's key. ``demo`` runs every step in one process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import L1RpcOption, parse_amount, signing_account, use_l1_rpc
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.airdrop.operator import AirdropOperator
    from l2gpu.config import Settings

app = typer.Typer(help="Private airdrops to early adopters: eligible, register, publish, claim.")

DirOption = Annotated[Path, typer.Option("--dir", help="The airdrop's folder (the operator's).")]
NameOption = Annotated[str, typer.Option("--name", help="The airdrop's name.")]
ChainIdOption = Annotated[
    int, typer.Option("--chain-id", help="The L1 chain the airdrop will be published on.")
]
PublishedOption = Annotated[
    Path, typer.Option("--published", help="The airdrop's published.json (public).")
]


def _operator(folder: Path, name: str, chain_id: int) -> AirdropOperator:
    from l2gpu.airdrop.operator import AirdropOperator

    return AirdropOperator(folder, name=name, chain_id=chain_id)


@app.command("eligible")
def eligible(
    market_db: Annotated[str, typer.Option("--market-db", help="The market's database URL.")],
    folder: DirOption,
    name: NameOption = "early adopters",
    chain_id: ChainIdOption = 31337,
    innovators: Annotated[str, typer.Option(help="Reward of each innovator.")] = "0.5 ether",
    early_adopters: Annotated[
        str, typer.Option(help="Reward of each early adopter.")
    ] = "0.1 ether",
    min_gpu_hours: Annotated[float, typer.Option(help="Usage an account needs.")] = 1.0,
    method: Annotated[str, typer.Option(help="'curve' (fitted Bass) or 'observed'.")] = "curve",
) -> None:
    """Find the innovators and early adopters in the market's history; record them."""
    from sqlalchemy import create_engine

    from l2gpu.airdrop.eligibility import eligibility_report

    rewards = (
        ("innovators", parse_amount(innovators, "innovators' reward")),
        ("early_adopters", parse_amount(early_adopters, "early adopters' reward")),
    )
    report = eligibility_report(
        create_engine(market_db), rewards=rewards, min_gpu_seconds=int(min_gpu_hours * 3600),
        method=method,
    )  # fmt: skip
    recorded = _operator(folder, name, chain_id).record_eligibility(report.eligible)
    t = report.thresholds
    typer.echo(f"thresholds ({t.model}): innovators before {t.innovators_until}, "
               f"early adopters before {t.early_adopters_until}")  # fmt: skip
    for tier, (count, total) in report.totals.items():
        typer.echo(f"{tier}: {count} accounts, {total} wei")
    typer.echo(f"recorded {recorded} eligible accounts in {folder}")


@app.command("register")
def register(
    ctx: typer.Context,
    folder: DirOption,
    secrets_out: Annotated[
        Path, typer.Option("--secrets-out", help="Where your secrets go (keep them safe).")
    ],
    name: NameOption = "early adopters",
    chain_id: ChainIdOption = 31337,
) -> None:
    """Make claim secrets and register their commitment, signed with your account's key."""
    from l2gpu.airdrop.claim_proof import generate_identity
    from l2gpu.cli.common import signing_key
    from l2gpu.core.airdrop.registration import sign_registration

    if secrets_out.exists():
        raise L2gpuError(f"{secrets_out} exists", "keep it, or name another file")
    operator = _operator(folder, name, chain_id)
    account = Address.from_hex(signing_account(ctx).address)
    identity = generate_identity()
    signature = sign_registration(
        signing_key(ctx), operator.domain, operator.airdrop_id, identity.commitment()
    )
    # The secrets are written before registering: a crash after would otherwise leave a
    # registered commitment whose secrets nobody has.
    secrets_out.write_text(identity.to_json())
    secrets_out.chmod(0o600)
    try:
        tier = operator.register(account, identity.commitment(), signature)
    except L2gpuError:
        secrets_out.unlink()
        raise
    typer.echo(f"registered {account} in {tier}; secrets in {secrets_out}")


@app.command("publish")
def publish(
    ctx: typer.Context,
    folder: DirOption,
    treasury: Annotated[str, typer.Option(help="Where unclaimed rewards go.")],
    days: Annotated[int, typer.Option(help="How long claims are taken.")] = 30,
    name: NameOption = "early adopters",
    l1_rpc: L1RpcOption = None,
) -> None:
    """Deploy and fund the airdrop on L1 and write its published.json."""
    from l2gpu.airdrop.claim_proof import compile_claim
    from l2gpu.l1 import open_chain
    from l2gpu.zk.setup import dev_setup

    settings = _need_rpc(use_l1_rpc(ctx, l1_rpc), "publish")
    sender = signing_account(ctx)
    chain = open_chain(settings, [sender])
    published = _operator(folder, name, chain.chain_id).publish(
        chain, sender, keys=dev_setup(compile_claim()), treasury=Address.from_hex(treasury),
        deadline=chain.timestamp() + days * 86400,
    )  # fmt: skip
    for tier in published.tiers:
        typer.echo(f"{tier.name}: {len(tier.leaves)} members, {tier.reward} wei each")
    typer.echo(f"airdrop {published.address}; published file {folder / 'published.json'}")


@app.command("claim")
def claim(
    published_file: PublishedOption,
    secrets: Annotated[Path, typer.Option("--secrets", help="Your secrets file.")],
    to: Annotated[str, typer.Option("--to", help="A fresh address to be paid at.")],
    relayer: Annotated[str, typer.Option("--relayer", help="The address that will send it.")],
    out: Annotated[Path, typer.Option("--out", help="Where the claim file goes.")],
    fee: Annotated[str, typer.Option(help="What the relayer keeps.")] = "0 wei",
) -> None:
    """Prove your membership and write a claim file for a relayer to send."""
    from l2gpu.airdrop.claim_proof import prove_claim
    from l2gpu.airdrop.operator import PublishedAirdrop
    from l2gpu.core.airdrop.identity import Identity

    published = PublishedAirdrop.read(published_file)
    try:
        identity = Identity.from_json(secrets.read_text())
    except OSError as exc:
        raise L2gpuError(f"cannot read {secrets}: {exc.strerror}", "check the path") from exc
    tier = published.tier_of(identity.commitment())
    typer.echo(f"your claim hides among {len(tier.leaves)} members of {tier.name}")
    if len(tier.leaves) < 10:
        typer.echo("warning: fewer than 10 members: a small set gives little anonymity", err=True)
    proof = prove_claim(
        identity, tier.tree(), airdrop_id=published.airdrop_id, recipient=Address.from_hex(to),
        relayer=Address.from_hex(relayer), fee=parse_amount(fee, "fee"),
    )  # fmt: skip
    out.write_text(json.dumps(proof.to_json()))
    typer.echo(f"claim written to {out}: {tier.reward} wei less the fee to {to}")


@app.command("relay")
def relay(
    ctx: typer.Context,
    claim_file: Annotated[Path, typer.Argument(help="A claim file 'airdrop claim' wrote.")],
    published_file: PublishedOption,
    l1_rpc: L1RpcOption = None,
) -> None:
    """Send a claim from your key (the relayer's) and keep its fee."""
    from l2gpu.airdrop.claim_proof import ClaimProof
    from l2gpu.airdrop.contract import AirdropClient
    from l2gpu.airdrop.operator import PublishedAirdrop
    from l2gpu.l1 import open_chain

    settings = _need_rpc(use_l1_rpc(ctx, l1_rpc), "relay")
    published = PublishedAirdrop.read(published_file)
    try:
        data = json.loads(claim_file.read_text())
    except (OSError, ValueError) as exc:
        raise L2gpuError(f"cannot read the claim file {claim_file}: {exc}", "check it") from exc
    proof = ClaimProof.from_json(data, published.airdrop_id)
    sender = signing_account(ctx)
    if Address.from_hex(sender.address) != proof.relayer:
        raise L2gpuError(
            f"the claim was made for relayer {proof.relayer}, not {sender.address}",
            "relay it with that key, or ask the claimer for a claim naming yours",
        )
    chain = open_chain(settings, [sender])
    receipt = AirdropClient.at(chain, published.address).claim(sender, proof)
    typer.echo(f"claimed: {receipt.tx_hash.hex()} ({receipt.gas_used} gas)")


@app.command("erase")
def erase(
    folder: DirOption,
    account: Annotated[str, typer.Option("--account", help="Whose data to erase.")],
    name: NameOption = "early adopters",
    chain_id: ChainIdOption = 31337,
) -> None:
    """Erase everything the operator holds of an account (its data key is deleted)."""
    fields = _operator(folder, name, chain_id).erase(Address.from_hex(account))
    typer.echo(f"erased {account}: {fields} fields unreadable from now on, backups included")


@app.command("demo")
def demo(
    folder: Annotated[Path | None, typer.Option("--dir", help="Keep the files here.")] = None,
    accounts: Annotated[int, typer.Option(help="Simulated adopters.")] = 200,
    claims: Annotated[int, typer.Option(help="Claims to make.")] = 3,
) -> None:
    """Run an airdrop to a simulated market's early adopters, end to end."""
    import tempfile

    from l2gpu.scenarios.airdrop_demo import run_airdrop_demo

    with tempfile.TemporaryDirectory(prefix="l2gpu-airdrop-") as scratch:
        where = folder if folder is not None else Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        run_airdrop_demo(where, accounts=accounts, claims=claims, say=typer.echo)


def _need_rpc(settings: Settings, what: str) -> Settings:
    if not settings.l1_rpc:
        raise L2gpuError(
            f"'l2gpu airdrop {what}' needs a chain that outlives the command",
            "give --l1-rpc URL (e.g. anvil's), or run 'l2gpu airdrop demo'",
        )
    return settings
