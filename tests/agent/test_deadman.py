"""The dead-man switch: when the agent is killed (-9), its jobs are frozen within a
moment, so nothing runs unmetered; a restarted agent adopts them paused; if no
agent comes back, they are killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from l2gpu.agent.backends import deadman
from l2gpu.agent.backends.local import LocalBackend

from .test_sandbox import bubblewrap, host_processes, sleeper, wait_until

__all__ = ["bubblewrap"]  # the fixture that fails these tests without bubblewrap

AGENT = """
import sys, time
from pathlib import Path
from l2gpu.agent.backends import JobSpec
from l2gpu.agent.backends.local import LocalBackend
backend = LocalBackend(Path(sys.argv[1]), keep_frozen_s=float(sys.argv[3]))
backend.start(JobSpec(1, sys.argv[2]))
print("ready", flush=True)
time.sleep(600)
"""


def _ticks(root: Path) -> int:
    return (root / "lease-1" / "output.log").read_text().count("tick")


def _agent_with_a_job(root: Path, marker: str, keep_frozen_s: float) -> subprocess.Popen[str]:
    """An agent process running one job that ticks 10 times a second."""
    job = f"while :; do echo tick; sleep 0.1; done & sleep {marker}"
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(root), job, str(keep_frozen_s)],
        stdout=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    assert agent.stdout is not None
    assert agent.stdout.readline().strip() == "ready"
    wait_until(lambda: bool(host_processes(marker)) and _ticks(root) > 3)
    return agent


def _states(marker: str) -> set[str]:
    return {deadman.state_of(pid) for pid in host_processes(marker)}


def test_a_killed_agents_jobs_freeze_and_a_new_agent_adopts_them_paused(tmp_path: Path) -> None:
    root, marker = tmp_path / "jobs", sleeper()
    agent = _agent_with_a_job(root, marker, keep_frozen_s=300)
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(timeout=30)
    wait_until(lambda: (root / ".agent" / "lease-1" / deadman.FROZEN_MARK).exists())
    assert _states(marker) <= set("Tt")  # every process of the job is stopped
    frozen_at = _ticks(root)
    again = LocalBackend(root)  # the agent restarted
    assert again.recover(1)
    assert again.status(1).state == "paused"  # it decides: resume (paid) or stop
    assert _ticks(root) == frozen_at  # nothing ran while no agent was there
    again.resume(1)
    wait_until(lambda: _ticks(root) > frozen_at + 3)
    again.stop(1)
    assert host_processes(marker) == []


def test_frozen_jobs_that_no_agent_adopts_are_killed(tmp_path: Path) -> None:
    root, marker = tmp_path / "jobs", sleeper()
    agent = _agent_with_a_job(root, marker, keep_frozen_s=1)
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(timeout=30)
    wait_until(lambda: host_processes(marker) == [], seconds=30)


def test_jobs_of_an_agent_whose_folder_was_deleted_are_killed(tmp_path: Path) -> None:
    """The agent dies and its folder is deleted with it (a provider wiping its data
    folder, a test's cleanup): the switch must not read the missing record as another
    agent taking over. Nobody can adopt those jobs, so they are killed at once."""
    root, marker = tmp_path / "jobs", sleeper()
    agent = _agent_with_a_job(root, marker, keep_frozen_s=300)
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(timeout=30)
    shutil.rmtree(root)
    wait_until(lambda: host_processes(marker) == [], seconds=30)
