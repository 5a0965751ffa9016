"""``allocate replay`` draws a bar per policy on a terminal's stderr, and none with
``--json``: its output stays one JSON document, its stderr empty."""

from __future__ import annotations

import io
import json
import re

from rich.console import Console

from l2gpu.cli.main import main

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
REPLAY = ["allocate", "replay", "--trace", "alibaba2023", "--jobs", "1500", "--gpus", "20",
          "--policy", "fifo"]  # fmt: skip


def _terminal_stderr(monkeypatch) -> io.StringIO:
    # What a terminal's stderr would show; capsys's own stderr is no terminal.
    screen = io.StringIO()
    monkeypatch.setattr("l2gpu.cli.live.stderr_console",
                        lambda: Console(file=screen, force_terminal=True, width=120))  # fmt: skip
    return screen


def test_replay_draws_a_bar_on_a_terminal_and_json_has_none(monkeypatch, capsys) -> None:
    screen = _terminal_stderr(monkeypatch)
    assert main([*REPLAY, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["policies"][0]["policy"] == "fifo"
    assert screen.getvalue() == ""
    assert err == ""
    assert main(REPLAY) == 0
    drawn = ANSI.sub("", screen.getvalue())
    assert "replay alibaba2023 under fifo" in drawn
    assert "1500/1500" in drawn
    assert "replay alibaba2023" not in capsys.readouterr().out


def test_forecast_backtest_draws_a_bar_per_horizon_and_json_has_none(monkeypatch, capsys):
    screen = _terminal_stderr(monkeypatch)
    backtest = ["forecast", "backtest", "earth_gpus_assigned", "--horizon", "7"]
    assert main([*backtest, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["horizons"]["7"]["origins"]
    assert screen.getvalue() == ""
    assert err == ""
    assert main(backtest) == 0
    drawn = ANSI.sub("", screen.getvalue())
    said = re.findall(r"backtest series 'earth_gpus_assigned', horizon 7 .*? (\d+)/(\d+)", drawn)
    assert said, drawn
    done, total = said[-1]  # the bar as it was left
    assert done == total  # every forecast made: 8 origins × the candidates
    assert int(total) > 8
    assert int(total) % 8 == 0
    assert "backtest series" not in capsys.readouterr().out
