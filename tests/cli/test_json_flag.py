"""Every leaf command takes ``--json`` unless :data:`JSON_EXEMPT` names it, and the
shared result printer keeps people's and scripts' output apart."""

from __future__ import annotations

import json

import click
import pytest
import typer.main

from l2gpu.cli.json_exempt import JSON_EXEMPT
from l2gpu.cli.main import app
from l2gpu.cli.output import At, Eth, Secs, human_text, to_json

from .helpers import cli


def leaf_commands(command: click.Command, path: tuple[str, ...] = ()) -> dict[str, click.Command]:
    """Every leaf command below ``command``, by its space-separated path."""
    subs = getattr(command, "commands", None)
    if not subs:
        return {" ".join(path): command}
    found: dict[str, click.Command] = {}
    for name, sub in subs.items():
        found.update(leaf_commands(sub, (*path, name)))
    return found


def takes_json(command: click.Command) -> bool:
    return any("--json" in getattr(p, "opts", ()) for p in command.params)


def test_every_command_outside_the_exempt_list_takes_json() -> None:
    leaves = leaf_commands(typer.main.get_command(app))
    missing = sorted(path for path, cmd in leaves.items()
                     if path not in JSON_EXEMPT and not takes_json(cmd))  # fmt: skip
    assert missing == [], (
        f"give these --json (common.AsJson) or list them in JSON_EXEMPT: {missing}"
    )


def test_the_exempt_list_names_only_commands_there_are() -> None:
    leaves = leaf_commands(typer.main.get_command(app))
    assert sorted(set(JSON_EXEMPT) - set(leaves)) == []


def test_json_carries_wei_as_strings_and_times_twice() -> None:
    data = {"deposit": Eth(10**18), "expires_at": At(0), "wait": Secs(90), "id": 7}
    out = json.loads(json.dumps(to_json(data)))
    assert out == {"deposit": "1000000000000000000", "expires_at": 0,
                   "expires_at_iso": "1970-01-01T00:00:00Z", "wait": 90, "id": 7}  # fmt: skip


def test_people_read_eth_durations_and_tables_with_headers() -> None:
    text = human_text({"deposit": Eth(10**18), "wait": Secs(90),
                       "rows": [{"id": 1, "amount": Eth(5 * 10**17)}]}, "channel 7")  # fmt: skip
    lines = text.splitlines()
    assert lines[0] == "channel 7"
    assert "1 ETH" in lines[1]
    assert lines[2].split() == ["wait", "1", "min", "30", "s"]
    assert lines[-2].split() == ["id", "amount"]
    assert lines[-1].split()[0] == "1"
    assert "ETH" in lines[-1]


def test_bridge_shard_of_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    address = "0x" + "ab" * 20
    code, out, err = cli(capsys, "bridge", "shard-of", address, "--shards", "4", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert set(found) == {"address", "shard"}
    assert 0 <= found["shard"] < 4
    code, out, _ = cli(capsys, "bridge", "shard-of", address, "--shards", "4")
    assert out.split() == ["address", found["address"], "shard", str(found["shard"])]


def test_a_wait_shows_a_spinner_on_a_terminal_and_elsewhere_nothing_or_one_line() -> None:
    import io

    from rich.console import Console

    from l2gpu.cli.live import waiting

    terminal, log = io.StringIO(), io.StringIO()
    with waiting("closing channel 7", console=Console(file=terminal, force_terminal=True)):
        pass
    with waiting("closing channel 7", console=Console(file=log, force_terminal=False)):
        pass
    assert "closing channel 7" in terminal.getvalue()
    assert log.getvalue() == ""
    # a wait for a node's batch (zk transfer, withdraw) leaves one line in a log
    with waiting("sealing transaction 3", console=Console(file=log, force_terminal=False),
                 plain=True):  # fmt: skip
        pass
    assert log.getvalue() == "sealing transaction 3\n"
