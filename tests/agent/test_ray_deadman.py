"""The Ray backend's dead-man switch: when the agent is killed (-9), its detached job
actor stops hearing the agent's beats and freezes the job within ``deadman_s``; a
restarted agent adopts it paused; an actor no agent comes back to stops its job and
ends. A local Ray cluster (this test's process is its head), an agent process driving
it, real job processes."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from l2gpu.agent.backends import deadman

from ..conftest import one_ray_cluster_at_a_time
from .test_sandbox import host_processes, sleeper, wait_until

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed"
)

DEADMAN_S = 2.0
BOUND_S = DEADMAN_S + 3.0
"""The stated bound: ``deadman_s`` of silence, a watchdog tick (0.25 s), the SIGSTOP
rounds, and a margin for a loaded two-core machine."""

AGENT = """
import sys, time
from pathlib import Path
from l2gpu.agent.backends import JobSpec
from l2gpu.agent.backends.ray_backend import RayBackend
backend = RayBackend(Path(sys.argv[1]), address=sys.argv[2], deadman_s=float(sys.argv[4]),
                     keep_frozen_s=float(sys.argv[5]))
backend.start(JobSpec(1, "sleep " + sys.argv[3]))
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """One local Ray cluster for the module (starting one takes long on two cores),
    without token authentication (conftest sets it for every test process), so that
    the agent's process joins it as a driver."""
    import ray

    with one_ray_cluster_at_a_time():
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, namespace="l2gpu")
        try:
            yield str(ray.get_runtime_context().gcs_address)
        finally:
            ray.shutdown()


def _frozen(marker: str) -> bool:
    found = host_processes(marker)
    return bool(found) and all(deadman.state_of(pid) in "Tt" for pid in found)


@pytest.mark.parametrize("keep_frozen_s", [300.0, 1.0])
def test_a_killed_agents_ray_job_is_frozen_then_adopted_or_ended(
    tmp_path: Path, keep_frozen_s: float, ray_address: str
) -> None:
    from l2gpu.agent.backends.ray_backend import RayBackend

    marker, root, address = sleeper(), tmp_path / "jobs", ray_address
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(root), address, marker, str(DEADMAN_S),
         str(keep_frozen_s)],
        stdout=subprocess.PIPE, text=True, env={**os.environ},
    )  # fmt: skip
    assert agent.stdout is not None
    assert agent.stdout.readline().strip() == "ready"
    wait_until(lambda: bool(host_processes(marker)), 30)
    time.sleep(DEADMAN_S + 1)  # beats keep a live agent's job running
    assert not _frozen(marker)
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait(timeout=30)
    killed_at = time.monotonic()
    wait_until(lambda: _frozen(marker), 30)
    assert time.monotonic() - killed_at <= BOUND_S
    if keep_frozen_s > 100:
        again = RayBackend(root, deadman_s=DEADMAN_S)  # the agent restarted
        assert again.recover(1)
        assert again.status(1).state == "paused"  # it decides: resume (paid) or stop
        time.sleep(DEADMAN_S + 1)  # its beats: the actor keeps the job as it is
        again.resume(1)
        assert again.status(1).state == "running"
        again.stop(1)
    wait_until(lambda: host_processes(marker) == [], 30)


def test_the_agent_that_froze_the_job_thaws_it_by_beating_again(tmp_path: Path) -> None:
    """Ray lost a live agent's beats for a while: its job froze, and the same agent's
    next beat thaws it (it never paused the job); another agent's beat does not (a
    restarted agent decides). The actor's class, run here without a cluster."""
    from l2gpu.agent.backends.ray_backend import _JobActor

    marker = sleeper()
    actor = _JobActor(str(tmp_path), deadman_s=0.5, keep_frozen_s=300)
    actor.beat("agent-1")
    assert actor.start({"lease_id": 1, "command": f"sleep {marker}"}, False) is None
    wait_until(lambda: _frozen(marker), 30)
    assert actor.status()[0] == "paused"
    actor.beat("agent-1")
    assert actor.status()[0] == "running"
    wait_until(lambda: not _frozen(marker), 30)
    wait_until(lambda: _frozen(marker), 30)  # silent again: frozen again
    actor.beat("agent-2")  # a restarted agent: the job stays paused for it to decide
    time.sleep(1.0)
    assert actor.status()[0] == "paused"
    actor.stop()
    wait_until(lambda: host_processes(marker) == [], 30)
