"""``l2gpu airdrop``: a private airdrop to the market's early adopters.

The operator's commands work on an airdrop folder (``--dir``) that only the operator
touches: ``eligible`` reads the market database, ``accept`` records a user's signed
registration, ``publish`` deploys and funds the airdrop on L1, ``erase`` forgets a
user. A user's commands need no folder: ``register`` (with the account's key) writes
the secrets file and a registration for the operator, ``claim`` proves from the
published files and writes a claim file, which ``relay`` sends from the relayer's
key. ``demo`` runs every step in one process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.cli.common import AsJson, L1RpcOption, parse_amount, signing_account, use_l1_rpc
from l2gpu.cli.output import At, Eth, emit, note
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, format_wei

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
    as_json: AsJson = False,
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
    operator = _operator(folder, name, chain_id)
    recorded, skipped = operator.record_eligibility(report.eligible)
    t = report.thresholds
    ident = operator.airdrop_id
    if as_json:
        tiers = [{"tier": tier, "accounts": count, "total": Eth(total)}
                 for tier, (count, total) in report.totals.items()]  # fmt: skip
        emit({"airdrop_id": str(ident), "chain_id": chain_id, "model": t.model,
              "innovators_until": At(t.innovators_until),
              "early_adopters_until": At(t.early_adopters_until), "recorded": recorded,
              "erased_left_out": skipped, "tiers": tiers}, as_json)  # fmt: skip
        return
    typer.echo(f"thresholds ({t.model}): innovators before {t.innovators_until}, "
               f"early adopters before {t.early_adopters_until}")  # fmt: skip
    for tier, (count, total) in report.totals.items():
        typer.echo(f"{tier}: {count} accounts, {format_wei(total)}")
    typer.echo(
        f"recorded {recorded} eligible accounts in {folder}"
        + (f" ({skipped} erased on request, left out)" if skipped else "")
    )
    typer.echo(f"airdrop id {ident} on chain {chain_id}; users register with "
               f"'l2gpu airdrop register --airdrop-id {ident} --chain-id {chain_id}'")  # fmt: skip


@app.command("register")
def register(
    ctx: typer.Context,
    airdrop_id: Annotated[str, typer.Option("--airdrop-id", help="As the operator announced.")],
    secrets_out: Annotated[
        Path, typer.Option("--secrets-out", help="Where your secrets go (keep them safe).")
    ],
    out: Annotated[Path, typer.Option("--out", help="The registration to send the operator.")],
    chain_id: ChainIdOption = 31337,
    as_json: AsJson = False,
) -> None:
    """Make claim secrets and sign their commitment with your account's key; the
    operator records the registration file with 'l2gpu airdrop accept'."""
    from l2gpu.airdrop.claim_proof import generate_identity
    from l2gpu.cli.common import signing_key
    from l2gpu.core.airdrop.registration import registration_domain, sign_registration

    if not airdrop_id.isdigit():
        raise L2gpuError(f"airdrop id {airdrop_id!r} is not a number", "copy it as announced")
    account = Address.from_hex(signing_account(ctx).address)
    identity = generate_identity()
    commitment = identity.commitment()
    domain = registration_domain(chain_id)
    signature = sign_registration(signing_key(ctx), domain, int(airdrop_id), commitment)
    registration = {
        "format": REGISTRATION_FORMAT, "airdrop_id": airdrop_id, "chain_id": chain_id,
        "account": str(account), "commitment": str(commitment), "signature": signature.hex(),
    }  # fmt: skip
    if out.exists():
        raise L2gpuError(f"{out} exists", "name a new file for the registration")
    # The secrets first: a registration whose secrets were never written would be lost.
    _write_new(secrets_out, identity.to_json())
    try:
        _write_new(out, json.dumps(registration))
    except L2gpuError:
        secrets_out.unlink()  # secrets no registration names would be a trap to keep
        raise
    if as_json:
        emit({"account": str(account), "airdrop_id": airdrop_id, "chain_id": chain_id,
              "secrets": str(secrets_out), "registration": str(out)}, as_json)  # fmt: skip
        return
    typer.echo(f"secrets in {secrets_out} (keep them: they are your claim); "
               f"send {out} to the airdrop's operator")  # fmt: skip


@app.command("accept")
def accept(
    registration_file: Annotated[Path, typer.Argument(help="A user's registration file.")],
    folder: DirOption,
    name: NameOption = "early adopters",
    chain_id: ChainIdOption = 31337,
    as_json: AsJson = False,
) -> None:
    """Record a user's signed registration (the operator's side of 'register')."""
    from l2gpu.core.airdrop.registration import Register

    operator = _operator(folder, name, chain_id)
    data = _read_json(registration_file, "registration")
    try:
        if not isinstance(data, dict) or data.get("format") != REGISTRATION_FORMAT:
            raise ValueError("not a registration file")
        if int(str(data["airdrop_id"])) != operator.airdrop_id:
            raise L2gpuError("the registration is for another airdrop",
                             "register again with this airdrop's id")  # fmt: skip
        account = Address.from_hex(str(data["account"]))
        signature = bytes.fromhex(str(data["signature"]))
        registration = Register(account, int(str(data["commitment"])), signature)
    except (KeyError, ValueError, TypeError) as exc:
        raise L2gpuError(f"{registration_file} cannot be read: {exc}",
                         "give the file 'l2gpu airdrop register --out' wrote") from exc  # fmt: skip
    tier = operator.accept(registration)
    if as_json:
        emit({"account": str(registration.account), "tier": tier}, as_json)
        return
    typer.echo(f"registered {registration.account} in {tier}")


@app.command("publish")
def publish(
    ctx: typer.Context,
    folder: DirOption,
    treasury: Annotated[str, typer.Option(help="Where unclaimed rewards go.")],
    days: Annotated[int, typer.Option(help="How long claims are taken.")] = 30,
    zkey: Annotated[
        Path | None, typer.Option(help="The claim circuit's ceremony zkey (for funds).")
    ] = None,
    dev_keys: Annotated[
        bool, typer.Option("--dev-keys", help="Use development keys: NOT FOR FUNDS.")
    ] = False,
    name: NameOption = "early adopters",
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Deploy and fund the airdrop on L1; write published.json and claim-keys/ beside it."""
    from l2gpu.airdrop.claim_proof import compile_claim, export_claim_keys
    from l2gpu.cli.live import progress_bars, stage
    from l2gpu.l1 import open_chain
    from l2gpu.zk.setup import dev_setup, import_ceremony

    if (zkey is None) == (not dev_keys):
        raise L2gpuError(
            "say which keys claims are proven with",
            "--zkey FILE (a ceremony's, for funds) or --dev-keys (anyone holding this "
            "machine can forge claims: for tests only)",
        )
    settings = _need_rpc(use_l1_rpc(ctx, l1_rpc), "publish")
    sender = signing_account(ctx)
    chain = open_chain(settings, [sender])
    with progress_bars() as on_progress:
        with stage(on_progress, "compile the claim circuit"):
            circuit = compile_claim()
        with stage(on_progress, "import the ceremony's keys" if zkey else "development keys"):
            keys = import_ceremony(circuit, zkey) if zkey is not None else dev_setup(circuit)
    published = _operator(folder, name, chain.chain_id).publish(
        chain, sender, keys=keys, treasury=Address.from_hex(treasury),
        deadline=chain.timestamp() + days * 86400,
    )  # fmt: skip
    export_claim_keys(keys, circuit, folder / "claim-keys", zkey=zkey)
    if as_json:
        tiers = [{"tier": t.name, "members": len(t.leaves), "reward": Eth(t.reward)}
                 for t in published.tiers]  # fmt: skip
        emit({"airdrop": str(published.address), "published": str(folder / "published.json"),
              "claim_keys": str(folder / "claim-keys"), "tiers": tiers}, as_json)  # fmt: skip
        return
    for tier in published.tiers:
        typer.echo(f"{tier.name}: {len(tier.leaves)} members, {format_wei(tier.reward)} each")
    typer.echo(f"airdrop {published.address}; publish {folder / 'published.json'} and "
               f"{folder / 'claim-keys'} for claimers")  # fmt: skip


