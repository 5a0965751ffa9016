"""The container backend: what its command line holds (everywhere), and a real job in
a container where a Docker or Podman daemon answers (skipped, with the reason, where
none does: containers need a daemon this CI machine does not run)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from l2gpu.agent.backends import JobSpec, make_backend
from l2gpu.agent.backends.container import ContainerEngineError, engine_problem, run_args
from l2gpu.core.errors import L2gpuError

SECRET = "s3cr3t-" + "ab" * 16
ENGINE = os.environ.get("L2GPU_TEST_CONTAINER_ENGINE", "docker")
IMAGE = os.environ.get("L2GPU_TEST_CONTAINER_IMAGE", "busybox:1.36")


def _spec(**fields: object) -> JobSpec:
    base: dict[str, object] = {"lease_id": 7, "command": "echo hi", "secrets": {"TOKEN": SECRET},
                               "env": {"EPOCHS": "3"}}  # fmt: skip
    return JobSpec(**{**base, **fields})  # type: ignore[arg-type]


def test_the_command_line_holds_no_secret_and_every_limit(tmp_path: Path) -> None:
    spec = _spec(gpu_indices=(1, 3), memory_bytes=2**30, cpu_cores=4, processes=64,
                 open_files=256)  # fmt: skip
    args = run_args("docker", "img", "job", spec, tmp_path, tmp_path / "env", network="none")
    line = " ".join(args)
    assert SECRET not in line
    assert "EPOCHS" not in line  # variables travel in the env file too
    assert args[-4:] == ["img", "/bin/sh", "-c", "echo hi"]
    for flag in ("--read-only", "no-new-privileges", "--cap-drop ALL", "--network none",
                 '--gpus "device=1,3"', f"--memory {2**30}", f"--memory-swap {2**30}",
                 "--cpus 4", "--pids-limit 64", "--ulimit nofile=256:256"):  # fmt: skip
        assert flag in line, flag
    podman = run_args("podman", "img", "job", spec, tmp_path, tmp_path / "env", network="none")
    assert "--device nvidia.com/gpu=1 --device nvidia.com/gpu=3" in " ".join(podman)


def test_the_network_is_the_providers_and_a_lease_may_only_narrow_it(tmp_path: Path) -> None:
    def network(provider: str, lease: str | None) -> str:
        args = run_args("docker", "i", "n", _spec(network=lease), tmp_path, tmp_path / "e",
                        network=provider)  # fmt: skip
        return args[args.index("--network") + 1]

    assert network("none", None) == "none"
    assert network("none", "host") == "none"
    assert network("host", None) == "host"
    assert network("host", "none") == "none"


def test_without_an_engine_the_backend_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(L2gpuError, match="needs --image"):
        make_backend("docker", tmp_path)
    if engine_problem("podman") is not None:
        with pytest.raises(ContainerEngineError, match="or use --backend local"):
            make_backend("podman", tmp_path, image="busybox")


def test_a_job_runs_in_a_container_paused_resumed_and_stopped(tmp_path: Path) -> None:
    problem = engine_problem(ENGINE)
    if problem is not None:
        pytest.skip(f"no container engine to run a job in: {problem}")
    backend = make_backend(ENGINE, tmp_path, image=IMAGE)
    backend.start(_spec(command='echo "token=$TOKEN epochs=$EPOCHS"; sleep 600'))
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "epochs" not in text and time.monotonic() < deadline:
            text += "".join(backend.read_logs(7))
            time.sleep(0.2)  # a real container starting
        assert f"token={SECRET} epochs=3" in text
        assert backend.status(7).state == "running"
        backend.pause(7)
        assert backend.status(7).state == "paused"
        backend.resume(7)
        assert backend.found() == [7]
        assert backend.recover(7)
    finally:
        backend.stop(7)
    assert backend.status(7).state == "exited"
    assert backend.found() == []
