"""GPU discovery, the declared inventory, and the local and Ray backends with real processes."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from l2gpu.agent.backends import JobSpec, JobStartError
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover, gpu_utilization, normalise_name, parse_declared
from l2gpu.core.errors import L2gpuError
from tests.agent.fake_nvml import FakeNvmlForTests

from ..conftest import one_ray_cluster_at_a_time


def wait_until(check, seconds: float = 10.0) -> None:
    """Wait (bounded) for a real process to reach a state."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_nvml_is_used_when_present() -> None:
    inventory = discover(nvml=FakeNvmlForTests(2))
    assert inventory.source == "nvml"
    assert [g.name for g in inventory.gpus] == ["RTX_4090", "RTX_4090"]
    assert inventory.gpus[0].memory_gb == 24
    assert not inventory.declared
    assert gpu_utilization(FakeNvmlForTests(), [0, 1]) == (0.5, 0.5)
    with pytest.raises(L2gpuError, match="only for machines without NVML"):
        discover("H100:8", nvml=FakeNvmlForTests(2))


def test_declared_inventory_and_cpu_slots() -> None:
    inventory = discover("RTX_4090:2,A100:1:40")
    assert inventory.declared
    assert [(g.index, g.name, g.memory_gb) for g in inventory.gpus] == [
        (0, "RTX_4090", 24),
        (1, "RTX_4090", 24),
        (2, "A100", 40),
    ]
    assert inventory.to_json()["gpus"] == 3
    assert discover().source == "cpu"
    assert normalise_name(b"NVIDIA H100 80GB HBM3") == "H100_80GB_HBM3"
    for bad in ["RTX_4090", "RTX_4090:x", "RTX 4090:2", "A:0", ""]:
        with pytest.raises(L2gpuError, match="GPU declaration"):
            parse_declared(bad)


def test_a_local_job_gets_its_folder_env_secrets_and_gpus(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    spec = JobSpec(
        1,
        "cat input.txt; echo $SECRET $MODE $CUDA_VISIBLE_DEVICES; pwd; exit 3",
        env={"MODE": "train"},
        secrets={"SECRET": "s3cret"},
        files={"input.txt": "data\n"},
        gpu_indices=(0, 1),
    )
    backend.start(spec)
    wait_until(lambda: backend.status(1).state == "exited")
    assert backend.status(1).exit_code == 3
    out = "".join(backend.read_logs(1))
    # The job's folder, lease-1, is /job in its sandbox.
    assert out.splitlines() == ["data", "s3cret train 0,1", "/job"]
    assert (tmp_path / "lease-1" / "input.txt").read_text() == "data\n"
    assert backend.read_logs(1) == []


def test_memory_limit_pause_resume_stop_and_recover(tmp_path: Path) -> None:
    # Without cgroups (here turned off) the memory limit falls back to RLIMIT_AS; the
    # cgroup limit and its reported reason are tested in test_sandbox.py.
    backend = LocalBackend(tmp_path, cgroups=False)
    hog = "python -c 'x = bytearray(400 * 2**20); print(len(x))'"
    backend.start(JobSpec(2, hog, memory_bytes=200 * 2**20))
    wait_until(lambda: backend.status(2).state == "exited")
    assert backend.status(2).exit_code != 0
    assert "MemoryError" in "".join(backend.read_logs(2))

    backend.start(JobSpec(3, "while true; do echo tick; sleep 0.1; done"))
    backend.pause(3)
    assert backend.status(3).state == "paused"
    backend.read_logs(3)
    time.sleep(0.3)  # real time: a paused process writes nothing
    assert backend.read_logs(3) == []
    backend.resume(3)
    wait_until(lambda: bool(backend.read_logs(3)))
    again = LocalBackend(tmp_path)  # a restarted agent
    assert again.recover(3)
    assert again.status(3).state == "running"
    again.stop(3)
    wait_until(lambda: again.status(3).state == "exited")
    assert not LocalBackend(tmp_path).recover(99)


def test_a_command_that_cannot_run_is_a_failed_start(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    with pytest.raises(JobStartError, match="could not run \\(exit 127\\)"):
        backend.start(JobSpec(4, "no_such_command_l2gpu --flag"))
    with pytest.raises(JobStartError, match="leaves the working folder"):
        backend.start(JobSpec(5, "true", files={"../escape": "x"}))


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_the_ray_backend_runs_a_job_in_a_local_ray(tmp_path: Path) -> None:
    import ray

    from l2gpu.agent.backends.ray_backend import RayBackend

    with one_ray_cluster_at_a_time():
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, namespace="l2gpu")
        try:
            backend = RayBackend(tmp_path)
            backend.start(JobSpec(7, "echo from-ray $CUDA_VISIBLE_DEVICES; exit 4"))
            wait_until(lambda: backend.status(7).state == "exited", 30)
            assert backend.status(7).exit_code == 4
            assert "from-ray" in "".join(backend.read_logs(7))
            backend.stop(7)
            backend.start(JobSpec(8, "sleep 30"))
            assert RayBackend(tmp_path).recover(8)  # a restarted agent finds the actor
            backend.stop(8)
            with pytest.raises(JobStartError):
                backend.start(JobSpec(9, "no_such_command_l2gpu"))
        finally:
            ray.shutdown()