@app.command("claim")
def claim(
    published_file: PublishedOption,
    secrets: Annotated[Path, typer.Option("--secrets", help="Your secrets file.")],
    to: Annotated[str, typer.Option("--to", help="A fresh address to be paid at.")],
    relayer: Annotated[str, typer.Option("--relayer", help="The address that will send it.")],
    out: Annotated[Path, typer.Option("--out", help="Where the claim file goes.")],
    fee: Annotated[str, typer.Option(help="What the relayer keeps.")] = "0 wei",
    keys: Annotated[
        Path | None, typer.Option(help="The published claim-keys folder (default: beside it).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Prove your membership and write a claim file for a relayer to send."""
    from l2gpu.airdrop.claim_proof import compile_claim, load_claim_keys, prove_claim
    from l2gpu.airdrop.operator import PublishedAirdrop
    from l2gpu.cli.live import progress_bars, stage
    from l2gpu.core.airdrop.identity import Identity

    if out.exists():
        raise L2gpuError(f"{out} exists", "name a new file for the claim")
    published = PublishedAirdrop.read(published_file)
    identity = Identity.from_json(_read_text(secrets, "secrets"))
    tier = published.tier_of(identity.commitment())
    say = note if as_json else typer.echo  # with --json, stdout holds the result alone
    say(f"your claim hides among {len(tier.leaves)} members of {tier.name}")
    if len(tier.leaves) < 10:
        typer.echo("warning: fewer than 10 members: a small set gives little anonymity", err=True)
    with progress_bars() as on_progress:
        with stage(on_progress, "compile the claim circuit"):
            circuit = compile_claim()
        claim_keys = load_claim_keys(
            keys if keys is not None else published_file.parent / "claim-keys",
            circuit, published.verifying_key_sha256,
        )  # fmt: skip
        with stage(on_progress, "prove the claim"):
            proof = prove_claim(
                identity, tier.tree(), target=published.target(), recipient=Address.from_hex(to),
                relayer=Address.from_hex(relayer), fee=parse_amount(fee, "fee"), keys=claim_keys,
                circuit=circuit,
            )  # fmt: skip
    _write_new(out, json.dumps(proof.to_json()))
    if as_json:
        emit({"claim": str(out), "tier": tier.name, "members": len(tier.leaves),
              "reward": Eth(tier.reward), "fee": Eth(parse_amount(fee, "fee")), "to": to},
             as_json)  # fmt: skip
        return
    typer.echo(f"claim written to {out}: {format_wei(tier.reward)} less the fee to {to}")


@app.command("relay")
def relay(
    ctx: typer.Context,
    claim_file: Annotated[Path, typer.Argument(help="A claim file 'airdrop claim' wrote.")],
    published_file: PublishedOption,
    l1_rpc: L1RpcOption = None,
    as_json: AsJson = False,
) -> None:
    """Send a claim from your key (the relayer's) and keep its fee."""
    from l2gpu.airdrop.claim_proof import ClaimProof
    from l2gpu.airdrop.contract import AirdropClient
    from l2gpu.airdrop.operator import PublishedAirdrop
    from l2gpu.cli.live import waiting
    from l2gpu.cli.onchain import tx_hex
    from l2gpu.l1 import open_chain

    settings = _need_rpc(use_l1_rpc(ctx, l1_rpc), "relay")
    published = PublishedAirdrop.read(published_file)
    proof = ClaimProof.from_json(_read_json(claim_file, "claim"), published.target())
    sender = signing_account(ctx)
    if Address.from_hex(sender.address) != proof.relayer:
        raise L2gpuError(
            f"the claim was made for relayer {proof.relayer}, not {sender.address}",
            "relay it with that key, or ask the claimer for a claim naming yours",
        )
    chain = open_chain(settings, [sender])
    with waiting("sending the claim"):
        receipt = AirdropClient.at(chain, published.address).claim(sender, proof)
    if as_json:
        emit({"claimed": True, "tx": tx_hex(receipt.tx_hash), "gas": receipt.gas_used}, as_json)
        return
    typer.echo(f"claimed: {tx_hex(receipt.tx_hash)} ({receipt.gas_used} gas)")


@app.command("erase")
def erase(
    folder: DirOption,
    account: Annotated[str, typer.Option("--account", help="Whose data to erase.")],
    name: NameOption = "early adopters",
    chain_id: ChainIdOption = 31337,
    as_json: AsJson = False,
) -> None:
    """Erase everything the operator holds of an account (its data key is deleted)."""
    fields = _operator(folder, name, chain_id).erase(Address.from_hex(account))
    if as_json:
        emit({"erased": account, "fields": fields}, as_json)
        return
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


REGISTRATION_FORMAT = "l2gpu-airdrop-registration/1"


def _write_new(path: Path, text: str) -> None:
    """Write a new file readable by its owner only; never overwrite, never follow a link."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise L2gpuError(f"{path} exists", "keep it, or name a new file") from None
    except OSError as exc:
        raise L2gpuError(f"cannot write {path}: {exc.strerror}", "check the folder") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode()
    except OSError as exc:
        raise L2gpuError(f"cannot read the {what} file {path}: {exc.strerror}",
                         "check the path") from exc  # fmt: skip
    except UnicodeDecodeError:
        raise L2gpuError(
            f"the {what} file {path} is not text", "give the file as written"
        ) from None


def _read_json(path: Path, what: str) -> object:
    try:
        return json.loads(_read_text(path, what))
    except ValueError as exc:
        raise L2gpuError(f"the {what} file {path} is not JSON: {exc}",
                         "give the file as written") from exc  # fmt: skip


def _need_rpc(settings: Settings, what: str) -> Settings:
    if not settings.l1_rpc:
        raise L2gpuError(
            f"'l2gpu airdrop {what}' needs a chain that outlives the command",
            "give --l1-rpc URL (e.g. anvil's), or run 'l2gpu airdrop demo'",
        )
    return settings
