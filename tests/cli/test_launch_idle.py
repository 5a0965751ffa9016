"""``idle_stop`` in a task file: ``launch`` stops a job that printed nothing and used no
GPU for that many minutes, and the renter pays only for the seconds metered (the rest
of the deposit comes back). In process, on the agent tests' simulated clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.core.market.lease_state import LeaseStatus
from tests.agent.test_agent import PRICE
from tests.cli.helpers import cli, refused
from tests.cli.launch_world import install

TASK = """\
name: quiet
resources: {gpu: RTX_4090, count: 2}
hours: 0.5
run: sleep 600
checkpoint_every: 0
idle_stop: 1
"""


def test_launch_stops_an_idle_job_and_refunds_the_unused_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world, rail = install(monkeypatch, tmp_path)
    (tmp_path / "task.yaml").write_text(TASK)
    code, _, err = cli(capsys, "launch", str(tmp_path / "task.yaml"))
    assert code == 0, err
    assert "stopping lease" in err
    assert "printed nothing and used no GPU for 60 s, at least the 60 s of idle_stop" in err
    (ended,) = world.renter.jobs()
    assert ended.status is LeaseStatus.ENDED
    # Stopped about a minute after the start, not after the half hour rented.
    assert 60 <= ended.metered_seconds <= 63
    world.agent.step()  # the agent sees the lease ended: it stops the job
    assert world.agent.served == {}
    assert world.agent.backend.status(ended.id).state != "running"
    (deposit,) = [opened.deposit for opened in rail.opened]
    assert deposit == 1800 * 2 * PRICE  # the whole lease, locked at the start
    assert rail.closed == [ended.metered_seconds * 2 * PRICE] == [ended.amount_due]
    assert rail.refunds == [deposit - ended.amount_due]
    assert rail.refunds[0] >= (1800 - 63) * 2 * PRICE


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0", ["idle_stop 0 is not a number of minutes above 0", "e.g. idle_stop: 15"]),
        ("-5", ["idle_stop -5 is not a number of minutes above 0"]),
        ("'15m'", ["idle_stop '15m' is not a number of minutes", "give minutes above 0"]),
        ("true", ["idle_stop True is not a number of minutes"]),
        ("1000000", ["at most 525600"]),
    ],
)
def test_a_bad_idle_stop_is_refused_in_one_line_before_any_lease(
    value: str,
    words: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, rail = install(monkeypatch, tmp_path)
    (tmp_path / "task.yaml").write_text(TASK.replace("idle_stop: 1", f"idle_stop: {value}"))
    refused(cli(capsys, "launch", str(tmp_path / "task.yaml")), "task.yaml: ", *words)
    assert rail.opened == []


def test_rent_refuses_a_bad_idle_stop_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world, rail = install(monkeypatch, tmp_path)
    line = refused(
        cli(capsys, "rent", str(world.offer.id), "--cmd", "true", "--idle-stop", "0"),
        "--idle-stop 0 is not a number of minutes above 0",
        "e.g. --idle-stop 15",
    )
    assert "idle_stop" not in line
    assert rail.opened == []
