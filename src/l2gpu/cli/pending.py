"""Commands whose issues have not landed yet.

Each says so in one line and exits 2, whatever arguments follow it. None prints
a made-up result.
"""

from __future__ import annotations

import typer

# command -> (what it will do, the issue that delivers it)
PENDING: dict[str, tuple[str, str]] = {
    "up": ("run the operator: market API and L2 sequencer", "#4 (optimistic rollup)"),
    "l2": ("deposit, transfer, withdraw and inspect the rollup", "#4 (optimistic rollup)"),
    "adoption": ("fit adoption curves (Bass, logistic, Gompertz)", "#7 (analytics)"),
    "forecast": ("forecast demand with backtests", "#7 (analytics)"),
    "allocate": ("simulate allocation policies on cluster traces", "#7 (analytics)"),
}


def not_available_message(name: str) -> str:
    """The one line a pending command prints."""
    purpose, issue = PENDING[name]
    return f"l2gpu {name}: not available yet; it will {purpose} once issue {issue} lands."


def register(app: typer.Typer) -> None:
    """Add every pending command to ``app``."""
    for name, (purpose, issue) in PENDING.items():

        def _not_yet(ctx: typer.Context, _name: str = name) -> None:
            typer.echo(not_available_message(_name), err=True)
            raise typer.Exit(2)

        app.command(
            name,
            help=f"Not available yet: will {purpose} (issue {issue}).",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_not_yet)
