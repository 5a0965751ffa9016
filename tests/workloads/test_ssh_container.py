"""``l2gpu ssh`` into a container backend's lease: the shell runs by the engine's
``exec`` in the lease's container (tested through the fake engine: this machine runs
no Docker daemon; its ``exec`` runs the command on the host, in the folder mounted at
``/job``, with the container's variables only). The market is a real uvicorn on
loopback, the CLI a real process, the agent steps in a thread, as in
:mod:`tests.workloads.test_ssh`.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from l2gpu.agent.backends import JobSpec, JobStartError
from l2gpu.agent.backends.container import ContainerBackend
from l2gpu.agent.backends.local_shell import ShellProcess
from l2gpu.agent.shells import shell_argv
from l2gpu.core.market.shell import ShellRequest
from tests.agent.fake_engine import FakeEngine, end_watcher, install_fake_engine
from tests.workloads.test_ssh import Lease, _ssh, serve_lease

SECRET = "s3cr3t-of-the-job"
AGENT_KEY = "0x" + (77).to_bytes(32, "big").hex()  # the provider's, in the agent's environment


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    """The fake engine, and the agent's key in the agent's environment (where a
    provider's ``provider up`` has it)."""
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", AGENT_KEY)
    return install_fake_engine(monkeypatch, tmp_path / "engine")


@pytest.fixture
def lease(tmp_path: Path, engine: FakeEngine) -> Iterator[Lease]:
    """A running lease in a (fake) container, an agent stepping in a thread, the market
    served on loopback (on SQLite: test_ssh runs the relay on both databases)."""
    backend = ContainerBackend(tmp_path / "jobs", "busybox:1.36")
    market = (f"sqlite:///{tmp_path / 'market.db'}", None)
    job = {"command": "sleep 300", "env": {"EPOCHS": "3"}, "secrets": {"TOKEN": SECRET}}
    try:
        with serve_lease(tmp_path, backend, market, **job) as running:
            yield running
    finally:
        end_watcher(backend)


def test_a_command_runs_by_exec_in_the_containers_job_folder_with_its_code(
    lease: Lease, engine: FakeEngine
) -> None:
    backend = lease.agent.backend
    assert isinstance(backend, ContainerBackend)
    done = _ssh(lease.base, lease.lease_id, "sh", "-c", "pwd; echo hi; echo oops >&2; exit 3")
    assert done.returncode == 3, done.stderr
    assert done.stdout.decode() == f"{backend.workdir(lease.lease_id).resolve()}\nhi\n"
    assert done.stderr.decode() == "oops\n"
    # The container's variables and secrets, nothing of the agent's.
    seen = _ssh(lease.base, lease.lease_id, "env").stdout.decode().splitlines()
    assert "EPOCHS=3" in seen
    assert f"TOKEN={SECRET}" in seen
    assert not [line for line in seen if "L2GPU_PRIVATE_KEY" in line or AGENT_KEY in line]
    # The engine was asked an exec in the lease's container, in /job, over pipes; its
    # client had none of the agent's variables, and no secret was on its command line.
    execs = engine.execs()
    assert execs[-1]["args"] == ["exec", "--interactive", "--workdir", "/job",
                                 backend._name(lease.lease_id), "/bin/sh", "-c", "env"]  # fmt: skip
    assert all("L2GPU_PRIVATE_KEY" not in e["engine_env"] for e in execs)
    assert all(SECRET not in " ".join(e["args"]) for e in execs)


def _read_until(shell: ShellProcess, text: bytes, seen: bytes = b"") -> bytes:
    (fd,) = shell.outputs
    deadline = time.monotonic() + 20
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)  # a real process answering
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the terminal's every process is gone
                break
    assert text in seen, seen.decode(errors="replace")
    return seen


def test_an_interactive_shell_runs_under_a_terminal_that_follows_the_window(
    tmp_path: Path, engine: FakeEngine
) -> None:
    backend = ContainerBackend(tmp_path / "jobs", "busybox:1.36")
    spec = JobSpec(5, "sleep 300")
    backend.start(spec)
    probe = (
        "read _ _ _ _ _ _ ctty _ < /proc/$$/stat; echo ctty=$ctty; stty size; "
        "read line; stty size; echo got-$line"
    )
    try:
        shell = backend.open_shell(spec, ["/bin/sh", "-c", probe], {"TERM": "xterm"}, (30, 100))
        seen = _read_until(shell, b"30 100")  # the renter's size, before the shell ran
        assert b"ctty=0\r" not in seen  # the client's controlling terminal: it hears SIGWINCH
        shell.resize(40, 120)
        shell.write(b"x\n")
        _read_until(shell, b"got-x", _read_until(shell, b"40 120", seen))
        assert shell.wait(10) == 0
        shell.kill()
        (run,) = engine.execs()
        assert run["args"][:7] == ["exec", "--interactive", "--tty", "--workdir", "/job",
                                   "--env", "TERM=xterm"]  # fmt: skip
        # With no command: bash where the image has it, else sh; its exit code comes back.
        request = ShellRequest(5, "", "1", 1, b"", 24, 80, "xterm")
        argv = shell_argv(request, agent_bin=False)
        shell = backend.open_shell(spec, argv, {"TERM": "xterm"}, (24, 80))
        shell.write(b"echo $((6*7))\n")
        _read_until(shell, b"42\r\n")
        shell.write(b"exit 5\n")
        assert shell.wait(10) == 5
        shell.kill()
    finally:
        backend.stop(5)
        end_watcher(backend)


def test_no_shell_in_a_container_that_is_paused_or_gone(tmp_path: Path, engine: FakeEngine) -> None:
    backend = ContainerBackend(tmp_path / "jobs", "busybox:1.36")
    spec = JobSpec(6, "sleep 300")
    backend.start(spec)
    name = backend._name(6)
    try:
        engine.set_state(name, "paused")
        with pytest.raises(JobStartError, match=f"container {name} is paused, not running"):
            backend.open_shell(spec, ["true"], {}, None)
        engine.set_state(name, "running")
        with pytest.raises(JobStartError, match="cannot pass to docker exec"):
            backend.open_shell(spec, ["true"], {"A": "x\nB=y"}, None)
    finally:
        backend.stop(6)
        end_watcher(backend)
    with pytest.raises(JobStartError, match=f"the lease's container {name} is gone"):
        backend.open_shell(spec, ["true"], {}, None)
    assert engine.execs() == []
