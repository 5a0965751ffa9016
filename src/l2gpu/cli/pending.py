"""Commands whose issues have not landed yet.

Each says so in one line and exits 2, whatever arguments follow it. None prints
a made-up result.
"""

from __future__ import annotations

import typer

# command -> (what it will do, the issue that delivers it)
PENDING: dict[str, tuple[str, str]] = {}


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
