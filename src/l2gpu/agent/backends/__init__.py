"""Job backends behind one interface: a local process, a container, or a Ray actor.

A backend starts a job from a :class:`JobSpec`, reports its status, pauses,
resumes and stops it, hands over new output, and re-attaches to a job after the
agent restarts. The agent never cares which backend it drives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from l2gpu.agent.backends.base import Backend, JobSpec, JobStartError, JobStatus
from l2gpu.core.errors import L2gpuError

__all__ = ["Backend", "JobSpec", "JobStartError", "JobStatus", "make_backend", "offer_policy"]


def offer_policy(backend: Backend) -> tuple[str, str]:
    """What an offer says of ``backend``: its kind (local, container or ray) and the
    images its jobs may ask for (the container backend's policy; "" for the others)."""
    if backend.name in ("docker", "podman", "container"):
        return "container", str(getattr(backend, "images", ""))
    return ("ray", "") if backend.name == "ray" else ("local", "")


def make_backend(
    name: str,
    root: Path,
    ray_address: str | None = None,
    image: str | None = None,
    allowed_images: tuple[str, ...] = (),
    **local: Any,
) -> Backend:
    """The backend called ``name`` (local, ray, docker or podman), keeping work folders
    under ``root``; ``local`` goes to :class:`~l2gpu.agent.backends.local.LocalBackend`
    (``sandbox``, ``network``, ``cgroup_parent``, ...); ``image`` is the containers'
    own, ``allowed_images`` the patterns of other images renters may ask for."""
    if name in ("docker", "podman"):
        from l2gpu.agent.backends.container import ContainerBackend

        if not image:
            raise L2gpuError(f"--backend {name} needs --image", "name the image jobs run in")
        return ContainerBackend(root, image, engine=name, network=local.get("network", "none"),
                                allowed=allowed_images)  # fmt: skip
    if allowed_images:
        raise L2gpuError(f"--allow-image needs a container backend, not --backend {name}",
                         "use --backend docker or podman, or drop --allow-image")  # fmt: skip
    if name == "local":
        from l2gpu.agent.backends.local import LocalBackend

        return LocalBackend(root, **local)
    if name == "ray":
        from l2gpu.agent.backends.ray_backend import RayBackend

        return RayBackend(root, address=ray_address)
    raise L2gpuError(f"unknown backend '{name}'", "use --backend local, ray, docker or podman")
