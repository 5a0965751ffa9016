"""``l2gpu ssh`` into a Ray backend's lease: the job's actor opens the shell with the
local backend on its node, in the job's sandbox, and the agent drives it by actor
calls (:mod:`l2gpu.agent.backends.ray_shell`). One local Ray cluster for the module
(starting one takes long on two cores): ``l2gpu ssh`` end to end through the market's
relay (as :mod:`tests.workloads.test_ssh` runs it), then the backend's shells closely.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import select
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from l2gpu.agent.backends import JobSpec, JobStartError
from l2gpu.agent.backends.ray_shell import RayShell
from l2gpu.core.market.shell import STDERR, STDOUT
from tests.workloads.test_ssh import _appear, _gone, _ssh, serve_lease

from ..conftest import one_ray_cluster_at_a_time

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed"
)


def _read(shell: RayShell, until: bytes | None = None, seen: bytes = b"") -> dict[int, bytes]:
    """The shell's outputs by stream: until each ends, or until ``until`` was written."""
    fds = dict(shell.outputs)
    found = {stream: b"" for stream in fds.values()}
    found[STDOUT] = seen
    deadline = time.monotonic() + 30
    while fds and time.monotonic() < deadline:
        if until is not None and until in found[STDOUT]:
            break
        ready, _, _ = select.select(list(fds), [], [], 0.2)  # a real process on Ray
        for fd in ready:
            data = os.read(fd, 4096)
            if data:
                found[fds[fd]] += data
            else:
                del fds[fd]
    return found


def _paste(shell: RayShell, data: bytes) -> None:
    """Write ``data`` to the shell until it is all taken or the shell ends."""
    with contextlib.suppress(OSError):  # the session ended: its actor forgot the shell
        shell.write(data)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """One local Ray cluster for the module (starting one takes long on two cores)."""
    import ray

    with one_ray_cluster_at_a_time():
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, namespace="l2gpu")
        try:
            yield ray
        finally:
            ray.shutdown()


def test_ssh_into_a_ray_lease_runs_in_its_jobs_sandbox(tmp_path: Path, ray_cluster: Any) -> None:
    from l2gpu.agent.backends.ray_backend import RayBackend

    backend = RayBackend(tmp_path / "jobs")
    market = (f"sqlite:///{tmp_path / 'market.db'}", None)
    with serve_lease(tmp_path, backend, market, command="sleep 300", env={"EPOCHS": "3"}) as lease:
        probe = "pwd; echo epochs=$EPOCHS; echo oops >&2; exit 3"
        done = _ssh(lease.base, lease.lease_id, "sh", "-c", probe)
        assert done.returncode == 3, done.stderr
        assert done.stdout.decode() == "/job\nepochs=3\n"
        assert done.stderr.decode() == "oops\n"


def test_a_shell_runs_in_the_ray_jobs_sandbox_through_its_actor(
    tmp_path: Path, ray_cluster: Any
) -> None:
    from l2gpu.agent.backends.ray_backend import RayBackend

    ray = ray_cluster
    backend = RayBackend(tmp_path / "jobs")
    try:
        spec = JobSpec(11, "sleep 300", env={"EPOCHS": "3"})
        backend.start(spec)
        # A command over pipes: its output and errors apart, its exit code.
        probe = "pwd; echo epochs=$EPOCHS; echo oops >&2; exit 3"
        shell = backend.open_shell(spec, ["/bin/sh", "-c", probe], {}, None)
        assert _read(shell) == {STDOUT: b"/job\nepochs=3\n", STDERR: b"oops\n"}
        assert shell.wait(10) == 3
        shell.kill()
        # Under a terminal sized as the renter's, which follows the window.
        probe = "stty size; read line; stty size; echo got-$line; exit 5"
        shell = backend.open_shell(spec, ["/bin/sh", "-c", probe], {"TERM": "xterm"}, (30, 100))
        seen = _read(shell, b"30 100\r\n")[STDOUT]
        shell.resize(40, 120)
        shell.write(b"x\n")
        assert b"40 120\r\ngot-x" in _read(shell, b"got-x", seen)[STDOUT]
        assert shell.wait(10) == 5
        shell.kill()
        # A shell that reads no input: a large paste holds the session's thread only,
        # never the job's actor (its beats and status); kill ends the shell and all it
        # started.
        marker = f"sleep {6000 + os.getpid() % 1000}"
        shell = backend.open_shell(spec, ["/bin/sh", "-c", f"{marker}; true"], {}, None)
        assert _appear(marker)
        paste = threading.Thread(target=_paste, args=(shell, b"y" * (1 << 20)), daemon=True)
        paste.start()
        time.sleep(0.5)  # the pipe to the shell is full by now
        assert backend.status(11).state == "running"
        shell.kill()
        paste.join(10)
        assert not paste.is_alive()
        assert _gone(marker)
        # A restarted agent (another token beating) ends the shells of the one before.
        shell = backend.open_shell(spec, ["/bin/sh", "-c", f"{marker}; true"], {}, None)
        assert _appear(marker)
        ray.get(backend._actor(11).beat.remote("the-next-agent"))
        assert _gone(marker)
        shell.kill()
        backend.stop(11)
        with pytest.raises(JobStartError, match="lease 11 has no job running"):
            backend.open_shell(spec, ["true"], {}, None)
    finally:
        backend.stop(11)
