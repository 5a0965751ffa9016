"""A renter's shell (``l2gpu ssh``) in a container backend's job: ``<engine> exec``.

The shell runs inside the lease's running container, by the engine's own ``exec``: in
the job's folder (``/job``), with the container's variables and secrets (the engine
gives an exec the container's environment), its user, network, limits and root file
system; nothing of the host but what the container already sees. On the host, the
agent runs only the engine's client, as its child:

- under a terminal of the agent's own when the renter asked for one (``exec -t``):
  its size is set from the renter's before the client starts, and the terminal is the
  client's controlling one, so the client reads the size there and forwards every
  change (SIGWINCH) to the shell's terminal in the container;
- over pipes otherwise, the output and the errors apart (``exec -i`` without ``-t``);
- with the engine's own variables only (where the engine is and how to reach its
  daemon): never the agent's, such as ``L2GPU_PRIVATE_KEY``. The shell's variables
  (``TERM``) go with ``-e``, on the client's command line: only those the agent chose,
  never the job's secrets, which the container holds already.

:meth:`~l2gpu.agent.backends.local_shell.ShellProcess.kill` ends the client. Every
process the shell started lives in the container and dies with it when the lease
ends; an engine that keeps an exec's processes once its client is gone (Docker does)
leaves them running until then, inside the job's limits, as the job's own would.
"""

from __future__ import annotations

from pathlib import Path

from l2gpu.agent.backends.base import JobStartError
from l2gpu.agent.backends.local_shell import ShellProcess, spawn_shell

JOB_DIR = "/job"
"""The job's folder inside its container (``run --workdir``), where shells start."""


def exec_args(
    engine: str, container: str, argv: list[str], env: dict[str, str], tty: bool
) -> list[str]:
    """The ``<engine> exec`` command line of a shell running ``argv`` in ``container``."""
    args = [engine, "exec", "--interactive", *(["--tty"] if tty else [])]
    args += ["--workdir", JOB_DIR]
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]  # always with "=": a bare name copies ours
    return [*args, container, *argv]


def open_exec_shell(
    engine: str,
    container: str,
    state: str | None,
    argv: list[str],
    env: dict[str, str],
    tty: tuple[int, int] | None,
    *,
    engine_env: dict[str, str],
    cwd: Path,
) -> ShellProcess:
    """Start ``argv`` in ``container`` (whose state the engine reported as ``state``,
    None: there is none) with ``env`` added to the container's, under a terminal of
    ``tty`` = (rows, columns) or over pipes when None; the client runs in ``cwd`` with
    ``engine_env`` only.

    Raises JobStartError when the container is not running (gone, exited or paused).
    """
    if state is None:
        raise JobStartError(f"the lease's container {container} is gone", "rent again to run more")
    if state != "running":
        raise JobStartError(
            f"the lease's container {container} is {state}, not running",
            "wait until the lease runs again, or rent again",
        )
    for name, value in env.items():
        if not name or "=" in name or "\n" in name + value or "\r" in name + value:
            raise JobStartError(
                f"the shell's variable {name!r} cannot pass to {engine} exec",
                "drop it",
            )
    command = exec_args(engine, container, argv, env, tty is not None)
    return spawn_shell(command, cwd=cwd, env=engine_env, tty=tty, controlling=True)
