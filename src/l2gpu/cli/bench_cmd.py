"""``l2gpu bench <suite> [--json]``: run a benchmark suite and print its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from l2gpu.cli.common import AsJson, print_json
from l2gpu.core.errors import L2gpuError


def _crypto() -> dict[str, Any]:
    from l2gpu.bench import crypto

    return crypto.run()


def _channels() -> dict[str, Any]:
    from l2gpu.bench import channels

    return channels.run()


def _rollup() -> dict[str, Any]:
    from l2gpu.bench import rollup

    return rollup.run()


def _analytics() -> dict[str, Any]:
    from l2gpu.bench import analytics

    return analytics.run()


def _market() -> dict[str, Any]:
    from l2gpu.bench import market

    return market.run()


def _fraud() -> dict[str, Any]:
    from l2gpu.bench import fraud

    return fraud.run()


def _node() -> dict[str, Any]:
    from l2gpu.bench import node

    return node.run()


def _lease() -> dict[str, Any]:
    from l2gpu.bench import lease

    return lease.run()


def _l1cost() -> dict[str, Any]:
    from l2gpu.bench import l1_cost

    return l1_cost.run()


def _designs() -> dict[str, Any]:
    from l2gpu.bench import designs

    return designs.run()


def _zk() -> dict[str, Any]:
    from l2gpu.bench import zk

    return zk.run()


def _plasma() -> dict[str, Any]:
    from l2gpu.bench import plasma

    return plasma.run()


def _leverage() -> dict[str, Any]:
    from l2gpu.bench import leverage

    return leverage.run()


def _airdrop() -> dict[str, Any]:
    from l2gpu.bench import airdrop

    return airdrop.run()


def _console() -> dict[str, Any]:
    from l2gpu.bench import console

    return console.run()


def _shards() -> dict[str, Any]:
    from l2gpu.bench import shards

    return shards.run()


SUITES: dict[str, Callable[[], dict[str, Any]]] = {
    "crypto": _crypto,
    "channels": _channels,
    "rollup": _rollup,
    "analytics": _analytics,
    "market": _market,
    "fraud": _fraud,
    "node": _node,
    "lease": _lease,
    "l1cost": _l1cost,
    "designs": _designs,
    "zk": _zk,
    "plasma": _plasma,
    "shards": _shards,
    "airdrop": _airdrop,
    "leverage": _leverage,
    "console": _console,
}
# Suites that arrive with later issues: named here so that asking for one says when.
PENDING_SUITES: dict[str, str] = {}


def _in_own_process(name: str) -> dict[str, Any]:
    """Run one suite in a fresh process: suites pin themselves to one core, and that
    must not carry over to the suites measured on two cores."""
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "l2gpu.cli.main", "bench", name, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise L2gpuError(f"benchmark suite '{name}' failed: {done.stderr.strip()[-500:]}")
    return dict(json.loads(done.stdout))


def bench(
    suite: Annotated[
        str,
        typer.Argument(
            help="crypto, channels, rollup, node, lease, l1cost, market, analytics, fraud, shards, "
            "designs, zk, plasma, airdrop, leverage, console, or all."
        ),
    ],
    as_json: AsJson = False,
    write_gas_snapshot: Annotated[
        bool,
        typer.Option(
            "--write-gas-snapshot", help="channels: rewrite contracts/channels/*.gas first."
        ),
    ] = False,
) -> None:
    """Run a benchmark suite (medians over several rounds) and print its figures."""
    if write_gas_snapshot:
        from l2gpu.payments.gas import write_snapshot

        typer.echo(f"wrote {write_snapshot()}", err=True)
    if suite == "all":
        result: dict[str, Any] = {name: _in_own_process(name) for name in SUITES}
    elif suite in SUITES:
        result = SUITES[suite]()
    elif suite in PENDING_SUITES:
        raise L2gpuError(
            f"benchmark suite '{suite}' is not available yet",
            f"it lands with issue {PENDING_SUITES[suite]}; available: {', '.join(SUITES)}, all",
        )
    else:
        raise L2gpuError(
            f"unknown benchmark suite '{suite}'", f"choose one of: {', '.join(SUITES)}, all"
        )
    if as_json:
        print_json(result, compact=True)  # one line: 'bench all' reads it back
    else:
        for key, value in result.items():
            typer.echo(f"{key:32} {value}")
