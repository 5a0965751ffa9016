"""``l2gpu up``: the rollup node (optimistic by default; ``--design`` runs the zk,
validium or Plasma node, ``--shards`` several rollups behind one bridge)."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from l2gpu.cli.common import find_signing_account, signing_account
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address, ChainId, parse_duration

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.config import Settings
    from l2gpu.l1.contracts.rollup import RollupClient

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
            "then channel opens, closes and reclaims, then forced exits (D,T,W[,O,C,R[,F]]).",
        ),
    ] = "1,2,1,1,1,1",
    zk_depth: Annotated[
        int, typer.Option("--zk-depth", help="zk: account tree depth (2^depth - 1 accounts).")
    ] = 8,
    zkey: Annotated[
        Path | None,
        typer.Option(
            "--zkey",
            help="zk, validium: the final .zkey of a snarkjs Groth16 ceremony on this "
            "batch circuit's .r1cs (for funds); without it, development keys that this "
            "machine could forge proofs with.",
        ),
    ] = None,
    provers: Annotated[
        int | None,
        typer.Option(
            "--provers",
            min=1,
            max=64,
            help="zk, validium: prove this many sealed batches at once, a core and a "
            "witness each, posted in order (default: one per core, at most 4, within half "
            "the available memory; with --shards, the cores shared among the shards).",
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards",
            min=1,
            max=64,
            help="Run N rollup shards (optimistic, zk or validium: --design) sharing one "
            "bridge, one process each "
            "(APIs on the API port + 0..N-1; anvil as the L1 when no --l1-rpc is set).",
        ),
    ] = None,
    shard: Annotated[
        int | None,
        typer.Option("--shard", help="Run shard I alone (its own key; --l1-rpc and --bridge)."),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (default: api_host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=1, max=65_535, help="API port (default: api_port, L2GPU_API_PORT; 8600)."
        ),
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
    if host is not None or port is not None:  # the flags win over the settings
        settings = settings.model_copy(
            update={"api_host": host or settings.api_host, "api_port": port or settings.api_port}
        )
    if design not in ("optimistic", "zk", "validium", "plasma"):
        raise L2gpuError(
            f"--design {design!r} is not a design this node runs",
            "pass --design optimistic (the default), zk, validium or plasma",
        )
    if zkey is not None and design not in ("zk", "validium"):
        raise L2gpuError(f"--zkey is for the zk and validium designs, not {design}",
                         "pass --design zk or --design validium with it")  # fmt: skip
    if provers is not None and design not in ("zk", "validium"):
        raise L2gpuError(f"--provers is for the zk and validium designs, not {design}",
                         "pass --design zk or --design validium with it")  # fmt: skip
    if (shards is not None or shard is not None) and design == "plasma":
        raise L2gpuError(
            "--design plasma runs no shards",
            "run shards with --design optimistic (the default), zk or validium",
        )
    if shards is not None and shard is None:
        from l2gpu.cli.shards_cmd import launch_shards, shard_options
        from l2gpu.cli.zk_node import parse_shape
        from l2gpu.cli.zk_shards import ZkShardPlan

        operator = find_signing_account(ctx) if settings.l1_rpc else None
        options = shard_options(interval=interval, batch_size=batch_size,
                                cosign_timeout=cosign_timeout)  # fmt: skip
        zk = None
        if design in ("zk", "validium"):
            zk = ZkShardPlan(zk_shape, parse_shape(zk_shape), zk_depth, design == "validium", zkey,
                             provers)  # fmt: skip
        launch_shards(settings, operator, shards, window=parse_duration(challenge_window),
                      delay=parse_duration(force_delay), passthrough=options, zk=zk)  # fmt: skip
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
        from l2gpu.cli.zk_node import up_zk

        operator = signing_account(ctx) if settings.l1_rpc else None
        up_zk(settings, operator, interval=interval, shape_text=zk_shape, depth=zk_depth,
              force_delay=parse_duration(force_delay),
              validium=design == "validium", zkey=zkey, shard=shard, bridge=bridge,
              provers=provers)  # fmt: skip
        return
    require_free_port(settings.api_host, settings.api_port, "l2gpu up", "--port or L2GPU_API_PORT")
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
