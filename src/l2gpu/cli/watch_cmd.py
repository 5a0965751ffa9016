"""``l2gpu watch channels``, ``l2gpu watch rollup`` and ``l2gpu watch plasma``: the watchers,
as daemons.

``watch channels`` answers a stale close of a payment channel on L1 with the best
voucher in a voucher store (a provider's, run by anyone while the provider is away).
``watch rollup`` rebuilds the L2 from L1 alone, re-executes every batch, challenges
a wrong root within its window, proves the faulty step, and defends the batches its
own key proposed. Both print one line per action and one per round.

The older spellings ``l2gpu watch --store URL`` and ``l2gpu watch --rollup ADDRESS``
still work: the group's own hidden options run the matching subcommand.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Annotated

import typer

from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.config import Settings

app = typer.Typer(
    help="Watch payment channels or the rollup, and answer cheating on L1.",
    invoke_without_command=True,
    add_completion=False,
)

StoreOption = Annotated[str, typer.Option("--store", help="Database URL holding the vouchers.")]
IntervalOption = Annotated[float, typer.Option("--interval", help="Seconds between rounds.")]
OnceOption = Annotated[bool, typer.Option("--once", help="Run one round and exit.")]
ManagerOption = Annotated[
    str | None, typer.Option("--manager", help="ChannelManager address (default: recorded).")
]
NOTHING_FIX = (
    "run 'l2gpu watch channels --store DATABASE_URL' (channels) or "
    "'l2gpu watch rollup ADDRESS' (the rollup)"
)


@app.callback()
def watch(
    ctx: typer.Context,
    store: Annotated[str | None, typer.Option("--store", hidden=True)] = None,
    rollup: Annotated[str | None, typer.Option("--rollup", hidden=True)] = None,
    interval: Annotated[float, typer.Option("--interval", hidden=True)] = 5.0,
    once: Annotated[bool, typer.Option("--once", hidden=True)] = False,
    manager: Annotated[str | None, typer.Option("--manager", hidden=True)] = None,
) -> None:
    """Watch channels (answer stale closes) or the rollup (challenge wrong roots)."""
    if ctx.invoked_subcommand is not None:
        return
    # The older spellings, without a subcommand: 'watch --store' and 'watch --rollup'.
    if rollup is not None:
        watch_rollup(ctx, rollup, interval=interval, once=once)
    elif store is not None:
        watch_channels(ctx, store, interval=interval, once=once, manager=manager)
    else:
        raise L2gpuError("nothing to watch", NOTHING_FIX)


@app.command("channels")
def watch_channels(
    ctx: typer.Context,
    store: StoreOption,
    interval: IntervalOption = 5.0,
    once: OnceOption = False,
    manager: ManagerOption = None,
) -> None:
    """Answer stale closes of payment channels on L1 with the best vouchers in --store."""
    from l2gpu.cli.session import Session
    from l2gpu.db import open_database
    from l2gpu.payments.store import VoucherStore
    from l2gpu.payments.watcher import ChannelWatcher

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    session = Session(ctx, manager)
    watcher = ChannelWatcher(
        session.manager,
        VoucherStore(open_database(store)),
        session.account,
        from_block=session.from_block,
    )
    while True:
        answered = watcher.run_once()
        typer.echo(f"round done: {len(answered)} answer(s)")
        if once:
            return
        time.sleep(interval)  # a real daemon's pause between polls, not a test wait


@app.command("rollup")
def watch_rollup(
    ctx: typer.Context,
    rollup: Annotated[str, typer.Argument(help="Address of the Rollup contract on L1.")],
    interval: IntervalOption = 5.0,
    once: OnceOption = False,
) -> None:
    """Re-execute every batch of the Rollup at ROLLUP from L1 alone; challenge a wrong
    state root and prove the faulty step; defend the batches this key proposed."""
    from l2gpu.cli.session import Session
    from l2gpu.fraud.watcher import Watcher
    from l2gpu.l1 import compile_contract
    from l2gpu.l1.contracts.dispute_game import DisputeClient
    from l2gpu.l1.contracts.rollup import RollupClient

    settings: Settings = ctx.obj
    session = Session(ctx, None, need_manager=False)
    chain = session.chain
    try:
        address = Address.from_hex(rollup)
    except ValueError as exc:
        raise L2gpuError(
            f"{rollup!r} is not an address of a Rollup", "pass 0x and 40 hex digits"
        ) from exc
    if not chain.w3.eth.get_code(address.checksum):  # type: ignore[arg-type]
        raise L2gpuError(
            f"no contract at {rollup} on this L1",
            "pass the address 'l2gpu l2 status' shows as rollup",
        )
    compiled = compile_contract("rollup/Rollup.vy", cache_dir=settings.cache_dir)
    client = RollupClient(chain, chain.attach(compiled, address))
    watcher = Watcher(client, DisputeClient(chain, client.game), session.account)
    while True:
        for line in watcher.poll():
            typer.echo(line)
        typer.echo(
            f"round done: {len(watcher.accepted)} batch(es) verified, "
            f"{watcher.replayed_txs} transaction(s) re-executed"
        )
        if once:
            return
        time.sleep(interval)  # a real daemon's pause between polls, not a test wait


@app.command("plasma")
def watch_plasma(
    ctx: typer.Context,
    node: Annotated[str, typer.Option("--node", help="URL of the Plasma operator's API.")],
    grace: Annotated[
        int, typer.Option("--grace", help="Exit once a block is withheld this long (s).")
    ] = 600,
    interval: IntervalOption = 5.0,
    once: OnceOption = False,
) -> None:
    """Watch the Plasma child chain at NODE for this key's coins: challenge every exit
    that can be proven invalid, answer challenges of this key's exits, exit every coin
    once a block has been withheld for GRACE seconds, and finalize the exits when due."""
    from l2gpu.cli.session import Session
    from l2gpu.clock import l1_clock
    from l2gpu.l1.contracts.plasma import PlasmaClient
    from l2gpu.node.plasma.block_store import BlockStore
    from l2gpu.node.plasma.client import PlasmaNodeClient
    from l2gpu.node.plasma.watcher import PlasmaWatcher

    settings: Settings = ctx.obj
    session = Session(ctx, None, need_manager=False)
    source = PlasmaNodeClient(node)
    status = source.status()
    if int(status["chain_id"]) != session.chain.chain_id:
        raise L2gpuError(
            f"the operator at {node} runs on chain {status['chain_id']}, this "
            f"L1 is chain {session.chain.chain_id}",
            "pass the --l1-rpc of the operator's chain",
        )
    client = PlasmaClient.at(
        session.chain, Address.from_hex(status["plasma"]), cache_dir=settings.cache_dir
    )
    # Our own copy of every block checked: after a restart, the history is still here.
    folder = settings.data_dir / "plasma" / str(session.chain.chain_id)
    store = BlockStore(folder / f"{client.address.checksum}-blocks.db")
    watcher = PlasmaWatcher(
        client,
        source,
        session.account,
        [session.account],
        clock=l1_clock(session.chain),
        grace_s=grace,
        store=store,
    )
    while True:
        for line in watcher.poll():
            typer.echo(line)
        typer.echo(
            f"round done: {len(watcher.blocks)} block(s) checked against L1, "
            f"{len(watcher.missing_since)} withheld"
        )
        if once:
            return
        time.sleep(interval)  # a real daemon's pause between polls, not a test wait
