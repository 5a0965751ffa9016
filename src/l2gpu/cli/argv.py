"""The command line as people type it: the key flags anywhere on the line.

``--account``, ``--private-key`` and ``--keystore`` belong to the root command (they
choose whose key signs, for every command alike), so Click accepts them only before
the subcommand: ``l2gpu l2 balance --account alice`` used to fail with "No such
option". :func:`hoist_key_flags` moves them in front of the subcommand, unless the
command that runs has an option of that name itself (``airdrop erase --account``
names whose data to erase, not whose key signs).
"""

from __future__ import annotations

from typing import Any

KEY_FLAGS = ("--account", "--private-key", "--keystore")


def hoist_key_flags(argv: list[str], root: Any) -> list[str]:
    """``argv`` with the key flags that follow the subcommand moved to its front."""
    command, first_sub = _resolve(argv, root)
    if first_sub is None:
        return argv
    own = {name for p in command.params for name in getattr(p, "opts", ())}
    moved: list[str] = []
    kept: list[str] = argv[:first_sub]
    i = first_sub
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            kept += argv[i:]
            break
        flag = arg.split("=", 1)[0]
        if flag in KEY_FLAGS and flag not in own:
            if "=" in arg:
                moved.append(arg)
            elif i + 1 < len(argv):
                moved += argv[i : i + 2]
                i += 1
            else:
                kept.append(arg)  # no value: let Click say so
        else:
            kept.append(arg)
        i += 1
    if not moved:
        return argv
    return [*kept[:first_sub], *moved, *kept[first_sub:]]


def _resolve(argv: list[str], root: Any) -> tuple[Any, int | None]:
    """The command ``argv`` runs and the index of its first subcommand name (None when
    it names none). Options before a subcommand are skipped with their values."""
    command, first_sub, i = root, None, 0
    while i < len(argv) and hasattr(command, "commands"):  # a group (Click's or Typer's)
        arg = argv[i]
        if arg.startswith("-"):
            i += 1 if "=" in arg or _is_flag(command, arg) else 2
            continue
        found = command.commands.get(arg)
        if found is None:
            break
        command = found
        first_sub = i if first_sub is None else first_sub
        i += 1
    return command, first_sub


def _is_flag(command: Any, arg: str) -> bool:
    """True when ``arg`` is an option of ``command`` that takes no value."""
    for param in command.params:
        if arg in getattr(param, "opts", ()):
            return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))
    return True  # unknown: treat as a flag, Click will name it
