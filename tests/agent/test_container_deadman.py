"""The container backend's dead-man switch: when the agent is killed (-9), its
containers are paused within a bound, a restarted agent adopts them paused, and
those no agent adopts are removed.

The engine is the fake of :mod:`tests.agent.fake_engine` (this machine runs no Docker
daemon): it runs no job, so what is checked is what the engine was told and when
(``pause`` is the engine's cgroup freezer: a paused container runs nothing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l2gpu.agent.backends import deadman
from l2gpu.agent.backends.container import ContainerBackend

from .fake_engine import FakeEngine, end_watcher, install_fake_engine
from .test_sandbox import wait_until

BOUND_S = 3.0
"""The switch's stated bound: the watcher's poll (0.25 s) plus one engine call; the
fake engine is a Python script on a loaded two-core machine, hence the margin."""

AGENT = """
import sys, time
from pathlib import Path
from l2gpu.agent.backends import JobSpec
from l2gpu.agent.backends.container import ContainerBackend
backend = ContainerBackend(Path(sys.argv[1]), "busybox:1.36", keep_frozen_s=float(sys.argv[2]))
backend.start(JobSpec(1, "sleep 600"))
print("ready", flush=True)
time.sleep(600)
"""


def _agent(root: Path, keep_frozen_s: float) -> subprocess.Popen[str]:
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(root), str(keep_frozen_s)],
        stdout=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    assert agent.stdout is not None
    assert agent.stdout.readline().strip() == "ready"
    return agent


def _only(engine: FakeEngine) -> tuple[str, dict[str, object]]:
    (item,) = engine.containers().items()
    return item


def _kill(agent: subprocess.Popen[str]) -> float:
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(timeout=30)
    return time.monotonic()


def test_a_killed_agents_container_is_paused_and_adopted_paused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = install_fake_engine(monkeypatch, tmp_path / "engine")
    root = tmp_path / "jobs"
    agent = _agent(root, keep_frozen_s=300)
    name, box = _only(engine)
    assert box["state"] == "running"
    assert box["stop_timeout"] == "5"
    time.sleep(0.5)  # the watcher has seen the container (a real process's poll)
    killed_at = _kill(agent)
    wait_until(lambda: _only(engine)[1]["state"] == "paused", seconds=30)
    assert time.monotonic() - killed_at <= BOUND_S
    assert (root / ".agent" / f"{name}.{deadman.FROZEN_MARK}").exists()
    again = ContainerBackend(root, "busybox:1.36")  # the agent restarted
    assert again.found() == [1]
    assert again.recover(1)
    assert again.status(1).state == "paused"  # it decides: resume (paid) or stop
    assert not (root / ".agent" / f"{name}.{deadman.FROZEN_MARK}").exists()
    again.resume(1)
    assert again.status(1).state == "running"
    again.stop(1)
    assert engine.containers() == {}
    end_watcher(again)  # the new agent's watcher: ours to end


def test_paused_containers_that_no_agent_adopts_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = install_fake_engine(monkeypatch, tmp_path / "engine")
    agent = _agent(tmp_path / "jobs", keep_frozen_s=1)
    time.sleep(0.5)  # the watcher has seen the container
    _kill(agent)
    wait_until(lambda: engine.containers() == {}, seconds=30)
    verbs = [call[0] for call in engine.calls()]
    assert verbs.index("pause") < len(verbs) - 1 - verbs[::-1].index("rm")
