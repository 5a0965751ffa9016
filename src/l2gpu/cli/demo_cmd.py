"""``l2gpu demo``: parses its options and runs :func:`l2gpu.scenarios.demo.run_demo`.

The scenario narrates on the console (silenced by ``--quiet``); the summary lines it
returns go to stdout last, then what later stages will add.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # loaded where used: `l2gpu --help` imports every command module
    from l2gpu.config import Settings


def demo(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only the summary.")] = False,
) -> None:
    """Run the main flow on the embedded defaults: per-second payments over a channel."""
    from rich.console import Console

    from l2gpu.scenarios.demo import print_next_stages, run_demo

    settings: Settings = ctx.obj
    out = Console(highlight=False, quiet=quiet, soft_wrap=True)
    for line in run_demo(settings, out):
        typer.echo(line)
    print_next_stages(out)
