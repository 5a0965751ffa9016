"""``l2gpu credit``: leverage for compute. ``stress`` replays real GPU price paths and
shocks through the lending pool's specification and chooses its parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from l2gpu.cli.common import AsJson, print_json

app = typer.Typer(help="Leverage for compute: the lending pool and its stress test.")


@app.command("stress")
def stress(
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw bad debt against shock size here.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Replay every real GPU price path (../shared/data) and instant shocks through the
    pool with liquidation bots; print bad debt, liquidations, lender returns and the
    parameters chosen (the highest LTV that leaves no bad debt)."""
    from l2gpu.analytics import credit_stress

    paths = credit_stress.real_price_paths()
    result = credit_stress.report(credit_stress.stress(paths), paths)
    if plot is not None:
        from l2gpu.analytics.plots import plot_credit_stress

        grid = result["grid"]
        assert isinstance(grid, list)
        result["plot"] = str(plot_credit_stress(grid, plot))
    print_json(result, compact=as_json)
