"""Job backends behind one interface: a local process, a container, or a Ray actor.

A backend starts a job from a :class:`JobSpec`, reports its status, pauses,
resumes and stops it, hands over new output, and re-attaches to a job after the
agent restarts. The agent never cares which backend it drives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from l2gpu.core.errors import L2gpuError


class JobStartError(L2gpuError):
    """The job could not start: the renter pays nothing."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to run for a lease, and within which limits."""

    lease_id: int
    command: str
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    gpu_indices: tuple[int, ...] = ()
    cpu_cores: int | None = None
    memory_bytes: int | None = None
    processes: int | None = None
    """Processes and threads at once (None: the backend's default, 4096 locally)."""
    open_files: int | None = None
    """Open files per process (None: the backend's default, 4096 locally)."""
    disk_bytes: int | None = None
    """What the job may write (None: locally, half the free space under the backend's root)."""
    network: str | None = None
    """"none" to refuse the job a network; None or "host": as the provider allows."""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """``state`` is running, paused or exited; ``exit_code`` once exited (None if unknown);
    ``reason`` when the backend stopped the job itself, for the renter (e.g. "the job
    exceeded its memory limit of 8 GiB (out of memory)")."""

    state: str
    exit_code: int | None = None
    reason: str | None = None


class Backend(Protocol):
    """The interface every job backend implements."""

    name: str

    def start(self, spec: JobSpec) -> None:
        """Start the job; raise :class:`JobStartError` if it cannot start."""

    def status(self, lease_id: int) -> JobStatus:
        """The job's state now."""

    def pause(self, lease_id: int) -> None:
        """Suspend the job (it keeps its memory, uses no CPU or GPU time)."""

    def resume(self, lease_id: int) -> None:
        """Resume a paused job."""

    def stop(self, lease_id: int) -> None:
        """Stop the job: ask it to end, then end it."""

    def read_logs(self, lease_id: int) -> list[str]:
        """Output written since the last call."""

    def recover(self, lease_id: int) -> bool:
        """Re-attach to a job started before the agent restarted; False if it is gone."""

    def workdir(self, lease_id: int) -> Path | None:
        """The job's folder (its files, what it writes, and ``output.log``), where the
        backend can see it."""

    def found(self) -> list[int]:
        """Leases with a job an earlier agent started that may still run (a restarted
        agent meters each of them or stops it)."""


def make_backend(
    name: str,
    root: Path,
    ray_address: str | None = None,
    image: str | None = None,
    **local: Any,
) -> Backend:
    """The backend called ``name`` (local, ray, docker or podman), keeping work folders
    under ``root``; ``local`` goes to :class:`~l2gpu.agent.backends.local.LocalBackend`
    (``sandbox``, ``network``, ``cgroup_parent``, ...); ``image`` is the containers'."""
    if name in ("docker", "podman"):
        from l2gpu.agent.backends.container import ContainerBackend

        if not image:
            raise L2gpuError(f"--backend {name} needs --image", "name the image jobs run in")
        return ContainerBackend(root, image, engine=name, network=local.get("network", "none"))
    if name == "local":
        from l2gpu.agent.backends.local import LocalBackend

        return LocalBackend(root, **local)
    if name == "ray":
        from l2gpu.agent.backends.ray_backend import RayBackend

        return RayBackend(root, address=ray_address)
    raise L2gpuError(f"unknown backend '{name}'", "use --backend local, ray, docker or podman")
