"""``l2gpu up --design zk``: the zk rollup's node, which proves every batch with a
Groth16 proof that L1 checks at once; and ``l2gpu zk exit``, leaving it without its
operator (the user's other commands: :mod:`l2gpu.cli.zk_cmd`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli.common import AsJson, LegacyNodeOption, NodeOption, l2_node_url, signing_account
from l2gpu.cli.live import waiting
from l2gpu.cli.output import Eth, emit
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, format_wei

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from eth_account.signers.local import LocalAccount

    from l2gpu.config import Settings
    from l2gpu.core.zk.pubdata import BatchShape
    from l2gpu.l1.contracts.zk_rollup import ZkRollupClient

ZK_ROLLUP = "ZkRollup"
"""The name the ZkRollup's deployment is recorded under in the data folder."""
DEFAULT_SHAPE = "1,2,1,1,1,1"
DEFAULT_DEPTH = 8
OPERATOR_STAKE = 10**9  # wei the operator deposits to open its fee account (1 gwei)
log = logging.getLogger("l2gpu.up")


def parse_shape(text: str) -> BatchShape:
    """``D,T,W[,O,C,R[,F]]``: deposit, transfer and withdrawal slots per batch, then
    the channel opens, closes and reclaims, then L1's forced exits (1 each when left
    out), each at least 1."""
    from l2gpu.core.zk.pubdata import BatchShape

    parts = text.replace(" ", "").split(",")
    if len(parts) not in (3, 6, 7) or not all(p.isdigit() for p in parts):
        raise L2gpuError(f"--zk-shape '{text}' is not three, six or seven numbers "
                         "D,T,W[,O,C,R[,F]]",
                         f"e.g. --zk-shape {DEFAULT_SHAPE} (deposits, transfers, withdrawals, "
                         "channel opens, closes and reclaims, forced exits per batch)")  # fmt: skip
    numbers = [int(p) for p in parts] + [1, 1, 1, 1][: 7 - len(parts)]
    if min(numbers) < 1:
        raise L2gpuError(
            f"--zk-shape '{text}' has an empty section",
            "every section needs at least one slot (circom has no empty arrays)",
        )
    limits = (64, 1024, 64, 64, 64, 64, 64)  # ZkRollup.vy's bounds on each section
    if any(n > limit for n, limit in zip(numbers, limits, strict=True)):
        raise L2gpuError(
            f"--zk-shape '{text}' is larger than ZkRollup accepts",
            "at most 64 deposits, 1024 transfers, 64 withdrawals, 64 of each channel "
            "operation and 64 forced exits per batch",
        )
    return BatchShape(*numbers)


