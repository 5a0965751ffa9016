"""One result, two readers: :func:`emit` prints what a command did for people (ETH
with units, local times, durations, tables with headers) or, with ``--json``, as
exactly one JSON object on stdout for scripts.

A command builds its result once, as a dict, and marks the values whose meaning a
plain int would lose:

- :class:`Eth` an amount in wei: ``"1000000000000000000"`` in JSON (a decimal
  string, as the rollup node answers), ``1 ETH`` for people;
- :class:`At` a unix time: the seconds in JSON, with the same key suffixed ``_iso``
  holding ISO 8601 (UTC); the local time for people;
- :class:`Secs` a duration in seconds: the seconds in JSON, ``6 d 23 h`` for people.

A list of dicts prints as a table with a header row. Notes and progress go to
stderr (:func:`note`), never to stdout, so that ``--json`` output stays one object.
The commands that print no result (servers, streams) are listed in
:mod:`l2gpu.cli.json_exempt`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import typer


class Eth(int):
    """An amount in wei: a decimal string in JSON, ETH with its unit for people."""

    __slots__ = ()


class At(int):
    """A unix time in seconds: seconds plus ``<key>_iso`` in JSON, local time for people."""

    __slots__ = ()


class Secs(int):
    """A duration in seconds: seconds in JSON, ``12 min 5 s`` for people."""

    __slots__ = ()


def emit(data: Mapping[str, Any], as_json: bool, *, title: str | None = None) -> None:
    """Print ``data``: one JSON object with ``as_json``, else ``title`` and one aligned
    ``name  value`` line per key (lists of rows as tables)."""
    if as_json:
        from l2gpu.cli.common import print_json

        print_json(to_json(data))
    else:
        typer.echo(human_text(data, title))


def note(text: str) -> None:
    """A line for people on stderr (progress, hints): never mixed into the result."""
    typer.echo(text, err=True)


def to_json(value: Any) -> Any:
    """``value`` as JSON-ready data: :class:`Eth` as a decimal string, :class:`At` as
    seconds with an ISO 8601 sibling key, containers walked, the rest unchanged."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[str(key)] = to_json(item)
            if isinstance(item, At):
                out[f"{key}_iso"] = iso_time(item)
        return out
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, Eth):
        return str(int(value))
    if isinstance(value, At | Secs):
        return int(value)
    return value


def iso_time(seconds: int) -> str:
    """A unix time as ISO 8601 in UTC: ``2026-12-06T04:20:24Z``."""
    import datetime

    moment = datetime.datetime.fromtimestamp(int(seconds), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def human_value(value: Any) -> str:
    """One value for people: ETH with units, local times, durations, lists joined."""
    if isinstance(value, Eth):
        from l2gpu.core.types import format_wei

        return format_wei(int(value))
    if isinstance(value, At):
        from l2gpu.clock import format_timestamp

        return format_timestamp(int(value)) if value else "-"
    if isinstance(value, Secs):
        from l2gpu.cli.l2_views import format_duration

        return format_duration(int(value))
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple) and not any(isinstance(v, Mapping) for v in value):
        return ", ".join(human_value(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{_label(k)} {human_value(v)}" for k, v in value.items())
    return str(value)


def human_text(data: Mapping[str, Any], title: str | None = None) -> str:
    """``data`` for people: ``title``, then one aligned line per key, and each list of
    rows (dicts) as a table with a header row below them."""
    scalars = {k: v for k, v in data.items() if not _is_rows(v)}
    tables = {k: v for k, v in data.items() if _is_rows(v)}
    lines = [title] if title else []
    width = max((len(_label(k)) for k in scalars), default=0)
    indent = "  " if title else ""
    lines += [f"{indent}{_label(k):<{width}}  {human_value(v)}" for k, v in scalars.items()]
    for key, rows in tables.items():
        lines += ["", f"{_label(key)}:", table_text(rows)] if lines else [table_text(rows)]
    return "\n".join(lines)


def table_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows (dicts with the same keys) as a table: a header row, then one aligned row
    each; ``(none)`` when there is no row."""
    if not rows:
        return "(none)"
    keys = list(rows[0])
    cells = [[human_value(row.get(k)) for k in keys] for row in rows]
    heads = [_label(k) for k in keys]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [heads, *cells])


def _is_rows(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and isinstance(value[0], Mapping)


def _label(key: object) -> str:
    return str(key).replace("_", " ")
