"""``l2gpu ssh LEASE [-- COMMAND...]``: a shell inside a running lease's sandbox, relayed
by the market from the provider's agent (which opens no port for it). See
docs/workloads.md, "A shell in the lease", and :mod:`l2gpu.renter.shell`."""

from __future__ import annotations

from typing import Annotated

import typer

from l2gpu.cli.common import ApiUrlOption, now


def ssh(
    ctx: typer.Context,
    lease_id: Annotated[int, typer.Argument(help="The lease ('l2gpu jobs list').")],
    command: Annotated[
        list[str] | None,
        typer.Argument(help="A command to run instead of a shell; put it after '--'."),
    ] = None,
    api_url: ApiUrlOption = None,
) -> None:
    """Open a shell inside a running lease's sandbox: the job's folder, user, limits and
    variables; or run one COMMAND there and exit with its exit code, as ssh does. Only
    the lease's renter may; the shell ends with the lease."""
    from l2gpu.cli.market_cmd import _client
    from l2gpu.renter.shell import run_shell

    if lease_id < 0:
        raise typer.BadParameter("a lease id is 0 or more", param_hint="LEASE")
    words = list(command or [])
    if words[:1] == ["--"]:  # with options kept before LEASE, click passes '--' on
        words = words[1:]
    code = run_shell(_client(ctx, api_url), lease_id, words, issued_at=now())
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``ssh`` to the root app."""
    app.command("ssh", context_settings={"allow_interspersed_args": False})(ssh)