def up_zk(
    settings: Settings,
    operator_key: LocalAccount | None,
    *,
    interval: float,
    shape_text: str,
    depth: int,
    force_delay: int,
    validium: bool = False,
    zkey: Path | None = None,
    shard: int | None = None,
    bridge: str | None = None,
    provers: int | None = None,
) -> None:
    """Run the zk rollup's node (see ``l2gpu up --help``); ``validium`` keeps the
    transfer and channel sections off L1, served by this node; ``zkey`` is a
    ceremony's key for the batch circuit (else development keys); ``shard``: run
    that shard of the bridge at ``bridge`` (``l2gpu up --design zk --shards N``);
    ``provers``: batches proven at once (default :func:`default_provers`)."""
    import uvicorn

    from l2gpu.cli.live import progress_bars, stage
    from l2gpu.db import open_database
    from l2gpu.l1 import open_chain
    from l2gpu.node.zk.api import create_zk_app
    from l2gpu.node.zk.recovery import open_node
    from l2gpu.node.zk.service import ZkSealer
    from l2gpu.serving.connections import require_free_port, uvicorn_options
    from l2gpu.zk.batch_circuit import batch_name, compile_batch
    from l2gpu.zk.prover import default_provers, usable_cores
    from l2gpu.zk.setup import DEV_SETUP_LABEL, dev_setup, import_ceremony

    shape = parse_shape(shape_text)
    if not 2 <= depth <= 24:
        raise L2gpuError(f"--zk-depth {depth} is outside 2..24",
                         "ZkRollup's indices are 3 bytes: the depth is 2 to 24")  # fmt: skip
    require_free_port(settings.api_host, settings.api_port, "l2gpu up", "--port or L2GPU_API_PORT")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if zkey is None:
        typer.echo(f"WARNING: {DEV_SETUP_LABEL}", err=True)
    name = batch_name(shape, depth, validium=validium)
    with progress_bars() as on_progress:  # a bar per stage on a terminal, log lines after
        started = time.monotonic()
        with stage(on_progress, f"compile circuit {name}"):
            circuit = compile_batch(shape, depth, validium=validium, cache_dir=settings.cache_dir)
        compiled = time.monotonic()
        with stage(on_progress, f"{'ceremony' if zkey else 'development'} keys of {name}"):
            keys = (import_ceremony(circuit, zkey) if zkey is not None
                    else dev_setup(circuit, cache_dir=settings.cache_dir))  # fmt: skip
    log.info("circuit %s (%s…) compiled in %.1f s, its %s keys ready in %.1f s (%s)",
             circuit.name, circuit.key[:16], compiled - started, keys.origin,
             time.monotonic() - compiled, keys.label)  # fmt: skip
    if settings.l1_rpc:
        assert operator_key is not None
        operator, chain = operator_key, open_chain(settings, [operator_key])
    else:  # the embedded chain: its first funded dev account operates
        chain = open_chain(settings)
        operator = chain.accounts[0]
    if shard is not None:
        from l2gpu.cli.zk_shards import attach_zk_shard

        rollup = attach_zk_shard(chain, settings, bridge, shard, validium)
        _check_attached(rollup, circuit, keys, shape, depth, f"shard {shard}")
    else:
        rollup = _zk_rollup(settings, chain, operator, circuit, keys, shape, depth,
                            force_delay, validium)  # fmt: skip
    fee_account = _fee_account(rollup, operator)
    if settings.l1_rpc:
        folder = settings.data_dir / "zk" / str(chain.chain_id)
    else:  # the embedded chain ends with this process, so its log must not outlive it
        folder = Path(tempfile.mkdtemp(prefix="l2gpu-zk-up-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{folder / (rollup.address.checksum + '.db')}"
    started = time.monotonic()
    provers = provers if provers is not None else default_provers(r1cs=circuit.r1cs)
    cores = usable_cores()
    if provers > cores:
        log.warning("--provers %d is more than this machine's %d cores: the proofs "
                    "share them, each slower, and each holds its memory",
                    provers, cores)  # fmt: skip
    node = open_node(rollup, open_database(database), operator, circuit, keys,
                     fee_account=fee_account, toolchain=None, provers=provers)  # fmt: skip
    status = node.status()
    log.info("replayed the log: %d batch(es) sealed, %d posted, %d pending (%.1f s)",
             status["batches_sealed"], status["batches_posted"], status["pending"],
             time.monotonic() - started)  # fmt: skip
    sealer = ZkSealer(node, interval)
    node.start(poll_seconds=max(interval, 1.0))
    sealer.start()
    described = f"{','.join(str(n) for n in shape.sections)} depth {depth}"
    kind = "zk rollup"
    if validium:
        kind = "zk validium (transfer and channel data off L1, served here)"
    typer.echo(f"{kind} {rollup.address} on {chain.description}, batches {described}, "
               f"fee account {fee_account}, proving {provers} batch(es) at once; API on "
               f"http://{settings.api_host}:{settings.api_port}", err=True)  # fmt: skip
    try:
        uvicorn.run(create_zk_app(node), host=settings.api_host, port=settings.api_port,
                    log_level="warning", **uvicorn_options())  # fmt: skip
    finally:
        sealer.stop.set()
        node.stop()  # after the proofs it is running: a later start proves the rest


def _zk_rollup(
    settings: Settings, chain: Any, operator: LocalAccount, circuit: Any, keys: Any,
    shape: BatchShape, depth: int, force_delay: int, validium: bool,
) -> ZkRollupClient:  # fmt: skip
    """The ZkRollup recorded for this chain, checked to be this circuit's; else a new
    one (recorded when the chain outlives this process)."""
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient
    from l2gpu.node.zk.service import deploy_zk_rollup
    from l2gpu.payments import deployments

    if settings.l1_rpc:
        try:
            address, _ = deployments.lookup(settings.data_dir, chain.chain_id, ZK_ROLLUP)
        except L2gpuError:
            address = None  # nothing recorded for this chain: deploy below
        if address is not None and chain.w3.eth.get_code(address.checksum):
            compiled = compile_contract(CONTRACT_SOURCE, cache_dir=settings.cache_dir)
            rollup = ZkRollupClient(chain, chain.attach(compiled, address))
            if rollup.validium() != validium:
                kinds = ("zk", "validium")
                raise L2gpuError(
                    f"the ZkRollup recorded for chain {chain.chain_id} ({address}) is a "
                    f"{kinds[rollup.validium()]}, not a {kinds[validium]}",
                    f"pass --design {kinds[rollup.validium()]}, or use another --data-dir "
                    "to deploy anew",
                )
            where = f"the ZkRollup recorded for chain {chain.chain_id} ({address})"
            _check_attached(rollup, circuit, keys, shape, depth, where)
            log.info("attached to ZkRollup %s recorded for chain %d", address, chain.chain_id)
            return rollup
    rollup = deploy_zk_rollup(chain, operator, circuit, keys, shape=shape, depth=depth,
                              force_delay=force_delay, validium=validium)  # fmt: skip
    log.info("deployed the verifier and ZkRollup %s", rollup.address)
    if settings.l1_rpc:
        deployments.record(settings.data_dir, chain.chain_id, ZK_ROLLUP, rollup.address,
                           chain.block_number())  # fmt: skip
    return rollup


def _check_attached(rollup: ZkRollupClient, circuit: Any, keys: Any, shape: BatchShape,
                    depth: int, where: str) -> None:  # fmt: skip
    """Refuse a ZkRollup deployed for another batch shape, depth or circuit."""
    from l2gpu.node.zk.startup import check_verifier

    if (rollup.shape(), rollup.depth()) != (shape, depth):
        theirs = ",".join(str(n) for n in rollup.shape().sections)
        ours = ",".join(str(n) for n in shape.sections)
        raise L2gpuError(
            f"{where} proves batches of shape {theirs} at depth {rollup.depth()}, not "
            f"{ours} at depth {depth}",
            f"pass --zk-shape {theirs} --zk-depth {rollup.depth()}, or use another "
            "--data-dir to deploy anew",
        )
    check_verifier(rollup, circuit, keys)  # the node checks CIRCUIT_HASH when it opens


def _fee_account(rollup: ZkRollupClient, operator: LocalAccount) -> int:
    """The operator's own account, where batches credit their fees: opened with a
    deposit of :data:`OPERATOR_STAKE` the first time (every batch needs it)."""
    from l2gpu.node.zk.l2key import zk_private_key, zk_public_key

    index = rollup.account_index(operator.address)
    if index == 0:
        key = zk_private_key(operator, rollup.chain.chain_id, rollup.address)
        rollup.deposit(operator, zk_public_key(key), OPERATOR_STAKE)
        index = rollup.account_index(operator.address)
        log.info("opened the fee account %d with a deposit of %s", index,
                 format_wei(OPERATOR_STAKE))  # fmt: skip
    return index


# -- leaving without the operator ------------------------------------------------------


def trusted_rollup(settings: Settings, chain_id: int, named: str | None
                    ) -> tuple[Address, str] | None:  # fmt: skip
    """The ZkRollup the user trusts, never the node's word: ``--rollup`` if given, else
    the one recorded for ``chain_id`` in the data folder; with where it came from. None
    when neither is there."""
    from l2gpu.payments import deployments

    if named is not None:
        return Address.from_hex(named), "--rollup"
    try:
        address, _ = deployments.lookup(settings.data_dir, chain_id, ZK_ROLLUP)
    except L2gpuError:
        return None
    return address, "the deployment recorded in the data folder"


def register_exit(app: typer.Typer) -> None:
    """Add ``exit`` to ``l2gpu zk``."""
    app.command("exit")(exit_rollup)


def exit_rollup(
    ctx: typer.Context,
    rollup_address: Annotated[
        str | None,
        typer.Option(
            "--rollup",
            help="The ZkRollup's address; default: the one recorded for this chain in the "
            "data folder (never the node's word).",
        ),
    ] = None,
    node: NodeOption = None,
    api: LegacyNodeOption = None,
    as_json: AsJson = False,
) -> None:
    """After a freeze, leave without the operator: rebuild the last proven state from
    L1's batches (a validium's transfer and channel data from --node), refund your
    deposits no batch took, exit your account and the channels you rent, and pull it
    all to your L1 address."""
    from l2gpu.l1 import compile_contract, open_chain
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient
    from l2gpu.node.zk.client import ZkNodeClient
    from l2gpu.node.zk.escape import escape

    settings: Settings = ctx.obj
    if not settings.l1_rpc:
        raise L2gpuError("'l2gpu zk exit' works on L1, and needs its address",
                         "pass --l1-rpc URL of the chain the rollup lives on")  # fmt: skip
    account = signing_account(ctx)
    chain = open_chain(settings, [account])
    url = l2_node_url(settings, node, api)
    client = ZkNodeClient(url)
    # never from the node: it is the operator being left, and could name a decoy
    trusted = trusted_rollup(settings, chain.chain_id, rollup_address)
    if trusted is None:
        raise L2gpuError(
            f"no ZkRollup is recorded for chain {chain.chain_id} in this data folder",
            "pass --rollup ADDRESS, the contract you deposited into (from your "
            "deposit's L1 transaction, or a source you trust: not the node)",
        )
    address, _ = trusted
    compiled = compile_contract(CONTRACT_SOURCE, cache_dir=settings.cache_dir)
    rollup = ZkRollupClient(chain, chain.attach(compiled, address))
    try:
        with waiting("rebuilding the last proven state from L1 and exiting"):
            report = escape(rollup, account, client.batch_data)
    finally:  # what was credited before a failure is the user's: pull it anyway
        claimed = rollup.credit(account.address)
        if claimed:
            rollup.withdraw_credit(account)
    emit({"rollup": address.checksum, "refunded": Eth(report.refunded),
          "account": Eth(report.account), "channels": Eth(report.channels),
          "claimed": Eth(claimed), "l1_transactions": report.transactions}, as_json,
         title="left the zk rollup")  # fmt: skip
